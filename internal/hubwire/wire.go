package hubwire

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/netsend/messenger/internal/message"
)

// Size limits of what travels through the hub, checked before a byte is
// parsed. An envelope's text may be 4,095 characters, and JSON spends up
// to six bytes on one (a control character or U+2028 as \uXXXX), so
// 8 KiB would refuse texts other transports accept; 32 KiB holds the
// longest valid envelope with room for its names and times.
const (
	MaxEnvelopeSize = 32 << 10
	MaxReceiptSize  = 8 << 10
	MaxRecordSize   = 4 << 10
	// MaxDetailLen bounds a receipt's detail in characters, as the store
	// bounds what it keeps of it.
	MaxDetailLen = message.MaxSourceLen
	// minIDLen and maxIDLen bound a message id in hex digits: NewID makes
	// 32; the store keeps up to message.MaxHubIDLen.
	minIDLen = 16
	maxIDLen = message.MaxHubIDLen
)

// ErrMalformed marks a hub payload that breaks the wire format or a limit.
var ErrMalformed = errors.New("malformed hub payload")

func malformed(kind, field, format string, args ...any) error {
	return fmt.Errorf("hub: %s %s: %w: %s", kind, field, ErrMalformed, fmt.Sprintf(format, args...))
}

// NewID returns a fresh message id: a version 7 UUID (a millisecond
// time, then 74 random bits) in 32 lower-case hex digits. It is also the
// message's Nats-Msg-Id, so a publish retried after a lost
// acknowledgement is stored once. Ids that ascend with time go into the
// end of the hub_id indexes of both hosts' stores (sent and messages),
// so the rows of one commit share an index page; random ids put each
// row on a page of its own, one more page written per row.
func NewID() string {
	u, err := uuid.NewV7()
	if err != nil {
		// Only when the system's randomness fails; fall back to it
		// anyway, as uuid.New would.
		u = uuid.New()
	}
	return hex.EncodeToString(u[:])
}

// Envelope is a message on the msg and bcast subjects. The sending host
// is not in it: it is the subject's last token, which the hub's
// permissions tie to the publisher.
type Envelope struct {
	ID string
	// To is the recipient messenger name; "*" for a broadcast.
	To string
	// From is the sender name to show. Nothing proves it.
	From    string
	Text    string
	Sent    time.Time
	Expires time.Time // zero: never
}

// Expired reports whether e's expiry has passed at now.
func (e *Envelope) Expired(now time.Time) bool {
	return !e.Expires.IsZero() && !now.Before(e.Expires)
}

// Validate checks e against the limits every decoder enforces, so that
// nothing is sent that no peer would take.
func (e *Envelope) Validate() error {
	const kind = "envelope"
	if err := checkID(kind, e.ID); err != nil {
		return err
	}
	if err := CheckName(kind, "to", e.To); err != nil {
		return err
	}
	if err := CheckName(kind, "from", e.From); err != nil {
		return err
	}
	if !utf8.ValidString(e.Text) {
		return malformed(kind, "text", "not valid UTF-8")
	}
	if n := utf8.RuneCountInString(e.Text); n > message.MaxTextLen {
		return malformed(kind, "text", "%d characters, limit %d", n, message.MaxTextLen)
	}
	if e.Sent.IsZero() {
		return malformed(kind, "sent", "missing")
	}
	if err := checkYear(kind, "sent", e.Sent); err != nil {
		return err
	}
	if !e.Expires.IsZero() {
		if err := checkYear(kind, "expires", e.Expires); err != nil {
			return err
		}
	}
	return nil
}

type wireEnvelope struct {
	ID      string `json:"id"`
	To      string `json:"to"`
	From    string `json:"from"`
	Text    string `json:"text"`
	Sent    string `json:"sent"`
	Expires string `json:"expires,omitempty"`
}

// EncodeEnvelope returns e as the JSON the msg and bcast subjects carry.
func EncodeEnvelope(e Envelope) ([]byte, error) {
	if err := e.Validate(); err != nil {
		return nil, err
	}
	w := wireEnvelope{ID: e.ID, To: e.To, From: e.From, Text: e.Text, Sent: formatTime(e.Sent)}
	if !e.Expires.IsZero() {
		w.Expires = formatTime(e.Expires)
	}
	return encode("envelope", w, MaxEnvelopeSize)
}

