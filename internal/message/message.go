// Package message holds the one type that crosses every boundary of the
// daemon — transports produce it, policy judges it, the store keeps it and
// sinks show it — together with the text conversions and limits every
// transport shares.
package message

import (
	"fmt"
	"time"
)

// Transport names the wire path a message arrived on.
type Transport string

// The transports a Message can come from.
const (
	TransportSMB      Transport = "smb"      // SMB message commands over a NetBIOS session
	TransportMailslot Transport = "mailslot" // \MAILSLOT\MESSNGR datagram
	TransportRPC      Transport = "rpc"      // DCE/RPC NetrSendMessage over UDP
	TransportAPI      Transport = "api"      // the local API
	// TransportHub marks a message that came through the NATS hub from
	// another Messenger daemon; Verified names the host the hub vouched for.
	TransportHub Transport = "hub"
)

// State is where a stored message stands for its reader.
type State string

// Message states.
const (
	StateUnread State = "unread"
	StateRead   State = "read"
	// StateQuarantined is stored but not shown: the policy held it back
	// (Rule says why) until someone releases it.
	StateQuarantined State = "quarantined"
)

// Limits shared by every transport (docs/protocols/limits.md, "Limits by
// field" and "Why every count is hostile").
const (
	// MaxNameLen bounds a sender or recipient name as received. NetBIOS names
	// are 15 bytes, but senders put user names of any length in the From
	// field; anything past this is hostile.
	MaxNameLen = 255
	// MaxTextLen is the most text, in bytes after line-break expansion, that a
	// message may carry. Windows displayed at most 4,095 characters.
	MaxTextLen = 4095
)

// Message is one message, from whichever transport. Text is UTF-8 with
// "\n" line breaks, whatever the wire used.
type Message struct {
	ID        int64     `json:"id"`
	From      string    `json:"from"`
	To        string    `json:"to"`
	Text      string    `json:"text"`
	Time      time.Time `json:"time"`
	Transport Transport `json:"transport"`
	Source    string    `json:"source"` // remote address as host:port
	State     State     `json:"state"`
	// Rule names the policy rule that quarantined the message, if any.
	Rule string `json:"rule,omitempty"`
	// Explanation says what the rule saw: the field, its value and the
	// entry or pattern it matched, as decided at the time.
	Explanation string `json:"explanation,omitempty"`
	// Alert is set on administrative alerts (Transport is TransportAlert)
	// and nil on every other message.
	Alert *Alert `json:"alert,omitempty"`
	// HubID is the id a message that came through the hub was sent
	// under: receipts name it, and a redelivery with the same id is the
	// same message.
	HubID string `json:"hub_id,omitempty"`
	// Verified is the sending host as the hub's permissions prove it
	// (never taken from the message body); empty for every other path.
	Verified string `json:"verified,omitempty"`
	// LocalUser is the local account that sent the message through this
	// daemon (the API's caller), as its peer credentials or token proved
	// it; empty for messages from the network.
	LocalUser string `json:"local_user,omitempty"`
	// SentAt is when the sender's host sent the message, as it says (the
	// hub envelope's time): a message that waited in the hub while this
	// host was offline arrives (Time) long after. Nil where unknown.
	SentAt *time.Time `json:"sent_at,omitempty"`
}

// SentNote is what a header adds for a message that arrived well after
// it was sent (it waited in the hub): " (sent 1/2/2006 3:04:05 PM)", or
// "" when it went straight through or the sending time is unknown.
func (m *Message) SentNote() string {
	if m.SentAt == nil || m.Time.Sub(*m.SentAt) <= sentLate {
		return ""
	}
	return " (sent " + m.SentAt.Local().Format("1/2/2006 3:04:05 PM") + ")"
}

// sentLate is how far the sending time must lie before the arrival for
// the header to show both: clocks differ by seconds, and a message that
// went straight through needs no second time.
const sentLate = time.Minute

// Header is the classic pop-up header line of the Windows Messenger
// service ("Message from %1 to %2 on %3").
func (m *Message) Header() string {
	const layout = "1/2/2006 3:04:05 PM"
	return fmt.Sprintf("Message from %s to %s on %s", m.From, m.To, m.Time.Local().Format(layout)) + m.SentNote()
}
