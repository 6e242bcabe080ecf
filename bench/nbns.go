package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"golang.org/x/net/ipv4"

	"github.com/netsend/messenger/internal/netbios"
)

// nbnsLoadCmd is the hidden subcommand that generates name-query load from
// inside the generator's namespace.
const nbnsLoadCmd = "nbns-load"

// The benchmark network: two namespaces on a veth pair, nothing routed.
const (
	nsServers = "msgbench-srv"
	nsLoad    = "msgbench-gen"
	ifServers = "mbsrv0"
	ifLoad    = "mbgen0"
	addrSrv   = "10.99.7.1"
	addrGen   = "10.99.7.2"
	ourPort   = 11137
)

type nbnsResult struct {
	Answered int     `json:"answered"`
	Lost     int     `json:"lost"`
	Seconds  float64 `json:"seconds"`
	P50us    float64 `json:"p50_us"`
	P99us    float64 `json:"p99_us"`
}

func runNBNS(duration time.Duration, levelList string, keep bool, rep *Report) error {
	levels, err := parseLevels(levelList)
	if err != nil {
		return err
	}
	nmbd, err := exec.LookPath("nmbd")
	if err != nil {
		return fmt.Errorf("nmbd is not installed (apt-get install samba): %w", err)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	work, cleanup, err := workDir("messenger-bench-nbns-", keep)
	if err != nil {
		return err
	}
	defer cleanup()
	down := func() {
		exec.Command("ip", "netns", "del", nsServers).Run()
		exec.Command("ip", "netns", "del", nsLoad).Run()
	}
	down()
	defer down()
	if err := nbnsNetns(); err != nil {
		return err
	}
	nm, err := startNmbd(work, nmbd)
	if err != nil {
		return err
	}
	defer func() { nm.Process.Signal(syscall.SIGTERM); nm.Wait() }()

	bin, err := buildMessenger(work)
	if err != nil {
		return err
	}
	ours := exec.Command("ip", "netns", "exec", nsServers, bin, "serve", "--data-dir", filepath.Join(work, "ours"),
		"--nbns-port", strconv.Itoa(ourPort), "--nbns-interface", ifServers, "--smb-port", "0", "--dgram-port", "0",
		"--rpc-port", "0", "--http-addr", "", "--host-name", "BENCHHOST", "--user-names=false", "--log-level", "warn")
	if err := ours.Start(); err != nil {
		return err
	}
	defer func() { ours.Process.Signal(syscall.SIGTERM); ours.Wait() }()

	type nbnsTarget struct {
		name, addr, query string
		pid               int
	}
	targets := []nbnsTarget{
		{"messenger", net.JoinHostPort(addrSrv, strconv.Itoa(ourPort)), "BENCHHOST", ours.Process.Pid},
		{"nmbd", net.JoinHostPort(addrSrv, "137"), "NMBDPEER", nm.Process.Pid},
	}
	load := func(t nbnsTarget, clients int, d time.Duration) (nbnsResult, error) {
		out, err := exec.Command("ip", "netns", "exec", nsLoad, self, nbnsLoadCmd, "-addr", t.addr, "-name", t.query,
			"-clients", strconv.Itoa(clients), "-duration", d.String()).Output()
		if err != nil {
			return nbnsResult{}, fmt.Errorf("load against %s: %w", t.name, err)
		}
		var r nbnsResult
		return r, json.Unmarshal(out, &r)
	}
	for _, t := range targets {
		if err := waitFor(t.name+" answering", 30*time.Second, func() error {
			r, err := load(t, 1, 200*time.Millisecond)
			if err == nil && r.Answered == 0 {
				err = errNotReady
			}
			return err
		}); err != nil {
			return err
		}
	}

	fmt.Printf("NetBIOS name queries (unicast NB query, 4 outstanding per client), %v per level, veth between two namespaces, %s\n\n", duration, machine())
	tw := tabwriter.NewWriter(os.Stdout, 0, 8, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "clients\ttarget\tanswers/s\tp50 µs\tp99 µs\tlost\tCPU µs/answer\tratio answers/s\tratio CPU/answer\t")
	for _, c := range levels {
		var res [2]nbnsResult
		var cpu [2]time.Duration
		for i, t := range targets {
			before := cpuTime([]int{t.pid})
			r, err := load(t, c, duration)
			if err != nil {
				return err
			}
			res[i], cpu[i] = r, cpuTime([]int{t.pid})-before
		}
		row := pairRow{Clients: c, OursP99: res[0].P99us / 1000, PeerP99: res[1].P99us / 1000}
		for i, r := range res {
			rate := float64(r.Answered) / r.Seconds
			perAnswer := 0.0
			if r.Answered > 0 {
				perAnswer = float64(cpu[i].Microseconds()) / float64(r.Answered)
			}
			if i == 0 {
				row.Ours, row.OursCPU = rate, perAnswer
			} else {
				row.Peer, row.PeerCPU = rate, perAnswer
			}
		}
		rep.NBNS = append(rep.NBNS, row)
		for i, t := range targets {
			r := res[i]
			rate := float64(r.Answered) / r.Seconds
			ratio, cpuRatio := "", ""
			if i == 0 && res[1].Answered > 0 {
				ratio = fmt.Sprintf("%.1fx", rate/(float64(res[1].Answered)/res[1].Seconds))
				if row.PeerCPU > 0 {
					// The target: at most a third of nmbd's.
					cpuRatio = fmt.Sprintf("%.2fx", row.OursCPU/row.PeerCPU)
				}
			}
			perAnswer := 0.0
			if r.Answered > 0 {
				perAnswer = float64(cpu[i].Microseconds()) / float64(r.Answered)
			}
			fmt.Fprintf(tw, "%d\t%s\t%.0f\t%.0f\t%.0f\t%d\t%.1f\t%s\t%s\t\n", c, t.name, rate, r.P50us, r.P99us, r.Lost, perAnswer, ratio, cpuRatio)
		}
	}
	return tw.Flush()
}

// nbnsNetns makes the two namespaces and the veth pair between them.
func nbnsNetns() error {
	for _, args := range [][]string{
		{"netns", "add", nsServers}, {"netns", "add", nsLoad},
		{"link", "add", ifServers, "type", "veth", "peer", "name", ifLoad},
		{"link", "set", ifServers, "netns", nsServers}, {"link", "set", ifLoad, "netns", nsLoad},
		{"-n", nsServers, "addr", "add", addrSrv + "/24", "dev", ifServers},
		{"-n", nsLoad, "addr", "add", addrGen + "/24", "dev", ifLoad},
		{"-n", nsServers, "link", "set", ifServers, "up"}, {"-n", nsLoad, "link", "set", ifLoad, "up"},
		{"-n", nsServers, "link", "set", "lo", "up"}, {"-n", nsLoad, "link", "set", "lo", "up"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("ip %v: %v: %s", args, err, out)
		}
	}
	return nil
}

// startNmbd starts nmbd with a private configuration under work, on the
// servers' veth.
func startNmbd(work, nmbd string) (*exec.Cmd, error) {
	dir := filepath.Join(work, "nmbd")
	dirs, err := sambaDirs(dir)
	if err != nil {
		return nil, err
	}
	conf := fmt.Sprintf(`[global]
   workgroup = BENCH
   netbios name = NMBDPEER
   interfaces = %s
   bind interfaces only = yes
   disable netbios = no
   local master = no
   domain master = no
   preferred master = no
   os level = 0
   log level = 0
%[2]s`, ifServers, dirs)
	if err := writeFile(filepath.Join(dir, "smb.conf"), conf, 0o644); err != nil {
		return nil, err
	}
	nm := exec.Command("ip", "netns", "exec", nsServers, nmbd, "--foreground", "-s", filepath.Join(dir, "smb.conf"))
	if err := nm.Start(); err != nil {
		return nil, err
	}
	return nm, nil
}

// nbnsLoad runs inside the generator namespace: clients goroutines, each
// with its own socket, each sending a query and waiting for its answer
// (or 500 ms) before the next, for the given time. It prints JSON.
func nbnsLoad(args []string) error {
	fs := flag.NewFlagSet(nbnsLoadCmd, flag.ContinueOnError)
	addr := fs.String("addr", "", "target host:port")
	name := fs.String("name", "", "name to query (suffix 03)")
	clients := fs.Int("clients", 1, "concurrent clients")
	duration := fs.Duration("duration", time.Second, "how long")
	window := fs.Int("window", 4, "queries outstanding per client")
	if err := fs.Parse(args); err != nil {
		return err
	}
	dst, err := netip.ParseAddrPort(*addr)
	if err != nil {
		return err
	}
	if ip := dst.Addr(); !ip.IsPrivate() && !ip.IsLoopback() {
		return fmt.Errorf("refusing to load %v: only the benchmark's own namespace addresses", ip)
	}
	qname, err := netbios.NewName(*name, 0x03)
	if err != nil {
		return err
	}
	var answered, lost atomic.Int64
	lat := make([][]time.Duration, *clients)
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(*duration)
	for g := 0; g < *clients; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.ListenUDP("udp4", nil)
			if err != nil {
				return
			}
			defer c.Close()
			pc := ipv4.NewPacketConn(c)
			to := net.UDPAddrFromAddrPort(dst)
			out := make([]ipv4.Message, *window)
			in := make([]ipv4.Message, *window)
			for i := range in {
				in[i].Buffers = [][]byte{make([]byte, 1500)}
			}
			sentAt := make(map[uint16]time.Time, *window)
			id := uint16(g * 4096)
			for time.Now().Before(deadline) {
				// A window of queries in one system call, then their answers.
				t0 := time.Now()
				clear(sentAt)
				for i := range out {
					id++
					q, err := netbios.AppendNameServicePacket(nil, netbios.NameQueryRequest(id, qname, "", false, true))
					if err != nil {
						return
					}
					out[i] = ipv4.Message{Buffers: [][]byte{q}, Addr: to}
					sentAt[id] = t0
				}
				for rest := out; len(rest) > 0; {
					n, err := pc.WriteBatch(rest, 0)
					if err != nil {
						return
					}
					rest = rest[n:]
				}
				c.SetReadDeadline(t0.Add(500 * time.Millisecond))
				for len(sentAt) > 0 {
					n, err := pc.ReadBatch(in, 0)
					if err != nil {
						break
					}
					now := time.Now()
					for _, m := range in[:n] {
						b := m.Buffers[0][:m.N]
						// Transaction id, response bit, one answer: enough to
						// count it, and cheap, so the generator spends its
						// CPU sending.
						if len(b) < 12 || b[2]&0x80 == 0 || b[7] != 1 {
							continue
						}
						rid := uint16(b[0])<<8 | uint16(b[1])
						if t, ok := sentAt[rid]; ok {
							delete(sentAt, rid)
							answered.Add(1)
							lat[g] = append(lat[g], now.Sub(t))
						}
					}
				}
				lost.Add(int64(len(sentAt)))
			}
		}()
	}
	wg.Wait()
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	r := nbnsResult{Answered: int(answered.Load()), Lost: int(lost.Load()), Seconds: time.Since(start).Seconds()}
	if len(all) > 0 {
		slices.Sort(all)
		r.P50us = float64(all[len(all)/2].Microseconds())
		r.P99us = float64(all[len(all)*99/100].Microseconds())
	}
	return json.NewEncoder(os.Stdout).Encode(r)
}
