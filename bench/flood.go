package main

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/netsend/messenger/internal/netbios"
	"github.com/netsend/messenger/internal/smb"
)

// runFlood sends a spoofed-source spam flood of MESSNGR datagrams (from
// many 127.x.y.z addresses, all on loopback) while a trusted sender on
// 127.0.0.1 sends messages over NetBIOS sessions, and records the daemon's
// memory as it goes. Bounded by the duration and by a datagram count.
func runFlood(duration time.Duration, rep *Report) error {
	work, err := os.MkdirTemp("", "messenger-bench-flood-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	dgramPort, err := freeUDPPort()
	if err != nil {
		return err
	}
	smbPort, err := freePort()
	if err != nil {
		return err
	}
	conf := filepath.Join(work, "messenger.toml")
	if err := writeFile(conf, "[policy]\ntrust = [\"127.0.0.1/32\"]\nquarantine_max = 1000\n", 0o644); err != nil {
		return err
	}
	d, err := startOurDaemon(work, "--config", conf, "--bind", "0.0.0.0", "--dgram-port", strconv.Itoa(dgramPort),
		"--smb-port", strconv.Itoa(smbPort), "--log-level", "error", "--popup=false")
	if err != nil {
		return err
	}
	defer d.stop()
	cmd, client, status := d.cmd, d.client, d.status

	row := &floodRow{}
	start := time.Now()
	deadline := start.Add(duration)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	// Memory, every 100 ms.
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			row.RSS = append(row.RSS, rssSample{At: time.Since(start), RSS: rssBytes([]int{cmd.Process.Pid})})
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	// The flood: two senders, each from its own range of loopback
	// addresses, the same advertisement to the workgroup.
	var spam atomic.Int64
	const maxSpam = 400_000
	group, _ := netbios.NewName("BENCH", 0)
	source, _ := netbios.NewName("SPAMMER", 0)
	dst := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(dgramPort))
	for g := 0; g < 2; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var conns []*net.UDPConn
			for i := 0; i < 200; i++ {
				c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, byte(10+g), byte(i/250), byte(1+i%250))})
				if err != nil {
					continue
				}
				defer c.Close()
				conns = append(conns, c)
			}
			if len(conns) == 0 {
				return
			}
			payload, _ := smb.AppendMessengerPayload(nil, smb.MessengerPayload{From: []byte("WINNER"), To: []byte("BENCH"),
				Text: []byte("You have won! Visit http://spam.example/ now")})
			w, _ := smb.AppendMailslotWrite(nil, smb.Header{}, smb.MailslotWrite{Name: smb.MessengerMailslot, Class: 2, Data: payload})
			b, _ := netbios.AppendDatagram(nil, netbios.Datagram{Type: netbios.DirectGroupDatagram, Flags: netbios.DatagramFirst,
				SourceIP: dst.Addr(), SourcePort: 138, Source: source, Destination: group, Data: w})
			for i := 0; time.Now().Before(deadline) && spam.Add(1) <= maxSpam; i++ {
				conns[i%len(conns)].WriteToUDPAddrPort(b, dst)
			}
		}()
	}
	// The trusted sender: a message over a session every 20 ms.
	called, _ := netbios.NewName("BENCHHOST", 0x03)
	calling, _ := netbios.NewName("TRUSTED", 0x00)
	smbAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(smbPort))
	for i := 0; time.Now().Before(deadline); i++ {
		text := fmt.Sprintf("trusted %05d", i)
		row.Trusted++
		if err := sendOne(context.Background(), smbAddr, called, calling, text); err != nil {
			fmt.Fprintf(os.Stderr, "bench: trusted message %d: %v\n", i, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	time.Sleep(time.Second) // the daemon's queues drain; sample after
	row.RSS = append(row.RSS, rssSample{At: time.Since(start), RSS: rssBytes([]int{cmd.Process.Pid})})
	row.Spam = int(min(spam.Load(), maxSpam))

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	msgs, err := client.List(ctx, "", 0, 0)
	if err != nil {
		return err
	}
	row.InOrder = true
	last := -1
	for _, m := range msgs {
		if n, ok := strings.CutPrefix(strings.TrimSpace(m.Text), "trusted "); ok && m.From == "bench" {
			v, _ := strconv.Atoi(n)
			if v <= last {
				row.InOrder = false
			}
			last = v
			row.TrustedDelivered++
		}
	}
	st, err := status()
	if err != nil {
		return err
	}
	judged, err := decisions(d.sock)
	if err != nil {
		return err
	}
	row.KernelDropped = int(judged.kernel)
	row.SpamStored = int(st.Stored) - row.TrustedDelivered
	rep.Flood = row
	var peak int64
	for _, s := range row.RSS {
		peak = max(peak, s.RSS)
	}
	fmt.Printf("Spam flood (mailslot datagrams from 400 loopback addresses) with a trusted sender interleaved, %v, %s\n\n", duration, machine())
	fmt.Printf("  spam sent %d, stored %d (quarantine capped at 1000); trusted sent %d, delivered %d, in order %v\n",
		row.Spam, row.SpamStored, row.Trusted, row.TrustedDelivered, row.InOrder)
	fmt.Printf("  spam judged by the policy in user space %.0f, dropped by the kernel filter %d\n", judged.policy-float64(row.TrustedDelivered), row.KernelDropped)
	fmt.Printf("  daemon RSS: start %.1f MiB, peak %.1f MiB, end %.1f MiB\n", float64(row.RSS[0].RSS)/(1<<20),
		float64(peak)/(1<<20), float64(row.RSS[len(row.RSS)-1].RSS)/(1<<20))
	return nil
}
