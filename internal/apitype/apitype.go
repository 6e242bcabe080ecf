// Package apitype holds the types both sides of the daemon's API use: the
// send request and its outcomes, the outbox's rows and their states, and
// the wire types of the HTTP API. The CLI, the desktop agent and the
// alert front ends import it instead of the daemon's internals (store,
// sender), as Tailscale's client/tailscale/apitype does.
package apitype
