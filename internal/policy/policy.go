// Package policy decides what happens to each message before it is
// stored: deliver it, hold it in quarantine with the rule that fired, or
// drop it. Every transport's messages pass through the same Decide.
//
// The rules are tried in one fixed order, and the first that applies
// decides:
//
//  1. the transport is switched off: drop (TRANSPORT.disabled);
//  2. the source is not in the transport's networks: drop (TRANSPORT.allow);
//  3. the sender or source is trusted, or the message came through the
//     hub from a host it verified and that host is trusted ("hub:HOST"
//     in the list, or trust_verified for every verified host that
//     block_senders does not name): deliver (trust, trust_verified) — but
//     a transport that quarantines everything (RPC, whose source is
//     forged at will) still quarantines;
//  4. the sender or source is blocked: drop (block_senders);
//  5. a rate limit is exceeded: quarantine (rate.per_source,
//     rate.per_sender, rate.global);
//  6. the [[policy.rule]] tables, in order: their action (their name);
//  7. the text is part of a spam run: quarantine (spam_run);
//  8. allow_senders is set and the sender is not in it: quarantine;
//  9. the transport quarantines everything: quarantine (TRANSPORT.quarantine);
//  10. deliver.
//
// In flood mode every quarantine of steps 5 to 9 becomes a drop (flood),
// so that a flood costs no disk.
//
// A hub message's source is "hub:HOST", not an address, so network
// entries and per-source limits never apply to it; its Verified host,
// which the hub's permissions proved, is matched by "hub:HOST" entries of
// trust, block_senders and allow_senders. Its sender name is the display
// name the sending host chose and proves nothing, as on every other
// transport.
package policy

