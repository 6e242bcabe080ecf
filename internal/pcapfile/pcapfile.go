// Package pcapfile writes classic pcap capture files of UDP datagrams, so
// that tests can show tshark exactly the bytes our encoders produce,
// without a network in between.
package pcapfile

import (
	"encoding/binary"
	"net/netip"
)

// Datagram is one UDP packet of the capture.
type Datagram struct {
	Src, Dst netip.AddrPort // IPv4
	Payload  []byte
	// BroadcastEthernet gives the frame the all-ones MAC a subnet
	// broadcast goes out with.
	BroadcastEthernet bool
}

// Encode returns a whole pcap file (microsecond timestamps, Ethernet link
// type) holding the datagrams, each framed as Ethernet, IPv4 and UDP: all
// tshark needs to reach the dissectors of the payloads.
func Encode(frames []Datagram) []byte {
	le, be := binary.LittleEndian, binary.BigEndian
	var out []byte
	out = le.AppendUint32(out, 0xa1b2c3d4)
	out = le.AppendUint16(out, 2) // version 2.4
	out = le.AppendUint16(out, 4)
	out = le.AppendUint32(out, 0) // thiszone
	out = le.AppendUint32(out, 0) // sigfigs
	out = le.AppendUint32(out, 65535)
	out = le.AppendUint32(out, 1) // LINKTYPE_ETHERNET
	for i, f := range frames {
		src, dst := f.Src.Addr().As4(), f.Dst.Addr().As4()
		var pkt []byte
		if f.BroadcastEthernet {
			pkt = append(pkt, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
		} else {
			pkt = append(pkt, 0x02, 0, 0, 0, 0, dst[3])
		}
		pkt = append(pkt, 0x02, 0, 0, 0, 0, src[3])
		pkt = be.AppendUint16(pkt, 0x0800)
		ip := make([]byte, 20)
		ip[0] = 0x45
		be.PutUint16(ip[2:], uint16(20+8+len(f.Payload)))
		be.PutUint16(ip[4:], uint16(i+1))
		ip[8], ip[9] = 64, 17
		copy(ip[12:], src[:])
		copy(ip[16:], dst[:])
		var sum uint32
		for j := 0; j < len(ip); j += 2 {
			sum += uint32(be.Uint16(ip[j:]))
		}
		for sum > 0xFFFF {
			sum = sum&0xFFFF + sum>>16
		}
		be.PutUint16(ip[10:], ^uint16(sum))
		pkt = append(pkt, ip...)
		pkt = be.AppendUint16(pkt, f.Src.Port())
		pkt = be.AppendUint16(pkt, f.Dst.Port())
		pkt = be.AppendUint16(pkt, uint16(8+len(f.Payload)))
		pkt = be.AppendUint16(pkt, 0) // no UDP checksum, allowed over IPv4
		pkt = append(pkt, f.Payload...)

		out = le.AppendUint32(out, uint32(1700000000+i))
		out = le.AppendUint32(out, 0)
		out = le.AppendUint32(out, uint32(len(pkt)))
		out = le.AppendUint32(out, uint32(len(pkt)))
		out = append(out, pkt...)
	}
	return out
}
