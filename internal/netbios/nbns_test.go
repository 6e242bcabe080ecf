package netbios

import (
	"bytes"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// Encoded names used in the golden packets (docs/protocols/netbios-names.md,
// "First-level encoding").
const (
	encBOB03    = " 20 45 43 45 50 45 43 43 41 43 41 43 41 43 41 43 41 43 41 43 41 43 41 43 41 43 41 43 41 43 41 41 44 00 "
	encWildcard = " 20 43 4b 41 41 41 41 41 41 41 41 41 41 41 41 41 41 41 41 41 41 41 41 41 41 41 41 41 41 41 41 41 41 00 "
)

// goldenNameQuery is the example of docs/protocols/netbios-names.md,
// "Name query": a broadcast query for BOB<03>.
const goldenNameQuery = `
12 34 01 10 00 01 00 00 00 00 00 00` + encBOB03 + `
00 20 00 01`

// goldenPositiveQueryResponse is the same section's owner's answer,
// 192.168.1.20, B-node unique, TTL 300000.
const goldenPositiveQueryResponse = `
12 34 85 00 00 00 00 01 00 00 00 00` + encBOB03 + `
00 20 00 01 00 04 93 e0 00 06 00 00 c0 a8 01 14`

// goldenNodeStatusRequest is the example of docs/protocols/netbios-names.md,
// "Node status".
const goldenNodeStatusRequest = `
00 42 00 00 00 01 00 00 00 00 00 00` + encWildcard + `
00 21 00 01`

// goldenNodeStatusResponse answers it with three names (BOB<00> and
// BOB<03> unique active, WORKGROUP<00> group active), MAC
// 02:00:00:00:00:01, 0x01020304 good sends and a session data packet size
// of 1460; computed by hand from RFC 1002 4.2.18.
const goldenNodeStatusResponse = `
00 42 84 00 00 00 00 01 00 00 00 00` + encWildcard + `
00 21 00 01 00 00 00 00 00 65
03
42 4f 42 20 20 20 20 20 20 20 20 20 20 20 20 00  04 00
42 4f 42 20 20 20 20 20 20 20 20 20 20 20 20 03  04 00
57 4f 52 4b 47 52 4f 55 50 20 20 20 20 20 20 00  84 00
02 00 00 00 00 01  00 00  00 00 00 00 00 00 00 00 00 00 00 00
01 02 03 04  00 00 00 00
00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00  05 b4`

// goldenRegistration is a B-node's broadcast registration of BOB<03> for
// 192.168.1.20, the additional record named by the pointer C0 0C as
// Windows and nmbd send it (docs/protocols/netbios-names.md, "Registration,
// defence and release"; docs/protocols/peers.md, "Handcrafted NetBIOS
// packets").
const goldenRegistration = `
56 78 29 10 00 01 00 00 00 00 00 01` + encBOB03 + `
00 20 00 01
c0 0c 00 20 00 01 00 04 93 e0 00 06 00 00 c0 a8 01 14`

// goldenNegativeRegistration is the defence nmbd sent
// (docs/protocols/peers.md, "nmbd in network namespaces"):
// flags 0xAD86 (ACT_ERR), TTL 0, the requester's own entry 10.99.0.2.
const goldenNegativeRegistration = `
56 78 ad 86 00 00 00 01 00 00 00 00` + encBOB03 + `
00 20 00 01 00 00 00 00 00 06 00 00 0a 63 00 02`

func mustEntry(t testing.TB, flags NBFlags, addr string) NBEntry {
	t.Helper()
	return NBEntry{Flags: flags, Addr: netip.MustParseAddr(addr)}
}

func equalResources(a, b []Resource) bool {
	return slices.EqualFunc(a, b, func(x, y Resource) bool {
		return x.Name == y.Name && x.Scope == y.Scope && x.Type == y.Type && x.Class == y.Class && x.TTL == y.TTL && bytes.Equal(x.Data, y.Data)
	})
}

func equalPackets(a, b NameServicePacket) bool {
	return a.TransactionID == b.TransactionID && a.Response == b.Response && a.Opcode == b.Opcode &&
		a.Flags == b.Flags && a.RCode == b.RCode && a.CompressNames == b.CompressNames &&
		slices.Equal(a.Questions, b.Questions) && equalResources(a.Answers, b.Answers) &&
		equalResources(a.Authority, b.Authority) && equalResources(a.Additional, b.Additional)
}

// checkGolden builds p, compares it with the golden bytes, and parses the
// golden bytes back into p.
func checkGolden(t *testing.T, golden string, wantLen int, p NameServicePacket) {
	t.Helper()
	wire := unhex(t, golden)
	if len(wire) != wantLen {
		t.Fatalf("golden is %d bytes, want %d", len(wire), wantLen)
	}
	built, err := AppendNameServicePacket(nil, p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(built, wire) {
		t.Errorf("built\n% x\nwant\n% x", built, wire)
	}
	got, err := ParseNameServicePacket(wire)
	if err != nil {
		t.Fatal(err)
	}
	if !equalPackets(got, p) {
		t.Errorf("parsed %v\nwant   %v", got, p)
	}
}

func TestNameQueryGolden(t *testing.T) {
	p := NameQueryRequest(0x1234, mustName(t, "BOB", 0x03), "", true, true)
	checkGolden(t, goldenNameQuery, 50, p)
	if p.HeaderFlags() != 0x0110 {
		t.Errorf("flags 0x%04X", p.HeaderFlags())
	}
	if got, want := p.String(), "Name query request, ID 0x1234, flags 0x0110 (RD|B); question BOB<03> NB"; got != want {
		t.Errorf("String = %q\nwant     %q", got, want)
	}
}

func TestPositiveQueryResponseGolden(t *testing.T) {
	p, err := PositiveNameQueryResponse(0x1234, mustName(t, "BOB", 0x03), "", 300000, []NBEntry{mustEntry(t, 0, "192.168.1.20")}, false)
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, goldenPositiveQueryResponse, 62, p)
	got, _ := ParseNameServicePacket(unhex(t, goldenPositiveQueryResponse))
	entries, err := ParseNBData(got.Answers[0].Data)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0] != mustEntry(t, 0, "192.168.1.20") {
		t.Errorf("entries %v", entries)
	}
	if got, want := p.String(), "Name query response, ID 0x1234, flags 0x8500 (AA|RD), OK; answer BOB<03> NB, TTL 300000, unique, B-node 192.168.1.20"; got != want {
		t.Errorf("String = %q\nwant     %q", got, want)
	}
}

