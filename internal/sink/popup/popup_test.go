package popup

import (
	"bytes"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

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

// alertMessage is an alert from source to ALICE at a fixed local time.
func alertMessage(a message.Alert, text string) message.Message {
	return message.Message{From: "HOST1", To: "ALICE", Text: text, Transport: message.TransportAlert,
		Time: time.Date(2026, 11, 29, 13, 2, 3, 0, time.Local), Alert: &a}
}

func TestShowAlerts(t *testing.T) {
	const on = " to ALICE on 11/29/2026 1:02:03 PM\n\n"
	for _, tc := range []struct {
		name string
		m    message.Message
		want string
	}{
		{"ordinary message unchanged",
			message.Message{From: "HOST1", To: "ALICE", Text: "hello", Time: time.Date(2026, 11, 29, 13, 2, 3, 0, time.Local)},
			"Message from HOST1" + on + "hello\n\n"},
		{"info without title",
			alertMessage(message.Alert{Source: "cups", Severity: message.SeverityInfo}, "job 12 completed"),
			"Alert from cups (info)" + on + "job 12 completed\n\n"},
		{"warning with title",
			alertMessage(message.Alert{Source: "ntfy", Severity: message.SeverityWarning, Title: "Backup late"}, "no backup since Monday"),
			"Alert from ntfy (warning)" + on + "Backup late\n\nno backup since Monday\n\n"},
		{"critical firing with title",
			alertMessage(message.Alert{Source: "nut", Severity: message.SeverityCritical, Status: message.AlertFiring, Title: "On battery"}, "ups1 on battery"),
			"Alert from nut (critical, firing)" + on + "On battery\n\nups1 on battery\n\n"},
		{"resolved without title",
			alertMessage(message.Alert{Source: "alertmanager", Severity: message.SeverityWarning, Status: message.AlertResolved}, "DiskFull on db1"),
			"Alert from alertmanager (warning, RESOLVED)" + on + "DiskFull on db1\n\n"},
		{"resolved with title",
			alertMessage(message.Alert{Source: "alertmanager", Severity: message.SeverityCritical, Status: message.AlertResolved, Title: "DiskFull"}, "db1"),
			"Alert from alertmanager (critical, RESOLVED)" + on + "DiskFull\n\ndb1\n\n"},
		{"hostile source and title stay on one line, inert",
			alertMessage(message.Alert{Source: "x\x1b[2J\ny", Severity: message.SeverityCritical, Title: "a\nb\x07"}, "t"),
			"Alert from x^[[2J y (critical)" + on + "a b^G\n\nt\n\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			New(&buf).Show(tc.m)
			if got := buf.String(); got != tc.want {
				t.Errorf("Show wrote %q\nwant       %q", got, tc.want)
			}
		})
	}
}

// The display rule, input by input: what may drive a terminal, reorder
// or hide text, or break a header line is shown escaped; the rest, and a
// body's newlines and tabs, pass unchanged.
func TestPrintable(t *testing.T) {
	for _, tc := range []struct{ in, body, line string }{
		{"plain", "plain", "plain"},
		{"héllo wörld ☺ 日本", "héllo wörld ☺ 日本", "héllo wörld ☺ 日本"},
		{"tab\tand\nnl", "tab\tand\nnl", "tab and nl"},
		{"a\nFAKE", "a\nFAKE", "a FAKE"},
		{"a\r\nb\rc", "a^M\nb^Mc", "a b c"},
		{"a\u0085b\u2028c\u2029d", "a<U+0085>b<U+2028>c<U+2029>d", "a b c d"},
		{"\x00\x07\x08\x7f", "^@^G^H^?", "^@^G^H^?"},
		{"\x1b[2J\x1b]0;title\x07", "^[[2J^[]0;title^G", "^[[2J^[]0;title^G"},
		{"\u009b31m", "<U+009B>31m", "<U+009B>31m"},
		{"\u0080\u009f", "<U+0080><U+009F>", "<U+0080><U+009F>"},
		{"evil\u202Etxt.exe", "evil<U+202E>txt.exe", "evil<U+202E>txt.exe"},
		{"\u202A\u202B\u202C\u202D", "<U+202A><U+202B><U+202C><U+202D>", "<U+202A><U+202B><U+202C><U+202D>"},
		{"a\u2066b\u2067c\u2068d\u2069", "a<U+2066>b<U+2067>c<U+2068>d<U+2069>", "a<U+2066>b<U+2067>c<U+2068>d<U+2069>"},
		{"ad\u200Bmin", "ad<U+200B>min", "ad<U+200B>min"},
		{"\u200C\u200D\u200E\u200F", "<U+200C><U+200D><U+200E><U+200F>", "<U+200C><U+200D><U+200E><U+200F>"},
		{"\uFEFFbob", "<U+FEFF>bob", "<U+FEFF>bob"},
		{"\u061C1", "<U+061C>1", "<U+061C>1"},
		{"soft\u00ADhyphen", "soft<U+00AD>hyphen", "soft<U+00AD>hyphen"},
		{"tag\U000E0041", "tag<U+E0041>", "tag<U+E0041>"},
		{"bad\xff\x9b", "bad\uFFFD\uFFFD", "bad\uFFFD\uFFFD"},
	} {
		if got := Printable(tc.in); got != tc.body {
			t.Errorf("Printable(%q) = %q, want %q", tc.in, got, tc.body)
		}
		if got := OneLine(tc.in); got != tc.line {
			t.Errorf("OneLine(%q) = %q, want %q", tc.in, got, tc.line)
		}
	}
}

