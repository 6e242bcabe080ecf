package netbios

import (
	"bytes"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/netsend/messenger/internal/smb"
)

const encALICE00 = " 20 45 42 45 4d 45 4a 45 44 45 46 43 41 43 41 43 41 43 41 43 41 43 41 43 41 43 41 43 41 43 41 41 41 00 "

// goldenMessngrSMB is the SMB part of docs/protocols/netbios-datagrams.md,
// "Worked example: a directed mailslot message": a mailslot write to
// \MAILSLOT\MESSNGR carrying ALICE\0BOB\0Hello\0, its header all zero
// but the command.
const goldenMessngrSMB = `
ff 53 4d 42 25 00 00 00 00 00 00 00 00 00 00 00
00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
11
00 00 10 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
10 00 58 00 03 00
01 00 00 00 02 00
23 00
5c 4d 41 49 4c 53 4c 4f 54 5c 4d 45 53 53 4e 47 52 00
00
41 4c 49 43 45 00 42 4f 42 00 48 65 6c 6c 6f 00`

// goldenDirectUnique is that worked example in full: DIRECT_UNIQUE, FIRST,
// B-node, DGM_ID 0x8001, from 192.168.1.10:138, ALICE<00> to BOB<03>,
// DGM_LENGTH 0x00ac.
const goldenDirectUnique = `10 02 80 01 c0 a8 01 0a 00 8a 00 ac 00 00` + encALICE00 + encBOB03 + goldenMessngrSMB

func goldenDatagram(t testing.TB) Datagram {
	return Datagram{
		Type: DirectUniqueDatagram, Flags: DatagramFirst | SNTBNode, ID: 0x8001,
		SourceIP: netip.MustParseAddr("192.168.1.10"), SourcePort: 138,
		Source: mustName(t, "ALICE", 0x00), Destination: mustName(t, "BOB", 0x03),
		Data: unhex(t, goldenMessngrSMB),
	}
}

func equalDatagrams(a, b Datagram) bool {
	return a.Type == b.Type && a.Flags == b.Flags && a.ID == b.ID && a.SourceIP == b.SourceIP &&
		a.SourcePort == b.SourcePort && a.PacketOffset == b.PacketOffset &&
		a.Source == b.Source && a.Destination == b.Destination &&
		a.SourceScope == b.SourceScope && a.DestinationScope == b.DestinationScope &&
		a.ErrorCode == b.ErrorCode && bytes.Equal(a.Data, b.Data)
}

func TestDirectUniqueGolden(t *testing.T) {
	wire := unhex(t, goldenDirectUnique)
	if len(wire) != 186 {
		t.Fatalf("golden is %d bytes, want 186", len(wire))
	}
	d, err := ParseDatagram(wire)
	if err != nil {
		t.Fatal(err)
	}
	want := goldenDatagram(t)
	if !equalDatagrams(d, want) {
		t.Errorf("parsed %+v\nwant   %+v", d, want)
	}
	if got, want := d.String(), "DIRECT_UNIQUE DATAGRAM, ID 0x8001, FIRST, B-node, from 192.168.1.10:138, ALICE<00> -> BOB<03>, 104 bytes"; got != want {
		t.Errorf("String = %q\nwant     %q", got, want)
	}
	built, err := AppendDatagram(nil, want)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(built, wire) {
		t.Errorf("built\n% x\nwant\n% x", built, wire)
	}

	// All the way down: the user data is the MESSNGR mailslot write.
	p, err := smb.Parse(d.Data)
	if err != nil {
		t.Fatal(err)
	}
	m, err := smb.ParseMailslotWrite(p)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := smb.ParseMessengerPayload(m.Data)
	if err != nil {
		t.Fatal(err)
	}
	if m.Name != smb.MessengerMailslot || string(msg.From) != "ALICE" || string(msg.To) != "BOB" || string(msg.Text) != "Hello" {
		t.Errorf("mailslot %v, payload %v", m, msg)
	}
}

