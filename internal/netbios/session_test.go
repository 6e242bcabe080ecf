package netbios

import (
	"bytes"
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// goldenSessionRequest is docs/protocols/netbios-sessions.md, "Worked
// example: session request": smbclient -M BOB from host
// ALICE, called BOB<03>, calling ALICE<00>.
const goldenSessionRequest = `
81 00 00 44
20 45 43 45 50 45 43 43 41 43 41 43 41 43 41 43 41 43 41 43 41 43 41 43
41 43 41 43 41 43 41 41 44 00
20 45 42 45 4d 45 4a 45 44 45 46 43 41 43 41 43 41 43 41 43 41 43 41 43
41 43 41 43 41 43 41 41 41 00`

func TestSessionRequestGolden(t *testing.T) {
	wire := unhex(t, goldenSessionRequest)
	if len(wire) != 72 {
		t.Fatalf("golden is %d bytes, want 72", len(wire))
	}
	h, err := ParseHeader(wire)
	if err != nil {
		t.Fatal(err)
	}
	if h != (Header{Type: SessionRequest, Length: 68}) {
		t.Fatalf("header = %v", h)
	}
	r, err := ParseSessionRequest(wire[HeaderLen:])
	if err != nil {
		t.Fatal(err)
	}
	want := SessionRequestPacket{Called: mustName(t, "BOB", 0x03), Calling: mustName(t, "ALICE", 0x00)}
	if r != want {
		t.Errorf("parsed %v, want %v", r, want)
	}
	if got, want := r.String(), "SESSION REQUEST, called BOB<03>, calling ALICE<00>"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
	built, err := AppendSessionRequest(nil, want)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(built, wire) {
		t.Errorf("built\n% x\nwant\n% x", built, wire)
	}
}

func TestSessionRequestScope(t *testing.T) {
	r := SessionRequestPacket{
		Called: mustName(t, "BOB", 0x03), CalledScope: "corp.example",
		Calling: mustName(t, "ALICE", 0x00), CallingScope: "other",
	}
	wire, err := AppendSessionRequest([]byte("x"), r)
	if err != nil {
		t.Fatal(err)
	}
	wire = wire[1:]
	h, err := ParseHeader(wire)
	if err != nil || h.Length != len(wire)-HeaderLen {
		t.Fatalf("header %v, %v; payload is %d bytes", h, err, len(wire)-HeaderLen)
	}
	got, err := ParseSessionRequest(wire[HeaderLen:])
	if err != nil {
		t.Fatal(err)
	}
	if got != r {
		t.Errorf("round trip = %v, want %v", got, r)
	}
	if _, err := AppendSessionRequest(nil, SessionRequestPacket{CalledScope: "bad..scope"}); !errors.Is(err, ErrBadLabel) {
		t.Errorf("bad called scope: %v", err)
	}
	if out, err := AppendSessionRequest([]byte("keep"), SessionRequestPacket{CallingScope: strings.Repeat("x", 64)}); !errors.Is(err, ErrTooLong) || string(out) != "keep" {
		t.Errorf("bad calling scope: %q, %v", out, err)
	}
}

func TestParseSessionRequestErrors(t *testing.T) {
	payload := unhex(t, goldenSessionRequest)[HeaderLen:]
	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrShort},
		{"called only", payload[:34], ErrShort},
		{"calling truncated", payload[:60], ErrShort},
		{"trailing byte", append(bytes.Clone(payload), 0), ErrTrailing},
		{"bad called label", append([]byte{0x1f}, payload[1:]...), ErrBadLabel},
		{"bad char in calling", func() []byte { b := bytes.Clone(payload); b[40] = 'Z'; return b }(), ErrBadLabel},
		{"compressed calling", append(bytes.Clone(payload[:34]), 0xc0, 0x00), ErrCompression},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseSessionRequest(tt.b)
			if !errors.Is(err, tt.want) {
				t.Errorf("error = %v, want %v", err, tt.want)
			}
		})
	}
	_, err := ParseSessionRequest(payload[:60])
	if err == nil || !strings.Contains(err.Error(), "CALLING NAME") {
		t.Errorf("error %v should name the CALLING NAME field", err)
	}
}

