package resolve

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/netsend/messenger/internal/netbios"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// renderLMHosts is the golden form of a parse: one entry per line with its
// line number, then every problem.
func renderLMHosts(entries []LMHostsEntry, err error) string {
	var sb strings.Builder
	for _, e := range entries {
		fmt.Fprintf(&sb, "%3d: %s\n", e.Line, e)
	}
	if err != nil {
		for _, e := range unjoin(err) {
			fmt.Fprintf(&sb, "error: %v\n", e)
		}
	}
	return sb.String()
}

func TestParseLMHostsGolden(t *testing.T) {
	data, err := os.ReadFile("testdata/lmhosts")
	if err != nil {
		t.Fatal(err)
	}
	entries, perr := ParseLMHosts(data)
	got := renderLMHosts(entries, perr)
	golden := "testdata/lmhosts.golden"
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("ParseLMHosts(testdata/lmhosts) differs from %s:\n--- got\n%s--- want\n%s", golden, got, want)
	}
}

func mustName(t testing.TB, base string, suffix byte) netbios.Name {
	t.Helper()
	n, err := netbios.NewName(base, suffix)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// rawName builds a name from exactly the bytes given, padded with spaces.
func rawName(base string, suffix byte) netbios.Name {
	var b [netbios.NameLen]byte
	for i := range netbios.NameLen - 1 {
		b[i] = ' '
		if i < len(base) {
			b[i] = base[i]
		}
	}
	b[netbios.NameLen-1] = suffix
	return netbios.NameFromBytes(b)
}

func TestParseLMHostsLine(t *testing.T) {
	addr := netip.MustParseAddr("192.0.2.7")
	tests := []struct {
		line    string
		want    *LMHostsEntry // nil: no entry
		wantErr error         // nil: no problem reported
	}{
		{line: "192.0.2.7 bob", want: &LMHostsEntry{Addr: addr, Name: rawName("BOB", 0)}},
		{line: "  192.0.2.7\t\tBob  ", want: &LMHostsEntry{Addr: addr, Name: rawName("BOB", 0)}},
		{line: "192.0.2.7 bob#03", want: &LMHostsEntry{Addr: addr, Name: rawName("BOB", 3), HasSuffix: true}},
		{line: "192.0.2.7 bob#1c", want: &LMHostsEntry{Addr: addr, Name: rawName("BOB", 0x1C), HasSuffix: true}},
		{line: "192.0.2.7 bob#0", want: &LMHostsEntry{Addr: addr, Name: rawName("BOB", 0), HasSuffix: true}},
		{line: "192.0.2.7 bob #PRE", want: &LMHostsEntry{Addr: addr, Name: rawName("BOB", 0), Pre: true}},
		{line: "192.0.2.7 bob #pre #dom:Corp #mh", want: &LMHostsEntry{Addr: addr, Name: rawName("BOB", 0), Pre: true, Domain: "CORP", MultiHomed: true}},
		{line: "192.0.2.7 bob #comment #PRE", want: &LMHostsEntry{Addr: addr, Name: rawName("BOB", 0)}},
		{line: "192.0.2.7 bob #PRE#DOM:X", want: &LMHostsEntry{Addr: addr, Name: rawName("BOB", 0)}},
		{line: `192.0.2.7 "BOB            \0x03"`, want: &LMHostsEntry{Addr: addr, Name: rawName("BOB", 3), HasSuffix: true}},
		{line: `192.0.2.7 "bob            \0X1b" #PRE`, want: &LMHostsEntry{Addr: addr, Name: rawName("BOB", 0x1B), HasSuffix: true, Pre: true}},
		{line: `192.0.2.7 "My Pc"`, want: &LMHostsEntry{Addr: addr, Name: rawName("MY PC", 0)}},
		{line: `192.0.2.7 "a\0x00b"`, want: &LMHostsEntry{Addr: addr, Name: rawName("A\x00B", 0)}},
		{line: `192.0.2.7 "a\b\0xzz"`, want: &LMHostsEntry{Addr: addr, Name: rawName(`A\B\0XZZ`, 0)}},
		{line: `192.0.2.7 "0123456789ABCDEF"`, want: &LMHostsEntry{Addr: addr, Name: rawName("0123456789ABCDE", 'F'), HasSuffix: true}},
		{line: "192.0.2.7 caf\xe9", want: &LMHostsEntry{Addr: addr, Name: rawName("CAF\xe9", 0)}},
		{line: "192.0.2.7 carol G", want: &LMHostsEntry{Addr: addr, Name: rawName("CAROL", 0)}, wantErr: ErrLMHostsSyntax},
		{line: "192.0.2.7 carol #DOM:", want: &LMHostsEntry{Addr: addr, Name: rawName("CAROL", 0)}, wantErr: ErrLMHostsSyntax},
		{line: "192.0.2.7 carol #DOM:SIXTEENCHARSXXXX", want: &LMHostsEntry{Addr: addr, Name: rawName("CAROL", 0)}, wantErr: ErrLMHostsSyntax},

		{line: ""},
		{line: "   \t"},
		{line: "# just a comment"},
		{line: "#PRE"},
		{line: "#DOM:X"},
		{line: `#INCLUDE \\server\share\lmhosts`, wantErr: ErrLMHostsUnsupported},
		{line: "#include x", wantErr: ErrLMHostsUnsupported},
		{line: "#BEGIN_ALTERNATE", wantErr: ErrLMHostsUnsupported},
		{line: "#END_ALTERNATE", wantErr: ErrLMHostsUnsupported},
		{line: "192.0.2.7", wantErr: ErrLMHostsSyntax},
		{line: "192.0.2.7 #PRE", wantErr: ErrLMHostsSyntax},
		{line: "192.0.2.256 bob", wantErr: ErrLMHostsSyntax},
		{line: "192.0.2 bob", wantErr: ErrLMHostsSyntax},
		{line: "192.000.2.7 bob", wantErr: ErrLMHostsSyntax},
		{line: "::1 bob", wantErr: ErrLMHostsSyntax},
		{line: "::ffff:192.0.2.7 bob", wantErr: ErrLMHostsSyntax},
		{line: "0.0.0.0 bob", wantErr: ErrLMHostsSyntax},
		{line: "bob 192.0.2.7", wantErr: ErrLMHostsSyntax},
		{line: "192.0.2.7 SIXTEENCHARSXXXXX", wantErr: ErrLMHostsSyntax},
		{line: "192.0.2.7 bob#", wantErr: ErrLMHostsSyntax},
		{line: "192.0.2.7 bob#xyz", wantErr: ErrLMHostsSyntax},
		{line: "192.0.2.7 bob#123", wantErr: ErrLMHostsSyntax},
		{line: "192.0.2.7 bob#-1", wantErr: ErrLMHostsSyntax},
		{line: `192.0.2.7 bo"b`, wantErr: ErrLMHostsSyntax},
		{line: "192.0.2.7 bo\x01b", wantErr: ErrLMHostsSyntax},
		{line: `192.0.2.7 "bob`, wantErr: ErrLMHostsSyntax},
		{line: `192.0.2.7 "bob"#PRE`, wantErr: ErrLMHostsSyntax},
		{line: `192.0.2.7 ""`, wantErr: ErrLMHostsSyntax},
		{line: `192.0.2.7 "     "`, wantErr: ErrLMHostsSyntax},
		{line: `192.0.2.7 "               \0x03"`, wantErr: ErrLMHostsSyntax},
		{line: `192.0.2.7 "0123456789ABCDEFG"`, wantErr: ErrLMHostsSyntax},
		{line: `192.0.2.7 "BOB             \0x03"`, wantErr: ErrLMHostsSyntax},
		{line: "192.0.2.7 #bob", wantErr: ErrLMHostsSyntax},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			entries, err := ParseLMHosts([]byte(tt.line))
			if tt.wantErr == nil && err != nil {
				t.Errorf("unexpected error: %v", err)
			}
			if tt.wantErr != nil {
				var le *LMHostsError
				if !errors.Is(err, tt.wantErr) || !errors.As(err, &le) || le.Line != 1 {
					t.Errorf("error = %v, want a line 1 *LMHostsError wrapping %v", err, tt.wantErr)
				}
			}
			if tt.want == nil {
				if len(entries) != 0 {
					t.Errorf("entries = %v, want none", entries)
				}
				return
			}
			want := *tt.want
			want.Line = 1
			if len(entries) != 1 || entries[0] != want {
				t.Errorf("entries = %+v\nwant [%+v]", entries, want)
			}
		})
	}
}

