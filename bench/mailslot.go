package main

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/netsend/messenger/internal/netbios"
	"github.com/netsend/messenger/internal/smb"
)

// runMailslot measures how many MESSNGR datagrams per second our daemon's
// UDP 138 listener decodes and stores. No peer takes part: nmbd ignores
// this mailslot (docs/protocols/peers.md, "nmbd in network namespaces"),
// so there is nothing to put beside it.
func runMailslot(duration time.Duration, rep *Report) error {
	work, err := os.MkdirTemp("", "messenger-bench-dgram-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	port, err := freeUDPPort()
	if err != nil {
		return err
	}
	d, err := startOurDaemon(work, "--bind", "127.0.0.1", "--dgram-port", strconv.Itoa(port), "--popup=false")
	if err != nil {
		return err
	}
	defer d.stop()
	stored := d.stored

	group, _ := netbios.NewName("BENCH", 0)
	source, _ := netbios.NewName("BENCHSENDER", 0)
	dst := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))
	var sent atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(duration)
	const senders = 2
	for g := 0; g < senders; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				return
			}
			defer c.Close()
			for i := 0; time.Now().Before(deadline); i++ {
				payload, _ := smb.AppendMessengerPayload(nil, smb.MessengerPayload{From: []byte("bench"), To: []byte("BENCH"),
					Text: []byte(fmt.Sprintf("datagram %d-%d", g, i))})
				w, _ := smb.AppendMailslotWrite(nil, smb.Header{}, smb.MailslotWrite{Name: smb.MessengerMailslot, Class: 2, Data: payload})
				b, _ := netbios.AppendDatagram(nil, netbios.Datagram{Type: netbios.DirectGroupDatagram, Flags: netbios.DatagramFirst,
					ID: uint16(i), SourceIP: dst.Addr(), SourcePort: 138, Source: source, Destination: group, Data: w})
				c.WriteToUDPAddrPort(b, dst)
				// Pace to what the daemon keeps up with: UDP has no flow
				// control, and a drop measures the socket buffer, not us.
				if n := sent.Add(1); n%256 == 0 {
					for {
						s, err := stored()
						if err != nil || int64(s) > n-8192 || time.Now().After(deadline) {
							break
						}
						time.Sleep(time.Millisecond)
					}
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	var final int
	waitFor("datagrams stored", 30*time.Second, func() error {
		s, err := stored()
		if err != nil {
			return err
		}
		final = s
		if int64(s) < sent.Load() {
			return errNotReady
		}
		return nil
	})
	rep.Mailslot = &mailslotRow{Sent: int(sent.Load()), Stored: final, PerSecond: float64(final) / elapsed.Seconds()}
	fmt.Printf("MESSNGR mailslot datagrams to our daemon (UDP 138 listener, stored durably), %v, loopback, %s\n\n", duration, machine())
	fmt.Printf("  sent %d, stored %d (%.1f%%), %.0f datagrams/s decoded and stored\n", sent.Load(), final,
		100*float64(final)/float64(max(sent.Load(), 1)), float64(final)/elapsed.Seconds())
	return nil
}

func freeUDPPort() (int, error) {
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port, nil
}
