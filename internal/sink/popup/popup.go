// Package popup is the classic sink: each message printed as the Windows
// Messenger service's pop-up showed it, header line, blank line, text.
package popup

import (
	"bufio"
	"io"
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
	s.w.WriteString(Printable(m.Header()))
	s.w.WriteString("\n\n")
	s.w.WriteString(Printable(m.Text))
	s.w.WriteString("\n\n")
	s.w.Flush()
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
