package dcerpc

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// fragment returns fragment fn of call (act, seq) carrying data; last sets
// Flags1LastFrag.
func fragment(act byte, seq uint32, fn uint16, last bool, data string) Packet {
	h := SendMessageHeader(UUID{act}, seq)
	h.Flags1 |= Flags1Frag
	if last {
		h.Flags1 |= Flags1LastFrag
	}
	h.FragNum = fn
	h.BodyLen = uint16(len(data))
	return Packet{Header: h, Body: []byte(data)}
}

// add feeds r and fails the test on an error.
func add(t *testing.T, r *Reassembler, p Packet) ([]byte, bool) {
	t.Helper()
	body, complete, err := r.Add(p)
	if err != nil {
		t.Fatalf("Add(%v): %v", p.Header, err)
	}
	return body, complete
}

func TestReassembleOutOfOrder(t *testing.T) {
	r := NewReassembler(0, 0, 0)
	frags := []Packet{fragment(1, 5, 2, true, "cc"), fragment(1, 5, 0, false, "aaa"), fragment(1, 5, 1, false, "b")}
	for i, p := range frags {
		body, complete := add(t, r, p)
		if complete != (i == len(frags)-1) {
			t.Fatalf("fragment %d: complete %v", i, complete)
		}
		if complete && string(body) != "aaabcc" {
			t.Errorf("body %q", body)
		}
	}
	if r.Len() != 0 || r.Bytes() != 0 {
		t.Errorf("held %d calls, %d bytes after completion", r.Len(), r.Bytes())
	}
}

func TestReassembleCopiesFragments(t *testing.T) {
	r := NewReassembler(0, 0, 0)
	buf := []byte("first")
	p := fragment(1, 0, 0, false, "")
	p.Body = buf
	add(t, r, p)
	copy(buf, "XXXXX") // the caller's read buffer is reused
	body, complete := add(t, r, fragment(1, 0, 1, true, "!"))
	if !complete || string(body) != "first!" {
		t.Errorf("%q %v", body, complete)
	}
}

func TestReassembleDuplicates(t *testing.T) {
	r := NewReassembler(0, 0, 0)
	add(t, r, fragment(1, 0, 0, false, "one"))
	if _, complete := add(t, r, fragment(1, 0, 0, false, "ONE, again and longer")); complete {
		t.Fatal("duplicate completed the call")
	}
	if r.Bytes() != 3 {
		t.Errorf("Bytes %d after a duplicate", r.Bytes())
	}
	add(t, r, fragment(1, 0, 2, true, "three"))
	add(t, r, fragment(1, 0, 2, true, "three")) // duplicate last
	body, complete := add(t, r, fragment(1, 0, 1, false, "two"))
	if !complete || string(body) != "onetwothree" {
		t.Errorf("%q %v", body, complete)
	}
}

func TestReassembleMissingMiddle(t *testing.T) {
	r := NewReassembler(0, 0, 0)
	add(t, r, fragment(1, 0, 0, false, "a"))
	add(t, r, fragment(1, 0, 2, true, "c"))
	for range 5 {
		if _, complete := add(t, r, fragment(1, 0, 2, true, "c")); complete {
			t.Fatal("completed without fragment 1")
		}
	}
	// Another call's fragment 1 does not fill the gap.
	if _, complete := add(t, r, fragment(1, 1, 1, false, "b")); complete {
		t.Fatal("completed with another call's fragment")
	}
	if r.Len() != 2 || r.Bytes() != 3 {
		t.Errorf("Len %d Bytes %d", r.Len(), r.Bytes())
	}
}