func TestDatagramTypesRoundTrip(t *testing.T) {
	src := netip.MustParseAddr("10.0.0.5")
	tests := []struct {
		d    Datagram
		wire string
		str  string
	}{
		{
			Datagram{Type: DirectGroupDatagram, Flags: DatagramFirst | DatagramMore | SNTMNode, ID: 7, SourceIP: src, SourcePort: 138,
				PacketOffset: 0, Source: goldenName("ALICE", 0), Destination: goldenName("BOB", 3), SourceScope: "corp", DestinationScope: "corp", Data: []byte("x")},
			"11 0b 00 07 0a 00 00 05 00 8a 00 4f 00 00" + strings.TrimSuffix(encALICE00, " 00 ") + " 04 63 6f 72 70 00 " + strings.TrimSuffix(encBOB03, " 00 ") + " 04 63 6f 72 70 00 78",
			`DIRECT_GROUP DATAGRAM, ID 0x0007, MORE, FIRST, M-node, from 10.0.0.5:138, ALICE<00> (scope "corp") -> BOB<03> (scope "corp"), 1 bytes`,
		},
		{
			Datagram{Type: BroadcastDatagram, Flags: SNTPNode, ID: 8, SourceIP: src, SourcePort: 138, PacketOffset: 512,
				Source: goldenName("ALICE", 0), Destination: WildcardName(), Data: []byte{}},
			"12 04 00 08 0a 00 00 05 00 8a 00 44 02 00" + encALICE00 + encWildcard,
			"BROADCAST DATAGRAM, ID 0x0008, P-node, from 10.0.0.5:138, ALICE<00> -> *<00>, 0 bytes at offset 512",
		},
		{
			Datagram{Type: DatagramError, Flags: DatagramFirst | SNTNBDD, ID: 9, SourceIP: src, SourcePort: 138, ErrorCode: DestinationNameNotPresent},
			"13 0e 00 09 0a 00 00 05 00 8a 82",
			"DATAGRAM ERROR, ID 0x0009, FIRST, NBDD, from 10.0.0.5:138, destination name not present",
		},
		{
			Datagram{Type: DatagramQueryRequest, Flags: DatagramFirst, ID: 10, SourceIP: src, SourcePort: 138, Destination: goldenName("BOB", 3)},
			"14 02 00 0a 0a 00 00 05 00 8a" + encBOB03,
			"DATAGRAM QUERY REQUEST, ID 0x000A, FIRST, B-node, from 10.0.0.5:138, BOB<03>",
		},
		{
			Datagram{Type: DatagramPositiveQueryResponse, ID: 11, SourceIP: src, SourcePort: 138, Destination: goldenName("BOB", 3)},
			"15 00 00 0b 0a 00 00 05 00 8a" + encBOB03, "",
		},
		{
			Datagram{Type: DatagramNegativeQueryResponse, ID: 12, SourceIP: src, SourcePort: 138, Destination: goldenName("BOB", 3)},
			"16 00 00 0c 0a 00 00 05 00 8a" + encBOB03, "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.d.Type.String(), func(t *testing.T) {
			wire := unhex(t, tt.wire)
			built, err := AppendDatagram([]byte("pre"), tt.d)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(built[3:], wire) {
				t.Errorf("built\n% x\nwant\n% x", built[3:], wire)
			}
			d, err := ParseDatagram(wire)
			if err != nil {
				t.Fatal(err)
			}
			if !equalDatagrams(d, tt.d) {
				t.Errorf("parsed %+v\nwant   %+v", d, tt.d)
			}
			if tt.str != "" && d.String() != tt.str {
				t.Errorf("String = %q\nwant     %q", d.String(), tt.str)
			}
		})
	}
}

func TestParseDatagramErrors(t *testing.T) {
	golden := strings.Join(strings.Fields(goldenDirectUnique), " ")
	withLen := func(l string) string { return golden[:30] + l + golden[35:] }
	tests := []struct {
		name     string
		wire     string
		want     error
		field    string
		complete bool // the datagram comes back despite the error
	}{
		{"empty", "", ErrShort, "header", false},
		{"short header", "10 02 80 01 c0 a8 01 0a 00", ErrShort, "header", false},
		{"no DGM_LENGTH", "10 02 80 01 c0 a8 01 0a 00 8a 00", ErrShort, "DGM_LENGTH", false},
		{"no PACKET_OFFSET", "10 02 80 01 c0 a8 01 0a 00 8a 00 ac 00", ErrShort, "PACKET_OFFSET", false},
		{"reserved flags", "10 12" + golden[5:], ErrBadFlags, "FLAGS", false},
		{"DGM_LENGTH too long", withLen("00 ad"), ErrLengthMismatch, "DGM_LENGTH: 173, but 172 bytes", true},
		{"DGM_LENGTH too short", withLen("00 ab"), ErrLengthMismatch, "DGM_LENGTH: 171, but 172 bytes", true},
		{"DGM_LENGTH counts the header", withLen("00 ba"), ErrLengthMismatch, "DGM_LENGTH", true},
		{"source name cut", golden[:60], ErrShort, "SOURCE_NAME", false},
		{"destination name cut", golden[:(14+34+10)*3], ErrShort, "DESTINATION_NAME", false},
		{"compressed destination", "10 02 80 01 c0 a8 01 0a 00 8a 00 24 00 00" + encALICE00 + "c0 0e", ErrCompression, "DESTINATION_NAME", false},
		{"unknown type", "17 02 80 01 c0 a8 01 0a 00 8a", ErrUnknownDatagramType, "MSG_TYPE: 0x17", false},
		{"error without code", "13 02 80 01 c0 a8 01 0a 00 8a", ErrShort, "ERROR_CODE", false},
		{"error with trailing byte", "13 02 80 01 c0 a8 01 0a 00 8a 82 00", ErrTrailing, "DATAGRAM ERROR", false},
		{"query without name", "14 02 80 01 c0 a8 01 0a 00 8a", ErrShort, "DESTINATION_NAME", false},
		{"query with trailing byte", "14 02 80 01 c0 a8 01 0a 00 8a" + encBOB03 + "00", ErrTrailing, "DATAGRAM QUERY REQUEST", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := ParseDatagram(unhex(t, tt.wire))
			if !errors.Is(err, tt.want) {
				t.Fatalf("error = %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.field) {
				t.Errorf("error %q does not name %q", err, tt.field)
			}
			if tt.complete {
				want := goldenDatagram(t)
				if !equalDatagrams(d, want) {
					t.Errorf("datagram with the error = %+v", d)
				}
			}
		})
	}
	d, err := ParseDatagram(unhex(t, "17 02 80 01 c0 a8 01 0a 00 8a"))
	if d.Type != 0x17 || d.ID != 0x8001 || d.SourceIP != netip.MustParseAddr("192.168.1.10") || err == nil {
		t.Errorf("unknown type: header %+v", d)
	}
	if _, err := ParseDatagram(make([]byte, MaxDatagramLen+1)); !errors.Is(err, ErrTooLong) {
		t.Errorf("oversized datagram: %v", err)
	}
}