func TestNodeStatusGolden(t *testing.T) {
	checkGolden(t, goldenNodeStatusRequest, 50, NodeStatusRequest(0x0042, ""))

	s := NodeStatus{
		Names: []NodeName{
			{mustName(t, "BOB", 0x00), NameACT},
			{mustName(t, "BOB", 0x03), NameACT},
			{mustName(t, "WORKGROUP", 0x00), NameGroup | NameACT},
		},
		Statistics: Statistics{UnitID: [6]byte{2, 0, 0, 0, 0, 1}, NumberGoodSends: 0x01020304, SessionDataPacketSize: 1460},
	}
	p, err := NodeStatusResponse(0x0042, WildcardName(), "", s)
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, goldenNodeStatusResponse, 157, p)
	got, _ := ParseNameServicePacket(unhex(t, goldenNodeStatusResponse))
	parsed, err := ParseNodeStatus(got.Answers[0].Data)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(parsed.Names, s.Names) || parsed.Statistics != s.Statistics {
		t.Errorf("parsed %+v\nwant   %+v", parsed, s)
	}
	if got, want := parsed.String(), "3 names: BOB<00> unique, B-node, active; BOB<03> unique, B-node, active; WORKGROUP<00> group, B-node, active; MAC 02:00:00:00:00:01"; got != want {
		t.Errorf("String = %q\nwant     %q", got, want)
	}
}

func TestRegistrationGolden(t *testing.T) {
	p, err := NameRegistrationRequest(0x5678, mustName(t, "BOB", 0x03), "", 300000, mustEntry(t, 0, "192.168.1.20"), true)
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, goldenRegistration, 68, p)
	if !p.CompressNames {
		t.Error("registration request should compress the additional record's name")
	}

	neg, err := NegativeRegistrationResponse(0x5678, mustName(t, "BOB", 0x03), "", RCodeActive, mustEntry(t, 0, "10.99.0.2"))
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, goldenNegativeRegistration, 62, neg)
	if got, want := neg.String(), "Registration response, ID 0x5678, flags 0xAD86 (AA|RD|RA), ACT_ERR; answer BOB<03> NB, TTL 0, unique, B-node 10.99.0.2"; got != want {
		t.Errorf("String = %q\nwant     %q", got, want)
	}
}

