// Package notice decodes the shapes in which other tools report events —
// Alertmanager's webhook, ntfy's and Gotify's publish requests, the
// environment NUT's upsmon, clamd and systemd give their hooks — into
// alerts. It is pure: bytes, headers and environment in, Notices out; no
// sockets and no delivery.
package notice

import "github.com/netsend/messenger/internal/message"

// Notice is one alert a tool asked for.
type Notice struct {
	Alert message.Alert
	// Text is the body, UTF-8 with "\n" line breaks, never empty.
	Text string
	// To names the recipient when the shape carries one (an ntfy topic);
	// empty leaves it to the routing.
	To string
}
