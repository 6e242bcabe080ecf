package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/netsend/messenger/internal/apitype"
	"github.com/netsend/messenger/internal/hubwire"
)

// The hub benchmark's hosts: two daemons (A sends to BOB on B) and two
// identities for the bare JetStream peer, which does the same round trip
// under the same permissions on the same streams without Messenger.
const (
	hubHostA    = "BENCHA"
	hubHostB    = "BENCHB"
	hubPeerA    = "BENCHPA"
	hubPeerB    = "BENCHPB"
	hubName     = "BOB"
	hubWaitTime = 30 * time.Second
)

// runHub measures messages per second sent through the hub with a
// delivered receipt for each: A's daemon publishes, B's daemon stores
// and returns the receipt, A's daemon wakes the waiting sender. It runs
// on one nats-server and on a three-node cluster (replicas 3); beside it,
// in the same cluster and run, a bare JetStream client does the same
// round trip (publish, consume, publish the receipt, ack, consume the
// receipt), and A sends to B over the legacy SMB session path.
//
// With profileDir, both daemons serve Go's profiles (MESSENGER_PPROF) and
// each level's hub round trips are profiled into profileDir: a CPU
// profile and a one-second execution trace of A and of B, and the CPU
// time each process spent.
func runHub(duration time.Duration, levelList string, keep bool, profileDir string, rep *Report) error {
	levels, err := parseLevels(levelList)
	if err != nil {
		return err
	}
	work, cleanup, err := workDir("messenger-bench-hub-", keep)
	if err != nil {
		return err
	}
	defer cleanup()
	bin, err := buildMessenger(work)
	if err != nil {
		return err
	}
	natsBin := filepath.Join(work, "nats-server")
	build := exec.Command("go", "build", "-o", natsBin, "github.com/nats-io/nats-server/v2")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("building nats-server: %w", err)
	}
	creds := filepath.Join(work, "creds")
	if out, err := exec.Command(bin, "hub", "authorize", "--admin", hubHostA, hubHostB, hubPeerA, hubPeerB, "--dir", creds).CombinedOutput(); err != nil {
		return fmt.Errorf("messenger hub authorize: %w\n%s", err, out)
	}
	auth, err := exec.Command(bin, "hub", "nats-config", "--dir", creds).Output()
	if err != nil {
		return fmt.Errorf("messenger hub nats-config: %w", err)
	}

	fmt.Printf("Messages through the hub with a delivered receipt each, %v per level, loopback, %s\n\n", duration, machine())
	tw := tabwriter.NewWriter(os.Stdout, 0, 8, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "nodes\tclients\ttarget\tmsgs/s\tp50 ms\tp99 ms\tCPU µs/msg\terrors\tratio to bare\t")
	for _, nodes := range []int{1, 3} {
		if err := hubTopology(tw, work, bin, natsBin, creds, string(auth), nodes, levels, duration, profileDir, rep); err != nil {
			return fmt.Errorf("%d nats-server nodes: %w", nodes, err)
		}
	}
	return tw.Flush()
}

