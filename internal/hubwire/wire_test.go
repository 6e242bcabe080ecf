package hubwire

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/netsend/messenger/internal/message"
)

var testTime = time.Date(2026, 3, 1, 12, 30, 0, 123456789, time.UTC)

func sameEnvelope(a, b Envelope) bool {
	return a.ID == b.ID && a.To == b.To && a.From == b.From && a.Text == b.Text &&
		a.Sent.Equal(b.Sent) && a.Expires.Equal(b.Expires)
}

func sameReceipt(a, b Receipt) bool {
	return a.ID == b.ID && a.State == b.State && a.To == b.To && a.At.Equal(b.At) && a.Detail == b.Detail
}

func TestNewID(t *testing.T) {
	a, b := NewID(), NewID()
	if a == b {
		t.Fatalf("two ids are both %s", a)
	}
	for _, id := range []string{a, b} {
		if len(id) != 32 {
			t.Errorf("id %q has %d digits, want 32", id, len(id))
		}
		if err := checkID("test", id); err != nil {
			t.Errorf("checkID(NewID()) = %v", err)
		}
	}
}

// TestNewIDAscends checks that ids made one after another sort in that
// order, which keeps the stores' hub_id indexes written at their end.
func TestNewIDAscends(t *testing.T) {
	prev := NewID()
	for range 10000 {
		id := NewID()
		if id <= prev {
			t.Fatalf("id %s after %s does not ascend", id, prev)
		}
		prev = id
	}
}

func TestEnvelopeRoundTrip(t *testing.T) {
	for _, e := range []Envelope{
		{ID: NewID(), To: "ALICE", From: "bob", Text: "hello", Sent: testTime},
		{ID: NewID(), To: "*", From: "Zoë", Text: "line 1\nline 2 <&> \u2028 \x01", Sent: testTime, Expires: testTime.Add(time.Hour)},
		{ID: NewID(), To: "ALICE", From: "bob", Text: "", Sent: testTime.In(time.FixedZone("x", 5*3600+1800))},
		{ID: NewID(), To: strings.Repeat("N", message.MaxNameLen), From: strings.Repeat("é", message.MaxNameLen),
			Text: strings.Repeat("\x00", message.MaxTextLen), Sent: testTime},
		{ID: NewID(), To: "ALICE", From: "bob", Text: strings.Repeat("𝄞", message.MaxTextLen), Sent: testTime},
	} {
		b, err := EncodeEnvelope(e)
		if err != nil {
			t.Fatalf("EncodeEnvelope(%+v): %v", e, err)
		}
		got, err := DecodeEnvelope(b)
		if err != nil {
			t.Fatalf("DecodeEnvelope(%s): %v", b, err)
		}
		if !sameEnvelope(got, e) {
			t.Errorf("round trip: got %+v, want %+v", got, e)
		}
	}
}

