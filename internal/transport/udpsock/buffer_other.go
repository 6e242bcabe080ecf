//go:build !linux

package udpsock

import "net"

// SetReceiveBuffer asks for a receive buffer of size bytes.
func SetReceiveBuffer(c *net.UDPConn, size int) { c.SetReadBuffer(size) }
