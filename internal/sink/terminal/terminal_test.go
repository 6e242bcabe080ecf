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
