package terminal

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/netsend/messenger/internal/message"
	"github.com/netsend/messenger/internal/utmp"
)

// openPTY opens a pseudo-terminal pair and returns the master and the
// slave's name under /dev (e.g. "pts/7").
func openPTY(t *testing.T) (*os.File, string) {
	t.Helper()
	// Non-blocking, so that the runtime poller serves it and read
	// deadlines work.
	fd, err := syscall.Open("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	master := os.NewFile(uintptr(fd), "/dev/ptmx")
	t.Cleanup(func() { master.Close() })
	var unlock int32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, master.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); e != 0 {
		t.Fatalf("unlocking the pty: %v", e)
	}
	var n uint32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, master.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); e != 0 {
		t.Fatalf("pty number: %v", e)
	}
	line := "pts/" + itoa(int(n))
	// The slave must be open for the master to read what is written to it.
	slave, err := os.OpenFile("/dev/"+line, os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { slave.Close() })
	return master, line
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

func readAvailable(t *testing.T, f *os.File) string {
	t.Helper()
	f.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	var out []byte
	buf := make([]byte, 4096)
	for {
		n, err := f.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			return string(out)
		}
	}
}

func TestTerminal(t *testing.T) {
	master, line := openPTY(t)
	path := filepath.Join(t.TempDir(), "utmp")
	recs := utmp.Append(nil, utmp.Record{Type: utmp.UserProcess, PID: 1, Line: line, User: "alice", Time: time.Unix(1, 0)})
	recs = utmp.Append(recs, utmp.Record{Type: utmp.UserProcess, PID: 2, Line: "pts/99999", User: "bob", Time: time.Unix(1, 0)})
	if err := os.WriteFile(path, recs, 0o644); err != nil {
		t.Fatal(err)
	}
	skipped := map[string]int{}
	s := &Sink{UtmpPath: path, DevDir: "/dev", HostName: "HOST1", Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Skipped: func(r string) { skipped[r]++ }}

	os.Chmod("/dev/"+line, 0o620) // mesg y
	s.Show(message.Message{From: "ADMIN", To: "ALICE", Text: "line one\nevil \x1b[2J\x1b]0;pwned\x07 end", Time: time.Now()})
	got := readAvailable(t, master)
	if !strings.Contains(got, "Message from ADMIN to ALICE on ") || !strings.Contains(got, "line one") {
		t.Fatalf("terminal got %q", got)
	}
	if strings.Contains(got, "\x1b") {
		t.Errorf("an escape sequence reached the terminal: %q", got)
	}
	// To the host name: every logged-in user; bob's terminal is gone.
	s.Show(message.Message{From: "ADMIN", To: "HOST1", Text: "to everyone", Time: time.Now()})
	if got := readAvailable(t, master); !strings.Contains(got, "to everyone") {
		t.Errorf("a message to the host did not reach alice: %q", got)
	}
	if skipped["gone"] != 1 {
		t.Errorf("skipped %v; want bob's missing terminal counted once", skipped)
	}
	// Not addressed to alice.
	s.Show(message.Message{From: "ADMIN", To: "CAROL", Text: "not for alice", Time: time.Now()})
	if got := readAvailable(t, master); strings.Contains(got, "not for alice") {
		t.Errorf("a message for someone else reached alice: %q", got)
	}
	// mesg n.
	os.Chmod("/dev/"+line, 0o600)
	s.Show(message.Message{From: "ADMIN", To: "ALICE", Text: "while mesg n", Time: time.Now()})
	if got := readAvailable(t, master); strings.Contains(got, "while mesg n") {
		t.Errorf("written despite mesg n: %q", got)
	}
	if skipped["mesg_n"] != 1 {
		t.Errorf("skipped %v; want one mesg_n", skipped)
	}
}