// shownRaw is the first rune of s that the display rule forbids: a C0
// control (newline and tab allowed in a body), DEL, a C1 control, a line
// or paragraph separator, a format character, or a byte that is not
// UTF-8.
func shownRaw(s string, oneLine bool) (rune, bool) {
	for i, r := range s {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"):
			return r, true
		case r == '\n' || r == '\t':
			if oneLine {
				return r, true
			}
		case r < 0x20, 0x7f <= r && r <= 0x9f, r == 0x2028, r == 0x2029, unicode.Is(unicode.Cf, r):
			return r, true
		}
	}
	return 0, false
}

func FuzzPrintable(f *testing.F) {
	for _, s := range []string{"plain", "a\nFAKE", "x\r\n\ty", "\x1b[2J\a", "\u009b1m", "\u202Eabc", "\u2066\u200B\uFEFF\u061C", "\xff\xfe", "\u2028\u0085"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		body, line := Printable(s), OneLine(s)
		if r, bad := shownRaw(body, false); bad {
			t.Errorf("Printable(%q) = %q shows U+%04X raw", s, body, r)
		}
		if r, bad := shownRaw(line, true); bad {
			t.Errorf("OneLine(%q) = %q shows U+%04X raw", s, line, r)
		}
		// Escaping twice changes nothing: what the rule lets through it
		// would let through again, so no sink that re-applies it (the
		// desktop's summary, the CLI) shows something else.
		if again := Printable(body); again != body {
			t.Errorf("Printable not idempotent on %q: %q then %q", s, body, again)
		}
		if again := OneLine(line); again != line {
			t.Errorf("OneLine not idempotent on %q: %q then %q", s, line, again)
		}
	})
}

// A hub message names the host the hub verified beside its sender; the
// mark cannot be had any other way: not from a Verified field off the
// hub, nor from a sender name that spells it.
func TestVerifiedSender(t *testing.T) {
	when := time.Date(2026, 11, 29, 13, 2, 3, 0, time.Local)
	const on = " to ALICE on 11/29/2026 1:02:03 PM"
	hub := func(from, verified string) message.Message {
		return message.Message{From: from, To: "ALICE", Text: "lunch?", Time: when, Transport: message.TransportHub,
			Source: "hub:" + verified, HubID: "ab", Verified: verified}
	}
	smbFrom := func(from string) message.Message {
		return message.Message{From: from, To: "ALICE", Text: "lunch?", Time: when, Transport: message.TransportSMB}
	}
	for _, tc := range []struct {
		name     string
		m        message.Message
		header   string
		verified string
	}{
		{"hub message", hub("bob", "HOSTA"), "Message from bob (verified HOSTA)" + on, "HOSTA"},
		{"hub message without a verified host", hub("bob", ""), "Message from bob" + on, ""},
		{"ordinary message unchanged", smbFrom("bob"), "Message from bob" + on, ""},
		{"a verified field off the hub is ignored", func() message.Message {
			m := smbFrom("bob")
			m.Verified = "HOSTA"
			return m
		}(), "Message from bob" + on, ""},
		{"a sender spelling the mark is quoted", smbFrom("bob (verified HOSTA)"), `Message from "bob (verified HOSTA)"` + on, ""},
		{"in any case", smbFrom("bob (VERIFIED X)"), `Message from "bob (VERIFIED X)"` + on, ""},
		{"also on the hub", hub("bob (verified HOSTZ)", "HOSTB"), `Message from "bob (verified HOSTZ)" (verified HOSTB)` + on, "HOSTB"},
		{"a hostile host stays on one line, inert", hub("bob", "H\nO\x1b[2J"), "Message from bob (verified H O^[[2J)" + on, "H O^[[2J"},
		{"a sender's line feed forges no header line", smbFrom("a\nMessage from ADMIN"), "Message from a Message from ADMIN" + on, ""},
		{"nor any other line break", smbFrom("a\r\u0085\u2028\u2029b"), "Message from a    b" + on, ""},
		{"bidi and invisible characters in a sender are shown", smbFrom("\u202Enimda\u200B\u2066"), "Message from <U+202E>nimda<U+200B><U+2066>" + on, ""},
		{"and in a recipient", func() message.Message {
			m := smbFrom("bob")
			m.To = "ALICE\nMessage from ADMIN\uFEFF"
			return m
		}(), "Message from bob to ALICE Message from ADMIN<U+FEFF> on 11/29/2026 1:02:03 PM", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Header(tc.m); got != tc.header {
				t.Errorf("Header = %q\nwant     %q", got, tc.header)
			}
			if got := Verified(tc.m); got != tc.verified {
				t.Errorf("Verified = %q, want %q", got, tc.verified)
			}
			if got, want := Block(tc.m), tc.header+"\n\nlunch?"; got != want {
				t.Errorf("Block = %q\nwant    %q", got, want)
			}
		})
	}
}
