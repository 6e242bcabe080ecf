package apitype

import "time"

// The wire types of the daemon's HTTP API (/v1/...): request and answer
// bodies, and the codes of its error answers. Their JSON is the API's;
// internal/api serves and calls it.

// CodeForbidden marks an answer refusing what the caller may not do
// (HTTP 403); the CLI exits with its own status for it.
const CodeForbidden = "forbidden"

// CodeUnauthenticated marks an HTTP request without a usable credential.
const CodeUnauthenticated = "unauthenticated"

// Codes of the answers of POST /v1/alerts besides the sender's.
const (
	CodeNoRecipient = "no_recipient"
	CodeRateLimited = "rate_limited"
	CodeTooLarge    = "too_large"
)

// SendResponse is the body of a successful POST /v1/send: what happened
// for each recipient (a delivery with a code failed).
type SendResponse struct {
	Deliveries []Delivery `json:"deliveries"`
}

// Name is one name of the daemon as the API shows it.
type Name struct {
	Name   string `json:"name"`
	Suffix string `json:"suffix"` // hexadecimal name type, e.g. "03"
	Group  bool   `json:"group"`
	Source string `json:"source"`
	State  string `json:"state"`
	// Owner is the local account an alias belongs to; empty for the
	// host's names.
	Owner string `json:"owner,omitempty"`
}

// Status is what GET /v1/status reports about the running daemon.
type Status struct {
	Version   string     `json:"version"`
	PID       int        `json:"pid"`
	Stored    int64      `json:"stored"`
	Names     []Name     `json:"names"`
	Listeners []Listener `json:"listeners"`
}

// Listener is one open socket of the daemon.
type Listener struct {
	Transport string `json:"transport"`
	Network   string `json:"network"`
	Addr      string `json:"addr"`
}

// Error is the JSON body of every non-2xx answer.
type Error struct {
	Error string `json:"error"`
	Code  string `json:"code,omitempty"`
}

// AddNameRequest is the body of POST /v1/names.
type AddNameRequest struct {
	Name string `json:"name"`
	// User gives the alias to a local account (its login): its messages
	// are that account's. Empty makes a host name.
	User string `json:"user,omitempty"`
}

// TokenInfo is what is shown of a token: never the token itself.
type TokenInfo struct {
	Name     string     `json:"name"`
	User     string     `json:"user"`
	Created  time.Time  `json:"created"`
	LastUsed *time.Time `json:"last_used,omitempty"`
}

// NewTokenRequest is the body of POST /v1/tokens.
type NewTokenRequest struct {
	Name string `json:"name"`
	// User, for admins only, makes the token for another account.
	User string `json:"user,omitempty"`
}

// NewTokenResponse is the answer to POST /v1/tokens; Token is shown this
// once.
type NewTokenResponse struct {
	TokenInfo
	Token string `json:"token"`
}

// SignIn is the answer to POST /v1/web/signin.
type SignIn struct {
	URL     string    `json:"url"`
	Expires time.Time `json:"expires"`
}

// PolicyEntryRequest is the body of POST /v1/spam/block and /v1/spam/trust.
type PolicyEntryRequest struct {
	Value string `json:"value"`
}

// PolicyEntryResponse says what was added, as it is matched.
type PolicyEntryResponse struct {
	List  string `json:"list"`
	Value string `json:"value"`
}

// PolicyEntry is one sender or network of the block or trust list, as
// GET /v1/spam/entries lists them.
type PolicyEntry struct {
	List  string `json:"list"`  // "block" or "trust"
	Value string `json:"value"` // as it is matched
	// Origin is "runtime" for what `messenger spam block|trust` added
	// (kept in the store, removable at run time) or "config" for the
	// configuration file's [policy] (changed only there, then reload).
	Origin string     `json:"origin"`
	Added  *time.Time `json:"added,omitempty"` // runtime entries only
}

// Origins of a PolicyEntry.
const (
	OriginRuntime = "runtime"
	OriginConfig  = "config"
)

// PolicyReloadRequest is the optional body of POST /v1/policy/reload.
type PolicyReloadRequest struct {
	// Config, when set, is the file the caller means: the daemon refuses
	// the reload unless it is the file the daemon itself reads, so that
	// "--config other.toml spam reload" is not silently a reload of
	// something else.
	Config string `json:"config,omitempty"`
}

// PolicyReload is the answer to a reload: the file read and the number
// of rules now in force.
type PolicyReload struct {
	Status string `json:"status"`
	Config string `json:"config"`
	Rules  int    `json:"rules"`
}
