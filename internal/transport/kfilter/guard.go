package kfilter

import (
	"net/netip"
	"time"

	"github.com/netsend/messenger/internal/message"
	"github.com/netsend/messenger/internal/policy"
)

// Blocker is where a Guard installs a condemned source: a Filter.
type Blocker interface {
	Block(a netip.Addr, hold time.Duration, now time.Time) bool
}

// Guard is the pipeline's policy with the kernel filter behind it: it
// judges each message with the policy in force, and when a verdict on a
// datagram condemns its source (policy.Verdict.CondemnsSource), installs
// the source in Filter for flood.hold after it goes quiet. The policy
// still judges whatever was queued before the install.
type Guard struct {
	Holder *policy.Holder
	Filter Blocker
}

// Decide judges m; see Guard.
func (g *Guard) Decide(m *message.Message) policy.Verdict {
	p := g.Holder.Load()
	v := p.Decide(m)
	// Only datagrams: a TCP source is refused by other means, and these
	// are the sockets the filter is on.
	if v.CondemnsSource() && (m.Transport == message.TransportMailslot || m.Transport == message.TransportRPC) {
		if ap, err := netip.ParseAddrPort(m.Source); err == nil {
			g.Filter.Block(ap.Addr(), p.FloodHold(), time.Now())
		}
	}
	return v
}
