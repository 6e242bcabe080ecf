// Package popup is the classic sink: each message printed as the Windows
// Messenger service's pop-up showed it, header line, blank line, text.
// Administrative alerts get their own header (source, severity, status)
// and their title above the text, and a message that came through the hub
// names the host the hub verified beside its sender; the other sinks and
// `messenger read` show messages through Header and Block so that every
// place agrees.
package popup

import (
	"bufio"
	"io"
	"strconv"
	"strings"
	"sync"
	"unicode"

	"github.com/netsend/messenger/internal/message"
)

// Sink writes pop-up blocks to a writer, usually the daemon's stdout.
type Sink struct {
	mu sync.Mutex
	w  *bufio.Writer
}

// New returns a sink writing to w.
func New(w io.Writer) *Sink { return &Sink{w: bufio.NewWriter(w)} }

// Name identifies the sink in metrics.
func (s *Sink) Name() string { return "popup" }

// Show prints m. Text from the wire is untrusted: control characters are
// made visible so a message cannot drive the operator's terminal.
func (s *Sink) Show(m message.Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.w.WriteString(Block(m))
	s.w.WriteString("\n\n")
	s.w.Flush()
}

// Header is the pop-up's header line, printable: the classic "Message
// from %1 to %2 on %3" for a message, "Message from %1 (verified HOST)
// to %2 on %3" for one the hub proved HOST sent, and for an alert
// "Alert from SOURCE (SEVERITY[, STATUS]) to %2 on %3", the status
// upper-cased when resolved so that the all-clear stands out.
func Header(m message.Message) string {
	a := m.Alert
	if a == nil {
		if Verified(m) == "" && LocalUser(m) == "" && !mimicsMark(m.From) {
			return Printable(m.Header())
		}
		return Printable("Message from " + Sender(m) + " to " + m.To + " on " + m.Time.Local().Format("1/2/2006 3:04:05 PM"))
	}
	var marks []string
	if a.Severity != "" {
		marks = append(marks, string(a.Severity))
	}
	switch a.Status {
	case "":
	case message.AlertResolved:
		marks = append(marks, "RESOLVED")
	default:
		marks = append(marks, string(a.Status))
	}
	h := "Alert from " + a.Source
	if len(marks) > 0 {
		h += " (" + strings.Join(marks, ", ") + ")"
	}
	h += " to " + m.To + " on " + m.Time.Local().Format("1/2/2006 3:04:05 PM")
	return OneLine(h)
}

// Verified is the host the hub proved sent m, on one line and printable,
// or "" for a message that came any other way: only the hub proves a
// sender, so a Verified field on anything else is ignored.
func Verified(m message.Message) string {
	if m.Transport != message.TransportHub || m.Verified == "" {
		return ""
	}
	return OneLine(m.Verified)
}

// Sender is m's sender as headers and lists show it: the name, then
// "(verified HOST)" when the hub proved the sending host. A name that
// spells the mark itself is quoted. Not yet made printable.
func Sender(m message.Message) string {
	from := m.From
	if mimicsMark(from) {
		from = strconv.Quote(from)
	}
	if host := Verified(m); host != "" {
		from += " (" + VerifiedMark(host) + ")"
	}
	if u := LocalUser(m); u != "" {
		from += " (" + LocalUserMark(u) + ")"
	}
	return from
}

// LocalUser is the local account that sent m through this daemon, on one
// line and printable, or "" for a message from the network: the daemon
// sets it from the caller's credentials, never from what a peer sent.
func LocalUser(m message.Message) string {
	if m.Transport != message.TransportAPI || m.LocalUser == "" {
		return ""
	}
	return OneLine(m.LocalUser)
}

// LocalUserMark is how every sink marks the local account that sent a
// message: "local user LOGIN".
func LocalUserMark(login string) string { return "local user " + login }

// VerifiedMark is how every sink marks a verified sender: "verified HOST".
func VerifiedMark(host string) string { return "verified " + host }

// mimicsMark reports whether a sender name contains what the verified
// mark looks like; such a name is shown quoted, so that no sender can
// make its message read as verified (or as verified by another host).
func mimicsMark(from string) bool {
	low := strings.ToLower(from)
	return strings.Contains(low, "(verified") || strings.Contains(low, "(local user")
}

// Block is the whole pop-up, printable, without a final line break: the
// header, a blank line, an alert's title and a blank line when it has
// one, then the text.
func Block(m message.Message) string {
	var b strings.Builder
	b.WriteString(Header(m))
	b.WriteString("\n\n")
	if m.Alert != nil && m.Alert.Title != "" {
		b.WriteString(OneLine(m.Alert.Title))
		b.WriteString("\n\n")
	}
	b.WriteString(Printable(m.Text))
	return b.String()
}

// OneLine is Printable for what must stay on one line (a header, a
// title): line breaks and tabs become spaces.
func OneLine(s string) string {
	return Printable(strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ", "\t", " ").Replace(s))
}

// Printable replaces control characters other than newline and tab with
// their caret or U+FFFD form.
func Printable(s string) string {
	if strings.IndexFunc(s, isControl) < 0 {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case !isControl(r):
			b.WriteRune(r)
		case r < 0x20:
			b.WriteByte('^')
			b.WriteByte(byte(r) + '@')
		default:
			b.WriteRune('\uFFFD')
		}
	}
	return b.String()
}

func isControl(r rune) bool {
	return r != '\n' && r != '\t' && (unicode.IsControl(r) || r == '\u202e' || r == '\u202d')
}
