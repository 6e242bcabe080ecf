//go:build linux

package udpsock

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/netsend/messenger/internal/transport/kfilter"
)

// inNetns runs f on a thread that has entered network namespace ns, so
// that the sockets f opens live there; the thread is thrown away after.
func inNetns(t *testing.T, ns string, f func()) {
	t.Helper()
	done := make(chan error)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		fd, err := unix.Open("/var/run/netns/"+ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err == nil {
			err = unix.Setns(fd, unix.CLONE_NEWNET)
			unix.Close(fd)
		}
		if err == nil {
			f()
		}
		done <- err
	}()
	if err := <-done; err != nil {
		t.Fatalf("entering namespace %s: %v", ns, err)
	}
}

// TestListenGroupReadsBroadcastOnce sends a real broadcast (and a
// unicast) over a veth pair between two network namespaces the test
// makes and removes: the kernel copies a broadcast to every socket of a
// SO_REUSEPORT group, and the group must read it once, with the group's
// own classic filter and with the kernel filter's programs in its place.
func TestListenGroupReadsBroadcastOnce(t *testing.T) {
	t.Run("classic filter", func(t *testing.T) { testBroadcastOnce(t, nil) })
	t.Run("kernel filter", func(t *testing.T) {
		f, err := kfilter.New(8)
		if err != nil {
			t.Skipf("no kernel filter here: %v", err)
		}
		defer f.Close()
		testBroadcastOnce(t, f.Attach)
	})
}

func testBroadcastOnce(t *testing.T, attach func([]*net.UDPConn) error) {
	if os.Geteuid() != 0 {
		t.Skip("making network namespaces needs root; run the test as root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("no ip command (iproute2)")
	}
	id := os.Getpid() % 100000
	nsA, nsB := fmt.Sprintf("msgr-rpa-%d", id), fmt.Sprintf("msgr-rpb-%d", id)
	ifA, ifB := fmt.Sprintf("mrpa%d", id), fmt.Sprintf("mrpb%d", id)
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v\n%s", args, err, out)
		}
	}
	for _, ns := range []string{nsA, nsB} {
		ip("netns", "add", ns)
		t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	}
	ip("link", "add", ifA, "type", "veth", "peer", "name", ifB)
	ip("link", "set", ifA, "netns", nsA)
	ip("link", "set", ifB, "netns", nsB)
	ip("-n", nsA, "addr", "add", "10.98.0.1/24", "brd", "10.98.0.255", "dev", ifA)
	ip("-n", nsB, "addr", "add", "10.98.0.2/24", "brd", "10.98.0.255", "dev", ifB)
	ip("-n", nsA, "link", "set", ifA, "up")
	ip("-n", nsB, "link", "set", ifB, "up")

	var conns []*net.UDPConn
	var err error
	inNetns(t, nsB, func() { conns, err = ListenGroup("udp4", "0.0.0.0:0", 4) })
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	if attach != nil {
		if err := attach(conns); err != nil {
			t.Fatal(err)
		}
	}
	port := uint16(conns[0].LocalAddr().(*net.UDPAddr).Port)
	var tx *net.UDPConn
	inNetns(t, nsA, func() { tx, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(10, 98, 0, 1)}) })
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	if err := EnableBroadcast(tx); err != nil {
		t.Fatal(err)
	}
	for _, to := range []string{"10.98.0.255", "10.98.0.2"} {
		if _, err := tx.WriteToUDPAddrPort([]byte(to), netip.AddrPortFrom(netip.MustParseAddr(to), port)); err != nil {
			t.Fatal(err)
		}
	}
	got := drain(t, conns)
	if got["10.98.0.255"] != 1 || got["10.98.0.2"] != 1 {
		t.Errorf("read %v; want the broadcast and the unicast once each", got)
	}
}
