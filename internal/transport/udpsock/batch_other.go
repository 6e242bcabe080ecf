//go:build !linux

package udpsock

import (
	"errors"
	"net/netip"
	"os"

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

// WaitInKernel leaves reads in Go's poller where recvmmsg is not used:
// x/net reads one datagram per call there, and a blocking read would not
// take the rest.
func (b *Batch) WaitInKernel() error { return nil }

func shutdownRead(*os.File) {}

func sendTo(*os.File, bool, []byte, netip.AddrPort) error { return errors.New("not reached") }
