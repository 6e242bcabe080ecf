package udpsock

import (
	"encoding/binary"
	"net/netip"

	"golang.org/x/sys/unix"
)

// PacketInfo returns the interface index and destination address that an
// IPv4 datagram's IP_PKTINFO control message (ipv4.FlagDst or
// ipv4.FlagInterface) carries. It does what ipv4.ControlMessage.Parse does
// for this one message without allocating, which matters when it runs for
// every datagram.
func PacketInfo(oob []byte) (ifIndex int, dst netip.Addr, ok bool) {
	// The headers are read by hand rather than with
	// unix.ParseOneSocketControlMessage, which converts the buffer to a
	// header before checking that it is long enough.
	hdrLen, dataOff := unix.SizeofCmsghdr, unix.CmsgLen(0)
	for len(oob) >= hdrLen {
		var l int
		if hdrLen == 16 { // 64-bit: cmsg_len is a size_t
			l = int(binary.NativeEndian.Uint64(oob))
		} else {
			l = int(binary.NativeEndian.Uint32(oob))
		}
		if l < dataOff || l > len(oob) {
			return 0, netip.Addr{}, false
		}
		level, typ := int32(binary.NativeEndian.Uint32(oob[hdrLen-8:])), int32(binary.NativeEndian.Uint32(oob[hdrLen-4:]))
		if data := oob[dataOff:l]; level == unix.IPPROTO_IP && typ == unix.IP_PKTINFO && len(data) >= unix.SizeofInet4Pktinfo {
			// struct in_pktinfo: ipi_ifindex (host order), ipi_spec_dst, ipi_addr.
			return int(int32(binary.NativeEndian.Uint32(data))), netip.AddrFrom4([4]byte(data[8:12])), true
		}
		next := unix.CmsgSpace(l - dataOff)
		if next >= len(oob) {
			break
		}
		oob = oob[next:]
	}
	return 0, netip.Addr{}, false
}
