// Package alert is the Alerter service: it routes administrative alerts
// (UPS, print, monitoring, antivirus, failed units) to the names that
// should see them, drops repeats, limits each source's rate and keeps the
// firing/resolved state, then delivers through the same pipeline (local
// names) or sender (other hosts) as every message.
package alert

import (
	"errors"

	"github.com/netsend/messenger/internal/apitype"
	"github.com/netsend/messenger/internal/message"
)

// Request is one alert to raise.
type Request struct {
	Alert message.Alert `json:"alert"`
	// Text is the alert's body, UTF-8 with "\n" line breaks.
	Text string `json:"text"`
	// To, when set, overrides the routing: these names (or alert groups)
	// and no others.
	To []string `json:"to,omitempty"`
	// Origin is where the alert came from: "local" for the CLI and the
	// local API, the peer's host:port for the ingest listener. It becomes
	// the message's Source, which the policy judges.
	Origin string `json:"origin,omitempty"`
	// Caller is who raised the alert: access.Caller.Key() for the API's
	// callers, "ingest:NAME" for a token of the ingest listener. Rate
	// limits and de-duplication are kept per caller, so that one caller
	// can neither use up another's budget nor silence another's alert by
	// raising it first. It is set by whoever authenticated the request,
	// never read from a client's JSON.
	Caller string `json:"-"`
}

// Result says what happened to one alert.
type Result struct {
	// Deliveries has one entry per recipient the alert went to; a
	// delivery with a Code failed.
	Deliveries []apitype.Delivery `json:"deliveries"`
	// Suppressed lists the recipients that were spared a repeat: they
	// were shown the same alert (same key and status) within the
	// de-duplication window.
	Suppressed []string `json:"suppressed,omitempty"`
}

// ErrRateLimited is returned when a caller raised more alerts from one
// source than alert.rate_limit allows; nothing was delivered, and the caller should
// try again later (HTTP 429, a non-zero exit).
var ErrRateLimited = errors.New("alert rate limit exceeded")

// ErrNoRecipient is returned when neither the request nor the routing
// names anyone to tell.
var ErrNoRecipient = errors.New("no route sends this alert to anyone")
