//go:build !unix

package udpsock

import "net"

// EnableBroadcast leaves the platform's default elsewhere: the daemon targets
// Unix, and Go's net package enables SO_BROADCAST on Windows IPv4 datagram
// sockets itself.
func EnableBroadcast(*net.UDPConn) error { return nil }
