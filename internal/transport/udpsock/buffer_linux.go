//go:build linux

package udpsock

import (
	"net"
	"syscall"
)

// SetReceiveBuffer asks for a receive buffer of size bytes. A burst of
// datagrams (a scan, a spam run) queues there instead of being dropped by
// the kernel before the daemon sees it. As root the system's cap
// (net.core.rmem_max) is lifted with SO_RCVBUFFORCE; otherwise the capped
// size is what we get.
func SetReceiveBuffer(c *net.UDPConn, size int) {
	if rc, err := c.SyscallConn(); err == nil {
		var serr error
		rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUFFORCE, size)
		})
		if serr == nil {
			return
		}
	}
	c.SetReadBuffer(size)
}
