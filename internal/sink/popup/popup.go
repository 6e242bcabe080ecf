// Package popup is the classic sink: each message printed as the Windows
// Messenger service's pop-up showed it, header line, blank line, text.
// Administrative alerts get their own header (source, severity, status)
// and their title above the text, and a message that came through the hub
// names the host the hub verified beside its sender; the other sinks and
// `messenger read` show messages through Header and Block so that every
// place agrees. Printable and OneLine are the one rule for showing text a
// sender chose (the web page's app.js applies the same).
package popup

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

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
			return OneLine(m.Header())
		}
		return OneLine("Message from " + Sender(m) + " to " + m.To + " on " + m.Time.Local().Format("1/2/2006 3:04:05 PM") + m.SentNote())
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
// name, a title): every line break — CR, LF, CR LF, NEL, U+2028, U+2029 —
// and tab becomes a space, so that a sender named "a\nFAKE" cannot print
// a forged second header line.
func OneLine(s string) string { return printable(s, true) }

// Printable is the one rule for text shown to people: this sink, the
// terminal and desktop sinks and the CLI go through it, and app.js applies
// the same rule in the web page. Newline and tab stay; other C0 controls
// and DEL become their caret form (^[, ^?), as write(1) shows them; C1
// controls (U+009B is CSI to many terminals), the line and paragraph
// separators and every format character (Unicode category Cf: bidi
// overrides and isolates, zero-width characters, U+061C, the BOM) become
// <U+XXXX>, so that none can drive a terminal, reorder or hide text, yet a
// reader sees that something was there. Bytes that are not UTF-8 become
// U+FFFD.
func Printable(s string) string { return printable(s, false) }

func printable(s string, oneLine bool) string {
	if utf8.ValidString(s) && strings.IndexFunc(s, func(r rune) bool { return hidden(r) || oneLine && lineBreak(r) }) < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i, r := range s {
		switch {
		case oneLine && r == '\n' && i > 0 && s[i-1] == '\r':
			// CR LF is one line break: its CR already became the space.
		case oneLine && lineBreak(r):
			b.WriteByte(' ')
		case !hidden(r):
			b.WriteRune(r) // RuneError for a byte that is not UTF-8
		case r < 0x20 || r == 0x7f:
			b.WriteByte('^')
			b.WriteByte(byte(r) ^ 0x40)
		default:
			fmt.Fprintf(&b, "<U+%04X>", r)
		}
	}
	return b.String()
}

// hidden reports whether r must not reach a reader raw: a control
// character other than newline and tab, a line or paragraph separator, or
// a format character.
func hidden(r rune) bool {
	switch {
	case r == '\n' || r == '\t':
		return false
	case r < 0x20, 0x7f <= r && r <= 0x9f, r == '\u2028', r == '\u2029':
		return true
	}
	return unicode.Is(unicode.Cf, r)
}

// lineBreak reports whether r breaks a line (or, a tab, spreads it) where
// only one line may be.
func lineBreak(r rune) bool {
	switch r {
	case '\r', '\n', '\t', '\u0085', '\u2028', '\u2029':
		return true
	}
	return false
}