func hubTopology(tw *tabwriter.Writer, work, bin, natsBin, creds, auth string, nodes int, levels []int, duration time.Duration, profileDir string, rep *Report) error {
	dir := filepath.Join(work, fmt.Sprintf("nodes%d", nodes))
	var err error
	var prof *hubProfiler
	if profileDir != "" {
		if prof, err = newHubProfiler(profileDir); err != nil {
			return err
		}
	}
	cluster, err := startBenchCluster(natsBin, dir, nodes, auth, prof.natsConf())
	if err != nil {
		return err
	}
	defer cluster.stop()
	replicas := strconv.Itoa(nodes)
	// Streams and every host's consumers, the bare peer's among them, are
	// the admin's to create.
	if out, err := exec.Command(bin, "hub", "provision", "--hub", cluster.urls(), "--dir", creds, "--replicas", replicas).CombinedOutput(); err != nil {
		return fmt.Errorf("messenger hub provision: %w\n%s", err, out)
	}
	smbPort, err := freePort()
	if err != nil {
		return err
	}
	hubFlags := func(host, name string) []string {
		return []string{"--bind", "127.0.0.1", "--hub", cluster.urls(), "--hub-creds", filepath.Join(creds, host+".nk"),
			"--hub-replicas", replicas, "--host-name", host, "--name", name, "--popup=false"}
	}
	b, err := runOurDaemonEnv(bin, filepath.Join(dir, "b"), filepath.Join(dir, "b.log"), prof.env("B"),
		// The SMB clients all come from 127.0.0.1: lift the per-source cap.
		append(hubFlags(hubHostB, hubName), "--smb-port", strconv.Itoa(smbPort), "--smb-max-sessions-per-source", "1024")...)
	if err != nil {
		return fmt.Errorf("daemon B: %w\n%s", err, logTail(filepath.Join(dir, "b.log")))
	}
	defer b.stop()
	a, err := runOurDaemonEnv(bin, filepath.Join(dir, "a"), filepath.Join(dir, "a.log"), prof.env("A"), hubFlags(hubHostA, "ALICE")...)
	if err != nil {
		return fmt.Errorf("daemon A: %w\n%s", err, logTail(filepath.Join(dir, "a.log")))
	}
	defer a.stop()

	viaHub := apitype.SendRequest{To: hubName, From: "bench", Via: "hub", Wait: hubWaitTime}
	viaSMB := apitype.SendRequest{To: hubName, From: "bench", Via: "smb", Address: "127.0.0.1:" + strconv.Itoa(smbPort)}
	// The first round trip also waits for B's name to reach the registry.
	if err := waitFor("a first message through the hub", 60*time.Second, func() error {
		return sendVia(a, viaHub, "warm-up")
	}); err != nil {
		return fmt.Errorf("%w\ndaemon A:\n%s\ndaemon B:\n%s", err, logTail(filepath.Join(dir, "a.log")), logTail(filepath.Join(dir, "b.log")))
	}
	bare, err := startBareRoundTrip(cluster.urls(), creds)
	if err != nil {
		return fmt.Errorf("bare JetStream peer: %w", err)
	}
	defer bare.stop()

	// The CPU a round trip costs is the whole machine's share of it: the
	// nats-servers, the bench process (load generator, and the bare
	// peer's two clients) and, for ours, the two daemons.
	procs := map[string][]int{"A": {a.pid()}, "B": {b.pid()}, "nats": cluster.pids(), "bench": {os.Getpid()}}
	for _, c := range levels {
		label := fmt.Sprintf("n%d-c%d", nodes, c)
		var ours result
		cpu := measureCPU(procs, func() {
			stop := prof.start(label, duration, true)
			ours = roundTrips(c, duration, func(text string) error { return sendVia(a, viaHub, text) })
			stop()
		})
		ours.cpu = cpu.total()
		prof.report(label, cpu, ours.ok)
		var peer result
		peer.cpu = measureCPU(procs, func() {
			stop := prof.start(label+"-bare", duration, false)
			peer = roundTrips(c, duration, bare.roundTrip)
			stop()
		}).total()
		var smb result
		smb.cpu = measureCPU(procs, func() {
			smb = roundTrips(c, duration, func(text string) error { return sendVia(a, viaSMB, text) })
		}).total()
		rep.Hub = append(rep.Hub, hubRow{Nodes: nodes, Clients: c, Ours: ours.rate(), Bare: peer.rate(), SMB: smb.rate(),
			OursP99: ms(ours.p99), BareP99: ms(peer.p99), SMBP99: ms(smb.p99), OursCPU: ours.cpuPerMsg(), BareCPU: peer.cpuPerMsg()})
		for _, row := range []struct {
			name string
			r    result
		}{{"messenger via hub", ours}, {"bare JetStream", peer}, {"messenger via SMB", smb}} {
			fmt.Fprintf(tw, "%d\t%d\t%s\t%.0f\t%.2f\t%.2f\t%.0f\t%d\t%.2fx\t\n", nodes, c, row.name, row.r.rate(), ms(row.r.p50), ms(row.r.p99),
				row.r.cpuPerMsg(), row.r.errors, ratio(row.r.rate(), peer.rate()))
		}
	}
	return nil
}

// procCPU is the CPU time each group of processes spent.
type procCPU map[string]time.Duration

func (p procCPU) total() time.Duration {
	var t time.Duration
	for _, d := range p {
		t += d
	}
	return t
}

// measureCPU runs f and returns the CPU time each group of procs spent
// meanwhile.
func measureCPU(procs map[string][]int, f func()) procCPU {
	before := procCPU{}
	for name, pids := range procs {
		before[name] = cpuTime(pids)
	}
	f()
	out := procCPU{}
	for name, pids := range procs {
		out[name] = cpuTime(pids) - before[name]
	}
	return out
}

