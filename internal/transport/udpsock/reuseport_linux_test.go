//go:build linux

package udpsock

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// drain reads every socket of a group until each has been quiet for a
// moment, and counts what arrived by payload.
func drain(t *testing.T, conns []*net.UDPConn) map[string]int {
	t.Helper()
	var mu sync.Mutex
	got := map[string]int{}
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(func() {
			buf := make([]byte, 64)
			for {
				c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
				n, _, err := c.ReadFromUDPAddrPort(buf)
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					return
				}
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				got[string(buf[:n])]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return got
}

func TestListenGroupSpreadsAndReadsOnce(t *testing.T) {
	conns, err := ListenGroup("udp4", "0.0.0.0:0", 4)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	port := conns[0].LocalAddr().(*net.UDPAddr).Port
	for _, c := range conns[1:] {
		if p := c.LocalAddr().(*net.UDPAddr).Port; p != port {
			t.Fatalf("group on ports %d and %d", port, p)
		}
	}
	// One datagram from each of 64 sources: each is read once, by one
	// socket. (A broadcast, which the kernel copies to every socket, is
	// read once too: test/interop's TestBroadcastBetweenNamespaces sends
	// them between namespaces, since on loopback a broadcast is not
	// marked as one.)
	const sources = 64
	for i := range sources {
		tx, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 1, byte(1+i))})
		if err != nil {
			t.Fatal(err)
		}
		tx.WriteToUDPAddrPort([]byte{byte(i)}, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port)))
		tx.Close()
	}
	got := drain(t, conns)
	for i := range sources {
		if n := got[string([]byte{byte(i)})]; n != 1 {
			t.Errorf("datagram %d read %d times", i, n)
		}
	}
}
