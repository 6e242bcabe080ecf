package interop

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/netsend/messenger/internal/ptytest"
	"github.com/netsend/messenger/internal/utmp"
)

// A user logged in on a (pseudo-)terminal, as utmp records it: her name
// becomes a messenger name, and a message to it is written on her
// terminal — unless she said mesg n.
func TestTerminalSink(t *testing.T) {
	requireRoot(t, "writing to another user's terminal")
	pty, err := ptytest.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer pty.Close()
	utmpFile := filepath.Join(t.TempDir(), "utmp")
	rec := utmp.Append(nil, utmp.Record{Type: utmp.UserProcess, PID: int32(os.Getpid()), Line: pty.Line, User: "alice", Time: time.Now()})
	if err := os.WriteFile(utmpFile, rec, 0o644); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, "", "--utmp", utmpFile, "--user-names=true", "--terminal")
	waitFor(t, 15*time.Second, func() string {
		if out, _ := d.cli("name"); strings.Contains(out, "ALICE") {
			return ""
		}
		return "ALICE is not a messenger name yet"
	})

	pty.Mesg(true)
	smbclientSend(t, d, "alice", "bob", []byte("lunch at noon?\n"))
	got := pty.Read(2 * time.Second)
	if !strings.Contains(got, "Message from bob to alice on ") || !strings.Contains(got, "lunch at noon?") {
		t.Fatalf("alice's terminal shows %q", got)
	}
	pty.Mesg(false)
	smbclientSend(t, d, "alice", "bob", []byte("are you there?\n"))
	if got := pty.Read(time.Second); strings.Contains(got, "are you there?") {
		t.Errorf("written despite mesg n: %q", got)
	}
	if n := len(d.inbox()); n != 2 {
		t.Errorf("inbox holds %d messages, want both (mesg n only spares the terminal)", n)
	}
}
