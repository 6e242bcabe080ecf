package dcerpc

import (
	"bytes"
	"encoding/hex"
	"errors"
	"runtime"
	"strings"
	"testing"
)

// unhex decodes a hex dump that may contain spaces, newlines and '|'.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	s = strings.ReplaceAll(s, "|", " ")
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatalf("bad hex in test: %v", err)
	}
	return b
}

// goldenRequest is docs/protocols/msrp-rpc.md, "Worked example:
// NetrSendMessage request": ALICE → BOB "Hello", flags1 0x28,
// little-endian drep, 134 bytes with a 54-byte body.
const goldenRequest = `
04 00 28 00 10 00 00 00 00 00 00 00 00 00 00 00
00 00 00 00 00 00 00 00 f8 91 7b 5a 00 ff d0 11
a9 b2 00 c0 4f b6 e6 fc 00 11 22 33 44 55 66 77
88 99 aa bb cc dd ee ff 00 00 00 00 01 00 00 00
00 00 00 00 00 00 ff ff ff ff 36 00 00 00 00 00
06 00 00 00 00 00 00 00 06 00 00 00 41 4c 49 43
45 00 00 00 04 00 00 00 00 00 00 00 04 00 00 00
42 4f 42 00 06 00 00 00 00 00 00 00 06 00 00 00
48 65 6c 6c 6f 00`

// goldenRequestBE is the same call written by hand from C706 with drep
// 00 00 00: every integer of the header and the stub big-endian, the
// UUIDs' first three fields big-endian, i.e. in canonical order.
const goldenRequestBE = `
04 | 00 | 28 | 00 | 00 00 00 | 00
00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
5a 7b 91 f8 ff 00 11 d0 a9 b2 00 c0 4f b6 e6 fc
33 22 11 00 55 44 77 66 88 99 aa bb cc dd ee ff
00 00 00 00 | 00 00 00 01 | 00 00 00 00
00 00 | ff ff | ff ff | 00 36 | 00 00 | 00 | 00
00 00 00 06 | 00 00 00 00 | 00 00 00 06 | 41 4c 49 43 45 00 | 00 00
00 00 00 04 | 00 00 00 00 | 00 00 00 04 | 42 4f 42 00
00 00 00 06 | 00 00 00 00 | 00 00 00 06 | 48 65 6c 6c 6f 00`

// goldenBodyImpacket is the golden stub as Impacket's NDR marshaller
// writes it (docs/protocols/peers.md, "DCE/RPC peers"): alignment
// padding of 0xAB.
const goldenBodyImpacket = `
06 00 00 00 00 00 00 00 06 00 00 00 41 4c 49 43 45 00 ab ab
04 00 00 00 00 00 00 00 04 00 00 00 42 4f 42 00
06 00 00 00 00 00 00 00 06 00 00 00 48 65 6c 6c 6f 00`

// goldenActivity is the activity of the golden request.
// docs/protocols/msrp-rpc.md writes it as the wire bytes 00 11 22 33 …;
// read as a UUID from a little-endian PDU that is this canonical value.
var goldenActivity = UUID{0x33, 0x22, 0x11, 0x00, 0x55, 0x44, 0x77, 0x66, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff}

var goldenMessage = SendMessageRequest{From: []byte("ALICE"), To: []byte("BOB"), Text: []byte("Hello")}

func equalRequests(a, b SendMessageRequest) bool {
	return bytes.Equal(a.From, b.From) && bytes.Equal(a.To, b.To) && bytes.Equal(a.Text, b.Text)
}

func mustParse(t testing.TB, wire []byte) Packet {
	t.Helper()
	p, err := Parse(wire)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return p
}