func TestParseLMHostsLimits(t *testing.T) {
	t.Run("size", func(t *testing.T) {
		var b bytes.Buffer
		for b.Len() <= MaxLMHostsSize {
			// Long lines keep the entry count under its own limit.
			b.WriteString("192.0.2.7 bob # " + strings.Repeat("padding ", 30) + "\n")
		}
		lines := strings.Count(b.String()[:MaxLMHostsSize], "\n")
		entries, err := ParseLMHosts(b.Bytes())
		if !errors.Is(err, ErrLMHostsLimit) {
			t.Errorf("error = %v, want ErrLMHostsLimit", err)
		}
		if len(entries) != lines {
			t.Errorf("%d entries, want the %d whole lines within the limit", len(entries), lines)
		}
	})
	t.Run("entries", func(t *testing.T) {
		var b bytes.Buffer
		for range MaxLMHostsEntries + 5 {
			b.WriteString("192.0.2.7 b\n")
		}
		entries, err := ParseLMHosts(b.Bytes())
		var le *LMHostsError
		if !errors.Is(err, ErrLMHostsLimit) || !errors.As(err, &le) || le.Line != MaxLMHostsEntries+1 {
			t.Errorf("error = %v, want ErrLMHostsLimit on line %d", err, MaxLMHostsEntries+1)
		}
		if len(entries) != MaxLMHostsEntries {
			t.Errorf("%d entries, want %d", len(entries), MaxLMHostsEntries)
		}
	})
	t.Run("errors", func(t *testing.T) {
		bad := strings.Repeat("junk\n", 2*maxLMHostsErrors)
		_, err := ParseLMHosts([]byte(bad))
		errs := unjoin(err)
		if len(errs) != maxLMHostsErrors+1 || !strings.Contains(errs[len(errs)-1].Error(), fmt.Sprint(maxLMHostsErrors)) {
			t.Errorf("got %d errors, last %v; want %d and a count of the rest", len(errs), errs[len(errs)-1], maxLMHostsErrors+1)
		}
	})
}