// TestBuilders checks the header word of every builder against
// docs/protocols/netbios-names.md (from "Name service header" on) and
// that each packet survives a round trip.
func TestBuilders(t *testing.T) {
	bob := mustName(t, "BOB", 0x03)
	own := mustEntry(t, NBFlags(ONTH), "10.0.0.7")
	must := func(p NameServicePacket, err error) NameServicePacket {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name      string
		p         NameServicePacket
		flags     uint16
		qd, an    int
		ar        int
		wantTTL   uint32
		wantType  RRType
		wantRData string
	}{
		{"unicast query", NameQueryRequest(1, bob, "", false, true), 0x0100, 1, 0, 0, 0, 0, ""},
		{"query from NBNS", must(PositiveNameQueryResponse(1, bob, "", 600, []NBEntry{own}, true)), 0x8580, 0, 1, 0, 600, TypeNB, "60 00 0a 00 00 07"},
		{"negative query", NegativeNameQueryResponse(1, bob, "", RCodeNameErr), 0x8583, 0, 1, 0, 0, TypeNULL, ""},
		{"node status request", NodeStatusRequest(1, ""), 0x0000, 1, 0, 0, 0, 0, ""},
		{"unicast registration", must(NameRegistrationRequest(1, bob, "", 300000, own, false)), 0x2900, 1, 0, 1, 300000, TypeNB, "60 00 0a 00 00 07"},
		{"overwrite demand", must(NameOverwriteDemand(1, bob, "", 300000, own)), 0x2810, 1, 0, 1, 300000, TypeNB, "60 00 0a 00 00 07"},
		{"positive registration", must(PositiveRegistrationResponse(1, bob, "", 86400, own)), 0xAD80, 0, 1, 0, 86400, TypeNB, "60 00 0a 00 00 07"},
		{"broadcast release", must(NameReleaseRequest(1, bob, "", own, true)), 0x3010, 1, 0, 1, 0, TypeNB, "60 00 0a 00 00 07"},
		{"unicast release", must(NameReleaseRequest(1, bob, "", own, false)), 0x3000, 1, 0, 1, 0, TypeNB, "60 00 0a 00 00 07"},
		{"refresh", must(NameRefreshRequest(1, bob, "", 300000, own)), 0x4100, 1, 0, 1, 300000, TypeNB, "60 00 0a 00 00 07"},
		{"WACK", WACKResponse(1, bob, "", 30, 0x2900), 0xBC00, 0, 1, 0, 30, TypeNB, "29 00"},
		{"WACK strips R and RCODE", WACKResponse(1, bob, "", 30, 0xA916), 0xBC00, 0, 1, 0, 30, TypeNB, "29 10"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.HeaderFlags(); got != tt.flags {
				t.Errorf("flags 0x%04X, want 0x%04X", got, tt.flags)
			}
			if len(tt.p.Questions) != tt.qd || len(tt.p.Answers) != tt.an || len(tt.p.Authority) != 0 || len(tt.p.Additional) != tt.ar {
				t.Errorf("sections %d/%d/%d/%d", len(tt.p.Questions), len(tt.p.Answers), len(tt.p.Authority), len(tt.p.Additional))
			}
			rrs := append(slices.Clone(tt.p.Answers), tt.p.Additional...)
			for _, r := range rrs {
				if r.TTL != tt.wantTTL || r.Type != tt.wantType || r.Class != ClassIN || !bytes.Equal(r.Data, unhex(t, tt.wantRData)) {
					t.Errorf("record %v, want TTL %d type %v RDATA %s", r, tt.wantTTL, tt.wantType, tt.wantRData)
				}
			}
			wire, err := AppendNameServicePacket(nil, tt.p)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseNameServicePacket(wire)
			if err != nil {
				t.Fatal(err)
			}
			if !equalPackets(got, tt.p) {
				t.Errorf("round trip %v\nwant       %v", got, tt.p)
			}
		})
	}
}

func TestCompressNamesScope(t *testing.T) {
	bob := mustName(t, "BOB", 0x03)
	p, err := NameRegistrationRequest(7, bob, "corp.example", 60, mustEntry(t, NBGroup, "10.0.0.1"), true)
	if err != nil {
		t.Fatal(err)
	}
	wire, err := AppendNameServicePacket(nil, p)
	if err != nil {
		t.Fatal(err)
	}
	// header, question (34 + 13 of scope + 4), then the pointer.
	if off := 12 + 47 + 4; !bytes.Equal(wire[off:off+2], []byte{0xC0, 0x0C}) {
		t.Errorf("additional name at %d = % x, want c0 0c", off, wire[off:off+2])
	}
	got, err := ParseNameServicePacket(wire)
	if err != nil || !equalPackets(got, p) || got.Additional[0].Scope != "corp.example" {
		t.Fatalf("round trip %v, %v", got, err)
	}
	// A record in another scope cannot share the question's name.
	p.Additional[0].Scope = "other"
	wire, _ = AppendNameServicePacket(nil, p)
	if bytes.Contains(wire, []byte{0xC0, 0x0C}) {
		t.Errorf("compressed a record of another scope: % x", wire)
	}
	got, err = ParseNameServicePacket(wire)
	if err != nil || got.CompressNames || got.Additional[0].Scope != "other" {
		t.Errorf("parsed %v (compress %v), %v", got, got.CompressNames, err)
	}
	// Without the option every name is written in full.
	p.Additional[0].Scope, p.CompressNames = "corp.example", false
	if wire, _ = AppendNameServicePacket(nil, p); len(wire) != 12+(47+4)+(47+10+6) {
		t.Errorf("uncompressed packet is %d bytes", len(wire))
	}
}

