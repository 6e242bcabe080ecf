package terminal

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/netsend/messenger/internal/message"
	"github.com/netsend/messenger/internal/ptytest"
	"github.com/netsend/messenger/internal/utmp"
)

func TestTerminal(t *testing.T) {
	pty, err := ptytest.Open()
	if err != nil {
		t.Skip(err)
	}
	t.Cleanup(func() { pty.Close() })
	line := pty.Line
	path := filepath.Join(t.TempDir(), "utmp")
	recs := utmp.Append(nil, utmp.Record{Type: utmp.UserProcess, PID: 1, Line: line, User: "alice", Time: time.Unix(1, 0)})
	recs = utmp.Append(recs, utmp.Record{Type: utmp.UserProcess, PID: 2, Line: "pts/99999", User: "bob", Time: time.Unix(1, 0)})
	if err := os.WriteFile(path, recs, 0o644); err != nil {
		t.Fatal(err)
	}
	skipped := map[string]int{}
	s := &Sink{UtmpPath: path, DevDir: "/dev", HostName: "HOST1", Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Skipped: func(r string) { skipped[r]++ }}

	pty.Mesg(true)
	s.Show(message.Message{From: "ADMIN", To: "ALICE", Text: "line one\nevil \x1b[2J\x1b]0;pwned\x07 end", Time: time.Now()})
	got := pty.Read(500 * time.Millisecond)
	if !strings.Contains(got, "Message from ADMIN to ALICE on ") || !strings.Contains(got, "line one") {
		t.Fatalf("terminal got %q", got)
	}
	if strings.Contains(got, "\x1b") {
		t.Errorf("an escape sequence reached the terminal: %q", got)
	}
	// An alert reaches the terminal marked as one.
	s.Show(message.Message{From: "HOST1", To: "ALICE", Text: "ups1 on battery", Time: time.Now(), Transport: message.TransportAlert,
		Alert: &message.Alert{Source: "nut", Severity: message.SeverityCritical, Title: "On battery"}})
	if got := pty.Read(500 * time.Millisecond); !strings.Contains(got, "Alert from nut (critical) to ALICE on ") || !strings.Contains(got, "On battery") || !strings.Contains(got, "ups1 on battery") {
		t.Errorf("terminal got %q for an alert", got)
	}
	// To the host name: every logged-in user; bob's terminal is gone.
	s.Show(message.Message{From: "ADMIN", To: "HOST1", Text: "to everyone", Time: time.Now()})
	if got := pty.Read(500 * time.Millisecond); !strings.Contains(got, "to everyone") {
		t.Errorf("a message to the host did not reach alice: %q", got)
	}
	if skipped["gone"] != 1 {
		t.Errorf("skipped %v; want bob's missing terminal counted once", skipped)
	}
	// Not addressed to alice.
	s.Show(message.Message{From: "ADMIN", To: "CAROL", Text: "not for alice", Time: time.Now()})
	if got := pty.Read(500 * time.Millisecond); strings.Contains(got, "not for alice") {
		t.Errorf("a message for someone else reached alice: %q", got)
	}
	// mesg n.
	pty.Mesg(false)
	s.Show(message.Message{From: "ADMIN", To: "ALICE", Text: "while mesg n", Time: time.Now()})
	if got := pty.Read(500 * time.Millisecond); strings.Contains(got, "while mesg n") {
		t.Errorf("written despite mesg n: %q", got)
	}
	if skipped["mesg_n"] != 1 {
		t.Errorf("skipped %v; want one mesg_n", skipped)
	}
}

func TestFormat(t *testing.T) {
	when := time.Date(2026, 11, 29, 13, 2, 3, 0, time.Local)
	const on = " to ALICE on 11/29/2026 1:02:03 PM\r\n\r\n"
	alert := func(a message.Alert, text string) message.Message {
		return message.Message{From: "HOST1", To: "ALICE", Text: text, Time: when, Transport: message.TransportAlert, Alert: &a}
	}
	for _, tc := range []struct {
		name string
		m    message.Message
		want string
	}{
		{"ordinary message unchanged",
			message.Message{From: "ADMIN", To: "ALICE", Text: "line one\nline two\x1b[2J", Time: when},
			"\r\n\aMessage from ADMIN" + on + "line one\r\nline two^[[2J\r\n"},
		{"info",
			alert(message.Alert{Source: "cups", Severity: message.SeverityInfo}, "job 12 completed"),
			"\r\n\aAlert from cups (info)" + on + "job 12 completed\r\n"},
		{"warning with title",
			alert(message.Alert{Source: "ntfy", Severity: message.SeverityWarning, Title: "Backup late"}, "since Monday"),
			"\r\n\aAlert from ntfy (warning)" + on + "Backup late\r\n\r\nsince Monday\r\n"},
		{"critical firing",
			alert(message.Alert{Source: "nut", Severity: message.SeverityCritical, Status: message.AlertFiring}, "ups1 on battery\nshutdown in 5 min"),
			"\r\n\aAlert from nut (critical, firing)" + on + "ups1 on battery\r\nshutdown in 5 min\r\n"},
		{"resolved with title",
			alert(message.Alert{Source: "alertmanager", Severity: message.SeverityCritical, Status: message.AlertResolved, Title: "Disk\x1b]0;x\afull"}, "db1"),
			"\r\n\aAlert from alertmanager (critical, RESOLVED)" + on + "Disk^[]0;x^Gfull\r\n\r\ndb1\r\n"},
		{"verified sender through the hub",
			message.Message{From: "bob", To: "ALICE", Text: "lunch?", Time: when, Transport: message.TransportHub, HubID: "ab", Verified: "HOSTA"},
			"\r\n\aMessage from bob (verified HOSTA)" + on + "lunch?\r\n"},
		{"no mark off the hub",
			message.Message{From: "bob", To: "ALICE", Text: "lunch?", Time: when, Transport: message.TransportSMB, Verified: "HOSTA"},
			"\r\n\aMessage from bob" + on + "lunch?\r\n"},
		{"a sender's line feed forges no second header",
			message.Message{From: "a\nMessage from ADMIN", To: "ALICE", Text: "hi", Time: when},
			"\r\n\aMessage from a Message from ADMIN" + on + "hi\r\n"},
		{"bidi, invisible and C1 characters are shown escaped",
			message.Message{From: "bob\u202E\u2066", To: "ALICE", Time: when,
				Text: "pay\u202Etxt.exe \u200Bx\uFEFF\u061C \u009b2J\u0085\u2028\x1b[0m\r"},
			"\r\n\aMessage from bob<U+202E><U+2066>" + on +
				"pay<U+202E>txt.exe <U+200B>x<U+FEFF><U+061C> <U+009B>2J<U+0085><U+2028>^[[0m^M\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Format(tc.m); got != tc.want {
				t.Errorf("Format = %q\nwant     %q", got, tc.want)
			}
		})
	}
}
