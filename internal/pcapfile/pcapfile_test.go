package pcapfile

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
)

func TestEncode(t *testing.T) {
	b := Encode([]Datagram{{
		Src: netip.MustParseAddrPort("10.0.0.1:137"), Dst: netip.MustParseAddrPort("10.0.0.255:137"),
		Payload: []byte("hello"), BroadcastEthernet: true,
	}})
	if len(b) != 24+16+14+20+8+5 {
		t.Fatalf("file is %d bytes", len(b))
	}
	pkt := b[24+16:]
	if !bytes.Equal(pkt[:6], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}) {
		t.Errorf("destination MAC % x, want broadcast", pkt[:6])
	}
	ip := pkt[14:34]
	var sum uint32
	for j := 0; j < 20; j += 2 {
		sum += uint32(binary.BigEndian.Uint16(ip[j:]))
	}
	for sum > 0xFFFF {
		sum = sum&0xFFFF + sum>>16
	}
	if sum != 0xFFFF {
		t.Errorf("IPv4 header checksum does not verify: %#x", sum)
	}
	if string(pkt[42:]) != "hello" || binary.BigEndian.Uint16(pkt[36:]) != 137 {
		t.Errorf("UDP part % x", pkt[34:])
	}
}