func TestParseHeader(t *testing.T) {
	tests := []struct {
		in      string
		want    Header
		wantErr error
	}{
		{"00 00 00 37", Header{SessionMessage, 55}, nil},
		{"00 01 ff ff", Header{SessionMessage, 0x1FFFF}, nil},
		{"00 01 00 00", Header{SessionMessage, 0x10000}, nil},
		{"82 00 00 00", Header{PositiveSessionResponse, 0}, nil},
		{"83 00 00 01 8f", Header{NegativeSessionResponse, 1}, nil}, // extra bytes are the payload
		{"85 00 00 00", Header{SessionKeepAlive, 0}, nil},
		{"84 00 00 06", Header{RetargetSessionResponse, 6}, nil},
		{"81 00 00", Header{}, ErrShort},
		{"", Header{}, ErrShort},
		{"00 02 00 00", Header{}, ErrBadFlags},
		{"00 80 00 00", Header{}, ErrBadFlags},
		{"00 fe 00 00", Header{}, ErrBadFlags},
		{"86 00 00 02", Header{0x86, 2}, ErrUnknownPacketType},
		{"01 00 00 00", Header{0x01, 0}, ErrUnknownPacketType},
	}
	for _, tt := range tests {
		h, err := ParseHeader(unhex(t, tt.in))
		if !errors.Is(err, tt.wantErr) {
			t.Errorf("ParseHeader(%s) error = %v, want %v", tt.in, err, tt.wantErr)
		}
		if h != tt.want {
			t.Errorf("ParseHeader(%s) = %+v, want %+v", tt.in, h, tt.want)
		}
	}
}

func TestAppendHeader(t *testing.T) {
	tests := []struct {
		h       Header
		want    string
		wantErr error
	}{
		{Header{SessionMessage, 55}, "00 00 00 37", nil},
		{Header{SessionMessage, 0xFFFF}, "00 00 ff ff", nil},
		{Header{SessionMessage, 0x10000}, "00 01 00 00", nil},
		{Header{SessionMessage, MaxPayloadLen}, "00 01 ff ff", nil},
		{Header{SessionKeepAlive, 0}, "85 00 00 00", nil},
		{Header{SessionMessage, MaxPayloadLen + 1}, "", ErrTooLong},
		{Header{SessionMessage, -1}, "", ErrTooLong},
		{Header{0x42, 0}, "", ErrUnknownPacketType},
	}
	for _, tt := range tests {
		got, err := AppendHeader([]byte{}, tt.h)
		if !errors.Is(err, tt.wantErr) {
			t.Errorf("AppendHeader(%v) error = %v, want %v", tt.h, err, tt.wantErr)
			continue
		}
		if !bytes.Equal(got, unhex(t, tt.want)) {
			t.Errorf("AppendHeader(%v) = % x, want %s", tt.h, got, tt.want)
		}
	}
}

func TestSmallPackets(t *testing.T) {
	if got := AppendPositiveSessionResponse(nil); !bytes.Equal(got, []byte{0x82, 0, 0, 0}) {
		t.Errorf("positive = % x", got)
	}
	if got := AppendKeepAlive(nil); !bytes.Equal(got, []byte{0x85, 0, 0, 0}) {
		t.Errorf("keep alive = % x", got)
	}
	neg := AppendNegativeSessionResponse(nil, CalledNameNotPresent)
	if !bytes.Equal(neg, []byte{0x83, 0, 0, 1, 0x82}) {
		t.Errorf("negative = % x", neg)
	}
	code, err := ParseNegativeSessionResponse(neg[HeaderLen:])
	if err != nil || code != CalledNameNotPresent {
		t.Errorf("ParseNegativeSessionResponse = %v, %v", code, err)
	}
	if code.String() != "called name not present" {
		t.Errorf("String = %q", code.String())
	}
	if s := NegativeResponseCode(0x42).String(); s != "NegativeResponseCode(0x42)" {
		t.Errorf("unknown code String = %q", s)
	}
	if _, err := ParseNegativeSessionResponse(nil); !errors.Is(err, ErrShort) {
		t.Errorf("empty negative response: %v", err)
	}
	if _, err := ParseNegativeSessionResponse([]byte{0x82, 0}); !errors.Is(err, ErrTrailing) {
		t.Errorf("long negative response: %v", err)
	}

	msg, err := AppendSessionMessage([]byte{}, []byte("hello"))
	if err != nil || !bytes.Equal(msg, []byte("\x00\x00\x00\x05hello")) {
		t.Errorf("session message = % x, %v", msg, err)
	}
	big := make([]byte, MaxPayloadLen)
	msg, err = AppendSessionMessage(nil, big)
	if err != nil || !bytes.Equal(msg[:4], []byte{0, 1, 0xff, 0xff}) || len(msg) != 4+MaxPayloadLen {
		t.Errorf("largest session message: header % x, len %d, %v", msg[:4], len(msg), err)
	}
	if out, err := AppendSessionMessage([]byte("keep"), make([]byte, MaxPayloadLen+1)); !errors.Is(err, ErrTooLong) || string(out) != "keep" {
		t.Errorf("oversized session message: %q %v", out, err)
	}
}