func TestAppendDatagramErrors(t *testing.T) {
	good := goldenDatagram(t)
	tests := []struct {
		name   string
		change func(*Datagram)
		want   error
	}{
		{"unknown type", func(d *Datagram) { d.Type = 0x20 }, ErrUnknownDatagramType},
		{"reserved flags", func(d *Datagram) { d.Flags |= 0x40 }, ErrBadFlags},
		{"IPv6 source", func(d *Datagram) { d.SourceIP = netip.MustParseAddr("2001:db8::1") }, ErrBadAddress},
		{"no source", func(d *Datagram) { d.SourceIP = netip.Addr{} }, ErrBadAddress},
		{"source scope", func(d *Datagram) { d.SourceScope = ".x" }, ErrBadLabel},
		{"destination scope", func(d *Datagram) { d.DestinationScope = "x..y" }, ErrBadLabel},
		{"query scope", func(d *Datagram) { d.Type, d.DestinationScope = DatagramQueryRequest, "x." }, ErrBadLabel},
		{"too much data", func(d *Datagram) { d.Data = make([]byte, MaxDatagramLen-14-68+1) }, ErrTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := good
			tt.change(&d)
			out, err := AppendDatagram([]byte("keep"), d)
			if !errors.Is(err, tt.want) {
				t.Errorf("error = %v, want %v", err, tt.want)
			}
			if string(out) != "keep" {
				t.Errorf("buffer changed on error: %q", out)
			}
		})
	}
	// The largest datagram fits exactly, IPv4-mapped sources are written
	// as IPv4, and an error packet ignores the name fields.
	d := good
	d.Data = make([]byte, MaxDatagramLen-14-68)
	d.SourceIP = netip.MustParseAddr("::ffff:192.168.1.10")
	out, err := AppendDatagram(nil, d)
	if err != nil || len(out) != MaxDatagramLen {
		t.Fatalf("largest datagram: %d bytes, %v", len(out), err)
	}
	if back, err := ParseDatagram(out); err != nil || back.SourceIP != netip.MustParseAddr("192.168.1.10") {
		t.Errorf("parsed back %v, %v", back.SourceIP, err)
	}
	d.Type, d.SourceScope = DatagramError, "x..y"
	if out, err := AppendDatagram(nil, d); err != nil || len(out) != 11 {
		t.Errorf("error packet: % x, %v", out, err)
	}
}

func TestDatagramStrings(t *testing.T) {
	for _, tt := range []struct{ got, want string }{
		{DatagramType(0x20).String(), "DatagramType(0x20)"},
		{DatagramNegativeQueryResponse.String(), "DATAGRAM NEGATIVE QUERY RESPONSE"},
		{DatagramPositiveQueryResponse.String(), "DATAGRAM POSITIVE QUERY RESPONSE"},
		{DatagramErrorCode(0x90).String(), "DatagramErrorCode(0x90)"},
		{InvalidSourceNameFormat.String(), "invalid source name format"},
		{InvalidDestinationNameFormat.String(), "invalid destination name format"},
		{DatagramFlags(0xF2).String(), "FIRST, B-node, reserved 0xF0"},
		{(DatagramFirst | SNTMNode).SNT().String(), "M-node"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

func FuzzParseDatagram(f *testing.F) {
	f.Add(unhex(f, goldenDirectUnique))
	f.Add(unhex(f, "13 0e 00 09 0a 00 00 05 00 8a 82"))
	f.Add(unhex(f, "14 02 00 0a 0a 00 00 05 00 8a"+encBOB03))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := ParseDatagram(b)
		_ = d.String()
		if err != nil {
			return
		}
		out, err := AppendDatagram(nil, d)
		if err != nil {
			t.Fatalf("re-encoding a parsed datagram: %v", err)
		}
		if !bytes.Equal(out, b) {
			t.Fatalf("re-encoded\n% x\nfrom\n% x", out, b)
		}
	})
}

func BenchmarkParseDatagram(b *testing.B) {
	wire := unhex(b, goldenDirectUnique)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseDatagram(wire); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendDatagram(b *testing.B) {
	d := goldenDatagram(b)
	buf := make([]byte, 0, 576)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = AppendDatagram(buf[:0], d); err != nil {
			b.Fatal(err)
		}
	}
}
