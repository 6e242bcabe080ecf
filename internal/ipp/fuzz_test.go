package ipp

import (
	"bytes"
	"errors"
	"io"
	"os"
	"reflect"
	"testing"
)

// FuzzDecode checks that Decode never panics, never claims more bytes than
// it was given, and that whatever it accepts re-encodes to bytes that
// decode to the same message (and encode again to the same bytes); and
// that Reader agrees with Decode on the first message of a stream.
func FuzzDecode(f *testing.F) {
	f.Add(printJob)
	f.Add(mediaCol)
	if raw, err := os.ReadFile("testdata/cupsd-2.4.2-events.bin"); err == nil {
		f.Add(raw)
	}
	f.Add([]byte{2, 0, 0, 0, 0, 0, 0, 0, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, n, err := Decode(b)
		r := NewReader(bytes.NewReader(b))
		first, rerr := r.Next()
		if err != nil {
			if n != 0 {
				t.Fatalf("failed Decode took %d bytes", n)
			}
			if rerr == nil {
				t.Fatalf("Reader accepted what Decode refused (%v): %v", err, first)
			}
			return
		}
		if rerr != nil {
			t.Fatalf("Reader refused what Decode accepted: %v", rerr)
		}
		if !reflect.DeepEqual(first, m) {
			t.Fatalf("Reader and Decode disagree:\n%v\n%v", first, m)
		}
		if n < headerLen+1 || n > len(b) {
			t.Fatalf("Decode took %d of %d bytes", n, len(b))
		}
		_ = m.String()
		for _, g := range m.Groups {
			for _, a := range g.Attributes {
				if len(a.Values) == 0 {
					t.Fatalf("attribute %q without values", a.Name)
				}
				for _, v := range a.Values {
					v.Text()
					v.Int()
					v.Bool()
				}
			}
		}
		enc, err := m.Marshal()
		if err != nil {
			t.Fatalf("Marshal of a decoded message: %v\n%v", err, m)
		}
		m2, n2, err := Decode(enc)
		if err != nil {
			t.Fatalf("re-decoding: %v", err)
		}
		if n2 != len(enc) || !reflect.DeepEqual(m, m2) {
			t.Fatalf("round trip changed the message:\n%v\n%v", m, m2)
		}
		enc2, err := m2.Marshal()
		if err != nil || !bytes.Equal(enc, enc2) {
			t.Fatalf("second encoding differs: %v", err)
		}
		for {
			if _, err := r.Next(); err != nil {
				if err != io.EOF && !errors.Is(err, ErrShort) && !errors.Is(err, ErrLimit) && !isFieldError(err) {
					t.Fatalf("Reader error of an unexpected kind: %v", err)
				}
				return
			}
		}
	})
}

func isFieldError(err error) bool {
	var fe *fieldError
	return errors.As(err, &fe)
}
