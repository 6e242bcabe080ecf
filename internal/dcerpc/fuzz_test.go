package dcerpc

import (
	"bytes"
	"testing"
)

func addPacketSeeds(f *testing.F) {
	f.Helper()
	f.Add(unhex(f, goldenRequest))
	f.Add(unhex(f, goldenRequestBE))
	req := mustParse(f, unhex(f, goldenRequest)).Header
	for _, build := range []func([]byte, Header, uint32, Status) ([]byte, error){AppendFault, AppendReject} {
		b, err := build(nil, req, 1, NCAUnknownInterface)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	b, err := AppendResponse(nil, req, 1, AppendSendMessageResponse(nil, NativeDataRep, StatusSuccess))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
}

func FuzzParse(f *testing.F) {
	addPacketSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Parse(b)
		if err != nil {
			return
		}
		_ = p.String()
		if p.Len() > len(b) || len(p.Body) != int(p.BodyLen) {
			t.Fatalf("Len %d, body %d, BodyLen %d, %d bytes", p.Len(), len(p.Body), p.BodyLen, len(b))
		}
		out, err := AppendPacket(nil, p.Header, p.Body)
		if err != nil {
			t.Fatalf("re-encoding a parsed packet: %v", err)
		}
		if !bytes.Equal(out, b[:p.Len()]) {
			t.Fatalf("re-encoded\n% x\nfrom\n% x", out, b[:p.Len()])
		}
		if _, ok := MatchSendMessage(p.Header); ok && p.Type == TypeRequest {
			if m, err := ParseSendMessageRequest(p.Body, p.DataRep, Limits{}); err == nil {
				_ = m.String()
			}
		}
		if p.Type == TypeResponse {
			_, _ = ParseSendMessageResponse(p.Body, p.DataRep)
		}
	})
}

func FuzzParseSendMessageRequest(f *testing.F) {
	f.Add(unhex(f, goldenRequest)[HeaderLen:], false, uint16(0), uint16(0))
	f.Add(unhex(f, goldenRequestBE)[HeaderLen:], true, uint16(0), uint16(0))
	f.Add(unhex(f, goldenBodyImpacket), false, uint16(5), uint16(5))
	f.Add(stubOf(cv("\x00"), cv("B\x00"), ndrString{4096, 0, 3, "hi\x00"}), false, uint16(1), uint16(4095))
	f.Fuzz(func(t *testing.T, body []byte, bigEndian bool, maxName, maxText uint16) {
		drep := NativeDataRep
		if bigEndian {
			drep = BigEndianDataRep
		}
		limits := Limits{MaxName: int(maxName), MaxText: int(maxText)}
		m, err := ParseSendMessageRequest(body, drep, limits)
		if err != nil {
			return
		}
		l := limits.withDefaults()
		if len(m.From) > l.MaxName || len(m.To) > l.MaxName || len(m.Text) > l.MaxText {
			t.Fatalf("strings of %d, %d, %d bytes passed limits %+v", len(m.From), len(m.To), len(m.Text), l)
		}
		for _, s := range [][]byte{m.From, m.To, m.Text} {
			if bytes.IndexByte(s, 0) >= 0 {
				t.Fatalf("NUL in %q", s)
			}
		}
		_ = m.String()
		out, err := AppendSendMessageRequest(nil, drep, m)
		if err != nil {
			t.Fatalf("re-encoding a parsed request: %v", err)
		}
		// The layout up to Text's NUL is fixed by the counts, so the
		// canonical form is never longer than what was parsed.
		if len(out) > len(body) {
			t.Fatalf("re-encoded %d bytes from %d", len(out), len(body))
		}
		m2, err := ParseSendMessageRequest(out, drep, limits)
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if !equalRequests(m, m2) {
			t.Fatalf("re-parsed %v, want %v", m2, m)
		}
	})
}