func TestRetarget(t *testing.T) {
	r := Retarget{IP: netip.MustParseAddr("192.0.2.7"), Port: 139}
	wire, err := AppendRetarget(nil, r)
	if err != nil {
		t.Fatal(err)
	}
	if want := unhex(t, "84 00 00 06 c0 00 02 07 00 8b"); !bytes.Equal(wire, want) {
		t.Errorf("retarget = % x, want % x", wire, want)
	}
	got, err := ParseRetarget(wire[HeaderLen:])
	if err != nil || got != r {
		t.Errorf("ParseRetarget = %v, %v", got, err)
	}
	if got.String() != "192.0.2.7:139" {
		t.Errorf("String = %q", got.String())
	}
	if _, err := AppendRetarget(nil, Retarget{IP: netip.MustParseAddr("::ffff:192.0.2.7"), Port: 1}); err != nil {
		t.Errorf("mapped IPv4: %v", err)
	}
	if _, err := AppendRetarget(nil, Retarget{IP: netip.MustParseAddr("2001:db8::1"), Port: 1}); !errors.Is(err, ErrBadAddress) {
		t.Errorf("IPv6: %v", err)
	}
	if _, err := AppendRetarget(nil, Retarget{}); !errors.Is(err, ErrBadAddress) {
		t.Errorf("zero address: %v", err)
	}
	if _, err := ParseRetarget(wire[HeaderLen : HeaderLen+5]); !errors.Is(err, ErrShort) {
		t.Errorf("short retarget: %v", err)
	}
	if _, err := ParseRetarget(append(bytes.Clone(wire[HeaderLen:]), 0)); !errors.Is(err, ErrTrailing) {
		t.Errorf("long retarget: %v", err)
	}
}

func TestPacketTypeString(t *testing.T) {
	if s := NegativeSessionResponse.String(); s != "NEGATIVE SESSION RESPONSE" {
		t.Errorf("String = %q", s)
	}
	if s := PacketType(0x86).String(); s != "PacketType(0x86)" {
		t.Errorf("String = %q", s)
	}
	if s := (Header{SessionMessage, 55}).String(); s != "SESSION MESSAGE, length 55" {
		t.Errorf("String = %q", s)
	}
}

func FuzzParseHeader(f *testing.F) {
	f.Add([]byte{0x81, 0x00, 0x00, 0x44})
	f.Add([]byte{0x00, 0x01, 0xff, 0xff})
	f.Add([]byte{0x83, 0x00, 0x00, 0x01})
	f.Add([]byte{0x85, 0x00, 0x00, 0x00})
	f.Add([]byte{0x00, 0x02, 0x00, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseHeader(b)
		if err != nil {
			return
		}
		if h.Length < 0 || h.Length > MaxPayloadLen {
			t.Fatalf("length %d out of range", h.Length)
		}
		out, err := AppendHeader(nil, h)
		if err != nil {
			t.Fatalf("AppendHeader(%v): %v", h, err)
		}
		if !bytes.Equal(out, b[:HeaderLen]) {
			t.Fatalf("re-encoded % x from % x", out, b[:HeaderLen])
		}
	})
}

func FuzzParseSessionRequest(f *testing.F) {
	golden := unhex(f, goldenSessionRequest)
	f.Add(golden[HeaderLen:])
	scoped, _ := AppendSessionRequest(nil, SessionRequestPacket{
		Called: goldenName("BOB", 0x03), CalledScope: "corp.example",
		Calling: goldenName("ALICE", 0x00), CallingScope: "x",
	})
	f.Add(scoped[HeaderLen:])
	f.Add(golden[HeaderLen : HeaderLen+40])
	f.Fuzz(func(t *testing.T, payload []byte) {
		r, err := ParseSessionRequest(payload)
		if err != nil {
			return
		}
		out, err := AppendSessionRequest(nil, r)
		if err != nil {
			t.Fatalf("AppendSessionRequest(%v): %v", r, err)
		}
		h, err := ParseHeader(out)
		if err != nil || h.Type != SessionRequest || h.Length != len(payload) {
			t.Fatalf("header %v, %v for %d payload bytes", h, err, len(payload))
		}
		if !bytes.Equal(out[HeaderLen:], payload) {
			t.Fatalf("re-encoded % x from % x", out[HeaderLen:], payload)
		}
	})
}

func BenchmarkParseSessionRequest(b *testing.B) {
	payload := unhex(b, goldenSessionRequest)[HeaderLen:]
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseSessionRequest(payload); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendSessionRequest(b *testing.B) {
	r := SessionRequestPacket{Called: mustName(b, "BOB", 0x03), Calling: mustName(b, "ALICE", 0x00)}
	buf := make([]byte, 0, 128)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = AppendSessionRequest(buf[:0], r); err != nil {
			b.Fatal(err)
		}
	}
}
