package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/netsend/messenger/internal/message"
)

func TestListedText(t *testing.T) {
	alert := func(a message.Alert, text string) message.Message {
		return message.Message{ID: 1, From: "HOST1", To: "ALICE", Text: text, Transport: message.TransportAlert, Alert: &a}
	}
	for _, tc := range []struct {
		name string
		m    message.Message
		want string
	}{
		{"ordinary message unchanged", message.Message{Text: "first line\nsecond"}, "first line …"},
		{"info", alert(message.Alert{Source: "cups", Severity: message.SeverityInfo}, "job 12 completed"), "!info cups  job 12 completed"},
		{"warning with title", alert(message.Alert{Source: "ntfy", Severity: message.SeverityWarning, Title: "Backup\nlate"}, "since Monday"),
			"!warning ntfy  Backup late: since Monday"},
		{"critical firing", alert(message.Alert{Source: "nut", Severity: message.SeverityCritical, Status: message.AlertFiring}, "ups1 on battery"),
			"!critical nut  ups1 on battery"},
		{"resolved with title", alert(message.Alert{Source: "alertmanager", Severity: message.SeverityCritical, Status: message.AlertResolved, Title: "DiskFull"}, "db1"),
			"resolved critical alertmanager  DiskFull: db1"},
		{"long text cut, mark kept", alert(message.Alert{Source: "x\x1bsrc", Severity: message.SeverityCritical}, strings.Repeat("a", 80)),
			"!critical x^[src  " + strings.Repeat("a", 49) + "…"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := listedText(tc.m); got != tc.want {
				t.Errorf("listedText = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestWriteTableMarksAlerts(t *testing.T) {
	when := time.Date(2026, 11, 29, 13, 2, 3, 0, time.Local)
	var buf bytes.Buffer
	err := writeTable(&buf, []message.Message{
		{ID: 1, From: "BOB", To: "ALICE", Text: "hello", Time: when, State: message.StateUnread},
		{ID: 2, From: "HOST1", To: "ALICE", Text: "ups1 on battery", Time: when, State: message.StateRead, Transport: message.TransportAlert,
			Alert: &message.Alert{Source: "nut", Severity: message.SeverityCritical}},
	})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(buf.String(), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("table %q", buf.String())
	}
	for i, want := range []string{
		"1 unread 2026-11-29 13:02:03 BOB ALICE hello",
		"2 read 2026-11-29 13:02:03 HOST1 ALICE !critical nut ups1 on battery",
	} {
		if got := strings.Join(strings.Fields(lines[i+1]), " "); got != want {
			t.Errorf("row %d = %q, want %q", i+1, got, want)
		}
	}
}

// The FROM column and `messenger read` name the host the hub verified;
// a Verified field off the hub shows nothing, and a sender name spelling
// the mark is quoted.
func TestVerifiedSenderShown(t *testing.T) {
	when := time.Date(2026, 11, 29, 13, 2, 3, 0, time.Local)
	hub := message.Message{ID: 1, From: "bob", To: "ALICE", Text: "lunch?", Time: when, State: message.StateUnread,
		Transport: message.TransportHub, Source: "hub:HOSTA", HubID: "ab", Verified: "HOSTA"}
	forged := message.Message{ID: 2, From: "mallory", To: "ALICE", Text: "lunch?", Time: when, State: message.StateUnread,
		Transport: message.TransportSMB, Verified: "HOSTA"}
	named := message.Message{ID: 3, From: "eve (verified HOSTA)", To: "ALICE", Text: "lunch?", Time: when, State: message.StateUnread,
		Transport: message.TransportSMB}
	var buf bytes.Buffer
	if err := writeTable(&buf, []message.Message{hub, forged, named}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(buf.String(), "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("table %q", buf.String())
	}
	for i, want := range []string{
		"1 unread 2026-11-29 13:02:03 bob (verified HOSTA) ALICE lunch?",
		"2 unread 2026-11-29 13:02:03 mallory ALICE lunch?",
		`3 unread 2026-11-29 13:02:03 "eve (verified HOSTA)" ALICE lunch?`,
	} {
		if got := strings.Join(strings.Fields(lines[i+1]), " "); got != want {
			t.Errorf("row %d = %q, want %q", i+1, got, want)
		}
	}

	var out bytes.Buffer
	jsonOut := writeJSONLines(&out, []message.Message{hub})
	if jsonOut != nil || !strings.Contains(out.String(), `"hub_id":"ab","verified":"HOSTA"`) {
		t.Errorf("--json wrote %q, %v; want hub_id and verified", out.String(), jsonOut)
	}
}
