// Package terminal is the sink that writes a message to the terminals
// where its recipient is logged in, as write(1) and wall(1) do: found
// through utmp, skipped where the user said `mesg n`, and neutralised so
// that a message cannot drive the terminal.
package terminal

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/netsend/messenger/internal/message"
	"github.com/netsend/messenger/internal/sink/popup"
	"github.com/netsend/messenger/internal/utmp"
)

// Sink writes messages to users' terminals.
type Sink struct {
	// UtmpPath is the login records file; utmp.DefaultPath normally.
	UtmpPath string
	// DevDir is where terminal lines live; "/dev" normally.
	DevDir string
	// HostName is this host's messenger name: a message to it reaches
	// every logged-in user, as on a Terminal Server.
	HostName string
	// Skipped counts terminals passed over (mesg n, gone, busy), by reason.
	Skipped func(reason string)
	Log     *slog.Logger
}

// Name identifies the sink in metrics.
func (s *Sink) Name() string { return "terminal" }

// Show writes m to every terminal of its recipient.
func (s *Sink) Show(m message.Message) {
	recs, err := utmp.ReadFile(s.UtmpPath)
	if err != nil {
		s.Log.Warn("terminal: reading logins", slog.Any("err", err))
		return
	}
	block := []byte(Format(m))
	for _, r := range recs {
		if r.Type != utmp.UserProcess || r.User == "" || !s.addressedTo(m.To, r.User) {
			continue
		}
		if err := s.write(r.Line, block); err != nil {
			reason := "error"
			switch {
			case errors.Is(err, errMesgN):
				reason = "mesg_n"
			case errors.Is(err, os.ErrNotExist):
				reason = "gone"
			case errors.Is(err, syscall.EAGAIN):
				reason = "busy"
			}
			if s.Skipped != nil {
				s.Skipped(reason)
			}
			s.Log.Debug("terminal: skipped", slog.String("line", r.Line), slog.String("user", r.User), slog.String("reason", reason))
		}
	}
}

// addressedTo: the recipient is the user (messenger names are the user
// name, upper-cased and cut to 15 bytes) or the host, which means everyone.
func (s *Sink) addressedTo(to, user string) bool {
	to = strings.TrimSpace(to)
	if strings.EqualFold(to, s.HostName) {
		return true
	}
	u := strings.ToUpper(user)
	if len(u) > 15 {
		u = u[:15]
	}
	return strings.EqualFold(to, u)
}

var errMesgN = errors.New("the user does not accept messages (mesg n)")

// write puts block on one terminal line. The line comes from utmp, not
// from the message; it must still name a file under DevDir.
func (s *Sink) write(line string, block []byte) error {
	if line == "" || strings.Contains(line, "..") || strings.HasPrefix(line, "/") {
		return fmt.Errorf("terminal: odd line %q in utmp", line)
	}
	path := filepath.Join(s.DevDir, line)
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	// mesg n clears the group write bit of the terminal (write(1)).
	if fi.Mode().Perm()&0o020 == 0 {
		return errMesgN
	}
	// Non-blocking and without becoming our controlling terminal: a stuck
	// terminal must not stall the sink.
	f, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NOCTTY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.Write(block)
	return err
}

// Format is the pop-up block as a terminal shows it: a bell, the header
// line (an alert's says so, with its source, severity and status), a
// blank line, an alert's title, the text; line breaks as CR LF, control
// characters made visible.
func Format(m message.Message) string {
	return "\r\n\a" + strings.ReplaceAll(popup.Block(m)+"\n", "\n", "\r\n")
}
