package kfilter

import (
	"errors"
	"net/netip"
	"sync"
	"time"
)

// ErrUnsupported is New's error on a system without eBPF socket filters.
var ErrUnsupported = errors.New("eBPF socket filters are not supported on this system")

// Released is a source Sweep took out of the kernel when its hold ran
// out: Dropped of its datagrams were dropped since it was installed at
// Since.
type Released struct {
	Addr    netip.Addr
	Dropped uint64
	Since   time.Time
}

// entry is the user-space record of one source in the kernel map.
type entry struct {
	since, until time.Time
	dropped      uint64 // the kernel's count when last read
}

// table is the part of a Filter that does not touch the kernel: which
// sources are installed, until when, and the drops of those already
// released. kmap is the kernel side.
type table struct {
	kmap kernelMap

	mu       sync.Mutex
	entries  map[netip.Addr]*entry
	max      int
	released uint64 // drops of sources no longer in the map
}

// kernelMap is the kernel hash map, as the table uses it.
type kernelMap interface {
	put(a netip.Addr) error
	drops(a netip.Addr) (uint64, bool)
	remove(a netip.Addr)
}

func newTable(m kernelMap, max int) *table {
	return &table{kmap: m, entries: map[netip.Addr]*entry{}, max: max}
}

// key is the map's key of a: IPv4 as IPv4-mapped IPv6, which is how the
// program builds the key of an IPv4 packet.
func key(a netip.Addr) [16]byte { return a.Unmap().As16() }

// Block installs a for hold from now (see Sweep). It reports whether
// the source is in the kernel map (false when the map is full or the
// update failed: the policy then keeps judging that source in user space).
// Installing a source already installed costs no system call, since the
// datagrams queued before the first install are judged and found flooding
// one after another.
func (t *table) Block(a netip.Addr, hold time.Duration, now time.Time) bool {
	a = a.Unmap()
	t.mu.Lock()
	defer t.mu.Unlock()
	if e, ok := t.entries[a]; ok {
		e.until = later(e.until, now.Add(hold))
		return true
	}
	if len(t.entries) >= t.max {
		return false
	}
	if err := t.kmap.put(a); err != nil {
		return false
	}
	t.entries[a] = &entry{since: now, until: now.Add(hold)}
	return true
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// Sweep takes out of the kernel each source whose hold has run out,
// and returns them with what was dropped of theirs. A source is held for
// its hold from the last verdict that condemned it, not from its last
// datagram: the policy then judges it again, and condemns it again at
// once if it is still over its limit in flood mode, while one that now
// keeps to its limit, or one a reload no longer blocks, is heard.
func (t *table) Sweep(now time.Time) []Released {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []Released
	for a, e := range t.entries {
		if now.Before(e.until) {
			continue
		}
		if n, ok := t.kmap.drops(a); ok {
			e.dropped = max(e.dropped, n)
		}
		t.kmap.remove(a)
		delete(t.entries, a)
		t.released += e.dropped
		out = append(out, Released{Addr: a, Dropped: e.dropped, Since: e.since})
	}
	return out
}

// Clear takes every source out of the kernel, so that the next datagram
// of each is judged by the policy now in force (after a reload, an
// unblock or a trust).
func (t *table) Clear() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for a, e := range t.entries {
		if n, ok := t.kmap.drops(a); ok {
			e.dropped = max(e.dropped, n)
		}
		t.kmap.remove(a)
		t.released += e.dropped
		delete(t.entries, a)
	}
}

// Dropped is every datagram the kernel dropped for the policy so far.
func (t *table) Dropped() uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	sum := t.released
	for a, e := range t.entries {
		if n, ok := t.kmap.drops(a); ok {
			sum += max(n, e.dropped)
		} else {
			sum += e.dropped
		}
	}
	return sum
}

// Sources is how many sources are in the kernel map.
func (t *table) Sources() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.entries)
}
