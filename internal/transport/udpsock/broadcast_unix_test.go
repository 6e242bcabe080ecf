//go:build unix

package udpsock

import (
	"net"
	"syscall"
	"testing"
)

func sockoptBroadcast(t *testing.T, c *net.UDPConn) int {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var v int
	var gerr error
	if err := rc.Control(func(fd uintptr) {
		v, gerr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_BROADCAST)
	}); err != nil {
		t.Fatal(err)
	}
	if gerr != nil {
		t.Fatal(gerr)
	}
	return v
}

// TestSetBroadcast clears the option Go sets by default, so that the test
// sees EnableBroadcast's own work.
func TestSetBroadcast(t *testing.T) {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	rc.Control(func(fd uintptr) {
		syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_BROADCAST, 0)
	})
	if v := sockoptBroadcast(t, c); v != 0 {
		t.Fatalf("SO_BROADCAST = %d after clearing it", v)
	}
	if err := EnableBroadcast(c); err != nil {
		t.Fatal(err)
	}
	if v := sockoptBroadcast(t, c); v == 0 {
		t.Error("SO_BROADCAST still off")
	}
}
