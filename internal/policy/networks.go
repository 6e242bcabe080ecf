package policy

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// localTTL is how long the host's own networks are trusted to stay as
// they were looked up.
const localTTL = time.Minute

// Networks is a set of source networks a rule accepts. "local" stands for
// loopback and the networks of this host's interfaces, looked up afresh
// every minute.
type Networks struct {
	prefixes []netip.Prefix
	descs    []string // prefixes as written, for explanations
	local    bool

	// The host's networks, swapped whole so that a decision reads them
	// without a lock; mu only keeps two refreshes from racing.
	mu     sync.Mutex
	locals atomic.Pointer[localNets]
}

type localNets struct {
	at       time.Time
	prefixes []netip.Prefix
}

// ParseNetworks parses entries: CIDRs, addresses or "local".
func ParseNetworks(entries []string) (*Networks, error) {
	nets := make([]Net, 0, len(entries))
	for _, e := range entries {
		n, err := ParseNet(e)
		if err != nil {
			return nil, fmt.Errorf("network %w", err)
		}
		nets = append(nets, n)
	}
	return NewNetworks(nets), nil
}

// NewNetworks makes a set of nets.
func NewNetworks(nets []Net) *Networks {
	a := &Networks{}
	for _, n := range nets {
		if n.Local {
			a.local = true
			continue
		}
		a.prefixes = append(a.prefixes, n.Prefix)
		a.descs = append(a.descs, n.Prefix.String())
	}
	return a
}

// Allows reports whether addr is in the set.
func (a *Networks) Allows(addr netip.Addr) bool {
	_, ok := a.Match(addr)
	return ok
}

// Match reports whether addr is in the set and which entry holds it.
func (a *Networks) Match(addr netip.Addr) (entry string, ok bool) {
	addr = addr.Unmap()
	for i, p := range a.prefixes {
		if p.Contains(addr) {
			return a.descs[i], true
		}
	}
	if !a.local {
		return "", false
	}
	if addr.IsLoopback() {
		return "local", true
	}
	for _, p := range a.localNets() {
		if p.Contains(addr) {
			return "local", true
		}
	}
	return "", false
}

// empty reports whether the set holds nothing at all.
func (a *Networks) empty() bool { return a == nil || (len(a.prefixes) == 0 && !a.local) }

func (a *Networks) localNets() []netip.Prefix {
	if l := a.locals.Load(); l != nil && time.Since(l.at) < localTTL {
		return l.prefixes
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if l := a.locals.Load(); l != nil && time.Since(l.at) < localTTL {
		return l.prefixes
	}
	l := &localNets{at: time.Now()}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, ad := range addrs {
			if ipn, ok := ad.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(ipn.IP); ok {
					ones, _ := ipn.Mask.Size()
					l.prefixes = append(l.prefixes, netip.PrefixFrom(ip.Unmap(), ones).Masked())
				}
			}
		}
	}
	a.locals.Store(l)
	return l.prefixes
}