func TestEnvelopeWire(t *testing.T) {
	e := Envelope{ID: "0123456789abcdef0123456789abcdef", To: "ALICE", From: "bob", Text: "a<b", Sent: testTime}
	b, err := EncodeEnvelope(e)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"0123456789abcdef0123456789abcdef","to":"ALICE","from":"bob","text":"a<b","sent":"2026-03-01T12:30:00.123456789Z"}`
	if string(b) != want {
		t.Errorf("EncodeEnvelope = %s\nwant            %s", b, want)
	}
	// Unknown fields are a newer peer's additions, not an error.
	got, err := DecodeEnvelope([]byte(`{"id":"0123456789abcdef0123456789abcdef","to":"ALICE","from":"bob","text":"hi",` +
		`"sent":"2026-03-01T12:30:00Z","expires":"2026-03-01T13:30:00+01:00","priority":7}`))
	if err != nil {
		t.Fatal(err)
	}
	if !got.Expires.Equal(testTime.Add(-time.Duration(testTime.Nanosecond()))) {
		t.Errorf("expires = %v", got.Expires)
	}
	if got.Expired(testTime) != true || got.Expired(testTime.Add(-time.Second)) != false {
		t.Errorf("Expired around %v wrong", got.Expires)
	}
}

func TestDecodeEnvelopeErrors(t *testing.T) {
	const id = `"id":"0123456789abcdef0123456789abcdef"`
	const rest = `"to":"ALICE","from":"bob","text":"hi","sent":"2026-03-01T12:30:00Z"`
	for _, tc := range []struct {
		name, in, field string
	}{
		{"not json", `{`, "envelope"},
		{"array", `[]`, "envelope"},
		{"wrong type", `{"id":5}`, "envelope"},
		{"no id", `{` + rest + `}`, "envelope id"},
		{"short id", `{"id":"abc",` + rest + `}`, "envelope id"},
		{"upper id", `{"id":"0123456789ABCDEF0123456789ABCDEF",` + rest + `}`, "envelope id"},
		{"no to", `{` + id + `,"from":"bob","text":"hi","sent":"2026-03-01T12:30:00Z"}`, "envelope to"},
		{"control in from", `{` + id + `,"to":"A","from":"b\nob","text":"hi","sent":"2026-03-01T12:30:00Z"}`, "envelope from"},
		{"long from", `{` + id + `,"to":"A","from":"` + strings.Repeat("b", message.MaxNameLen+1) + `","text":"hi","sent":"2026-03-01T12:30:00Z"}`, "envelope from"},
		{"long text", `{` + id + `,"to":"A","from":"b","text":"` + strings.Repeat("t", message.MaxTextLen+1) + `","sent":"2026-03-01T12:30:00Z"}`, "envelope text"},
		{"no sent", `{` + id + `,"to":"A","from":"b","text":"t"}`, "envelope sent"},
		{"bad sent", `{` + id + `,"to":"A","from":"b","text":"t","sent":"yesterday"}`, "envelope sent"},
		{"bad expires", `{` + id + `,` + rest + `,"expires":"2026-13-01T00:00:00Z"}`, "envelope expires"},
		{"too big", `{` + id + `,` + rest + `,"pad":"` + strings.Repeat(" ", MaxEnvelopeSize) + `"}`, "envelope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeEnvelope([]byte(tc.in))
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("DecodeEnvelope = %v, want ErrMalformed", err)
			}
			if !strings.Contains(err.Error(), "hub: "+tc.field) {
				t.Errorf("error %q does not name %q", err, tc.field)
			}
		})
	}
}

func TestEncodeEnvelopeRefusesInvalid(t *testing.T) {
	for _, e := range []Envelope{
		{ID: NewID(), To: "A", From: "b", Text: "\xff", Sent: testTime},
		{ID: NewID(), To: "A", From: "b", Text: "t"},
		{ID: NewID(), To: "", From: "b", Text: "t", Sent: testTime},
		{ID: NewID(), To: "A", From: "b", Text: "t", Sent: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		if b, err := EncodeEnvelope(e); !errors.Is(err, ErrMalformed) {
			t.Errorf("EncodeEnvelope(%+v) = %s, %v; want ErrMalformed", e, b, err)
		}
	}
}

func TestReceiptRoundTripAndErrors(t *testing.T) {
	r := Receipt{ID: NewID(), State: ReceiptRefused, To: "ALICE", At: testTime, Detail: "policy: deny"}
	b, err := EncodeReceipt(r)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeReceipt(b)
	if err != nil || !sameReceipt(got, r) {
		t.Fatalf("round trip = %+v, %v; want %+v", got, err, r)
	}
	const id = `"id":"0123456789abcdef0123456789abcdef"`
	for _, tc := range []struct{ in, field string }{
		{`{` + id + `,"state":"lost","to":"A","at":"2026-03-01T12:30:00Z"}`, "receipt state"},
		{`{` + id + `,"state":"read","at":"2026-03-01T12:30:00Z"}`, "receipt to"},
		{`{` + id + `,"state":"read","to":"A"}`, "receipt at"},
		{`{` + id + `,"state":"read","to":"A","at":"2026-03-01T12:30:00Z","detail":"` + strings.Repeat("d", MaxDetailLen+1) + `"}`, "receipt detail"},
		{`{"state":"read","to":"A","at":"2026-03-01T12:30:00Z"}`, "receipt id"},
	} {
		_, err := DecodeReceipt([]byte(tc.in))
		if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "hub: "+tc.field) {
			t.Errorf("DecodeReceipt(%s) = %v, want ErrMalformed naming %q", tc.in, err, tc.field)
		}
	}
}

func TestRecords(t *testing.T) {
	n := NameRecord{Host: "HOSTA", Name: "ALICE"}
	b, err := EncodeNameRecord(n)
	if err != nil || string(b) != `{"host":"HOSTA","name":"ALICE"}` {
		t.Fatalf("EncodeNameRecord = %s, %v", b, err)
	}
	if got, err := DecodeNameRecord(b); err != nil || got != n {
		t.Errorf("DecodeNameRecord = %+v, %v", got, err)
	}
	h := HostRecord{Host: "HOSTA", Domain: "WORKGROUP", Online: true, Seen: testTime}
	b, err = EncodeHostRecord(h)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeHostRecord(b)
	if err != nil || got.Host != h.Host || got.Domain != h.Domain || !got.Online || !got.Seen.Equal(h.Seen) {
		t.Errorf("DecodeHostRecord(%s) = %+v, %v", b, got, err)
	}
	if _, err := DecodeHostRecord([]byte(`{"host":"HOSTA","online":true}`)); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "seen") {
		t.Errorf("host record without seen: %v", err)
	}
	if _, err := DecodeNameRecord([]byte(`{"host":"","name":"A"}`)); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "host") {
		t.Errorf("name record without host: %v", err)
	}
}

func FuzzDecodeEnvelope(f *testing.F) {
	for _, e := range []Envelope{
		{ID: NewID(), To: "ALICE", From: "bob", Text: "hello", Sent: testTime},
		{ID: NewID(), To: "*", From: "Zoë", Text: "a\nb", Sent: testTime, Expires: testTime.Add(time.Minute)},
	} {
		b, err := EncodeEnvelope(e)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"id":"0123456789abcdef","to":"A","from":"b","text":"\ud800","sent":"2026-03-01T12:30:00,5+23:59"}`))
	f.Add([]byte(`{"ID":"0123456789abcdef","TO":"A","from":"b","text":null,"sent":"0000-01-01T00:00:00-00:01"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := DecodeEnvelope(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			return
		}
		if err := e.Validate(); err != nil {
			t.Fatalf("decoded envelope fails Validate: %v", err)
		}
		out, err := EncodeEnvelope(e)
		if err != nil {
			t.Fatalf("decoded envelope does not encode: %v", err)
		}
		again, err := DecodeEnvelope(out)
		if err != nil {
			t.Fatalf("re-encoded envelope %s does not decode: %v", out, err)
		}
		if !sameEnvelope(e, again) {
			t.Fatalf("round trip changed %+v into %+v", e, again)
		}
	})
}

func FuzzDecodeReceipt(f *testing.F) {
	for _, r := range []Receipt{
		{ID: NewID(), State: ReceiptDelivered, To: "ALICE", At: testTime},
		{ID: NewID(), State: ReceiptRefused, To: "ALICE", At: testTime, Detail: "policy"},
	} {
		b, err := EncodeReceipt(r)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"id":"0123456789abcdef","state":"read","to":"A","at":"2026-03-01T12:30:00+01:00","detail":"\u0000"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeReceipt(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			return
		}
		if err := r.Validate(); err != nil {
			t.Fatalf("decoded receipt fails Validate: %v", err)
		}
		out, err := EncodeReceipt(r)
		if err != nil {
			t.Fatalf("decoded receipt does not encode: %v", err)
		}
		again, err := DecodeReceipt(out)
		if err != nil || !sameReceipt(r, again) {
			t.Fatalf("round trip changed %+v into %+v (%v)", r, again, err)
		}
	})
}

func FuzzDecodeHostRecord(f *testing.F) {
	f.Add([]byte(`{"host":"HOSTA","domain":"WORKGROUP","online":true,"seen":"2026-03-01T12:30:00Z"}`))
	f.Add([]byte(`{"host":"HOSTA","name":"ALICE"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := DecodeHostRecord(b)
		if err == nil {
			out, err := EncodeHostRecord(h)
			if err != nil {
				t.Fatalf("decoded host record does not encode: %v", err)
			}
			again, err := DecodeHostRecord(out)
			if err != nil || again.Host != h.Host || again.Domain != h.Domain || again.Online != h.Online || !again.Seen.Equal(h.Seen) {
				t.Fatalf("round trip changed %+v into %+v (%v)", h, again, err)
			}
		} else if !errors.Is(err, ErrMalformed) {
			t.Fatalf("error %v is not ErrMalformed", err)
		}
		n, err := DecodeNameRecord(b)
		if err == nil {
			out, err := EncodeNameRecord(n)
			if err != nil {
				t.Fatalf("decoded name record does not encode: %v", err)
			}
			if again, err := DecodeNameRecord(out); err != nil || again != n {
				t.Fatalf("round trip changed %+v into %+v (%v)", n, again, err)
			}
		} else if !errors.Is(err, ErrMalformed) {
			t.Fatalf("error %v is not ErrMalformed", err)
		}
	})
}
