//go:build !linux

package udpsock

import (
	"net/netip"

	"golang.org/x/net/ipv4"
)

// PacketInfo returns the interface index and destination address of an
// IPv4 datagram from its control messages (ipv4.FlagDst,
// ipv4.FlagInterface), through x/net's parser.
func PacketInfo(oob []byte) (ifIndex int, dst netip.Addr, ok bool) {
	var cm ipv4.ControlMessage
	if cm.Parse(oob) != nil {
		return 0, netip.Addr{}, false
	}
	d, _ := netip.AddrFromSlice(cm.Dst)
	return cm.IfIndex, d.Unmap(), cm.IfIndex != 0 || d.IsValid()
}
