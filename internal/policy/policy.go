// Package policy decides what happens to each message before it is
// stored: deliver it, hold it in quarantine with the rule that fired, or
// drop it. Every transport's messages pass through the same Decide.
//
// This is the transport-level part of the spam defence: which transports
// may speak, from which networks, and which are quarantined by default.
package policy

import (
	"net/netip"

	"github.com/netsend/messenger/internal/message"
)

// Action is what happens to a message.
type Action int

// Actions.
const (
	Deliver Action = iota
	Quarantine
	Drop
)

func (a Action) String() string {
	switch a {
	case Quarantine:
		return "quarantine"
	case Drop:
		return "drop"
	}
	return "deliver"
}

// Verdict is a decision and the rule that made it.
type Verdict struct {
	Action Action
	Rule   string // empty for the default delivery
}

// TransportRule is what one transport may do.
type TransportRule struct {
	// Allow lists the source networks accepted; nil accepts every source.
	Allow *Networks
	// Quarantine holds every accepted message back until released.
	Quarantine bool
}

// Policy is the set of rules. The zero value delivers everything.
type Policy struct {
	Transports map[message.Transport]TransportRule
}

// Decide judges m. Messages from a source the transport does not accept
// are dropped; quarantined transports hold theirs.
func (p *Policy) Decide(m *message.Message) Verdict {
	rule, ok := p.Transports[m.Transport]
	if !ok {
		return Verdict{Action: Deliver}
	}
	if rule.Allow != nil {
		ap, err := netip.ParseAddrPort(m.Source)
		if err != nil || !rule.Allow.Allows(ap.Addr()) {
			return Verdict{Action: Drop, Rule: string(m.Transport) + ".allow"}
		}
	}
	if rule.Quarantine {
		return Verdict{Action: Quarantine, Rule: string(m.Transport) + ".quarantine"}
	}
	return Verdict{Action: Deliver}
}
