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
