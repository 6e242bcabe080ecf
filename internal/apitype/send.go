package apitype

import "time"

// Codes name what went wrong, for scripts and for exit statuses.
const (
	CodeBadRequest   = "bad_request"
	CodeTooLong      = "too_long"
	CodeUnencodable  = "unencodable"
	CodeNameNotFound = "name_not_found"
	CodeNotAccepting = "not_accepting"
	CodeTimeout      = "timeout"
	CodeNetwork      = "network_error"
	CodeNotAvailable = "not_available"
)

// SendError is a send request refused as a whole (bad text, bad name):
// a code and the sentence net send would print.
type SendError struct {
	Code string
	Msg  string
	Err  error
}

func (e *SendError) Error() string {
	if e.Err != nil {
		return e.Msg + " (" + e.Err.Error() + ")"
	}
	return e.Msg
}

func (e *SendError) Unwrap() error { return e.Err }

// SendRequest is one net send.
type SendRequest struct {
	To      string `json:"to,omitempty"`      // a name, or "*" for everyone in our workgroup
	Domain  string `json:"domain,omitempty"`  // every messenger name of this workgroup or domain
	Users   bool   `json:"users,omitempty"`   // every user with a session on this host
	Text    string `json:"text"`              // UTF-8, "\n" line breaks
	From    string `json:"from,omitempty"`    // sender name shown; default our host name
	Address string `json:"address,omitempty"` // HOST[:PORT]: skip name resolution
	Source  string `json:"source,omitempty"`  // local IP address to send from
	Via     string `json:"via,omitempty"`     // "" (hub if it knows the name, else session, then the fallback), "hub", "smb" or "rpc"
	// Wait, for a hub delivery, blocks until the recipient stored the
	// message or this long has passed (msg /W).
	Wait time.Duration `json:"wait,omitempty"`
	// Expires drops a hub message its recipient's host has not taken
	// within this long (msg /TIME); zero keeps it until the hub's limit.
	Expires time.Duration `json:"expires,omitempty"`
	// LocalUser is the local account asking, set by the API from the
	// caller and never taken from a request body.
	LocalUser string `json:"-"`
}

// Delivery is the outcome for one recipient.
type Delivery struct {
	To    string `json:"to"`
	Via   string `json:"via"`            // smb, rpc, mailslot, local, hub
	Addr  string `json:"addr,omitempty"` // for the hub: the recipient's host
	Code  string `json:"code,omitempty"` // empty on success
	Error string `json:"error,omitempty"`
	// ID, State and Online are the hub's: the id receipts name, queued,
	// sent, delivered or read, and whether the recipient's host is online.
	ID     string    `json:"id,omitempty"`
	State  SentState `json:"state,omitempty"`
	Online bool      `json:"online,omitempty"`
}

// OK reports whether the recipient got the message (or, for a broadcast,
// whether it went out).
func (d Delivery) OK() bool { return d.Code == "" }