// FuzzReassembler reads the input as 4-byte operations — call selector,
// fragnum, flags, length — and feeds the fragments to a small
// Reassembler, checking its caps after every step. Each fragment's bytes
// are its fragnum, so a completed body must be ascending.
func FuzzReassembler(f *testing.F) {
	f.Add([]byte{0, 2, 3, 5, 0, 0, 1, 5, 0, 1, 1, 5})
	f.Add([]byte{1, 0, 1, 40, 1, 1, 1, 40, 2, 0, 1, 1, 1, 2, 3, 1})
	f.Add([]byte{0, 9, 3, 1, 0x20, 1, 1, 1, 0, 1, 0, 1})
	f.Fuzz(func(t *testing.T, ops []byte) {
		const maxFrags, maxBytes, maxCalls = 8, 64, 4
		r := NewReassembler(maxFrags, maxBytes, maxCalls)
		data := make([]byte, 256)
		for len(ops) >= 4 {
			sel, fn, flags, n := ops[0], ops[1], ops[2], ops[3]
			ops = ops[4:]
			h := SendMessageHeader(UUID{sel & 7}, uint32(sel>>3&3))
			if sel&0x20 != 0 {
				h.OpNum = 1
			}
			if sel&0x40 != 0 {
				h.DataRep = BigEndianDataRep
			}
			h.Flags1 = 0
			if flags&1 != 0 {
				h.Flags1 |= Flags1Frag
			}
			if flags&2 != 0 {
				h.Flags1 |= Flags1LastFrag
			}
			h.FragNum = uint16(fn)
			for i := range int(n) {
				data[i] = fn
			}
			p := Packet{Header: h, Body: data[:n]}
			body, complete, err := r.Add(p)
			if err != nil && complete {
				t.Fatalf("error %v with complete", err)
			}
			if complete && h.Flags1&Flags1Frag != 0 && !(fn == 0 && h.Flags1&Flags1LastFrag != 0 && len(body) == int(n)) {
				if len(body) > maxBytes {
					t.Fatalf("completed %d bytes, cap %d", len(body), maxBytes)
				}
				for i := 1; i < len(body); i++ {
					if body[i] < body[i-1] || body[i] > fn && h.Flags1&Flags1LastFrag != 0 {
						t.Fatalf("body % x out of order", body)
					}
				}
			}
			checkReassembler(t, r, maxFrags, maxBytes, maxCalls)
		}
	})
}

// checkReassembler verifies the caps and the byte accounting from the
// inside.
func checkReassembler(t *testing.T, r *Reassembler, maxFrags, maxBytes, maxCalls int) {
	t.Helper()
	if r.Len() > maxCalls || r.Bytes() > maxCalls*maxBytes || r.age.Len() != r.Len() {
		t.Fatalf("Len %d (list %d) Bytes %d over caps", r.Len(), r.age.Len(), r.Bytes())
	}
	sum := 0
	for k, c := range r.calls {
		held := 0
		for n, d := range c.frags {
			if int(n) >= maxFrags || (c.last >= 0 && int(n) > c.last) {
				t.Fatalf("%v: fragment %d held (last %d)", k, n, c.last)
			}
			held += len(d)
		}
		if held != c.bytes || c.bytes > maxBytes || len(c.frags) > maxFrags || len(c.frags) == 0 {
			t.Fatalf("%v: %d fragments, %d bytes, accounted %d", k, len(c.frags), held, c.bytes)
		}
		sum += c.bytes
	}
	if sum != r.Bytes() {
		t.Fatalf("Bytes %d, calls hold %d", r.Bytes(), sum)
	}
}

func BenchmarkParseRequest(b *testing.B) {
	wire := unhex(b, goldenRequest)
	b.ReportAllocs()
	b.SetBytes(int64(len(wire)))
	for b.Loop() {
		p, err := Parse(wire)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := ParseSendMessageRequest(p.Body, p.DataRep, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendRequest(b *testing.B) {
	h := SendMessageHeader(goldenActivity, 0)
	stub := make([]byte, 0, 256)
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if stub, err = AppendSendMessageRequest(stub[:0], NativeDataRep, goldenMessage); err != nil {
			b.Fatal(err)
		}
		if buf, err = AppendPacket(buf[:0], h, stub); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReassemble feeds a three-fragment call per iteration, last
// fragment first.
func BenchmarkReassemble(b *testing.B) {
	data := bytes.Repeat([]byte("x"), 1400)
	frags := [3]Packet{fragment(1, 0, 2, true, ""), fragment(1, 0, 0, false, ""), fragment(1, 0, 1, false, "")}
	b.ReportAllocs()
	b.SetBytes(3 * 1400)
	r := NewReassembler(0, 3*1400, 0)
	seq := uint32(0)
	for b.Loop() {
		seq++
		for i := range frags {
			frags[i].SeqNum = seq
			frags[i].Body = data
			body, complete, err := r.Add(frags[i])
			if err != nil {
				b.Fatal(err)
			}
			if complete != (i == 2) || complete && len(body) != 3*1400 {
				b.Fatalf("fragment %d: complete %v, %d bytes", i, complete, len(body))
			}
		}
	}
}
