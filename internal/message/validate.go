package message

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// MaxSourceLen bounds the source address text (host:port of any family).
const MaxSourceLen = 512

// ErrInvalid marks a message that breaks a limit; nothing is stored.
var ErrInvalid = errors.New("invalid message")

// Validate checks what a peer controls before a message goes further.
// Limits count characters, not bytes: 4,095 accented characters are as
// displayable as 4,095 ASCII ones.
func Validate(m *Message) error {
	for _, f := range []struct {
		name, v string
		limit   int
	}{
		{"sender", m.From, MaxNameLen},
		{"recipient", m.To, MaxNameLen},
		{"text", m.Text, MaxTextLen},
		{"source", m.Source, MaxSourceLen},
		{"rule", m.Rule, MaxSourceLen},
	} {
		if !utf8.ValidString(f.v) {
			return fmt.Errorf("%w: %s is not valid UTF-8", ErrInvalid, f.name)
		}
		if n := utf8.RuneCountInString(f.v); n > f.limit {
			return fmt.Errorf("%w: %s is %d characters, limit %d", ErrInvalid, f.name, n, f.limit)
		}
	}
	switch m.Transport {
	case TransportSMB, TransportMailslot, TransportRPC, TransportAPI:
	default:
		return fmt.Errorf("%w: unknown transport %q", ErrInvalid, m.Transport)
	}
	return nil
}
