//go:build !linux

package udpsock

import (
	"net"
	"net/netip"
)

// ListenGroup opens one UDP socket on addr: spreading a port over several
// sockets (SO_REUSEPORT, and a filter that reads each broadcast once) is
// done on Linux only.
func ListenGroup(network string, addr netip.AddrPort, _ int) ([]*net.UDPConn, error) {
	c, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(addr))
	if err != nil {
		return nil, err
	}
	return []*net.UDPConn{c}, nil
}