// DecodeEnvelope parses and checks an envelope. Unknown fields are
// ignored, so that a newer peer can add some.
func DecodeEnvelope(b []byte) (Envelope, error) {
	const kind = "envelope"
	var w wireEnvelope
	if err := decode(kind, b, MaxEnvelopeSize, &w); err != nil {
		return Envelope{}, err
	}
	e := Envelope{ID: w.ID, To: w.To, From: w.From, Text: w.Text}
	var err error
	if e.Sent, err = parseTime(kind, "sent", w.Sent); err != nil {
		return Envelope{}, err
	}
	if w.Expires != "" {
		if e.Expires, err = parseTime(kind, "expires", w.Expires); err != nil {
			return Envelope{}, err
		}
	}
	if err := e.Validate(); err != nil {
		return Envelope{}, err
	}
	return e, nil
}

// ReceiptState is what a receipt says happened to a message.
type ReceiptState string

// Receipt states.
const (
	// ReceiptDelivered: the recipient's daemon stored the message.
	ReceiptDelivered ReceiptState = "delivered"
	// ReceiptRead: the recipient opened it.
	ReceiptRead ReceiptState = "read"
	// ReceiptExpired: it reached the recipient's host after its expiry and
	// was dropped.
	ReceiptExpired ReceiptState = "expired"
	// ReceiptRefused: the recipient's policy refused it.
	ReceiptRefused ReceiptState = "refused"
)

// Receipt is what a recipient's host says about a message, on the rcpt
// subjects. Like an envelope it carries no host: the subject proves it.
type Receipt struct {
	ID     string // the message's id
	State  ReceiptState
	To     string // the recipient name the message was addressed to
	At     time.Time
	Detail string // why, for a refusal; may be empty
}

// Validate checks r against the limits DecodeReceipt enforces.
func (r *Receipt) Validate() error {
	const kind = "receipt"
	if err := checkID(kind, r.ID); err != nil {
		return err
	}
	switch r.State {
	case ReceiptDelivered, ReceiptRead, ReceiptExpired, ReceiptRefused:
	default:
		return malformed(kind, "state", "%q is not delivered, read, expired or refused", r.State)
	}
	if err := CheckName(kind, "to", r.To); err != nil {
		return err
	}
	if r.At.IsZero() {
		return malformed(kind, "at", "missing")
	}
	if err := checkYear(kind, "at", r.At); err != nil {
		return err
	}
	if !utf8.ValidString(r.Detail) {
		return malformed(kind, "detail", "not valid UTF-8")
	}
	if n := utf8.RuneCountInString(r.Detail); n > MaxDetailLen {
		return malformed(kind, "detail", "%d characters, limit %d", n, MaxDetailLen)
	}
	return nil
}

type wireReceipt struct {
	ID     string `json:"id"`
	State  string `json:"state"`
	To     string `json:"to"`
	At     string `json:"at"`
	Detail string `json:"detail,omitempty"`
}

// EncodeReceipt returns r as the JSON the rcpt subjects carry.
func EncodeReceipt(r Receipt) ([]byte, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	w := wireReceipt{ID: r.ID, State: string(r.State), To: r.To, At: formatTime(r.At), Detail: r.Detail}
	return encode("receipt", w, MaxReceiptSize)
}

// DecodeReceipt parses and checks a receipt; unknown fields are ignored.
func DecodeReceipt(b []byte) (Receipt, error) {
	const kind = "receipt"
	var w wireReceipt
	if err := decode(kind, b, MaxReceiptSize, &w); err != nil {
		return Receipt{}, err
	}
	r := Receipt{ID: w.ID, State: ReceiptState(w.State), To: w.To, Detail: w.Detail}
	var err error
	if r.At, err = parseTime(kind, "at", w.At); err != nil {
		return Receipt{}, err
	}
	if err := r.Validate(); err != nil {
		return Receipt{}, err
	}
	return r, nil
}

// NameRecord is the value of a key HOST.NAME in the messenger_names
// bucket. The key, which only HOST may write, is what proves where the
// name lives; Host here is for people reading the bucket.
type NameRecord struct {
	Host string
	Name string
}

type wireNameRecord struct {
	Host string `json:"host"`
	Name string `json:"name"`
}

// Validate checks n against the limits DecodeNameRecord enforces.
func (n *NameRecord) Validate() error {
	if err := CheckName("name record", "host", n.Host); err != nil {
		return err
	}
	return CheckName("name record", "name", n.Name)
}

// EncodeNameRecord returns n as the JSON kept in messenger_names.
func EncodeNameRecord(n NameRecord) ([]byte, error) {
	if err := n.Validate(); err != nil {
		return nil, err
	}
	return encode("name record", wireNameRecord(n), MaxRecordSize)
}

// DecodeNameRecord parses and checks a messenger_names value.
func DecodeNameRecord(b []byte) (NameRecord, error) {
	var w wireNameRecord
	if err := decode("name record", b, MaxRecordSize, &w); err != nil {
		return NameRecord{}, err
	}
	n := NameRecord(w)
	if err := n.Validate(); err != nil {
		return NameRecord{}, err
	}
	return n, nil
}

