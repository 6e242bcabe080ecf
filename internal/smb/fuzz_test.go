package smb

import (
	"bytes"
	"encoding/binary"
	"slices"
	"testing"
)

func addGoldenSeeds(f *testing.F) {
	f.Helper()
	for _, s := range []string{
		goldenSendMessage, goldenStartMB, goldenStartMBResponse, goldenTextMB,
		goldenEndMB, goldenSmbclientTextMB,
		packet(0x72, "00 22 00 02 50 43 20 4e 45 54 57 4f 52 4b 20 50 52 4f 47 52 41 4d 20 31 2e 30 00 02 4e 54 20 4c 4d 20 30 2e 31 32 00"),
	} {
		f.Add(unhex(f, s))
	}
}

func FuzzParse(f *testing.F) {
	addGoldenSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Parse(b)
		if err != nil {
			return
		}
		if p.Len() > len(b) {
			t.Fatalf("Len %d > %d bytes", p.Len(), len(b))
		}
		words := make([]uint16, p.WordCount())
		for i := range words {
			words[i] = binary.LittleEndian.Uint16(p.Words[2*i:])
		}
		out, err := AppendPacket(nil, p.Header, words, p.Bytes)
		if err != nil {
			t.Fatalf("AppendPacket: %v", err)
		}
		if !bytes.Equal(out, b[:p.Len()]) {
			t.Fatalf("re-encoded\n% x\nfrom\n% x", out, b[:p.Len()])
		}
		_ = p.Err()
		_ = p.String()
	})
}

// reparse returns a function that takes a builder's results and parses the
// message built; everything a parser accepted must be buildable.
func reparse(t *testing.T) func([]byte, error) Packet {
	return func(out []byte, err error) Packet {
		t.Helper()
		if err != nil {
			t.Fatalf("re-encoding a parsed message: %v", err)
		}
		p, err := Parse(out)
		if err != nil {
			t.Fatalf("parsing a built message: %v", err)
		}
		return p
	}
}

func FuzzParseSendMessage(f *testing.F) {
	addGoldenSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Parse(b)
		if err != nil {
			return
		}
		m, err := ParseSendMessage(p)
		if err != nil {
			return
		}
		_ = m.String()
		p2 := reparse(t)(AppendSendMessage(nil, p.Header, m))
		m2, err := ParseSendMessage(p2)
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if p2.Header != p.Header || !bytes.Equal(m.Originator, m2.Originator) ||
			!bytes.Equal(m.Destination, m2.Destination) || !bytes.Equal(m.Text, m2.Text) {
			t.Fatalf("round trip %+v != %+v", m2, m)
		}
	})
}

func FuzzParseSendStartMB(f *testing.F) {
	addGoldenSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Parse(b)
		if err != nil {
			return
		}
		m, err := ParseSendStartMBMessage(p)
		if err != nil {
			return
		}
		_ = m.String()
		p2 := reparse(t)(AppendSendStartMBMessage(nil, p.Header, m))
		m2, err := ParseSendStartMBMessage(p2)
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if p2.Header != p.Header || !bytes.Equal(m.Originator, m2.Originator) || !bytes.Equal(m.Destination, m2.Destination) {
			t.Fatalf("round trip %+v != %+v", m2, m)
		}
	})
}

func FuzzParseSendTextMB(f *testing.F) {
	addGoldenSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Parse(b)
		if err != nil {
			return
		}
		m, err := ParseSendTextMBMessage(p)
		if err != nil {
			return
		}
		_ = m.String()
		p2 := reparse(t)(AppendSendTextMBMessage(nil, p.Header, m))
		m2, err := ParseSendTextMBMessage(p2)
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if p2.Header != p.Header || m.GroupID != m2.GroupID || !bytes.Equal(m.Text, m2.Text) {
			t.Fatalf("round trip %+v != %+v", m2, m)
		}
		// The end-of-message parser shares the shape of the words.
		if e, err := ParseSendEndMBMessage(Packet{Header: Header{Command: CommandSendEndMBMessage}, Words: p.Words}); err != nil || e.GroupID != m.GroupID {
			t.Fatalf("0xD6 with the same words: %+v, %v", e, err)
		}
	})
}

func FuzzParseNegotiate(f *testing.F) {
	addGoldenSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Parse(b)
		if err != nil {
			return
		}
		dialects, err := ParseNegotiate(p)
		if err != nil {
			return
		}
		if len(dialects) > MaxDialects {
			t.Fatalf("%d dialects", len(dialects))
		}
		p2 := reparse(t)(AppendNegotiate(nil, p.Header, dialects))
		d2, err := ParseNegotiate(p2)
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if p2.Header != p.Header || !slices.Equal(dialects, d2) {
			t.Fatalf("round trip %q != %q", d2, dialects)
		}
		resp := reparse(t)(AppendNegotiateResponse(nil, p.Header, dialects))
		if idx, err := resp.Word(0); err != nil || (idx != noDialect && int(idx) >= len(dialects)) {
			t.Fatalf("DialectIndex %d of %d, %v", idx, len(dialects), err)
		}
	})
}

func BenchmarkParseSendMessage(b *testing.B) {
	wire := unhex(b, goldenSendMessage)
	b.ReportAllocs()
	for b.Loop() {
		p, err := Parse(wire)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := ParseSendMessage(p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendSendMessage(b *testing.B) {
	m := SendMessage{Originator: []byte("ALICE"), Destination: []byte("BOB"), Text: []byte("Hello")}
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = AppendSendMessage(buf[:0], Header{MID: 1}, m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseSendTextMB(b *testing.B) {
	wire := unhex(b, goldenSmbclientTextMB)
	b.ReportAllocs()
	for b.Loop() {
		p, err := Parse(wire)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := ParseSendTextMBMessage(p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendResponse(b *testing.B) {
	req := Header{Command: CommandSendTextMBMessage, PIDLow: 1234, MID: 5}
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = AppendResponse(buf[:0], req, &ErrCodeNoRoom, nil, nil); err != nil {
			b.Fatal(err)
		}
	}
}
