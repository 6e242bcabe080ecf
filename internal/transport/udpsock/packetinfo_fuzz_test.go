//go:build linux

package udpsock

import (
	"encoding/binary"
	"testing"

	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

// pktinfo is an IP_PKTINFO control message as the kernel writes it: the
// interface, the local address the route chose (spec_dst) and the
// datagram's destination (addr), which is the one PacketInfo returns.
func pktinfo(ifIndex uint32, specDst, addr [4]byte) []byte {
	b := make([]byte, unix.CmsgSpace(unix.SizeofInet4Pktinfo))
	hdr := unix.SizeofCmsghdr
	if hdr == 16 { // 64-bit: cmsg_len is a size_t
		binary.NativeEndian.PutUint64(b, uint64(unix.CmsgLen(unix.SizeofInet4Pktinfo)))
	} else {
		binary.NativeEndian.PutUint32(b, uint32(unix.CmsgLen(unix.SizeofInet4Pktinfo)))
	}
	binary.NativeEndian.PutUint32(b[hdr-8:], unix.IPPROTO_IP)
	binary.NativeEndian.PutUint32(b[hdr-4:], unix.IP_PKTINFO)
	d := b[unix.CmsgLen(0):]
	binary.NativeEndian.PutUint32(d, ifIndex)
	copy(d[4:], specDst[:])
	copy(d[8:], addr[:])
	return b
}

// FuzzPacketInfo feeds PacketInfo arbitrary control-message buffers: it
// must never panic or read past the buffer, and where x/net's parser
// finds one IP_PKTINFO message in a well-formed buffer, both must read
// the same interface and destination.
func FuzzPacketInfo(f *testing.F) {
	one := pktinfo(3, [4]byte{198, 51, 100, 1}, [4]byte{192, 0, 2, 7})
	f.Add(one)
	f.Add(append(pktinfo(2, [4]byte{}, [4]byte{10, 0, 0, 1}), one...))
	f.Add([]byte{})
	f.Add(make([]byte, 16))
	f.Fuzz(func(t *testing.T, oob []byte) {
		idx, dst, ok := PacketInfo(oob)
		if !ok {
			if idx != 0 || dst.IsValid() {
				t.Fatalf("not ok but returned %d %v", idx, dst)
			}
			return
		}
		if !dst.Is4() {
			t.Fatalf("destination %v is not IPv4", dst)
		}
		var want ipv4.ControlMessage
		if err := want.Parse(oob); err != nil || want.Dst == nil {
			return // x/net refuses what PacketInfo read leniently, or found none
		}
		// x/net keeps the last IP_PKTINFO of the buffer and PacketInfo the
		// first; they agree when there is one.
		if len(oob) == len(one) && (want.IfIndex != idx || !want.Dst.Equal(dst.AsSlice())) {
			t.Fatalf("PacketInfo read %d %v, x/net %d %v", idx, dst, want.IfIndex, want.Dst)
		}
	})
}
