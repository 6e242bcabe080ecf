//go:build unix

package udpsock

import (
	"fmt"
	"net"
	"syscall"
)

// EnableBroadcast enables SO_BROADCAST, without which the kernel refuses to
// send to a broadcast address (EACCES). Go's net package happens to set it
// on IPv4 datagram sockets already; code whose job is broadcasting
// does not lean on that.
func EnableBroadcast(c *net.UDPConn) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return fmt.Errorf("enabling SO_BROADCAST: %w", err)
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_BROADCAST, 1)
	}); err != nil {
		return fmt.Errorf("enabling SO_BROADCAST: %w", err)
	}
	if serr != nil {
		return fmt.Errorf("enabling SO_BROADCAST: %w", serr)
	}
	return nil
}
