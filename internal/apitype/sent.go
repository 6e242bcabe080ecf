package apitype

import "time"

// SentState is where a message sent through the hub stands.
type SentState string

// Sent states. A message only moves forward: queued → sent → delivered →
// read; expired and failed end it.
const (
	// SentQueued waits in the local outbox: the hub has not taken it yet.
	SentQueued SentState = "queued"
	// SentSent is stored in the hub, waiting for the recipient's host.
	SentSent SentState = "sent"
	// SentDelivered: the recipient's daemon stored it (delivered receipt).
	SentDelivered SentState = "delivered"
	// SentRead: the recipient opened it (read receipt).
	SentRead SentState = "read"
	// SentExpired: its expiry passed before the recipient's host took it.
	SentExpired SentState = "expired"
	// SentFailed: refused (by the recipient's policy, or the hub).
	SentFailed SentState = "failed"
)

// Sent is one message this host sent through the hub, with its receipts.
type Sent struct {
	ID      int64     `json:"id"`
	HubID   string    `json:"hub_id"`
	To      string    `json:"to"`   // recipient messenger name
	Host    string    `json:"host"` // the recipient's host, as the registry said
	From    string    `json:"from"` // sender name shown
	Text    string    `json:"text"`
	Created time.Time `json:"created"`
	// Expires is when an undelivered message is dropped; zero is never.
	Expires time.Time `json:"expires,omitzero"`
	State   SentState `json:"state"`
	// Updated is when State last changed.
	Updated time.Time `json:"updated"`
	// Delivered and Read are when those receipts arrived; zero until then.
	Delivered time.Time `json:"delivered,omitzero"`
	Read      time.Time `json:"read,omitzero"`
	Detail    string    `json:"detail,omitempty"`
	// LocalUser is the local account that sent it.
	LocalUser string `json:"local_user,omitempty"`
}