func TestGoldenRequest(t *testing.T) {
	wire := unhex(t, goldenRequest)
	if len(wire) != 134 {
		t.Fatalf("golden is %d bytes, want 134", len(wire))
	}
	p := mustParse(t, wire)
	want := Header{
		Version: 4, Type: TypeRequest, Flags1: 0x28, DataRep: NativeDataRep,
		Interface: MsgSvcSendInterface, Activity: goldenActivity, InterfaceVersion: 1,
		InterfaceHint: 0xFFFF, ActivityHint: 0xFFFF, BodyLen: 54,
	}
	if p.Header != want {
		t.Errorf("header\n%+v\nwant\n%+v", p.Header, want)
	}
	if len(p.Body) != 54 || p.Len() != 134 {
		t.Errorf("body %d bytes, Len %d", len(p.Body), p.Len())
	}
	if st, ok := MatchSendMessage(p.Header); !ok {
		t.Errorf("MatchSendMessage = %v, false", st)
	}
	m, err := ParseSendMessageRequest(p.Body, p.DataRep, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if !equalRequests(m, goldenMessage) {
		t.Errorf("request %v, want %v", m, goldenMessage)
	}
	if got, want := m.String(), `NetrSendMessage from "ALICE" to "BOB", 5 bytes`; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
	if got, want := p.String(), "Request, Seq: 0, Serial: 0, Frag: 0, Len: 54, Flags1: 0x28 (Idempotent, No Fack), "+
		"Activity: 33221100-5544-7766-8899-aabbccddeeff, Interface: 5a7b91f8-ff00-11d0-a9b2-00c04fb6e6fc v1.0 (msgsvcsend), Opnum: 0"; got != want {
		t.Errorf("String =\n%s\nwant\n%s", got, want)
	}

	// Rebuilt byte for byte, from the client's template and from the
	// parsed header.
	stub, err := AppendSendMessageRequest(nil, NativeDataRep, goldenMessage)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []Header{SendMessageHeader(goldenActivity, 0), p.Header} {
		out, err := AppendPacket(nil, h, stub)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out, wire) {
			t.Errorf("built\n% x\nwant\n% x", out, wire)
		}
	}
}

func TestGoldenRequestBigEndian(t *testing.T) {
	wire := unhex(t, goldenRequestBE)
	if len(wire) != 134 {
		t.Fatalf("golden is %d bytes, want 134", len(wire))
	}
	p := mustParse(t, wire)
	le := mustParse(t, unhex(t, goldenRequest))
	want := le.Header
	want.DataRep = BigEndianDataRep
	if p.Header != want {
		t.Errorf("header\n%+v\nwant\n%+v", p.Header, want)
	}
	if !p.DataRep.BigEndian() || !p.DataRep.ASCII() || p.DataRep.Float() != FloatIEEE {
		t.Errorf("drep %v", p.DataRep)
	}
	m, err := ParseSendMessageRequest(p.Body, p.DataRep, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if !equalRequests(m, goldenMessage) {
		t.Errorf("request %v, want %v", m, goldenMessage)
	}
	// Our encoder in big-endian must agree with the hand-made bytes.
	stub, err := AppendSendMessageRequest(nil, BigEndianDataRep, goldenMessage)
	if err != nil {
		t.Fatal(err)
	}
	h := SendMessageHeader(goldenActivity, 0)
	h.DataRep = BigEndianDataRep
	out, err := AppendPacket(nil, h, stub)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, wire) {
		t.Errorf("built\n% x\nwant\n% x", out, wire)
	}
}

