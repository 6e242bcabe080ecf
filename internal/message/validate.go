package message

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// MaxSourceLen bounds the source address text (host:port of any family).
const MaxSourceLen = 512

// MaxHubIDLen bounds the id a hub message was sent under: hex digits (the
// hub's ids are 128 random bits, 32 digits), with room to grow.
const MaxHubIDLen = 64

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
		if err := checkField(f.name, f.v, f.limit); err != nil {
			return err
		}
	}
	switch m.Transport {
	case TransportSMB, TransportMailslot, TransportRPC, TransportAPI:
		if m.Alert != nil {
			return fmt.Errorf("%w: a %s message cannot carry an alert", ErrInvalid, m.Transport)
		}
	case TransportAlert:
		if m.Alert == nil {
			return fmt.Errorf("%w: an alert message has no alert fields", ErrInvalid)
		}
		if err := ValidateAlert(m.Alert); err != nil {
			return err
		}
	case TransportHub:
		if m.Alert != nil {
			return fmt.Errorf("%w: a hub message cannot carry an alert", ErrInvalid)
		}
		if err := checkHubID(m.HubID); err != nil {
			return err
		}
		if err := checkField("verified sender", m.Verified, MaxNameLen); err != nil {
			return err
		}
	default:
		return fmt.Errorf("%w: unknown transport %q", ErrInvalid, m.Transport)
	}
	// Only the hub proves a sender: a verified mark on anything else
	// would be a forgery the sinks then show as proven.
	if m.Transport != TransportHub && (m.HubID != "" || m.Verified != "") {
		return fmt.Errorf("%w: a %s message cannot carry a hub id or a verified sender", ErrInvalid, m.Transport)
	}
	return nil
}

// checkHubID accepts up to MaxHubIDLen hex digits; the store keys
// redeliveries by it, so nothing else may pass for one.
func checkHubID(id string) error {
	if len(id) > MaxHubIDLen {
		return fmt.Errorf("%w: hub id is %d characters, limit %d", ErrInvalid, len(id), MaxHubIDLen)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return fmt.Errorf("%w: hub id %q is not hex", ErrInvalid, id)
		}
	}
	return nil
}

func checkField(name, v string, limit int) error {
	if !utf8.ValidString(v) {
		return fmt.Errorf("%w: %s is not valid UTF-8", ErrInvalid, name)
	}
	if n := utf8.RuneCountInString(v); n > limit {
		return fmt.Errorf("%w: %s is %d characters, limit %d", ErrInvalid, name, n, limit)
	}
	return nil
}
