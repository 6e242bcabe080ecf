package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/ipv4"

	"github.com/netsend/messenger/internal/dcerpc"
	"github.com/netsend/messenger/internal/netbios"
	"github.com/netsend/messenger/internal/smb"
)

// runDatagrams measures datagrams decoded and judged per second under a
// spam mix — MESSNGR datagrams and NetrSendMessage calls from many
// loopback addresses — with a legitimate sender's datagrams interleaved,
// and how many of those legitimate ones arrived. No peer does this job.
func runDatagrams(duration time.Duration, rep *Report) error {
	work, err := os.MkdirTemp("", "messenger-bench-mix-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	dgramPort, err := freeUDPPort()
	if err != nil {
		return err
	}
	rpcPort, err := freeUDPPort()
	if err != nil {
		return err
	}
	conf := filepath.Join(work, "messenger.toml")
	// Per-source limits, so that flood mode turns the spam into drops that
	// cost no disk, as an operator facing a flood would configure.
	policy := "[policy]\ntrust = [\"127.0.0.1/32\"]\nquarantine_max = 1000\n[policy.rate]\nper_source = { rate = \"10/1s\", burst = 10 }\n[policy.flood]\nthreshold = 100\nhold = \"10s\"\n"
	if err := writeFile(conf, policy, 0o644); err != nil {
		return err
	}
	d, err := startOurDaemon(work, "--config", conf, "--bind", "0.0.0.0", "--dgram-port", strconv.Itoa(dgramPort),
		"--rpc-port", strconv.Itoa(rpcPort), "--log-level", "error", "--popup=false")
	if err != nil {
		return err
	}
	defer d.stop()
	sock, client := d.sock, d.client
	before, err := decisions(sock)
	if err != nil {
		return err
	}
	bufBefore := udpRcvbufErrors()

	group, _ := netbios.NewName("BENCH", 0)
	source, _ := netbios.NewName("SENDER", 0)
	mailslotDatagram := func(from, text string) []byte {
		payload, _ := smb.AppendMessengerPayload(nil, smb.MessengerPayload{From: []byte(from), To: []byte("BENCH"), Text: []byte(text)})
		w, _ := smb.AppendMailslotWrite(nil, smb.Header{}, smb.MailslotWrite{Name: smb.MessengerMailslot, Class: 2, Data: payload})
		b, _ := netbios.AppendDatagram(nil, netbios.Datagram{Type: netbios.DirectGroupDatagram, Flags: netbios.DatagramFirst,
			SourceIP: netip.MustParseAddr("127.0.0.1"), SourcePort: 138, Source: source, Destination: group, Data: w})
		return b
	}
	h := dcerpc.SendMessageHeader(dcerpc.UUID{7}, 0)
	h.Flags1 |= dcerpc.Flags1Maybe | dcerpc.Flags1Broadcast
	body, _ := dcerpc.AppendSendMessageRequest(nil, h.DataRep, dcerpc.SendMessageRequest{From: []byte("WINNER"), To: []byte("BENCHHOST"), Text: []byte("Cheap licences at http://spam.example/")})
	rpcSpam, _ := dcerpc.AppendPacket(nil, h, body)
	mailSpam := mailslotDatagram("WINNER", "You have won! http://spam.example/")
	dgramDst := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(dgramPort))
	rpcDst := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(rpcPort))

	const maxPackets = 4_000_000
	var sent, legitSent atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(duration)
	// Two generators, each with 100 spam sources and the legitimate
	// sender. Spam leaves in batches of one sendmmsg per source
	// (alternating MESSNGR and NetrSendMessage), so that the generator,
	// which shares the CPUs with the daemon, offers more than the daemon
	// can take; one datagram in a hundred is the legitimate sender's.
	const batch = 16
	for g := 0; g < 2; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var conns []*ipv4.PacketConn
			for i := 0; i < 100; i++ {
				c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, byte(20+g), byte(i/250), byte(1+i%250))})
				if err == nil {
					defer c.Close()
					conns = append(conns, ipv4.NewPacketConn(c))
				}
			}
			legit, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil || len(conns) == 0 {
				return
			}
			defer legit.Close()
			spam := make([]ipv4.Message, batch)
			for i := range spam {
				spam[i].Buffers, spam[i].Addr = [][]byte{mailSpam}, net.UDPAddrFromAddrPort(dgramDst)
				if i%2 == 1 {
					spam[i].Buffers, spam[i].Addr = [][]byte{rpcSpam}, net.UDPAddrFromAddrPort(rpcDst)
				}
			}
			untilLegit := 0
			for i := 0; time.Now().Before(deadline); i++ {
				if untilLegit <= 0 {
					if sent.Add(1) > maxPackets {
						return
					}
					n := legitSent.Add(1)
					legit.WriteToUDPAddrPort(mailslotDatagram("OPS", fmt.Sprintf("legit %d-%d", g, n)), dgramDst)
					untilLegit = 99
				}
				if sent.Add(batch) > maxPackets {
					return
				}
				n, _ := conns[i%len(conns)].WriteBatch(spam, 0)
				if n < batch {
					sent.Add(int64(n - batch)) // count only what left
				}
				untilLegit -= batch
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	time.Sleep(time.Second) // let the queues drain
	after, err := decisions(sock)
	if err != nil {
		return err
	}
	bufLost := udpRcvbufErrors() - bufBefore
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	msgs, err := client.List(ctx, "", 0, 0)
	if err != nil {
		return err
	}
	legitGot := 0
	for _, m := range msgs {
		if strings.HasPrefix(m.Text, "legit ") {
			legitGot++
		}
	}
	// A datagram the kernel filter dropped was judged: by the policy, in
	// the verdict that condemned its source, applied in the kernel.
	judged := after.policy - before.policy + after.kernel - before.kernel
	row := &mixRow{Sent: int(min(sent.Load(), maxPackets)), Judged: int(judged), PerSecond: float64(judged) / elapsed.Seconds(),
		KernelDropped: int(after.kernel - before.kernel), BufferLost: int(bufLost),
		Legit: int(legitSent.Load()), LegitDelivered: legitGot}
	rep.Mix = row
	fmt.Printf("Spam mix (MESSNGR datagrams and NetrSendMessage calls from 200 loopback addresses, 1 %% legitimate), %v, %s\n\n", duration, machine())
	fmt.Printf("  sent %d in %.2fs; judged %d (%.0f/s): %d by the policy in user space, %d dropped by the kernel filter\n",
		row.Sent, elapsed.Seconds(), row.Judged, row.PerSecond, row.Judged-row.KernelDropped, row.KernelDropped)
	fmt.Printf("  lost for want of socket-buffer space (UDP RcvbufErrors): %d\n", row.BufferLost)
	for k, v := range after.refused {
		if d := v - before.refused[k]; d > 0 {
			fmt.Printf("  refused before the policy {%s}: %.0f\n", k, d)
		}
	}
	fmt.Printf("  legitimate: sent %d, delivered %d (%.1f%%)\n", row.Legit, row.LegitDelivered, row.LegitShare())
	return nil
}