func TestMatchLMHosts(t *testing.T) {
	entries, err := ParseLMHosts([]byte(`
192.0.2.1 bob
192.0.2.2 bob#20
192.0.2.3 "BOB            \0x03" #PRE
192.0.2.1 BOB
192.0.2.4 dc1 #PRE #DOM:corp
192.0.2.5 dc2 #DOM:CORP
192.0.2.6 corp#1c
192.0.2.7 "MY PC"
`))
	if err != nil {
		t.Fatal(err)
	}
	a := netip.MustParseAddr
	tests := []struct {
		name netbios.Name
		pre  bool
		want []netip.Addr
	}{
		{mustName(t, "BOB", 0x03), false, []netip.Addr{a("192.0.2.1"), a("192.0.2.3")}},
		{mustName(t, "bob", 0x20), false, []netip.Addr{a("192.0.2.1"), a("192.0.2.2")}},
		{mustName(t, "BOB", 0x00), false, []netip.Addr{a("192.0.2.1")}},
		{mustName(t, "BOB", 0x03), true, []netip.Addr{a("192.0.2.3")}},
		{mustName(t, "BOB", 0x20), true, nil},
		{mustName(t, "BO", 0x03), false, nil},
		{mustName(t, "CORP", 0x1C), false, []netip.Addr{a("192.0.2.4"), a("192.0.2.5"), a("192.0.2.6")}},
		{mustName(t, "CORP", 0x1C), true, []netip.Addr{a("192.0.2.4")}},
		{mustName(t, "CORP", 0x00), false, nil},
		{mustName(t, "MY PC", 0x03), false, []netip.Addr{a("192.0.2.7")}},
		{netbios.NameFromBytes(rawName("bob", 3).Bytes()), false, []netip.Addr{a("192.0.2.1"), a("192.0.2.3")}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%v pre=%v", tt.name, tt.pre), func(t *testing.T) {
			if got := matchLMHosts(entries, tt.name, tt.pre); !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// TestLMHostsFileReload: edits take effect on the next lookup, a removed
// file means no entries, and it may come back.
func TestLMHostsFileReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lmhosts")
	f := &lmhostsFile{path: path, log: testLogger(t)}
	bob := mustName(t, "BOB", 3)
	lookup := func() []netip.Addr { return matchLMHosts(f.current(), bob, false) }
	write := func(content string, mtime time.Time) {
		t.Helper()
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		// Explicit times: a filesystem with coarse timestamps must not
		// make two writes look alike.
		if err := os.Chtimes(path, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	base := time.Now().Add(-time.Hour)

	if got := lookup(); got != nil {
		t.Fatalf("missing file: got %v", got)
	}
	write("192.0.2.1 bob\n", base)
	if got := lookup(); !slices.Equal(got, []netip.Addr{netip.MustParseAddr("192.0.2.1")}) {
		t.Fatalf("first version: got %v", got)
	}
	write("192.0.2.2 bob\n", base.Add(time.Second))
	if got := lookup(); !slices.Equal(got, []netip.Addr{netip.MustParseAddr("192.0.2.2")}) {
		t.Fatalf("edited: got %v", got)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if got := lookup(); got != nil {
		t.Fatalf("removed: got %v", got)
	}
	write("192.0.2.3 bob\n", base.Add(2*time.Second))
	if got := lookup(); !slices.Equal(got, []netip.Addr{netip.MustParseAddr("192.0.2.3")}) {
		t.Fatalf("restored: got %v", got)
	}
}

// FuzzParseLMHosts: no input panics or breaks the limits, and every entry
// survives a trip through String and back.
func FuzzParseLMHosts(f *testing.F) {
	if data, err := os.ReadFile("testdata/lmhosts"); err == nil {
		f.Add(data)
		for line := range bytes.SplitSeq(data, []byte{'\n'}) {
			f.Add(line)
		}
	}
	f.Add([]byte("192.0.2.7 \"a\\0x00\\0xff\\\\\"\"\n"))
	f.Add([]byte("1.2.3.4 x#ff #dom:\xff\x01 #MH\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := ParseLMHosts(data)
		if len(entries) > MaxLMHostsEntries {
			t.Fatalf("%d entries", len(entries))
		}
		if err != nil && len(unjoin(err)) > maxLMHostsErrors+1 {
			t.Fatalf("%d errors", len(unjoin(err)))
		}
		for _, e := range entries {
			if !e.Addr.Is4() || e.Addr.IsUnspecified() || e.Line < 1 || len(e.Domain) > netbios.NameLen-1 {
				t.Fatalf("bad entry %+v", e)
			}
			line := e.String()
			again, err := ParseLMHosts([]byte(line))
			if err != nil || len(again) != 1 {
				t.Fatalf("%q from %+v reparsed to %v, %v", line, e, again, err)
			}
			again[0].Line = e.Line
			if again[0] != e {
				t.Fatalf("%q: %+v became %+v", line, e, again[0])
			}
		}
	})
}

func BenchmarkParseLMHosts(b *testing.B) {
	var buf bytes.Buffer
	for i := range 500 {
		fmt.Fprintf(&buf, "10.%d.%d.%d host%d #PRE # comment\n", i/65536, i/256%256, i%256, i)
		fmt.Fprintf(&buf, "10.%d.%d.%d \"%-15s\\0x20\"\n", i/65536, i/256%256, i%256, fmt.Sprint("SRV", i))
	}
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseLMHosts(data); err != nil {
			b.Fatal(err)
		}
	}
}
