//go:build linux

package kfilter

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"
)

// newFilter loads the filter, or skips the test where the kernel will not
// let this process load it.
func newFilter(t *testing.T) *Filter {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("loading an eBPF socket filter needs root (or CAP_BPF); run the test as root")
	}
	f, err := New(64)
	if err != nil {
		t.Fatalf("as root: %v", err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func listen(t *testing.T, network, addr string) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(netip.MustParseAddrPort(addr)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// received reads what arrives on c until it has been quiet for a moment,
// and returns the count by source address.
func received(t *testing.T, c *net.UDPConn) map[netip.Addr]int {
	t.Helper()
	got := map[netip.Addr]int{}
	buf := make([]byte, 1500)
	for {
		c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		_, from, err := c.ReadFromUDPAddrPort(buf)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return got
		}
		if err != nil {
			t.Fatal(err)
		}
		got[from.Addr().Unmap()]++
	}
}

func send(t *testing.T, from *net.UDPConn, to *net.UDPConn, n int) {
	t.Helper()
	dst := to.LocalAddr().(*net.UDPAddr).AddrPort()
	for range n {
		if _, err := from.WriteToUDPAddrPort([]byte("datagram"), dst); err != nil {
			t.Fatal(err)
		}
	}
}

func TestBlockedSourceDroppedInKernel(t *testing.T) {
	f := newFilter(t)
	rx := listen(t, "udp4", "127.0.0.1:0")
	if err := f.Attach([]*net.UDPConn{rx}); err != nil {
		t.Fatal(err)
	}
	blocked, other := listen(t, "udp4", "127.0.0.2:0"), listen(t, "udp4", "127.0.0.3:0")
	bad, good := netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.3")
	if !f.Block(bad, time.Minute, time.Now()) {
		t.Fatal("Block refused with room in the map")
	}
	send(t, blocked, rx, 10)
	send(t, other, rx, 5)
	got := received(t, rx)
	if got[bad] != 0 || got[good] != 5 {
		t.Fatalf("received %v; want nothing from %v and 5 from %v", got, bad, good)
	}
	if n := f.Dropped(); n != 10 {
		t.Errorf("Dropped = %d, want 10", n)
	}
	// Past its hold the source is released with its count, and heard
	// again.
	if r := f.Sweep(time.Now()); len(r) != 0 {
		t.Fatalf("Sweep released %+v within its hold", r)
	}
	if r := f.Sweep(time.Now().Add(2 * time.Minute)); len(r) != 1 || r[0].Addr != bad || r[0].Dropped != 10 {
		t.Fatalf("Sweep released %+v, want %v with 10 dropped", r, bad)
	}
	send(t, blocked, rx, 3)
	if got := received(t, rx); got[bad] != 3 {
		t.Fatalf("after release received %v, want 3 from %v", got, bad)
	}
	if n := f.Dropped(); n != 10 {
		t.Errorf("Dropped after release = %d, want 10", n)
	}
}

func TestBlockedIPv6Source(t *testing.T) {
	f := newFilter(t)
	rx, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	defer rx.Close()
	if err := f.Attach([]*net.UDPConn{rx}); err != nil {
		t.Fatal(err)
	}
	tx := listen(t, "udp6", "[::1]:0")
	send(t, tx, rx, 2)
	if got := received(t, rx); got[netip.IPv6Loopback()] != 2 {
		t.Fatalf("before blocking received %v, want 2 from ::1", got)
	}
	f.Block(netip.IPv6Loopback(), time.Minute, time.Now())
	send(t, tx, rx, 4)
	if got := received(t, rx); len(got) != 0 {
		t.Fatalf("blocked ::1, received %v", got)
	}
	if n := f.Dropped(); n != 4 {
		t.Errorf("Dropped = %d, want 4", n)
	}
	f.Clear()
	send(t, tx, rx, 1)
	if got := received(t, rx); got[netip.IPv6Loopback()] != 1 {
		t.Fatalf("after Clear received %v, want 1 from ::1", got)
	}
}

// Check reads the map through its descriptor, and fails when it cannot:
// here because the map is closed.
func TestCheck(t *testing.T) {
	f := newFilter(t)
	if err := f.Check(); err != nil {
		t.Fatalf("Check on a map just made: %v", err)
	}
	f.Block(netip.MustParseAddr("192.0.2.1"), time.Minute, time.Now())
	if err := f.Check(); err != nil {
		t.Fatalf("Check with a source installed: %v", err)
	}
	f.Close()
	if err := f.Check(); err == nil {
		t.Fatal("Check on a closed map: no error")
	}
}
