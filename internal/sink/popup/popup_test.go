package popup

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/netsend/messenger/internal/message"
)

func TestShow(t *testing.T) {
	var buf bytes.Buffer
	s := New(&buf)
	when := time.Date(2002, 10, 21, 8, 0, 21, 0, time.Local)
	s.Show(message.Message{From: "ALICE", To: "BOB", Text: "line one\nline two\x1b[2J\x07", Time: when})
	want := "Message from ALICE to BOB on 10/21/2002 8:00:21 AM\n\nline one\nline two^[[2J^G\n\n"
	if got := buf.String(); got != want {
		t.Fatalf("Show wrote %q\nwant %q", got, want)
	}
}

func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		"plain":         "plain",
		"tab\tand\nnl":  "tab\tand\nnl",
		"\x00\x7f":      "^@\uFFFD",
		"a\u202eb":      "a\uFFFDb",
		"héllo wörld ☺": "héllo wörld ☺",
	} {
		if got := Printable(in); got != want {
			t.Errorf("Printable(%q) = %q, want %q", in, got, want)
		}
	}
	if strings.ContainsRune(Printable("\x1b"), 0x1b) {
		t.Error("escape survived")
	}
}