func TestImpacketPadding(t *testing.T) {
	body := unhex(t, goldenBodyImpacket)
	for _, b := range [][]byte{body, append(bytes.Clone(body), 0xab, 0xab)} {
		m, err := ParseSendMessageRequest(b, NativeDataRep, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if !equalRequests(m, goldenMessage) {
			t.Errorf("request %v, want %v", m, goldenMessage)
		}
	}
}

// patch returns a copy of b with bytes at off replaced.
func patch(b []byte, off int, with ...byte) []byte {
	c := bytes.Clone(b)
	copy(c[off:], with)
	return c
}

// stub assembles a little-endian NetrSendMessage body from three
// hand-written strings: max_count, offset, actual_count and content each.
type ndrString struct {
	max, offset, actual uint32
	data                string
}

func stubOf(strs ...ndrString) []byte {
	var b []byte
	for _, s := range strs {
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
		b = NativeDataRep.order().AppendUint32(b, s.max)
		b = NativeDataRep.order().AppendUint32(b, s.offset)
		b = NativeDataRep.order().AppendUint32(b, s.actual)
		b = append(b, s.data...)
	}
	return b
}

func cv(s string) ndrString {
	return ndrString{uint32(len(s)), 0, uint32(len(s)), s}
}

func TestBadInput(t *testing.T) {
	wire := unhex(t, goldenRequest)
	body := wire[HeaderLen:]
	ok := cv("ALICE\x00")
	for _, tc := range []struct {
		name   string
		packet []byte // parsed with Parse, then as a request if it parses
		body   []byte // parsed with ParseSendMessageRequest
		drep   DataRep
		limits Limits
		want   error
		field  string
	}{
		{name: "short header", packet: wire[:79], want: ErrShort, field: "parsing header: 79 of 80 bytes"},
		{name: "empty", packet: nil, want: ErrShort, field: "parsing header"},
		{name: "version 5", packet: patch(wire, 0, 5), want: ErrVersion, field: "rpc_vers"},
		{name: "version 5 (CO)", packet: patch(wire, 0, 5, 0), want: ErrVersion, field: "rpc_vers"},
		{name: "unknown type", packet: patch(wire, 1, 11), want: ErrUnknownPacketType, field: "ptype"},
		{name: "reserved integer rep", packet: patch(wire, 4, 0x20), want: ErrUnsupportedDataRep, field: "drep"},
		{name: "len past end", packet: patch(wire, 74, 55, 0), want: ErrShort, field: "len: 55 bytes declared, 54 present"},
		{name: "len 0xffff", packet: patch(wire, 74, 0xff, 0xff), want: ErrShort, field: "len: 65535 bytes declared"},
		{name: "len past end, big-endian", packet: patch(unhex(t, goldenRequestBE), 74, 0, 55), want: ErrShort, field: "len"},
		{name: "auth_proto", packet: patch(wire, 78, 1), want: ErrUnsupportedAuth, field: "auth_proto"},
		{name: "EBCDIC", packet: patch(wire, 4, 0x11), want: ErrUnsupportedDataRep, field: "drep"},

		{name: "offset not 0", body: patch(body, 4, 1), want: ErrBadOffset, field: "From: offset"},
		{name: "actual > max", body: patch(body, 8, 7), want: ErrBadCount, field: "From: actual_count: 7, more than max_count 6"},
		{name: "actual 0", body: stubOf(ok, ndrString{4, 0, 0, ""}, cv("x\x00")), want: ErrBadCount, field: "To: actual_count: 0"},
		{name: "actual > bytes left", body: stubOf(ok, cv("BOB\x00"), ndrString{16, 0, 16, "Hello\x00"}), want: ErrShort, field: "Text: actual_count"},
		{name: "no NUL", body: stubOf(ok, cv("BOB\x00"), cv("Hello!")), want: ErrUnterminated, field: "Text: string"},
		{name: "embedded NUL", body: stubOf(ok, cv("BOB\x00"), cv("He\x00lo\x00")), want: ErrEmbeddedNUL, field: "Text: string: NUL at byte 2"},
		{name: "max_count huge", body: stubOf(ndrString{0xFFFFFFFF, 0, 6, "ALICE\x00"}), want: ErrTooLong, field: "From: max_count: 4294967295"},
		{name: "max and actual huge", body: stubOf(ndrString{0xFFFFFFFF, 0, 0xFFFFFFFF, "ALICE\x00"}), want: ErrTooLong, field: "From: max_count"},
		{name: "Text max_count 4097", body: stubOf(ok, cv("BOB\x00"), ndrString{4097, 0, 6, "Hello\x00"}), want: ErrTooLong, field: "Text: max_count: 4097"},
		{name: "Text 4096 bytes", body: stubOf(ok, cv("BOB\x00"), cv(strings.Repeat("x", 4096)+"\x00")), want: ErrTooLong, field: "Text: max_count: 4097"},
		{name: "From over MaxName", body: stubOf(cv(strings.Repeat("A", 256) + "\x00")), want: ErrTooLong, field: "From: max_count: 257"},
		{name: "names over a custom limit", body: body, limits: Limits{MaxName: 2}, want: ErrTooLong, field: "From: max_count: 6, more than 2+1"},
		{name: "Text over a custom limit", body: body, limits: Limits{MaxText: 4}, want: ErrTooLong, field: "Text: max_count"},
		{name: "truncated in To max_count", body: body[:22], want: ErrShort, field: "To: max_count"},
		{name: "truncated in To actual_count", body: body[:30], want: ErrShort, field: "To: actual_count: 4 bytes needed at offset 28"},
		{name: "truncated in Text", body: body[:len(body)-1], want: ErrShort, field: "Text: actual_count"},
		{name: "pad past end", body: body[:19], want: ErrShort, field: "To: max_count: alignment to 4"},
		{name: "empty body", body: []byte{}, want: ErrShort, field: "From: max_count"},
		{name: "EBCDIC stub", body: body, drep: DataRep{0x11, 0, 0}, want: ErrUnsupportedDataRep, field: "drep: 110000: character representation 1"},
		{name: "reserved integer rep stub", body: body, drep: DataRep{0x20, 0, 0}, want: ErrUnsupportedDataRep, field: "drep"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.body != nil {
				drep := tc.drep
				if drep == (DataRep{}) {
					drep = NativeDataRep
				}
				_, err = ParseSendMessageRequest(tc.body, drep, tc.limits)
			} else {
				var p Packet
				if p, err = Parse(tc.packet); err == nil {
					_, err = ParseSendMessageRequest(p.Body, p.DataRep, tc.limits)
				}
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.field) || !strings.HasPrefix(err.Error(), "dcerpc: ") {
				t.Errorf("error %q does not name %q", err, tc.field)
			}
		})
	}
}

