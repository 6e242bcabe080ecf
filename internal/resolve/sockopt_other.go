//go:build !unix

package resolve

import "net"

// setBroadcast leaves the platform's default elsewhere: the daemon targets
// Unix, and Go's net package enables SO_BROADCAST on Windows IPv4 datagram
// sockets itself.
func setBroadcast(*net.UDPConn) error { return nil }
