package policy

import (
	"net/netip"
	"sync/atomic"

	"github.com/netsend/messenger/internal/message"
)

// Holder is the policy in force, replaced whole on reload: a decision
// sees either the old policy or the new one, never a mix, and takes no
// lock to find out which.
type Holder struct {
	p atomic.Pointer[Policy]
}

// NewHolder holds p.
func NewHolder(p *Policy) *Holder {
	h := &Holder{}
	h.p.Store(p)
	return h
}

// Decide judges m with the policy in force.
func (h *Holder) Decide(m *message.Message) Verdict { return h.p.Load().Decide(m) }

// Load returns the policy in force.
func (h *Holder) Load() *Policy { return h.p.Load() }

// Store puts p in force.
func (h *Holder) Store(p *Policy) { h.p.Store(p) }

// AdmitSource asks the policy in force whether transport t takes
// anything from addr at all; see Policy.AdmitSource.
func (h *Holder) AdmitSource(t message.Transport, addr netip.Addr) (rule string, ok bool) {
	return h.p.Load().AdmitSource(t, addr)
}
