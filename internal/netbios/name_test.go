package netbios

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

func mustName(t testing.TB, s string, suffix byte) Name {
	t.Helper()
	n, err := NewName(s, suffix)
	if err != nil {
		t.Fatalf("NewName(%q, 0x%02X): %v", s, suffix, err)
	}
	return n
}

// unhex decodes a hex dump that may contain spaces and newlines.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatalf("bad hex in test: %v", err)
	}
	return b
}

func TestNewName(t *testing.T) {
	tests := []struct {
		in      string
		suffix  byte
		want    string // 16 bytes as a Go string
		wantErr bool
	}{
		{in: "bob", suffix: 0x03, want: "BOB            \x03"},
		{in: "Alice", suffix: 0x00, want: "ALICE          \x00"},
		{in: "ABCDEFGHIJKLMNO", suffix: 0x20, want: "ABCDEFGHIJKLMNO\x20"},
		{in: "m\x81ller", suffix: 0x03, want: "M\x81LLER         \x03"}, // OEM bytes kept as they are
		{in: "a.b", suffix: 0x03, want: "A.B            \x03"},
		{in: "x-y_z!", suffix: 0x03, want: "X-Y_Z!         \x03"},
		{in: "", wantErr: true},
		{in: "ABCDEFGHIJKLMNOP", wantErr: true},
		{in: ".bob", wantErr: true},
		{in: "bo\x1fb", wantErr: true},
		{in: "bo\x00b", wantErr: true},
		{in: "*", wantErr: true},
		{in: "a*", wantErr: true},
	}
	for _, c := range `"/\[]:|<>+=;,?` {
		tests = append(tests, struct {
			in      string
			suffix  byte
			want    string
			wantErr bool
		}{in: "a" + string(c), wantErr: true})
	}
	for _, tt := range tests {
		n, err := NewName(tt.in, tt.suffix)
		if tt.wantErr {
			if !errors.Is(err, ErrInvalidName) {
				t.Errorf("NewName(%q) error = %v, want ErrInvalidName", tt.in, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("NewName(%q): %v", tt.in, err)
			continue
		}
		if got := n.Bytes(); string(got[:]) != tt.want {
			t.Errorf("NewName(%q) = %q, want %q", tt.in, got[:], tt.want)
		}
	}
}

func TestNameAccessors(t *testing.T) {
	n := mustName(t, "bob", 0x03)
	if n.Suffix() != 0x03 {
		t.Errorf("Suffix = 0x%02X", n.Suffix())
	}
	if n.Base() != "BOB" {
		t.Errorf("Base = %q", n.Base())
	}
	if n.String() != "BOB<03>" {
		t.Errorf("String = %q", n.String())
	}
	if s := mustName(t, "WORKGROUP", 0x1E).String(); s != "WORKGROUP<1E>" {
		t.Errorf("String = %q", s)
	}

	w := WildcardName()
	wb := w.Bytes()
	if want := "*" + strings.Repeat("\x00", 15); string(wb[:]) != want {
		t.Errorf("WildcardName = %q", wb[:])
	}
	if w.Base() != "*" || w.String() != "*<00>" {
		t.Errorf("wildcard Base %q String %q", w.Base(), w.String())
	}

	raw := NameFromBytes([16]byte{0x01, 0x02, '_', '_', 'M', 'S', 'B', 'R', 'O', 'W', 'S', 'E', '_', '_', 0x02, 0x01})
	if got, want := raw.String(), `\x01\x02__MSBROWSE__\x02<01>`; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
	if NameFromBytes(n.Bytes()) != n {
		t.Error("NameFromBytes(n.Bytes()) != n")
	}
}

func TestEqualFold(t *testing.T) {
	lower := NameFromBytes([16]byte{'b', 'o', 'b', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', 0x03})
	upper := mustName(t, "BOB", 0x03)
	if !lower.EqualFold(upper) || !upper.EqualFold(lower) {
		t.Error("bob<03> and BOB<03> should be equal ignoring case")
	}
	if lower == upper {
		t.Error("== must compare exact bytes")
	}
	if upper.EqualFold(mustName(t, "BOB", 0x20)) {
		t.Error("different suffixes must not be equal")
	}
	if upper.EqualFold(mustName(t, "BOBA", 0x03)) {
		t.Error("different names must not be equal")
	}
	// Bytes above 0x7F are code-page dependent and compared exactly.
	if mustName(t, "\xe9", 0x03).EqualFold(mustName(t, "\xc9", 0x03)) {
		t.Error("non-ASCII bytes must not be case folded")
	}
}

// goldenName is for package-level test tables, where there is no T.
func goldenName(s string, suffix byte) Name {
	n, err := NewName(s, suffix)
	if err != nil {
		panic(err)
	}
	return n
}

var goldenEncodings = []struct {
	name    Name
	encoded string
}{
	{goldenName("FRED", 0x00), "EGFCEFEECACACACACACACACACACACAAA"},
	{goldenName("BOB", 0x03), "ECEPECCACACACACACACACACACACACAAD"},
	{goldenName("BOB", 0x20), "ECEPECCACACACACACACACACACACACACA"},
	{WildcardName(), "CKAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
}

func TestEncodeGolden(t *testing.T) {
	for _, g := range goldenEncodings {
		want := append(append([]byte{0x20}, g.encoded...), 0x00)
		got, err := AppendEncodedName(nil, g.name, "")
		if err != nil {
			t.Fatalf("AppendEncodedName(%v): %v", g.name, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("AppendEncodedName(%v) = %q, want %q", g.name, got, want)
		}
		n, scope, next, err := DecodeName(want, 0)
		if err != nil {
			t.Fatalf("DecodeName(%q): %v", want, err)
		}
		if n != g.name || scope != "" || next != len(want) {
			t.Errorf("DecodeName(%q) = %v, %q, %d; want %v, \"\", %d", want, n, scope, next, g.name, len(want))
		}
	}
}

func TestScopeRoundTrip(t *testing.T) {
	n := mustName(t, "BOB", 0x03)
	long63 := strings.Repeat("x", 63)
	for _, scope := range []string{"", "corp", "corp.example", "A.b.C", long63 + "." + long63 + "." + long63 + "." + strings.Repeat("y", 28)} {
		enc, err := AppendEncodedName([]byte{0xEE}, n, scope)
		if err != nil {
			t.Fatalf("AppendEncodedName(scope %q): %v", scope, err)
		}
		if len(enc)-1 != encodedNameLen(scope) {
			t.Errorf("scope %q: wrote %d bytes, encodedNameLen says %d", scope, len(enc)-1, encodedNameLen(scope))
		}
		got, gotScope, next, err := DecodeName(enc, 1)
		if err != nil {
			t.Fatalf("DecodeName(scope %q): %v", scope, err)
		}
		if got != n || gotScope != scope || next != len(enc) {
			t.Errorf("round trip of scope %q = %v %q %d", scope, got, gotScope, next)
		}
	}
	// corp.example on the wire: 04 corp 07 example 00.
	enc, _ := AppendEncodedName(nil, n, "corp.example")
	if want := "\x04corp\x07example\x00"; string(enc[33:]) != want {
		t.Errorf("scope labels = %q, want %q", enc[33:], want)
	}
}

func TestAppendEncodedNameErrors(t *testing.T) {
	n := mustName(t, "BOB", 0x03)
	tests := []struct {
		scope string
		want  error
	}{
		{".corp", ErrBadLabel},
		{"corp.", ErrBadLabel},
		{"a..b", ErrBadLabel},
		{strings.Repeat("x", 64), ErrTooLong},
		{strings.Repeat("x", 63) + "." + strings.Repeat("x", 63) + "." + strings.Repeat("x", 63) + "." + strings.Repeat("x", 30), ErrTooLong},
	}
	for _, tt := range tests {
		prefix := []byte("keep")
		got, err := AppendEncodedName(prefix, n, tt.scope)
		if !errors.Is(err, tt.want) {
			t.Errorf("scope %q: error %v, want %v", tt.scope, err, tt.want)
		}
		if string(got) != "keep" {
			t.Errorf("scope %q: buffer changed on error: %q", tt.scope, got)
		}
	}
}

func TestDecodeNameErrors(t *testing.T) {
	good := "\x20ECEPECCACACACACACACACACACACACAAD"
	tests := []struct {
		name string
		msg  string
		off  int
		want error
	}{
		{"empty", "", 0, ErrShort},
		{"offset past end", good + "\x00", 40, ErrShort},
		{"negative offset", good + "\x00", -1, ErrShort},
		{"truncated label", good[:20], 0, ErrShort},
		{"no terminator", good, 0, ErrShort},
		{"first label 31", "\x1f" + good[1:32] + "\x00", 0, ErrBadLabel},
		{"first label 33", "\x21" + good[1:] + "A\x00", 0, ErrBadLabel},
		{"empty first label", "\x00", 0, ErrBadLabel},
		{"char Q", "\x20Q" + good[2:] + "\x00", 0, ErrBadLabel},
		{"lower case", "\x20e" + good[2:] + "\x00", 0, ErrBadLabel},
		{"char @", "\x20E" + "@" + good[3:] + "\x00", 0, ErrBadLabel},
		{"pointer first", "\xc0\x00", 0, ErrCompression},
		{"pointer in scope", good + "\x04corp\xc0\x00", 0, ErrCompression},
		{"truncated pointer", good + "\xc0", 0, ErrShort},
		{"reserved type 0x40", good + "\x41x\x00", 0, ErrBadLabel},
		{"reserved type 0x80", good + "\x81x\x00", 0, ErrBadLabel},
		{"dot in scope label", good + "\x03a.b\x00", 0, ErrBadLabel},
		{"scope label past end", good + "\x05abc", 0, ErrShort},
		{"too long", good + strings.Repeat("\x3f"+strings.Repeat("x", 63), 4) + "\x00", 0, ErrTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, _, err := DecodeName([]byte(tt.msg), tt.off)
			if !errors.Is(err, tt.want) {
				t.Errorf("DecodeName error = %v, want %v", err, tt.want)
			}
		})
	}
	_, _, _, err := DecodeName([]byte("\xc0\x00"), 0)
	if err == nil || !strings.Contains(err.Error(), "compression") {
		t.Errorf("pointer error %v should mention compression", err)
	}
}

// TestDecodeNamePointers exercises the pointer-following walker that the
// name service decoder will use.
func TestDecodeNamePointers(t *testing.T) {
	bob := "\x20ECEPECCACACACACACACACACACACACAAD"
	tests := []struct {
		name      string
		msg       string
		off       int
		wantScope string
		wantNext  int
		wantErr   error
	}{
		{"whole name", "\x00\x00" + bob + "\x04corp\x00" + "\xc0\x02", 41, "corp", 43, nil},
		{"scope only", "\x04corp\x00" + bob + "\xc0\x00", 6, "corp", 41, nil},
		{"chain", "\x04corp\x00" + "\x03big\xc0\x00" + bob + "\xc0\x06", 12, "big.corp", 47, nil},
		{"self loop", bob + "\xc0\x21", 0, "", 0, ErrBadLabel},
		{"forward", bob + "\xc0\x30" + strings.Repeat("\x00", 20), 0, "", 0, ErrBadLabel},
		{"loop", bob + "\xc0\x00", 33, "", 0, ErrBadLabel},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, scope, next, err := decodeName([]byte(tt.msg), tt.off, true)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("error = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if n.String() != "BOB<03>" || scope != tt.wantScope || next != tt.wantNext {
				t.Errorf("got %v %q %d, want BOB<03> %q %d", n, scope, next, tt.wantScope, tt.wantNext)
			}
		})
	}
}

func FuzzDecodeName(f *testing.F) {
	for _, g := range goldenEncodings {
		f.Add(append(append([]byte{0x20}, g.encoded...), 0x00))
	}
	f.Add([]byte("\x20ECEPECCACACACACACACACACACACACAAD\x04corp\x07example\x00"))
	f.Add([]byte("\x20ECEPECCACACACACACACACACACACACAAD\xc0\x00"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		n, scope, next, err := DecodeName(msg, 0)
		if err != nil {
			return
		}
		if next <= 0 || next > len(msg) {
			t.Fatalf("next = %d for %d bytes", next, len(msg))
		}
		enc, err := AppendEncodedName(nil, n, scope)
		if err != nil {
			t.Fatalf("decoded %v scope %q does not re-encode: %v", n, scope, err)
		}
		if !bytes.Equal(enc, msg[:next]) {
			t.Fatalf("re-encoded %q, decoded from %q", enc, msg[:next])
		}
		// The name-service walker must agree on names without pointers.
		n2, scope2, next2, err := decodeName(msg, 0, true)
		if err != nil || n2 != n || scope2 != scope || next2 != next {
			t.Fatalf("pointer walker disagrees: %v %q %d %v", n2, scope2, next2, err)
		}
	})
}

func BenchmarkDecodeName(b *testing.B) {
	msg := []byte("\x20ECEPECCACACACACACACACACACACACAAD\x00")
	b.ReportAllocs()
	for b.Loop() {
		if _, _, _, err := DecodeName(msg, 0); err != nil {
			b.Fatal(err)
		}
	}
}

func TestUpper(t *testing.T) {
	raw := [NameLen]byte{'a', 'l', 'I', 'a', 's', 0xE9, ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', 'a'}
	got := NameFromBytes(raw).Upper().Bytes()
	want := raw
	copy(want[:5], "ALIAS")
	if got != want {
		t.Errorf("Upper = %q, want %q (bytes ≥ 0x80 and the suffix unchanged)", got, want)
	}
}
