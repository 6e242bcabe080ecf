package notice

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/netsend/messenger/internal/message"
)

// MaxBodyLen is the largest request body the HTTP decoders accept. An
// Alertmanager notification with hundreds of alerts stays well below it;
// the ingest listener reads at most this much (plus one byte, to tell a
// body that is exactly this long from one that is longer).
const MaxBodyLen = 1 << 20

// The Source each decoder puts on its alerts.
const (
	SourceAlertmanager = "alertmanager"
	SourceNtfy         = "ntfy"
	SourceGotify       = "gotify"
	SourceNUT          = "nut"
	SourceClamAV       = "clamav"
	SourceSystemd      = "systemd"
)

// ErrTooLarge is returned for a body over MaxBodyLen, so that an HTTP
// listener can answer 413 rather than 400.
var ErrTooLarge = errors.New("body too large")

func checkBodyLen(what string, body []byte) error {
	if len(body) > MaxBodyLen {
		return fmt.Errorf("%s: %w: %d bytes, limit %d", what, ErrTooLarge, len(body), MaxBodyLen)
	}
	return nil
}

// finish is the last step of every decoder: whatever a tool sent, a
// Notice leaves this package valid, so that nothing downstream has to
// reject half of it.
func finish(n Notice) (Notice, error) {
	if err := message.ValidateAlert(&n.Alert); err != nil {
		return Notice{}, fmt.Errorf("%s: %w", n.Alert.Source, err)
	}
	if n.Text == "" {
		return Notice{}, fmt.Errorf("%s: the alert has no text", n.Alert.Source)
	}
	if !utf8.ValidString(n.Text) {
		return Notice{}, fmt.Errorf("%s: the alert text is not valid UTF-8", n.Alert.Source)
	}
	if c := utf8.RuneCountInString(n.Text); c > message.MaxTextLen {
		return Notice{}, fmt.Errorf("%s: the alert text is %d characters, limit %d", n.Alert.Source, c, message.MaxTextLen)
	}
	return n, nil
}

// cut shortens s to at most limit characters, ending in "…" when
// something was cut so that the reader knows.
func cut(s string, limit int) string {
	if limit <= 0 {
		return ""
	}
	if len(s) <= limit { // bytes ≥ runes: certainly short enough
		return s
	}
	n := 0
	for i := range s {
		if n == limit-1 {
			if utf8.RuneCountInString(s[i:]) == 1 {
				return s
			}
			return s[:i] + "…"
		}
		n++
	}
	return s
}

// oneLine turns free text into a title: runs of white space and control
// characters become one space, and the result is cut to
// message.MaxAlertTitleLen. s must be valid UTF-8.
func oneLine(s string) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	return cut(b.String(), message.MaxAlertTitleLen)
}

// normalizeText gives free text "\n" line breaks and no white space
// around it.
func normalizeText(s string) string {
	if strings.IndexByte(s, '\r') >= 0 {
		s = strings.ReplaceAll(s, "\r\n", "\n")
		s = strings.ReplaceAll(s, "\r", "\n")
	}
	return strings.TrimSpace(s)
}

// escapeInvalid writes every byte of s that is not UTF-8 as \xNN and
// leaves the rest alone: for text that a tool meant to be read but took
// from somewhere with another encoding.
func escapeInvalid(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			fmt.Fprintf(&b, `\x%02x`, s[i])
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// escapeName makes a name (a file name, a virus name, a unit name) safe
// to show on one line and unambiguous: bytes that are not UTF-8 become
// \xNN, characters that are not printable (control characters, line
// breaks, bidirectional overrides) become \xNN or \uNNNN, and a backslash
// becomes \\. A Linux file name may hold any byte but "/" and NUL, and a
// name that reorders or breaks the line it is shown on would lie about
// what was found.
func escapeName(s string) string {
	clean := true
	for _, r := range s {
		if r == '\\' || r == utf8.RuneError || !strconv.IsPrint(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	return escapeUnprintable(s, false)
}

// escapeUnprintable writes bytes that are not UTF-8 as \xNN and
// characters that are not printable as \xNN (ASCII) or \uNNNN. A
// backslash becomes \\ so that the escapes stay unambiguous, unless
// keepTabs, which keeps tabs and backslashes as they are.
func escapeUnprintable(s string, keepTabs bool) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\\' && !keepTabs:
			b.WriteString(`\\`)
		case strconv.IsPrint(r) || keepTabs && r == '\t':
			b.WriteString(s[i : i+size])
		case r < utf8.RuneSelf:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
		i += size
	}
	return b.String()
}

// key builds an alert key from a prefix and a part that may be long
// (a file name, an Alertmanager group key). When it does not fit in
// message.MaxAlertKeyLen, the long part is replaced by its SHA-256, so
// that different alerts keep different keys and a repeat keeps its key.
func key(prefix, long string) string {
	k := prefix + long
	if utf8.RuneCountInString(k) <= message.MaxAlertKeyLen {
		return k
	}
	sum := sha256.Sum256([]byte(long))
	return cut(prefix, message.MaxAlertKeyLen-71) + "sha256:" + hex.EncodeToString(sum[:])
}