// HostRecord is the value of a key HOST in the messenger_hosts bucket: a
// host's presence, refreshed by its heartbeat.
type HostRecord struct {
	Host   string
	Domain string // workgroup or domain; may be empty
	Online bool   // false once the host stopped cleanly
	// Seen is the writer's clock, kept for older readers; liveness goes
	// by the time the server stored the record, which no host can forge.
	Seen time.Time
}

type wireHostRecord struct {
	Host   string `json:"host"`
	Domain string `json:"domain,omitempty"`
	Online bool   `json:"online"`
	Seen   string `json:"seen"`
}

// Validate checks h against the limits DecodeHostRecord enforces.
func (h *HostRecord) Validate() error {
	const kind = "host record"
	if err := CheckName(kind, "host", h.Host); err != nil {
		return err
	}
	if h.Domain != "" {
		if err := CheckName(kind, "domain", h.Domain); err != nil {
			return err
		}
	}
	if h.Seen.IsZero() {
		return malformed(kind, "seen", "missing")
	}
	return checkYear(kind, "seen", h.Seen)
}

// EncodeHostRecord returns h as the JSON kept in messenger_hosts.
func EncodeHostRecord(h HostRecord) ([]byte, error) {
	if err := h.Validate(); err != nil {
		return nil, err
	}
	w := wireHostRecord{Host: h.Host, Domain: h.Domain, Online: h.Online, Seen: formatTime(h.Seen)}
	return encode("host record", w, MaxRecordSize)
}

// DecodeHostRecord parses and checks a messenger_hosts value.
func DecodeHostRecord(b []byte) (HostRecord, error) {
	const kind = "host record"
	var w wireHostRecord
	if err := decode(kind, b, MaxRecordSize, &w); err != nil {
		return HostRecord{}, err
	}
	h := HostRecord{Host: w.Host, Domain: w.Domain, Online: w.Online}
	var err error
	if h.Seen, err = parseTime(kind, "seen", w.Seen); err != nil {
		return HostRecord{}, err
	}
	if err := h.Validate(); err != nil {
		return HostRecord{}, err
	}
	return h, nil
}

func decode(kind string, b []byte, limit int, v any) error {
	if len(b) > limit {
		return fmt.Errorf("hub: %s: %w: %d bytes, limit %d", kind, ErrMalformed, len(b), limit)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("hub: %s: %w: %w", kind, ErrMalformed, err)
	}
	return nil
}

func encode(kind string, v any, limit int) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	// Texts full of '<' and '&' would otherwise grow sixfold.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("hub: encoding %s: %w", kind, err)
	}
	b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	if len(b) > limit {
		return nil, fmt.Errorf("hub: encoding %s: %w: %d bytes, limit %d", kind, ErrMalformed, len(b), limit)
	}
	return b, nil
}

func checkID(kind, id string) error {
	if len(id) < minIDLen || len(id) > maxIDLen {
		return malformed(kind, "id", "%d characters, want %d to %d hex digits", len(id), minIDLen, maxIDLen)
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return malformed(kind, "id", "%q is not lower-case hex", id)
		}
	}
	return nil
}

// CheckName accepts what a messenger, host or domain name may be: 1 to
// message.MaxNameLen characters of UTF-8 without control characters,
// which no sink should have to defuse. kind and field name what is
// checked in the error, which wraps ErrMalformed.
func CheckName(kind, field, v string) error {
	if why := NameProblem(v); why != "" {
		return malformed(kind, field, "%s", why)
	}
	return nil
}

// NameProblem says what is wrong with a name, or "" when nothing is.
func NameProblem(v string) string {
	if v == "" {
		return "missing"
	}
	if !utf8.ValidString(v) {
		return "not valid UTF-8"
	}
	if n := utf8.RuneCountInString(v); n > message.MaxNameLen {
		return fmt.Sprintf("%d characters, limit %d", n, message.MaxNameLen)
	}
	for _, r := range v {
		if r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0 {
			return fmt.Sprintf("control character %U", r)
		}
	}
	return ""
}

// checkYear keeps times to what RFC 3339 can write, so that whatever is
// valid encodes.
func checkYear(kind, field string, t time.Time) error {
	if y := t.Year(); y < 0 || y > 9999 {
		return malformed(kind, field, "year %d out of range", y)
	}
	return nil
}

func formatTime(t time.Time) string { return t.Format(time.RFC3339Nano) }

func parseTime(kind, field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, malformed(kind, field, "missing")
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, malformed(kind, field, "%q is not an RFC 3339 time", s)
	}
	return t, nil
}
