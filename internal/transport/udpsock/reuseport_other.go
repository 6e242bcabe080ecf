//go:build !linux

package udpsock

import "net"

// ListenGroup opens one UDP socket on addr: spreading a port over several
// sockets (SO_REUSEPORT, and a filter that reads each broadcast once) is
// done on Linux only.
func ListenGroup(network, address string, _ int) ([]*net.UDPConn, error) {
	c, err := net.ListenPacket(network, address)
	if err != nil {
		return nil, err
	}
	return []*net.UDPConn{c.(*net.UDPConn)}, nil
}