func TestParseNameServicePacketErrors(t *testing.T) {
	query := goldenNameQuery
	tests := []struct {
		name  string
		wire  string
		want  error
		field string
	}{
		{"empty", "", ErrShort, "header"},
		{"short header", "12 34 01 10 00 01 00 00 00 00 00", ErrShort, "header"},
		{"QDCOUNT too large", "12 34 01 10 00 11 00 00 00 00 00 00" + strings.Repeat(" 00", 200), ErrTooMany, "QDCOUNT"},
		{"ARCOUNT too large", "12 34 01 10 00 00 00 00 00 00 ff ff", ErrTooMany, "ARCOUNT"},
		{"counts beyond bytes", "12 34 01 10 00 02 00 03 00 00 00 00" + encBOB03 + "00 20 00 01", ErrShort, "need at least"},
		{"question truncated", "12 34 01 10 00 01 00 00 00 00 00 00 20 45 43 45 50 45 43", ErrShort, "question 0 QUESTION_NAME"},
		{"question class missing", strings.TrimSuffix(strings.TrimSpace(query), "00 01") + " 00", ErrShort, "question 0 QUESTION_CLASS"},
		{"bad label", "12 34 01 10 00 01 00 00 00 00 00 00 1f" + strings.Repeat(" 41", 31) + " 00 00 20 00 01", ErrBadLabel, "question 0 QUESTION_NAME"},
		{"pointer to itself", "12 34 29 10 00 01 00 00 00 00 00 01" + encBOB03 + "00 20 00 01 c0 32 00 20 00 01 00 00 00 00 00 06 00 00 0a 00 00 01", ErrBadLabel, "additional 0 RR_NAME"},
		// Two records whose names point at each other: the walk would go
		// 50 -> 62 -> 50, but the first hop already goes forwards.
		{"pointer loop", "12 34 85 00 00 01 00 02 00 00 00 00" + encBOB03 + "00 20 00 01 c0 3e 00 20 00 01 00 00 00 00 00 00 c0 32 00 20 00 01 00 00 00 00 00 00", ErrBadLabel, "answer 0 RR_NAME"},
		// A forward pointer to a well-formed name in trailing bytes.
		{"forward pointer", "12 34 29 10 00 01 00 00 00 00 00 01" + encBOB03 + "00 20 00 01 c0 3e 00 20 00 01 00 00 00 00 00 00" + encBOB03, ErrBadLabel, "additional 0 RR_NAME"},
		{"pointer in question to itself", "12 34 01 10 00 01 00 00 00 00 00 00 c0 0c 00 20 00 01", ErrBadLabel, "question 0 QUESTION_NAME"},
		{"RDLENGTH past end", "12 34 85 00 00 00 00 01 00 00 00 00" + encBOB03 + "00 20 00 01 00 04 93 e0 00 0c 00 00 c0 a8 01 14", ErrShort, "answer 0 RDATA (RDLENGTH 12)"},
		{"TTL truncated", "12 34 85 00 00 00 00 01 00 00 00 00" + encBOB03 + "00 20 00 01 00 04", ErrShort, "answer 0 TTL"},
		{"authority named", "12 34 85 00 00 00 00 01 00 01 00 00" + encBOB03 + "00 20 00 01 00 04 93 e0 00 00 c0", ErrShort, "authority 0 RR_NAME"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseNameServicePacket(unhex(t, tt.wire))
			if !errors.Is(err, tt.want) {
				t.Fatalf("error = %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.field) {
				t.Errorf("error %q does not name %q", err, tt.field)
			}
		})
	}
}

func TestParseNameServicePacketLenient(t *testing.T) {
	// Trailing bytes, reserved NM_FLAGS bits, unknown opcode, type and
	// class are returned for the caller to judge.
	wire := unhex(t, "ab cd 50 6f 00 01 00 00 00 00 00 00"+encBOB03+"12 34 56 78 ff ff")
	p, err := ParseNameServicePacket(wire)
	if err != nil {
		t.Fatal(err)
	}
	if p.Opcode != 10 || p.Flags != 0x0060 || p.RCode != 15 || p.Questions[0].Type != 0x1234 || p.Questions[0].Class != 0x5678 {
		t.Errorf("parsed %+v", p)
	}
	out, err := AppendNameServicePacket(nil, p)
	if err != nil || !bytes.Equal(out, wire[:len(wire)-2]) {
		t.Errorf("re-encoded % x, %v", out, err)
	}
	if got, want := p.String(), "Opcode(10) request, ID 0xABCD, flags 0x506F (0x0040|0x0020), RCode(15); question BOB<03> RRType(0x1234) class 0x5678"; got != want {
		t.Errorf("String = %q\nwant     %q", got, want)
	}
}

