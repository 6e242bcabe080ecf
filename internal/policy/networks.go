package policy

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"
)

// Networks is a set of source networks a rule accepts. "local" stands for
// loopback and the networks of this host's interfaces, looked up afresh
// every minute.
type Networks struct {
	prefixes []netip.Prefix
	local    bool

	mu      sync.Mutex
	localAt time.Time
	locals  []netip.Prefix
}

// ParseNetworks parses entries: CIDRs or "local".
func ParseNetworks(entries []string) (*Networks, error) {
	a := &Networks{}
	for _, e := range entries {
		if e == "local" {
			a.local = true
			continue
		}
		p, err := netip.ParsePrefix(e)
		if err != nil {
			return nil, fmt.Errorf("network %q: %w", e, err)
		}
		a.prefixes = append(a.prefixes, p.Masked())
	}
	return a, nil
}

// Allows reports whether addr is in the set.
func (a *Networks) Allows(addr netip.Addr) bool {
	addr = addr.Unmap()
	for _, p := range a.prefixes {
		if p.Contains(addr) {
			return true
		}
	}
	if !a.local {
		return false
	}
	if addr.IsLoopback() {
		return true
	}
	for _, p := range a.localNets() {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

func (a *Networks) localNets() []netip.Prefix {
	a.mu.Lock()
	defer a.mu.Unlock()
	if time.Since(a.localAt) < time.Minute {
		return a.locals
	}
	a.locals, a.localAt = nil, time.Now()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	for _, ad := range addrs {
		if ipn, ok := ad.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(ipn.IP); ok {
				ones, _ := ipn.Mask.Size()
				a.locals = append(a.locals, netip.PrefixFrom(ip.Unmap(), ones).Masked())
			}
		}
	}
	return a.locals
}