import (
	"net/netip"
	"regexp"
	"time"

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

// ParseAction reads "deliver", "quarantine" or "drop".
func ParseAction(s string) (Action, bool) {
	switch s {
	case "deliver":
		return Deliver, true
	case "quarantine":
		return Quarantine, true
	case "drop":
		return Drop, true
	}
	return Deliver, false
}

// Verdict is a decision, the rule that made it, and what matched: Field
// of the message had Value, which matched Match (an entry, a pattern, a
// limit). The strings point into the message and the compiled policy, so
// a verdict costs no allocation.
type Verdict struct {
	Action Action
	Rule   string // empty for the default delivery
	Field  string
	Value  string
	Match  string
}

// Explain says in one line why the verdict was reached.
func (v Verdict) Explain() string {
	if v.Rule == "" {
		return "no rule applied"
	}
	s := "rule " + v.Rule + " (" + v.Action.String() + ")"
	if v.Field != "" {
		s += ": " + v.Field + " " + quote(v.Value)
		if v.Match != "" {
			s += " matched " + quote(v.Match)
		}
	} else if v.Match != "" {
		s += ": " + v.Match
	}
	return s
}

func quote(s string) string {
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return `"` + s + `"`
}

// TransportRule is what one transport may do.
type TransportRule struct {
	// Disabled drops everything the transport brings.
	Disabled bool
	// Allow lists the source networks accepted; nil accepts every source.
	Allow *Networks
	// Quarantine holds every accepted message back until released.
	Quarantine bool
}

// Policy is the set of rules, compiled. The zero value delivers
// everything; Compile makes the rest.
type Policy struct {
	Transports map[message.Transport]TransportRule

	trust, block, allowSenders *subjects
	rules                      []rule
	rates                      *rates
	runs                       *spamRuns
	spec                       Spec
	now                        func() time.Time
}

// rule is one compiled [[policy.rule]].
type rule struct {
	name                         string
	action                       Action
	sender, recipient, text, url *regexp.Regexp
	sources                      *Networks
	transports                   []message.Transport
}

// AdmitSource applies rules 1 and 2 of Decide to a source address alone:
// whether transport t is on and addr is in its networks. A listener asks
// it before it reads a byte, so that an outsider costs no session and
// hears nothing, not even a reject or a fault (an answer to a forged
// address is a reflection); the rule that refused is returned for
// counting. A hub source is never an address, so it is always admitted.
func (p *Policy) AdmitSource(t message.Transport, addr netip.Addr) (rule string, ok bool) {
	r, has := p.Transports[t]
	switch {
	case !has:
		return "", true
	case r.Disabled:
		return string(t) + ".disabled", false
	case r.Allow != nil && !r.Allow.Allows(addr):
		return string(t) + ".allow", false
	}
	return "", true
}

// Decide judges m. It is safe for concurrent use and allocates nothing
// once its tables are warm.
func (p *Policy) Decide(m *message.Message) Verdict {
	t, hasT := p.Transports[m.Transport]
	// A hub message's source is "hub:HOST", never an address; not parsing
	// it spares the error's allocation.
	var addr netip.Addr
	hasAddr := false
	if m.Transport != message.TransportHub {
		ap, err := netip.ParseAddrPort(m.Source)
		addr, hasAddr = ap.Addr().Unmap(), err == nil
	}
	if hasT {
		if t.Disabled {
			return Verdict{Action: Drop, Rule: string(m.Transport) + ".disabled", Field: "transport", Value: string(m.Transport)}
		}
		if t.Allow != nil {
			if !hasAddr {
				return Verdict{Action: Drop, Rule: string(m.Transport) + ".allow", Field: "source", Value: m.Source}
			}
			if _, ok := t.Allow.Match(addr); !ok {
				return Verdict{Action: Drop, Rule: string(m.Transport) + ".allow", Field: "source", Value: m.Source}
			}
		}
	}
	if p.trust != nil {
		if field, value, entry, ok := p.trust.match(m, addr, hasAddr); ok {
			if hasT && t.Quarantine {
				return Verdict{Action: Quarantine, Rule: string(m.Transport) + ".quarantine", Field: "transport", Value: string(m.Transport)}
			}
			return Verdict{Action: Deliver, Rule: "trust", Field: field, Value: value, Match: entry}
		}
	}
	if p.spec.TrustVerified && m.Transport == message.TransportHub && m.Verified != "" && !p.blocked(m, addr, hasAddr) {
		if hasT && t.Quarantine {
			return Verdict{Action: Quarantine, Rule: string(m.Transport) + ".quarantine", Field: "transport", Value: string(m.Transport)}
		}
		return Verdict{Action: Deliver, Rule: "trust_verified", Field: "verified", Value: m.Verified}
	}
	if p.block != nil {
		if field, value, entry, ok := p.block.match(m, addr, hasAddr); ok {
			return Verdict{Action: Drop, Rule: "block_senders", Field: field, Value: value, Match: entry}
		}
	}
	var now int64
	if p.rates != nil || p.runs != nil {
		now = p.now().UnixNano()
	}
	if v, ok := p.rateLimit(m, addr, hasAddr, now); ok {
		return p.hold(v, now)
	}
	for i := range p.rules {
		r := &p.rules[i]
		if v, ok := r.match(m, addr, hasAddr); ok {
			if v.Action == Quarantine {
				return p.hold(v, now)
			}
			return v
		}
	}
	if p.runs != nil && hasAddr {
		if which, _ := p.runs.observe(m.Text, m.To, addr, now); which != "" {
			return p.hold(Verdict{Action: Quarantine, Rule: "spam_run", Field: "text", Value: m.Text, Match: p.runs.desc}, now)
		}
	}
	if p.allowSenders != nil {
		if _, _, _, ok := p.allowSenders.match(m, addr, hasAddr); !ok {
			return p.hold(Verdict{Action: Quarantine, Rule: "allow_senders", Field: "sender", Value: m.From, Match: "not listed"}, now)
		}
	}
	if hasT && t.Quarantine {
		return p.hold(Verdict{Action: Quarantine, Rule: string(m.Transport) + ".quarantine", Field: "transport", Value: string(m.Transport)}, now)
	}
	return Verdict{Action: Deliver}
}

// blocked reports whether m is in block_senders: a blanket trust
// (trust_verified) must not overrule an entry that names a sender.
func (p *Policy) blocked(m *message.Message, addr netip.Addr, hasAddr bool) bool {
	if p.block == nil {
		return false
	}
	_, _, _, ok := p.block.match(m, addr, hasAddr)
	return ok
}

// hold turns a quarantine into a drop in flood mode.
func (p *Policy) hold(v Verdict, now int64) Verdict {
	if p.rates != nil && p.rates.flooding(now) {
		return Verdict{Action: Drop, Rule: "flood", Field: v.Field, Value: v.Value, Match: v.Rule}
	}
	return v
}

func (p *Policy) rateLimit(m *message.Message, addr netip.Addr, hasAddr bool, now int64) (Verdict, bool) {
	r := p.rates
	if r == nil {
		return Verdict{}, false
	}
	var v Verdict
	switch {
	case r.source.limiter != nil && hasAddr && !r.source.allow(r.source.t.hashAddr(addr), addr, now):
		v = Verdict{Action: Quarantine, Rule: "rate.per_source", Field: "source", Value: m.Source, Match: r.source.desc}
	case r.sender.limiter != nil && !r.sender.allow(r.sender.t.hashString(m.From), m.From, now):
		v = Verdict{Action: Quarantine, Rule: "rate.per_sender", Field: "sender", Value: m.From, Match: r.sender.desc}
	case r.global != nil && !r.global.allow(now):
		v = Verdict{Action: Quarantine, Rule: "rate.global", Match: r.global.desc}
	default:
		return Verdict{}, false
	}
	r.overLimit(now)
	return v, true
}

func (r *rule) match(m *message.Message, addr netip.Addr, hasAddr bool) (Verdict, bool) {
	v := Verdict{Action: r.action, Rule: r.name}
	// Each condition that holds overwrites the explanation, so the last
	// one checked, the content, is the one shown when there is content.
	if len(r.transports) > 0 {
		ok := false
		for _, t := range r.transports {
			ok = ok || t == m.Transport
		}
		if !ok {
			return v, false
		}
		v.Field, v.Value = "transport", string(m.Transport)
	}
	if r.sources != nil {
		if !hasAddr {
			return v, false
		}
		e, ok := r.sources.Match(addr)
		if !ok {
			return v, false
		}
		v.Field, v.Value, v.Match = "source", m.Source, e
	}
	if r.sender != nil {
		if !r.sender.MatchString(m.From) {
			return v, false
		}
		v.Field, v.Value, v.Match = "sender", m.From, r.sender.String()
	}
	if r.recipient != nil {
		if !r.recipient.MatchString(m.To) {
			return v, false
		}
		v.Field, v.Value, v.Match = "recipient", m.To, r.recipient.String()
	}
	if r.text != nil {
		if !r.text.MatchString(m.Text) {
			return v, false
		}
		// Found again only on a match, for the explanation: the index
		// costs an allocation that most messages should not pay.
		loc := r.text.FindStringIndex(m.Text)
		v.Field, v.Value, v.Match = "text", m.Text[loc[0]:loc[1]], r.text.String()
	}
	if r.url != nil {
		u, ok := matchURL(r.url, m.Text)
		if !ok {
			return v, false
		}
		v.Field, v.Value, v.Match = "url", u, r.url.String()
	}
	return v, true
}

// CondemnsSource reports whether v drops m for its source address alone,
// so that everything else from that address may be dropped unseen too
// (internal/transport/kfilter does it in the kernel): the source is over
// its own rate limit in flood mode, or block_senders names its network.
// A drop for anything the message says (its sender, its text, a rule) is
// no verdict on the address, which the next message may share with
// someone else's.
func (v Verdict) CondemnsSource() bool {
	return v.Action == Drop && ((v.Rule == "flood" && v.Match == "rate.per_source") || (v.Rule == "block_senders" && v.Field == "source"))
}

// FloodHold is how long flood mode lasts after the flood stops
// (flood.hold): how long a condemned source stays condemned once it is
// quiet.
func (p *Policy) FloodHold() time.Duration { return p.spec.Flood.Hold.Duration }