func TestAppendNameServicePacketErrors(t *testing.T) {
	bob := mustName(t, "BOB", 0x03)
	q := []Question{{Name: bob, Type: TypeNB, Class: ClassIN}}
	tests := []struct {
		name string
		p    NameServicePacket
		want error
	}{
		{"opcode", NameServicePacket{Opcode: 16}, ErrBadFlags},
		{"rcode", NameServicePacket{RCode: 16}, ErrBadFlags},
		{"flags", NameServicePacket{Flags: 0x8000}, ErrBadFlags},
		{"flags rcode bits", NameServicePacket{Flags: 0x0001}, ErrBadFlags},
		{"too many questions", NameServicePacket{Questions: make([]Question, MaxSectionCount+1)}, ErrTooMany},
		{"too many additional", NameServicePacket{Additional: make([]Resource, MaxSectionCount+1)}, ErrTooMany},
		{"question scope", NameServicePacket{Questions: []Question{{Name: bob, Scope: "a..b"}}}, ErrBadLabel},
		{"record scope", NameServicePacket{Questions: q, Answers: []Resource{{Name: bob, Scope: strings.Repeat("x", 64)}}}, ErrTooLong},
		{"RDATA", NameServicePacket{Answers: []Resource{{Name: bob, Data: make([]byte, 0x10000)}}}, ErrTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := AppendNameServicePacket([]byte("keep"), tt.p)
			if !errors.Is(err, tt.want) {
				t.Errorf("error = %v, want %v", err, tt.want)
			}
			if string(out) != "keep" {
				t.Errorf("buffer changed on error: %q", out)
			}
		})
	}
}

func TestNBData(t *testing.T) {
	entries := []NBEntry{mustEntry(t, 0, "192.168.1.20"), mustEntry(t, NBGroup|NBFlags(ONTP), "10.0.0.1"), mustEntry(t, NBFlags(ONTH)|0x0001, "::ffff:10.0.0.2")}
	rdata, err := AppendNBData(nil, entries)
	if err != nil {
		t.Fatal(err)
	}
	if want := unhex(t, "00 00 c0 a8 01 14  a0 00 0a 00 00 01  60 01 0a 00 00 02"); !bytes.Equal(rdata, want) {
		t.Errorf("RDATA % x, want % x", rdata, want)
	}
	got, err := ParseNBData(rdata)
	if err != nil {
		t.Fatal(err)
	}
	entries[2].Addr = netip.MustParseAddr("10.0.0.2")
	if !slices.Equal(got, entries) {
		t.Errorf("parsed %v", got)
	}
	if s := got[1].String(); s != "group, P-node 10.0.0.1" {
		t.Errorf("String = %q", s)
	}
	if s := got[2].Flags.String(); s != "unique, H-node, reserved 0x0001" {
		t.Errorf("String = %q", s)
	}
	if !got[1].Flags.Group() || got[1].Flags.ONT() != ONTP || got[0].Flags.Group() {
		t.Error("Group/ONT accessors")
	}

	for _, tt := range []struct {
		name string
		n    int
		want error
	}{
		{"empty", 0, ErrShort},
		{"not a multiple of 6", 8, ErrLengthMismatch},
		{"partial entry", 5, ErrLengthMismatch},
		{"too many", 6 * (MaxNBEntries + 1), ErrTooMany},
	} {
		if _, err := ParseNBData(make([]byte, tt.n)); !errors.Is(err, tt.want) {
			t.Errorf("%s: error %v, want %v", tt.name, err, tt.want)
		}
	}
	if _, err := ParseNBData(make([]byte, 6*MaxNBEntries)); err != nil {
		t.Errorf("%d entries: %v", MaxNBEntries, err)
	}

	for _, tt := range []struct {
		name    string
		entries []NBEntry
		want    error
	}{
		{"none", nil, ErrShort},
		{"IPv6", []NBEntry{mustEntry(t, 0, "2001:db8::1")}, ErrBadAddress},
		{"zero address", []NBEntry{{}}, ErrBadAddress},
		{"too many", make([]NBEntry, MaxNBEntries+1), ErrTooMany},
	} {
		if out, err := AppendNBData([]byte("keep"), tt.entries); !errors.Is(err, tt.want) || string(out) != "keep" {
			t.Errorf("%s: %q, %v, want %v", tt.name, out, err, tt.want)
		}
	}
	if _, err := PositiveNameQueryResponse(1, mustName(t, "BOB", 3), "", 0, nil, false); !errors.Is(err, ErrShort) {
		t.Errorf("response without entries: %v", err)
	}
}