func TestReassemblePassThrough(t *testing.T) {
	r := NewReassembler(0, 0, 0)
	whole := Packet{Header: SendMessageHeader(UUID{1}, 0), Body: []byte("whole")}
	body, complete := add(t, r, whole)
	if !complete || &body[0] != &whole.Body[0] {
		t.Error("unfragmented packet not passed through")
	}
	one := fragment(1, 1, 0, true, "one")
	if body, complete = add(t, r, one); !complete || &body[0] != &one.Body[0] {
		t.Error("single fragment not passed through")
	}
	// A whole packet supersedes a call's pending fragments.
	add(t, r, fragment(1, 2, 0, false, "part"))
	whole.SeqNum = 2
	if _, complete = add(t, r, whole); !complete || r.Len() != 0 || r.Bytes() != 0 {
		t.Errorf("pending call kept: Len %d", r.Len())
	}
}

func TestReassembleCaps(t *testing.T) {
	t.Run("fragments", func(t *testing.T) {
		r := NewReassembler(4, 100, 8)
		add(t, r, fragment(1, 0, 0, false, "a"))
		_, _, err := r.Add(fragment(1, 0, 4, true, "e"))
		if !errors.Is(err, ErrTooMany) || !strings.Contains(err.Error(), "fragnum: 4, limit 4") {
			t.Fatalf("fragnum 4 of 4: %v", err)
		}
		if r.Len() != 0 || r.Bytes() != 0 {
			t.Errorf("call kept after the cap: Len %d", r.Len())
		}
		if _, _, err := r.Add(fragment(1, 1, 0xFFFF, false, "x")); !errors.Is(err, ErrTooMany) || r.Len() != 0 {
			t.Errorf("fragnum 65535 on a new call: %v, Len %d", err, r.Len())
		}
		// Four fragments fit.
		for fn := range uint16(3) {
			add(t, r, fragment(1, 2, fn, false, "x"))
		}
		if body, complete := add(t, r, fragment(1, 2, 3, true, "y")); !complete || string(body) != "xxxy" {
			t.Errorf("%q %v", body, complete)
		}
	})
	t.Run("bytes", func(t *testing.T) {
		r := NewReassembler(16, 10, 8)
		add(t, r, fragment(1, 0, 0, false, "12345"))
		add(t, r, fragment(1, 0, 1, false, "12345"))
		_, _, err := r.Add(fragment(1, 0, 2, true, "1"))
		if !errors.Is(err, ErrTooLong) || !strings.Contains(err.Error(), "len: 10 bytes held and 1 more, limit 10") {
			t.Fatalf("11th byte: %v", err)
		}
		if r.Len() != 0 || r.Bytes() != 0 {
			t.Errorf("call kept after the cap: Len %d Bytes %d", r.Len(), r.Bytes())
		}
		if _, _, err := r.Add(fragment(1, 1, 1, false, "12345678901")); !errors.Is(err, ErrTooLong) || r.Len() != 0 {
			t.Errorf("oversized first fragment: %v, Len %d", err, r.Len())
		}
	})
	t.Run("calls", func(t *testing.T) {
		const maxCalls, maxBytes = 8, 1000
		r := NewReassembler(16, maxBytes, maxCalls)
		data := strings.Repeat("x", 900)
		for i := range 10000 {
			act := UUID{byte(i), byte(i >> 8)}
			for fn := range uint16(3) {
				p := fragment(0, uint32(i), fn, false, data[:300])
				p.Activity = act
				if _, _, err := r.Add(p); err != nil && !errors.Is(err, ErrTooLong) {
					t.Fatal(err)
				}
				if r.Len() > maxCalls || r.Bytes() > maxCalls*maxBytes {
					t.Fatalf("call %d: Len %d Bytes %d over the caps", i, r.Len(), r.Bytes())
				}
			}
		}
		if r.Len() != maxCalls {
			t.Errorf("Len %d, want %d", r.Len(), maxCalls)
		}
		// The oldest call was evicted: its last fragment starts a new
		// call instead of completing it.
		p := fragment(0, 0, 3, true, "!")
		if _, complete := add(t, r, p); complete {
			t.Error("evicted call completed")
		}
		// The newest is still there.
		p = fragment(0, 9999, 3, true, "!")
		p.Activity = UUID{byte(9999 & 0xFF), byte(9999 >> 8)}
		if body, complete := add(t, r, p); !complete || len(body) != 901 {
			t.Errorf("newest call: %d bytes, %v", len(body), complete)
		}
	})
}