// hubProfiler collects Go profiles of daemons A and B (-profile DIR).
// A nil one does nothing.
type hubProfiler struct {
	dir   string
	addrs map[string]string // daemon → its MESSENGER_PPROF address; "N" the first nats-server's
}

func newHubProfiler(dir string) (*hubProfiler, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	p := &hubProfiler{dir: dir, addrs: map[string]string{}}
	for _, d := range []string{"A", "B", "N"} {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		p.addrs[d] = "127.0.0.1:" + strconv.Itoa(port)
	}
	return p, nil
}

// natsConf has the first nats-server serve its profiles too.
func (p *hubProfiler) natsConf() string {
	if p == nil {
		return ""
	}
	_, port, _ := strings.Cut(p.addrs["N"], ":")
	return "\nprof_port: " + port + "\n"
}

// env is what daemon d's environment needs to serve its profiles.
func (p *hubProfiler) env(d string) []string {
	if p == nil {
		return nil
	}
	return []string{"MESSENGER_PPROF=" + p.addrs[d]}
}

// start begins a CPU profile of the first nats-server and (with
// daemons) both daemons over most of d, and a one-second execution
// trace of each daemon from one second in; stop waits for them and
// writes them to LABEL-N.cpu.pprof, LABEL-A.cpu.pprof, LABEL-A.trace
// and so on.
func (p *hubProfiler) start(label string, d time.Duration, daemons bool) (stop func()) {
	if p == nil {
		return func() {}
	}
	secs := max(1, int(d/time.Second)-1)
	var wg sync.WaitGroup
	get := func(daemon, path, file string, delay time.Duration) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(delay)
			out := filepath.Join(p.dir, label+"-"+daemon+file)
			if err := fetchTo("http://"+p.addrs[daemon]+path, out); err != nil {
				fmt.Fprintf(os.Stderr, "bench: hub: profile %s: %v\n", out, err)
			}
		}()
	}
	for _, daemon := range []string{"A", "B"} {
		if !daemons {
			break
		}
		get(daemon, "/debug/pprof/profile?seconds="+strconv.Itoa(secs), ".cpu.pprof", 0)
		get(daemon, "/debug/pprof/trace?seconds=1", ".trace", time.Second)
	}
	get("N", "/debug/pprof/profile?seconds="+strconv.Itoa(secs), ".cpu.pprof", 0)
	return wg.Wait
}

// report prints where the CPU of one level went, per process and per
// round trip.
func (p *hubProfiler) report(label string, cpu procCPU, n int) {
	if p == nil || n == 0 {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "bench: hub %s: CPU µs per round trip:", label)
	for _, name := range []string{"A", "B", "nats", "bench"} {
		fmt.Fprintf(&b, " %s %.0f", name, float64(cpu[name].Microseconds())/float64(n))
	}
	fmt.Fprintf(&b, " (profiles in %s)\n", p.dir)
	fmt.Fprint(os.Stderr, b.String())
}