func TestNodeStatus(t *testing.T) {
	names := "02" + strings.Repeat("41", 15) + "03 64 00" + strings.Repeat("42", 15) + "00 86 00"
	tests := []struct {
		name    string
		rdata   string
		wantErr error
		wantMAC [6]byte
	}{
		{"no statistics", names, nil, [6]byte{}},
		{"MAC only", names + "00 11 22 33 44 55", nil, [6]byte{0, 0x11, 0x22, 0x33, 0x44, 0x55}},
		{"partial MAC", names + "00 11 22", nil, [6]byte{0, 0x11, 0x22}},
		{"extra after statistics", names + "00 11 22 33 44 55" + strings.Repeat(" 00", 40) + " ff ff", nil, [6]byte{0, 0x11, 0x22, 0x33, 0x44, 0x55}},
		{"empty", "", ErrShort, [6]byte{}},
		{"NUM_NAMES beyond RDATA", "03" + names[2:], ErrShort, [6]byte{}},
		{"name cut short", names[:len(names)-3], ErrShort, [6]byte{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseNodeStatus(unhex(t, tt.rdata))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("error %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := []NodeName{
				{NameFromBytes([16]byte([]byte(strings.Repeat("A", 15) + "\x03"))), NameFlags(ONTH) | NameACT},
				{NameFromBytes([16]byte([]byte(strings.Repeat("B", 15) + "\x00"))), NameGroup | NameACT | NamePRM},
			}
			if !slices.Equal(s.Names, want) || s.Statistics.UnitID != tt.wantMAC {
				t.Errorf("parsed %v", s)
			}
		})
	}
	s, _ := ParseNodeStatus(unhex(t, names))
	if got, want := s.Names[1].String(), "BBBBBBBBBBBBBBB<00> group, B-node, active, permanent"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
	if got := (NameDRG | NameCNF | 0x0001).String(); got != "unique, B-node, deregistering, conflict, reserved 0x0001" {
		t.Errorf("String = %q", got)
	}
	if _, err := AppendNodeStatus([]byte("keep"), NodeStatus{Names: make([]NodeName, 256)}); !errors.Is(err, ErrTooMany) {
		t.Errorf("256 names: %v", err)
	}
	if _, err := NodeStatusResponse(1, WildcardName(), "", NodeStatus{Names: make([]NodeName, 256)}); !errors.Is(err, ErrTooMany) {
		t.Errorf("256 names: %v", err)
	}
	// The empty table still carries NUM_NAMES and the statistics.
	if out, _ := AppendNodeStatus(nil, NodeStatus{}); len(out) != 1+46 {
		t.Errorf("empty node status is %d bytes", len(out))
	}
}

// TestStatisticsLayout sets every statistics field to a distinct value and
// checks where RFC 1002 4.2.18 puts it.
func TestStatisticsLayout(t *testing.T) {
	st := Statistics{
		UnitID: [6]byte{1, 2, 3, 4, 5, 6}, Jumpers: 7, TestResult: 8,
		VersionNumber: 0x090A, PeriodOfStatistics: 0x0B0C, NumberOfCRCs: 0x0D0E, NumberAlignmentErrors: 0x0F10,
		NumberOfCollisions: 0x1112, NumberSendAborts: 0x1314, NumberGoodSends: 0x15161718, NumberGoodReceives: 0x191A1B1C,
		NumberRetransmits: 0x1D1E, NumberNoResourceConditions: 0x1F20, NumberFreeCommandBlocks: 0x2122,
		TotalNumberCommandBlocks: 0x2324, MaxTotalNumberCommandBlocks: 0x2526, NumberPendingSessions: 0x2728,
		MaxNumberPendingSessions: 0x292A, MaxTotalSessionsPossible: 0x2B2C, SessionDataPacketSize: 0x2D2E,
	}
	out, err := AppendNodeStatus(nil, NodeStatus{Statistics: st})
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range out[1:] {
		if int(c) != i+1 {
			t.Fatalf("STATISTICS byte %d = %d, want %d: % x", i, c, i+1, out)
		}
	}
	s, err := ParseNodeStatus(out)
	if err != nil || s.Statistics != st || s.Names != nil {
		t.Errorf("parsed %+v, %v", s, err)
	}
}

