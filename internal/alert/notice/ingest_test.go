package notice

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/netsend/messenger/internal/message"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// render is the golden form of a Notice: its fields, then its text.
func render(n Notice) string {
	a := n.Alert
	return fmt.Sprintf("source: %s\nseverity: %s\nstatus: %s\ntitle: %s\nkey: %s\nto: %s\n--- text\n%s\n",
		a.Source, a.Severity, a.Status, a.Title, a.Key, n.To, n.Text)
}

// checkGolden compares got with testdata/name, or writes it with -update.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("differs from %s:\n--- got\n%s--- want\n%s", path, got, want)
	}
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkNotice asserts what every Notice leaving this package keeps: a
// valid alert from the expected source, and a text that any sink can
// show. The fuzz targets call it on every success.
func checkNotice(t *testing.T, n Notice, source string) {
	t.Helper()
	if err := message.ValidateAlert(&n.Alert); err != nil {
		t.Fatalf("alert does not validate: %v\n%s", err, render(n))
	}
	if n.Alert.Source != source {
		t.Fatalf("source %q, want %q", n.Alert.Source, source)
	}
	if n.Text == "" {
		t.Fatalf("empty text:\n%s", render(n))
	}
	if !utf8.ValidString(n.Text) {
		t.Fatalf("text is not UTF-8: %q", n.Text)
	}
	if c := utf8.RuneCountInString(n.Text); c > message.MaxTextLen {
		t.Fatalf("text is %d characters, limit %d", c, message.MaxTextLen)
	}
	if strings.ContainsAny(n.Alert.Title, "\n\r") {
		t.Fatalf("title spans lines: %q", n.Alert.Title)
	}
	m := message.Message{From: "x", To: "y", Text: n.Text, Transport: message.TransportAlert, Alert: &n.Alert}
	if err := message.Validate(&m); err != nil {
		t.Fatalf("a message of this notice does not validate: %v", err)
	}
}

// env is a getenv over a map.
func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// wantErr asserts that err is set and mentions every one of the words.
func wantErr(t *testing.T, err error, words ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one mentioning %q", words)
	}
	for _, w := range words {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
}

func TestCut(t *testing.T) {
	for _, tc := range []struct {
		in    string
		limit int
		want  string
	}{
		{"abc", 3, "abc"},
		{"abcd", 3, "ab…"},
		{"ééé", 3, "ééé"},
		{"éééé", 3, "éé…"},
		{"", 3, ""},
		{"abc", 0, ""},
		{"abc", 1, "…"},
	} {
		if got := cut(tc.in, tc.limit); got != tc.want {
			t.Errorf("cut(%q, %d) = %q, want %q", tc.in, tc.limit, got, tc.want)
		}
	}
}

func TestEscapeName(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"/home/ann/eicar.com", "/home/ann/eicar.com"},
		{"/tmp/caf\xe9.exe", `/tmp/caf\xe9.exe`},
		{"/tmp/a\nFile: /etc/passwd", `/tmp/a\x0aFile: /etc/passwd`},
		{"/tmp/\u202etxt.exe", `/tmp/\u202etxt.exe`},
		{`/tmp/a\x41`, `/tmp/a\\x41`},
		{"/tmp/ünïcödé €", "/tmp/ünïcödé €"},
		{"\x1b[31mred", `\x1b[31mred`},
	} {
		if got := escapeName(tc.in); got != tc.want {
			t.Errorf("escapeName(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestKeyHashesWhatDoesNotFit(t *testing.T) {
	short := key("clamav:", "Eicar:/tmp/x")
	if short != "clamav:Eicar:/tmp/x" {
		t.Errorf("short key %q", short)
	}
	a := key("clamav:", strings.Repeat("a", 600))
	b := key("clamav:", strings.Repeat("a", 599)+"b")
	if utf8.RuneCountInString(a) > message.MaxAlertKeyLen || !strings.HasPrefix(a, "clamav:sha256:") {
		t.Errorf("long key %q", a)
	}
	if a == b {
		t.Error("two long keys that differ in their last character are the same key")
	}
	if a != key("clamav:", strings.Repeat("a", 600)) {
		t.Error("the same long key hashed twice differs")
	}
}