func TestReassembleConflicts(t *testing.T) {
	r := NewReassembler(0, 0, 0)
	add(t, r, fragment(1, 0, 0, false, "a"))
	add(t, r, fragment(1, 0, 3, true, "d"))
	for _, c := range []struct {
		p    Packet
		want string
	}{
		{fragment(1, 0, 2, true, "x"), "fragnum: 2 flagged last, 3 was"},
		{fragment(1, 0, 4, false, "x"), "fragnum: 4 after last fragment 3"},
		{func() Packet { p := fragment(1, 0, 1, false, "x"); p.OpNum = 1; return p }(), "header: opnum 1, call has 0"},
		{func() Packet { p := fragment(1, 0, 1, false, "x"); p.DataRep = BigEndianDataRep; return p }(), "header: drep 000000, call has 100000"},
		{func() Packet { p := fragment(1, 0, 1, false, "x"); p.Interface = UUID{}; return p }(), "header: interface"},
		{func() Packet { p := fragment(1, 0, 1, false, "x"); p.InterfaceVersion = 2; return p }(), "header: if_vers"},
		{func() Packet { p := fragment(1, 0, 1, false, "x"); p.Object = UUID{1}; return p }(), "header: object"},
	} {
		_, _, err := r.Add(c.p)
		if !errors.Is(err, ErrFragment) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want %q", c.p.Header, err, c.want)
		}
	}
	// The call survived every forged fragment.
	add(t, r, fragment(1, 0, 1, false, "b"))
	if body, complete := add(t, r, fragment(1, 0, 2, false, "c")); !complete || string(body) != "abcd" {
		t.Errorf("%q %v", body, complete)
	}

	// A last fragment below one already received.
	add(t, r, fragment(2, 0, 5, false, "f"))
	if _, _, err := r.Add(fragment(2, 0, 4, true, "e")); !errors.Is(err, ErrFragment) || !strings.Contains(err.Error(), "5 already received") {
		t.Errorf("last below a received fragment: %v", err)
	}
	if _, _, err := r.Add(fragment(2, 0, 0, true, "a")); !errors.Is(err, ErrFragment) {
		t.Errorf("fragment 0 flagged last with 5 pending: %v", err)
	}
}

// TestReassembleRequest splits a whole NetrSendMessage request into
// fragments of the kind a sender would write and parses the result.
func TestReassembleRequest(t *testing.T) {
	stub, err := AppendSendMessageRequest(nil, NativeDataRep, SendMessageRequest{From: []byte("ALICE"), To: []byte("BOB"), Text: bytes.Repeat([]byte("spam "), 600)})
	if err != nil {
		t.Fatal(err)
	}
	r := NewReassembler(0, 0, 0)
	const size = 1000
	n := (len(stub) + size - 1) / size
	var body []byte
	var complete bool
	for i := n - 1; i >= 0; i-- {
		h := SendMessageHeader(goldenActivity, 3)
		h.Flags1 = Flags1Frag | Flags1Idempotent
		if i == n-1 {
			h.Flags1 |= Flags1LastFrag
		}
		h.FragNum = uint16(i)
		wire, err := AppendPacket(nil, h, stub[i*size:min((i+1)*size, len(stub))])
		if err != nil {
			t.Fatal(err)
		}
		if body, complete, err = r.Add(mustParse(t, wire)); err != nil {
			t.Fatal(err)
		}
	}
	if !complete || !bytes.Equal(body, stub) {
		t.Fatalf("complete %v, %d of %d bytes", complete, len(body), len(stub))
	}
	m, err := ParseSendMessageRequest(body, NativeDataRep, Limits{})
	if err != nil || len(m.Text) != 3000 {
		t.Fatalf("%v %v", m, err)
	}
}