func TestNameServiceStrings(t *testing.T) {
	for _, tt := range []struct {
		got, want string
	}{
		{OpcodeQuery.String(), "Name query"},
		{OpcodeRegistration.String(), "Registration"},
		{OpcodeRelease.String(), "Release"},
		{OpcodeWACK.String(), "Wait for acknowledgment"},
		{OpcodeRefresh.String(), "Refresh"},
		{OpcodeRefreshAlt.String(), "Refresh (alternate opcode)"},
		{OpcodeMultihomedRegistration.String(), "Multi-homed registration"},
		{Opcode(3).String(), "Opcode(3)"},
		{RCodeOK.String(), "OK"},
		{RCodeFormErr.String(), "FMT_ERR"},
		{RCodeServFail.String(), "SRV_ERR"},
		{RCodeNameErr.String(), "NAM_ERR"},
		{RCodeNotImp.String(), "IMP_ERR"},
		{RCodeRefused.String(), "RFS_ERR"},
		{RCodeActive.String(), "ACT_ERR"},
		{RCodeConflict.String(), "CFT_ERR"},
		{RCode(9).String(), "RCode(9)"},
		{TypeA.String() + TypeNS.String() + TypeNULL.String() + TypeNB.String() + TypeNBSTAT.String(), "ANSNULLNBNBSTAT"},
		{ONTB.String() + " " + ONTP.String() + " " + ONTM.String() + " " + ONTH.String(), "B-node P-node M-node H-node"},
		{NBFlags(NBGroup | NBFlags(ONTM)).String(), "group, M-node"},
		{NegativeNameQueryResponse(9, mustName(t, "BOB", 3), "corp", RCodeNameErr).String(),
			`Name query response, ID 0x0009, flags 0x8583 (AA|RD|RA), NAM_ERR; answer BOB<03> (scope "corp") NULL, TTL 0, 0 bytes of RDATA`},
		{WACKResponse(9, mustName(t, "BOB", 3), "", 30, 0x2910).String(),
			"Wait for acknowledgment response, ID 0x0009, flags 0xBC00 (AA), OK; answer BOB<03> NB, TTL 30, 2 bytes of RDATA"},
		{NodeStatusRequest(1, "").String(), "Name query request, ID 0x0001, flags 0x0000 (none); question *<00> NBSTAT"},
	} {
		if tt.got != tt.want {
			t.Errorf("got  %q\nwant %q", tt.got, tt.want)
		}
	}
	p, _ := ParseNameServicePacket(unhex(t, goldenNodeStatusResponse))
	if got, want := p.String(), "Name query response, ID 0x0042, flags 0x8400 (AA), OK; answer *<00> NBSTAT, TTL 0, 3 names: BOB<00> unique, B-node, active; BOB<03> unique, B-node, active; WORKGROUP<00> group, B-node, active; MAC 02:00:00:00:00:01"; got != want {
		t.Errorf("String = %q\nwant     %q", got, want)
	}
	p, _ = ParseNameServicePacket(unhex(t, goldenRegistration))
	if got, want := p.String(), "Registration request, ID 0x5678, flags 0x2910 (RD|B); question BOB<03> NB; additional BOB<03> NB, TTL 300000, unique, B-node 192.168.1.20"; got != want {
		t.Errorf("String = %q\nwant     %q", got, want)
	}
}

func addNameServiceSeeds(f *testing.F) {
	for _, g := range []string{goldenNameQuery, goldenPositiveQueryResponse, goldenNodeStatusRequest, goldenNodeStatusResponse, goldenRegistration, goldenNegativeRegistration} {
		f.Add(unhex(f, g))
	}
	w, _ := AppendNameServicePacket(nil, WACKResponse(1, goldenName("BOB", 3), "corp", 30, 0x2900))
	f.Add(w)
}

func FuzzParseNameServicePacket(f *testing.F) {
	addNameServiceSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseNameServicePacket(b)
		if err != nil {
			return
		}
		_ = p.String()
		out, err := AppendNameServicePacket(nil, p)
		if err != nil {
			t.Fatalf("re-encoding a parsed packet: %v", err)
		}
		p2, err := ParseNameServicePacket(out)
		if err != nil {
			t.Fatalf("parsing a built packet: %v\n% x", err, out)
		}
		if !equalPackets(p, p2) {
			t.Fatalf("round trip\n%v\n%v", p2, p)
		}
		if out2, _ := AppendNameServicePacket(nil, p2); !bytes.Equal(out, out2) {
			t.Fatalf("encoding not stable\n% x\n% x", out2, out)
		}
	})
}