func fetchTo(url, path string) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return errors.New(resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// sendVia sends one message through daemon d and succeeds only when the
// daemon says it was delivered: for the hub, when B's delivered receipt
// came back; for SMB, when B answered the session after storing it.
func sendVia(d *ourDaemon, req apitype.SendRequest, text string) error {
	ctx, cancel := context.WithTimeout(context.Background(), hubWaitTime+10*time.Second)
	defer cancel()
	req.Text = text
	out, err := d.client.Send(ctx, req)
	if err != nil {
		return err
	}
	if len(out) != 1 {
		return fmt.Errorf("%d outcomes for one recipient: %+v", len(out), out)
	}
	if o := out[0]; !o.OK() || (req.Via == "hub" && o.State != "delivered") {
		return fmt.Errorf("not delivered: %+v", o)
	}
	return nil
}

// roundTrips runs clients senders, each one message at a time, for d.
func roundTrips(clients int, d time.Duration, send func(text string) error) result {
	var errCount atomic.Int64
	lat := make([][]time.Duration, clients)
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	for g := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(deadline); i++ {
				t0 := time.Now()
				if err := send(fmt.Sprintf("bench %d-%d", g, i)); err != nil {
					if errCount.Add(1) == 1 {
						fmt.Fprintf(os.Stderr, "bench: hub: first error: %v\n", err)
					}
					continue
				}
				lat[g] = append(lat[g], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	r := result{ok: len(all), errors: int(errCount.Load()), elapsed: time.Since(start)}
	if len(all) > 0 {
		slices.Sort(all)
		r.p50 = all[len(all)/2]
		r.p99 = all[len(all)*99/100]
	}
	return r
}

// bareRoundTrip is the peer: what the hub round trip costs in JetStream
// alone. It publishes to the same message stream under one host's
// credentials, consumes as another host through the consumer provisioned
// for it exactly as for a daemon (explicit acks), handles one message at
// a time, publishes a delivered receipt to the receipt stream and waits
// for the hub to take it before it acks, and the sending side consumes
// the receipt — the same publishes, fetches and acks as two daemons, without
// the store, the registry or the daemon's API in between.
type bareRoundTrip struct {
	sendConn, recvConn *nats.Conn
	sendJS             jetstream.JetStream
	waiters            sync.Map // message id → chan struct{}
	consumers          []jetstream.ConsumeContext
}

type bareEnvelope struct {
	ID   string `json:"id"`
	To   string `json:"to"`
	From string `json:"from"`
	Text string `json:"text"`
	Sent string `json:"sent"`
}

type bareReceipt struct {
	ID    string `json:"id"`
	State string `json:"state"`
	To    string `json:"to"`
	At    string `json:"at"`
}

func startBareRoundTrip(urls, creds string) (*bareRoundTrip, error) {
	connect := func(host string) (*nats.Conn, error) {
		opt, err := nats.NkeyOptionFromSeed(filepath.Join(creds, host+".nk"))
		if err != nil {
			return nil, err
		}
		return nats.Connect(urls, opt, nats.Name("bench-"+host), nats.MaxReconnects(-1), nats.CustomInboxPrefix(hubwire.InboxPrefix(host)))
	}
	p := &bareRoundTrip{}
	var err error
	if p.sendConn, err = connect(hubPeerA); err != nil {
		return nil, fmt.Errorf("connecting as %s: %w", hubPeerA, err)
	}
	if p.recvConn, err = connect(hubPeerB); err != nil {
		p.sendConn.Close()
		return nil, fmt.Errorf("connecting as %s: %w", hubPeerB, err)
	}
	if p.sendJS, err = jetstream.New(p.sendConn); err != nil {
		p.stop()
		return nil, err
	}
	recvJS, err := jetstream.New(p.recvConn)
	if err != nil {
		p.stop()
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// The consumers `messenger hub provision` made for these two hosts,
	// as it makes them for the daemons.
	msgs, err := recvJS.Consumer(ctx, "MESSENGER_MSG", "msg_"+hubPeerB)
	if err != nil {
		p.stop()
		return nil, fmt.Errorf("binding the receiving consumer: %w", err)
	}
	rcpts, err := p.sendJS.Consumer(ctx, "MESSENGER_RCPT", "rcpt_"+hubPeerA)
	if err != nil {
		p.stop()
		return nil, fmt.Errorf("binding the receipt consumer: %w", err)
	}
	rcptSubject := "messenger.rcpt." + hubPeerA + "." + hubPeerB
	cc, err := msgs.Consume(func(m jetstream.Msg) {
		var env bareEnvelope
		if err := json.Unmarshal(m.Data(), &env); err != nil {
			m.Term()
			return
		}
		body, _ := json.Marshal(bareReceipt{ID: env.ID, State: "delivered", To: env.To, At: time.Now().UTC().Format(time.RFC3339Nano)})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := recvJS.Publish(ctx, rcptSubject, body, jetstream.WithMsgID("delivered-"+env.ID)); err != nil {
			m.Nak()
			return
		}
		m.Ack()
	})
	if err != nil {
		p.stop()
		return nil, fmt.Errorf("consuming messages: %w", err)
	}
	p.consumers = append(p.consumers, cc)
	cc, err = rcpts.Consume(func(m jetstream.Msg) {
		var r bareReceipt
		if json.Unmarshal(m.Data(), &r) == nil {
			if w, ok := p.waiters.LoadAndDelete(r.ID); ok {
				close(w.(chan struct{}))
			}
		}
		m.Ack()
	})
	if err != nil {
		p.stop()
		return nil, fmt.Errorf("consuming receipts: %w", err)
	}
	p.consumers = append(p.consumers, cc)
	return p, nil
}

func (p *bareRoundTrip) roundTrip(text string) error {
	var raw [16]byte
	rand.Read(raw[:])
	id := hex.EncodeToString(raw[:])
	body, err := json.Marshal(bareEnvelope{ID: id, To: hubName, From: "bench", Text: text, Sent: time.Now().UTC().Format(time.RFC3339Nano)})
	if err != nil {
		return err
	}
	done := make(chan struct{})
	p.waiters.Store(id, done)
	ctx, cancel := context.WithTimeout(context.Background(), hubWaitTime)
	defer cancel()
	if _, err := p.sendJS.Publish(ctx, "messenger.msg."+hubPeerB+"."+hubPeerA, body, jetstream.WithMsgID(id)); err != nil {
		p.waiters.Delete(id)
		return fmt.Errorf("publishing: %w", err)
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		p.waiters.Delete(id)
		return errors.New("no delivered receipt within " + hubWaitTime.String())
	}
}

func (p *bareRoundTrip) stop() {
	for _, cc := range p.consumers {
		cc.Stop()
	}
	for _, c := range []*nats.Conn{p.sendConn, p.recvConn} {
		if c != nil {
			c.Close()
		}
	}
}

// benchCluster is nats-server processes on loopback routed into one
// cluster (one server alone when size is 1), JetStream on. The first
// node's configuration also gets firstExtra.
type benchCluster struct {
	nodes []*benchNode
}

type benchNode struct {
	port, monitorPort int
	cmd               *exec.Cmd
	log               *os.File
}

func startBenchCluster(natsBin, dir string, size int, auth, firstExtra string) (*benchCluster, error) {
	c := &benchCluster{}
	routePorts := make([]int, size)
	for i := range size {
		n := &benchNode{}
		var err error
		if n.port, err = freePort(); err != nil {
			return nil, err
		}
		if n.monitorPort, err = freePort(); err != nil {
			return nil, err
		}
		if routePorts[i], err = freePort(); err != nil {
			return nil, err
		}
		c.nodes = append(c.nodes, n)
	}
	for i, n := range c.nodes {
		nodeDir := filepath.Join(dir, "n"+strconv.Itoa(i+1))
		var conf strings.Builder
		fmt.Fprintf(&conf, "server_name: n%d\nlisten: 127.0.0.1:%d\nhttp: 127.0.0.1:%d\njetstream {\n  store_dir: %q\n}\n",
			i+1, n.port, n.monitorPort, filepath.Join(nodeDir, "jetstream"))
		if size > 1 {
			fmt.Fprintf(&conf, "cluster {\n  name: bench\n  listen: 127.0.0.1:%d\n  routes: [\n", routePorts[i])
			for j, p := range routePorts {
				if j != i {
					fmt.Fprintf(&conf, "    nats-route://127.0.0.1:%d\n", p)
				}
			}
			conf.WriteString("  ]\n}\n")
		}
		conf.WriteString(auth)
		if i == 0 {
			conf.WriteString(firstExtra)
		}
		confPath := filepath.Join(nodeDir, "nats.conf")
		if err := writeFile(confPath, conf.String(), 0o600); err != nil {
			c.stop()
			return nil, err
		}
		logf, err := os.Create(filepath.Join(nodeDir, "nats.log"))
		if err != nil {
			c.stop()
			return nil, err
		}
		n.log = logf
		n.cmd = exec.Command(natsBin, "-c", confPath)
		n.cmd.Stdout, n.cmd.Stderr = logf, logf
		if err := n.cmd.Start(); err != nil {
			c.stop()
			return nil, err
		}
	}
	// Healthy means JetStream is up and, in a cluster, that the node knows
	// the meta leader and has caught up.
	for i, n := range c.nodes {
		err := waitFor(fmt.Sprintf("nats-server n%d healthy", i+1), 30*time.Second, func() error {
			resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(n.monitorPort) + "/healthz")
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return errors.New(resp.Status)
			}
			return nil
		})
		if err != nil {
			c.stop()
			return nil, fmt.Errorf("%w\n%s", err, logTail(n.log.Name()))
		}
	}
	return c, nil
}

func (c *benchCluster) pids() []int {
	var out []int
	for _, n := range c.nodes {
		if n.cmd != nil && n.cmd.Process != nil {
			out = append(out, n.cmd.Process.Pid)
		}
	}
	return out
}

func (c *benchCluster) urls() string {
	var u []string
	for _, n := range c.nodes {
		u = append(u, "nats://127.0.0.1:"+strconv.Itoa(n.port))
	}
	return strings.Join(u, ",")
}

func (c *benchCluster) stop() {
	for _, n := range c.nodes {
		if n.cmd != nil && n.cmd.Process != nil {
			n.cmd.Process.Signal(syscall.SIGTERM)
			n.cmd.Wait()
		}
		if n.log != nil {
			n.log.Close()
		}
	}
}

func logTail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(b)
}
