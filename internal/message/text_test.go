package message

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestNormalizeLineBreaks(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain", "plain"},
		{"a\x14b", "a\nb"},
		{"a\r\nb", "a\nb"},
		{"a\n\rb", "a\nb"},
		{"a\rb", "a\nb"},
		{"a\nb", "a\nb"},
		{"a\r\n\r\nb", "a\n\nb"},
		{"a\n\nb", "a\n\nb"},
		{"a\x14\x14b", "a\n\nb"},
		{"hello\x00", "hello"},
		{"hello\x00\x00", "hello\x00"},
		{"", ""},
		{"line\r\n", "line\n"},
	} {
		if got := string(NormalizeLineBreaks([]byte(tc.in))); got != tc.want {
			t.Errorf("NormalizeLineBreaks(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestCodePages(t *testing.T) {
	for _, tc := range []struct {
		page string
		oem  []byte
		utf8 string
	}{
		{"CP850", []byte{0x82, 0x81, 0x94, 0xE1}, "éüöß"},
		{"cp437", []byte{0x82, 0x9B}, "é¢"},
		{"866", []byte{0x8F, 0xE0, 0xA8, 0xA2, 0xA5, 0xE2}, "Привет"},
		{"CP932", []byte{0x82, 0xB1, 0x82, 0xF1}, "こん"},
		{"IBM852", []byte{0xA5}, "ą"},
	} {
		cp, err := LookupCodePage(tc.page)
		if err != nil {
			t.Fatalf("LookupCodePage(%q): %v", tc.page, err)
		}
		if got := cp.Decode(tc.oem); got != tc.utf8 {
			t.Errorf("%s Decode(% x) = %q, want %q", tc.page, tc.oem, got, tc.utf8)
		}
		if got := cp.Encode(tc.utf8); string(got) != string(tc.oem) {
			t.Errorf("%s Encode(%q) = % x, want % x", tc.page, tc.utf8, got, tc.oem)
		}
	}
	if _, err := LookupCodePage("CP9999"); !errors.Is(err, ErrUnknownCodePage) {
		t.Errorf("LookupCodePage(CP9999) error = %v, want ErrUnknownCodePage", err)
	}
	cp, _ := LookupCodePage("CP850")
	if got := cp.Encode("a☺b"); string(got) != "a?b" {
		t.Errorf("Encode of an unmappable character = %q, want a?b", got)
	}
	sjis, _ := LookupCodePage("CP932")
	if got := sjis.Decode([]byte{0x82}); got != "\uFFFD" {
		t.Errorf("Decode of a cut double-byte character = %q, want U+FFFD", got)
	}
}

func TestHeader(t *testing.T) {
	m := Message{From: "ALICE", To: "BOB", Time: time.Date(2002, 10, 21, 20, 0, 21, 0, time.Local)}
	if got, want := m.Header(), "Message from ALICE to BOB on 10/21/2002 8:00:21 PM"; got != want {
		t.Errorf("Header() = %q, want %q", got, want)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add("CP850", []byte("h\x82llo\x14world\r\n"))
	f.Add("CP932", []byte{0x82, 0xB1, 0x82})
	f.Fuzz(func(t *testing.T, page string, b []byte) {
		cp, err := LookupCodePage(page)
		if err != nil {
			return
		}
		s := cp.Decode(NormalizeLineBreaks(b))
		for _, r := range s {
			if r == '\r' || r == LineBreak {
				t.Fatalf("line break %q survived normalization in %q", r, s)
			}
		}
	})
}

func TestEncodeStrict(t *testing.T) {
	cp, _ := LookupCodePage("CP850")
	if b, err := cp.EncodeStrict("Grüße"); err != nil || string(b) != "Gr\x81\xe1e" {
		t.Errorf("EncodeStrict(Grüße) = % x, %v", b, err)
	}
	if _, err := cp.EncodeStrict("smile ☺ please"); !errors.Is(err, ErrUnencodable) || !strings.Contains(err.Error(), "U+263A") {
		t.Errorf("EncodeStrict(☺) error = %v, want ErrUnencodable naming U+263A", err)
	}
}