func FuzzParseNodeStatus(f *testing.F) {
	p, _ := ParseNameServicePacket(unhex(f, goldenNodeStatusResponse))
	f.Add(p.Answers[0].Data)
	f.Add([]byte{0})
	f.Add([]byte{1, 'A'})
	f.Fuzz(func(t *testing.T, rdata []byte) {
		s, err := ParseNodeStatus(rdata)
		if err != nil {
			return
		}
		_ = s.String()
		out, err := AppendNodeStatus(nil, s)
		if err != nil {
			t.Fatalf("re-encoding: %v", err)
		}
		if len(out) > len(rdata) && len(rdata) >= 1+len(s.Names)*nodeNameLen+statisticsLen {
			t.Fatalf("re-encoded %d bytes from %d", len(out), len(rdata))
		}
		s2, err := ParseNodeStatus(out)
		if err != nil || !slices.Equal(s.Names, s2.Names) || s.Statistics != s2.Statistics {
			t.Fatalf("round trip %v, %v\nwant %v", s2, err, s)
		}
	})
}

func FuzzParseNBData(f *testing.F) {
	f.Add(unhex(f, "00 00 c0 a8 01 14"))
	f.Add(unhex(f, "00 00 c0 a8 01 14 e0 00 0a 00 00 01"))
	f.Fuzz(func(t *testing.T, rdata []byte) {
		entries, err := ParseNBData(rdata)
		if err != nil {
			return
		}
		for _, e := range entries {
			_ = e.String()
		}
		out, err := AppendNBData(nil, entries)
		if err != nil || !bytes.Equal(out, rdata) {
			t.Fatalf("re-encoded % x, %v; from % x", out, err, rdata)
		}
	})
}

func BenchmarkParseNameQuery(b *testing.B) {
	wire := unhex(b, goldenNameQuery)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseNameServicePacket(wire); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendPositiveResponse builds and encodes the answer to a
// query, as the responder does for each query it owns.
func BenchmarkAppendPositiveResponse(b *testing.B) {
	bob := goldenName("BOB", 0x03)
	entries := []NBEntry{{Addr: netip.MustParseAddr("192.168.1.20")}}
	buf := make([]byte, 0, 576)
	b.ReportAllocs()
	for b.Loop() {
		p, err := PositiveNameQueryResponse(0x1234, bob, "", 300000, entries, false)
		if err != nil {
			b.Fatal(err)
		}
		if buf, err = AppendNameServicePacket(buf[:0], p); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendNodeStatusResponse encodes a prepared answer; the packet
// is rebuilt only when the name table changes.
func BenchmarkAppendNodeStatusResponse(b *testing.B) {
	s := NodeStatus{Names: []NodeName{
		{goldenName("HOST", 0x00), NameACT}, {goldenName("HOST", 0x03), NameACT}, {goldenName("HOST", 0x20), NameACT},
		{goldenName("ADMINISTRATOR", 0x03), NameACT}, {goldenName("WORKGROUP", 0x00), NameGroup | NameACT},
	}}
	p, err := NodeStatusResponse(0x42, WildcardName(), "", s)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 576)
	b.ReportAllocs()
	for b.Loop() {
		if buf, err = AppendNameServicePacket(buf[:0], p); err != nil {
			b.Fatal(err)
		}
	}
}

// A packet parsed into the storage of an earlier one equals the same
// packet parsed afresh, whatever the earlier one held.
func FuzzParseNameServicePacketInto(f *testing.F) {
	addNameServiceSeeds(f)
	reg := unhex(f, goldenRegistration)
	f.Fuzz(func(t *testing.T, b []byte) {
		var p NameServicePacket
		if err := ParseNameServicePacketInto(&p, reg); err != nil {
			t.Fatal(err)
		}
		fresh, errFresh := ParseNameServicePacket(b)
		errInto := ParseNameServicePacketInto(&p, b)
		if (errFresh == nil) != (errInto == nil) {
			t.Fatalf("fresh: %v, into: %v", errFresh, errInto)
		}
		if errInto != nil {
			if len(p.Questions)+len(p.Answers)+len(p.Authority)+len(p.Additional) != 0 || p.TransactionID != 0 {
				t.Fatalf("a failed parse left %v", p)
			}
			return
		}
		if !equalPackets(fresh, p) {
			t.Fatalf("into a used packet\n%v\nafresh\n%v", p, fresh)
		}
	})
}

// Parsing a query into a packet that has held one allocates nothing:
// the name service does it for every datagram.
func TestParseNameServicePacketIntoAllocs(t *testing.T) {
	q, err := AppendNameServicePacket(nil, NameQueryRequest(1, goldenName("alias", 3), "", false, true))
	if err != nil {
		t.Fatal(err)
	}
	reg := unhex(t, goldenRegistration)
	var p NameServicePacket
	if n := testing.AllocsPerRun(100, func() {
		if err := ParseNameServicePacketInto(&p, reg); err != nil {
			t.Fatal(err)
		}
		if err := ParseNameServicePacketInto(&p, q); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("%v allocations per parse", n)
	}
	if p.Questions[0].Name.Upper() != goldenName("ALIAS", 3) || len(p.Additional) != 0 {
		t.Errorf("parsed %v", p)
	}
}