// mixRow is the spam-mix figure of the report.
type mixRow struct {
	Sent, Judged          int
	PerSecond             float64
	KernelDropped         int // of Judged: dropped by the kernel filter
	BufferLost            int // lost before the daemon read them (whole host)
	Legit, LegitDelivered int
}

// LegitShare is the percentage of the legitimate messages delivered.
func (m *mixRow) LegitShare() float64 {
	return 100 * float64(m.LegitDelivered) / float64(max(m.Legit, 1))
}

// udpRcvbufErrors reads the host's count of UDP datagrams dropped for a
// full receive buffer (/proc/net/snmp), 0 where there is none.
func udpRcvbufErrors() float64 {
	b, err := os.ReadFile("/proc/net/snmp")
	if err != nil {
		return 0
	}
	var head []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != "Udp:" {
			continue
		}
		if head == nil {
			head = f
			continue
		}
		for i, name := range head {
			if name == "RcvbufErrors" && i < len(f) {
				v, _ := strconv.ParseFloat(f[i], 64)
				return v
			}
		}
	}
	return 0
}

// counts are the daemon's decisions: the policy's, and the kernel
// filter's drops.
type counts struct {
	policy, kernel float64
	refused        map[string]float64 // before the policy, by transport/reason
}

// decisions reads the policy's decisions and the kernel filter's drops
// from the daemon's /metrics.
func decisions(sock string) (counts, error) {
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}}
	resp, err := c.Get("http://messenger/metrics")
	if err != nil {
		return counts{}, err
	}
	defer resp.Body.Close()
	n := counts{refused: map[string]float64{}}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			continue
		}
		switch {
		case strings.HasPrefix(line, "messenger_policy_decisions_total{"):
			n.policy += v
		case strings.HasPrefix(line, "messenger_kernel_dropped_total "):
			n.kernel += v
		case strings.HasPrefix(line, "messenger_messages_rejected_total{") && !strings.Contains(line, `reason="policy:`):
			// messenger_messages_rejected_total{reason="overload",transport="mailslot"} 12
			n.refused[line[strings.IndexByte(line, '{')+1:strings.IndexByte(line, '}')]] += v
		}
	}
	return n, sc.Err()
}