// TestLimitsBoundary checks the largest strings the default limits allow,
// and that Snort's 1024 heuristic is not ours.
func TestLimitsBoundary(t *testing.T) {
	name := strings.Repeat("N", DefaultMaxName)
	text := strings.Repeat("t", DefaultMaxText)
	body := stubOf(cv(name+"\x00"), cv(name+"\x00"), cv(text+"\x00"))
	m, err := ParseSendMessageRequest(body, NativeDataRep, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if string(m.From) != name || string(m.Text) != text {
		t.Error("strings differ")
	}
	// max_count above actual_count is legal NDR.
	body = stubOf(ndrString{256, 0, 6, "ALICE\x00"}, cv("BOB\x00"), ndrString{1025, 0, 3, "hi\x00"})
	if _, err := ParseSendMessageRequest(body, NativeDataRep, Limits{}); err != nil {
		t.Fatal(err)
	}
	// An empty string is its NUL alone.
	body = stubOf(cv("\x00"), cv("BOB\x00"), cv("\x00"))
	m, err = ParseSendMessageRequest(body, NativeDataRep, Limits{})
	if err != nil || len(m.From) != 0 || len(m.Text) != 0 {
		t.Fatalf("%v %v", m, err)
	}
	if out, err := AppendSendMessageRequest(nil, NativeDataRep, m); err != nil || !bytes.Equal(out, body) {
		t.Fatalf("re-encoded % x, %v", out, err)
	}
}

// TestHostileCountsDoNotAllocate parses a body whose counts claim 4 GiB
// with every check that comes before the data; the parser must not
// allocate in proportion.
func TestHostileCountsDoNotAllocate(t *testing.T) {
	bodies := [][]byte{
		stubOf(ndrString{0xFFFFFFFF, 0, 0xFFFFFFFF, "A"}),
		stubOf(ndrString{0xFFFFFFFF, 0xFFFFFFFF, 6, "A"}),
		stubOf(ndrString{6, 0, 0xFFFFFFFF, "A"}),
	}
	limits := Limits{MaxName: 1 << 30, MaxText: 1 << 30}
	const runs = 100
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range runs {
		for _, b := range bodies {
			if _, err := ParseSendMessageRequest(b, NativeDataRep, limits); err == nil {
				t.Fatal("hostile counts accepted")
			}
		}
	}
	runtime.ReadMemStats(&after)
	if perRun := (after.TotalAlloc - before.TotalAlloc) / runs; perRun > 4096 {
		t.Errorf("%d bytes allocated per run", perRun)
	}
}

func TestHeaderEBCDICParses(t *testing.T) {
	// The header has no characters: a server can still reply.
	h, err := ParseHeader(patch(unhex(t, goldenRequest), 4, 0x11))
	if err != nil {
		t.Fatal(err)
	}
	if h.DataRep.ASCII() || h.DataRep.BigEndian() {
		t.Errorf("drep %v", h.DataRep)
	}
	if got, want := h.DataRep.String(), "110000 (Order: Little-endian, Char: EBCDIC, Float: IEEE)"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
	if _, err := AppendSendMessageRequest(nil, h.DataRep, goldenMessage); !errors.Is(err, ErrUnsupportedDataRep) {
		t.Errorf("EBCDIC encode: %v", err)
	}
}

func TestParseTolerance(t *testing.T) {
	wire := unhex(t, goldenRequest)
	// Trailing bytes are ignored; reserved flag bits are kept.
	p := mustParse(t, append(patch(wire, 2, 0xFF, 0xFF), 1, 2, 3))
	if p.Len() != 134 || p.Flags1 != 0xFF || p.Flags2 != 0xFF {
		t.Errorf("Len %d flags %02x %02x", p.Len(), p.Flags1, p.Flags2)
	}
	if !strings.Contains(p.String(), "Reserved 0x80, Broadcast, Idempotent, Maybe, No Fack, Fragment, Last Fragment, Reserved 0x01") {
		t.Errorf("String = %s", p)
	}
	// Serial is split across bytes 7 and 79.
	p = mustParse(t, patch(patch(wire, 7, 0x12), 79, 0x34))
	if p.Serial != 0x1234 {
		t.Errorf("Serial 0x%04x", p.Serial)
	}
	out, _ := AppendPacket(nil, p.Header, p.Body)
	if out[7] != 0x12 || out[79] != 0x34 {
		t.Errorf("serial written as %02x %02x", out[7], out[79])
	}
}

func TestAppendPacketErrors(t *testing.T) {
	h := SendMessageHeader(goldenActivity, 0)
	prefix := []byte("keep")
	for _, tc := range []struct {
		name string
		mod  func(*Header)
		body []byte
		want error
	}{
		{"version", func(h *Header) { h.Version = 5 }, nil, ErrVersion},
		{"type", func(h *Header) { h.Type = 11 }, nil, ErrUnknownPacketType},
		{"drep", func(h *Header) { h.DataRep = DataRep{0x30} }, nil, ErrUnsupportedDataRep},
		{"auth", func(h *Header) { h.AuthProto = 10 }, nil, ErrUnsupportedAuth},
		{"body", func(*Header) {}, make([]byte, MaxBodyLen+1), ErrTooLong},
	} {
		hh := h
		tc.mod(&hh)
		out, err := AppendPacket(prefix, hh, tc.body)
		if !errors.Is(err, tc.want) || !bytes.Equal(out, prefix) {
			t.Errorf("%s: %q, %v; want %v", tc.name, out, err, tc.want)
		}
	}
	// A zero Version means 4.
	h.Version = 0
	out, err := AppendPacket(nil, h, nil)
	if err != nil || out[0] != 4 {
		t.Fatalf("% x %v", out, err)
	}
	if _, err := AppendSendMessageRequest(nil, NativeDataRep, SendMessageRequest{To: []byte("B\x00B")}); !errors.Is(err, ErrEmbeddedNUL) || !strings.Contains(err.Error(), "To") {
		t.Errorf("embedded NUL: %v", err)
	}
}

func TestUUID(t *testing.T) {
	u, err := ParseUUID("5A7B91F8-FF00-11D0-A9B2-00C04FB6E6FC")
	if err != nil || u != MsgSvcSendInterface {
		t.Fatalf("%v %v", u, err)
	}
	if u2, err := ParseUUID("{" + u.String() + "}"); err != nil || u2 != u {
		t.Fatalf("braces: %v %v", u2, err)
	}
	if got := u.String(); got != "5a7b91f8-ff00-11d0-a9b2-00c04fb6e6fc" {
		t.Errorf("String = %s", got)
	}
	le := unhex(t, "f8 91 7b 5a 00 ff d0 11 a9 b2 00 c0 4f b6 e6 fc")
	be := unhex(t, "5a 7b 91 f8 ff 00 11 d0 a9 b2 00 c0 4f b6 e6 fc")
	for _, c := range []struct {
		d    DataRep
		wire []byte
	}{{NativeDataRep, le}, {BigEndianDataRep, be}} {
		if got := AppendUUID(nil, c.d, u); !bytes.Equal(got, c.wire) {
			t.Errorf("%v: AppendUUID % x", c.d, got)
		}
		if got, err := ReadUUID(c.wire, c.d); err != nil || got != u {
			t.Errorf("%v: ReadUUID %v %v", c.d, got, err)
		}
	}
	if _, err := ReadUUID(le[:15], NativeDataRep); !errors.Is(err, ErrShort) {
		t.Errorf("short: %v", err)
	}
	for _, bad := range []string{"", "5a7b91f8ff0011d0a9b200c04fb6e6fc", "5a7b91f8-ff00-11d0-a9b2-00c04fb6e6fg",
		"5a7b91f8-ff00-11d0-a9b2_00c04fb6e6fc", "{5a7b91f8-ff00-11d0-a9b2-00c04fb6e6fc", "5a7b91f8-ff00-11d0-a9b2-00c04fb6e6fc0"} {
		if _, err := ParseUUID(bad); !errors.Is(err, ErrBadUUID) {
			t.Errorf("ParseUUID(%q) = %v", bad, err)
		}
	}
	if !(UUID{}).IsNil() || u.IsNil() {
		t.Error("IsNil")
	}
}

func TestReplies(t *testing.T) {
	req := mustParse(t, unhex(t, goldenRequestBE)).Header
	req.Serial = 7
	const boot = 0x5F5E1000

	stub := AppendSendMessageResponse(nil, NativeDataRep, StatusNameNotFound)
	out, err := AppendResponse(nil, req, boot, stub)
	if err != nil {
		t.Fatal(err)
	}
	p := mustParse(t, out)
	want := Header{
		Version: 4, Type: TypeResponse, Flags1: Flags1LastFrag, DataRep: NativeDataRep,
		Interface: MsgSvcSendInterface, Activity: goldenActivity, ServerBoot: boot, InterfaceVersion: 1,
		InterfaceHint: NoHint, ActivityHint: NoHint, BodyLen: 4,
	}
	if p.Header != want {
		t.Errorf("response header\n%+v\nwant\n%+v", p.Header, want)
	}
	if st, err := ParseSendMessageResponse(p.Body, p.DataRep); err != nil || st != StatusNameNotFound {
		t.Errorf("response status %v %v", st, err)
	}
	if _, err := p.Status(); !errors.Is(err, ErrNotStatus) {
		t.Errorf("Status of a response: %v", err)
	}

	for _, c := range []struct {
		build func([]byte, Header, uint32, Status) ([]byte, error)
		typ   PacketType
		st    Status
		str   string
	}{
		{AppendFault, TypeFault, StatusBadStubData, "Status: RPC_X_BAD_STUB_DATA (0x000006f7)"},
		{AppendReject, TypeReject, NCAUnknownInterface, "Status: nca_s_unk_if (0x1c010003)"},
		{AppendReject, TypeReject, 0x12345678, "Status: 0x12345678"},
	} {
		out, err := c.build([]byte{0xEE}, req, boot, c.st)
		if err != nil || out[0] != 0xEE {
			t.Fatal(err)
		}
		p := mustParse(t, out[1:])
		if p.Type != c.typ || p.Flags1 != 0 || p.BodyLen != 4 || p.SeqNum != req.SeqNum || p.Activity != req.Activity || p.ServerBoot != boot {
			t.Errorf("%v: %+v", c.typ, p.Header)
		}
		if st, err := p.Status(); err != nil || st != c.st {
			t.Errorf("%v: status %v %v", c.typ, st, err)
		}
		if !strings.HasSuffix(p.String(), c.str) {
			t.Errorf("String = %s", p)
		}
	}

	ack := AckHeader(p.Header)
	if ack.Type != TypeAck || ack.ServerBoot != boot || ack.Activity != req.Activity || ack.SeqNum != req.SeqNum {
		t.Errorf("ack %+v", ack)
	}
	empty := Packet{Header: Header{Type: TypeFault}}
	if _, err := empty.Status(); !errors.Is(err, ErrShort) || !strings.Contains(err.Error(), "Fault body: status") {
		t.Errorf("empty fault: %v", err)
	}
	if !strings.HasSuffix(empty.String(), ", Status: missing") {
		t.Errorf("String = %s", empty)
	}
	if _, err := ParseSendMessageResponse([]byte{0, 0}, NativeDataRep); !errors.Is(err, ErrShort) || !strings.Contains(err.Error(), "error_status_t") {
		t.Errorf("short response: %v", err)
	}
	if st, err := ParseSendMessageResponse([]byte{0, 0, 0x08, 0xE1}, BigEndianDataRep); err != nil || st != StatusNameNotFound {
		t.Errorf("big-endian response: %v %v", st, err)
	}
}

func TestWantsReply(t *testing.T) {
	for flags, want := range map[uint8]bool{0x28: true, 0x78: false, 0x60: true, 0x10: false} {
		if got := (Header{Flags1: flags}).WantsReply(); got != want {
			t.Errorf("flags1 0x%02x: WantsReply %v", flags, got)
		}
	}
}

func TestMatchSendMessage(t *testing.T) {
	h := SendMessageHeader(goldenActivity, 1)
	for _, c := range []struct {
		mod  func(*Header)
		want Status
		ok   bool
	}{
		{func(*Header) {}, 0, true},
		{func(h *Header) { h.OpNum = 1 }, NCAOpRangeError, false},
		{func(h *Header) { h.Interface[0] ^= 1 }, NCAUnknownInterface, false},
		{func(h *Header) { h.InterfaceVersion = 2 }, NCAUnknownInterface, false},
		{func(h *Header) { h.InterfaceVersion = 1 | 1<<16 }, NCAUnknownInterface, false},
	} {
		hh := h
		c.mod(&hh)
		if st, ok := MatchSendMessage(hh); st != c.want || ok != c.ok {
			t.Errorf("%+v: %v %v", hh, st, ok)
		}
	}
}

func TestStrings(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{TypeCancelAck.String(), "Cancel_ack"},
		{PacketType(42).String(), "PacketType(42)"},
		{NativeDataRep.String(), "100000 (Order: Little-endian, Char: ASCII, Float: IEEE)"},
		{DataRep{0x02, 0x03, 0}.String(), "020300 (Order: Big-endian, Char: reserved 2, Float: IBM)"},
		{DataRep{0x70, 0x09, 0}.String(), "700900 (Order: reserved 7, Char: ASCII, Float: reserved 9)"},
		{StatusSuccess.String(), "NERR_Success (0x00000000)"},
		{NCAOpRangeError.String(), "nca_s_op_rng_error (0x1c010002)"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
	h := Header{Type: TypePing, Flags2: Flags2CancelPending, DataRep: BigEndianDataRep, Object: goldenActivity, ServerBoot: 9, AuthProto: 1}
	s := h.String()
	for _, want := range []string{"Ping,", "Flags2: 0x02 (Cancel Pending)", "Drep: 000000 (Order: Big-endian", "Version: 0", "Object: 33221100-", "Boot: 9", "Auth: 1"} {
		if !strings.Contains(s, want) {
			t.Errorf("%q lacks %q", s, want)
		}
	}
}

func TestNDRReader(t *testing.T) {
	r := NewNDRReader([]byte{1, 0xAB, 2, 0, 0xAB, 0xAB, 0xAB, 0xAB, 3, 0, 0, 0}, NativeDataRep)
	if v, err := r.Uint8(); err != nil || v != 1 {
		t.Fatal(v, err)
	}
	if v, err := r.Uint16(); err != nil || v != 2 || r.Offset() != 4 {
		t.Fatal(v, err, r.Offset())
	}
	if err := r.Align(8); err != nil || r.Offset() != 8 {
		t.Fatal(err, r.Offset())
	}
	if v, err := r.Uint32(); err != nil || v != 3 || r.Len() != 0 {
		t.Fatal(v, err)
	}
	for _, f := range []func() error{
		func() error { _, err := r.Uint8(); return err },
		func() error { _, err := r.Uint16(); return err },
		func() error { _, err := r.Uint32(); return err },
		func() error { return r.Align(1 << 40) },
	} {
		if err := f(); !errors.Is(err, ErrShort) {
			t.Errorf("past the end: %v", err)
		}
	}
	if err := r.Align(0); err != nil {
		t.Error(err)
	}

	w := NewNDRWriter([]byte{0xFF}, BigEndianDataRep)
	w.Align(0)
	w.Uint32(0x01020304)
	if err := w.ConformantVaryingString([]byte("ab")); err != nil {
		t.Fatal(err)
	}
	w.Align(8)
	want := unhex(t, "ff 01020304 00000003 00000000 00000003 616200 0000000000")
	if !bytes.Equal(w.Bytes(), want) || w.Len() != len(want)-1 {
		t.Errorf("wrote % x, want % x", w.Bytes(), want)
	}
}
