package policy

import (
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
)

// bucket is a token bucket: tokens refill at rate per nanosecond up to
// burst; a message takes one.
type bucket struct {
	tokens float64
	last   int64 // Unix nanoseconds of the last refill
}

func (b *bucket) take(now int64, perNS, burst float64, fresh bool) bool {
	if fresh {
		b.tokens, b.last = burst, now
	}
	if now > b.last {
		b.tokens = min(burst, b.tokens+float64(now-b.last)*perNS)
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// limiter is one configured limit over many keys.
type limiter struct {
	perNS, burst float64
	desc         string // as configured, for explanations
}

func newLimiter(l *Limit) *limiter {
	if l == nil {
		return nil
	}
	burst := l.Burst
	if burst == 0 {
		burst = l.Rate.N
	}
	desc := l.Rate.String()
	if l.Burst != 0 {
		desc += " burst " + strconv.Itoa(l.Burst)
	}
	return &limiter{perNS: float64(l.Rate.N) / float64(l.Rate.Per.Nanoseconds()), burst: float64(burst), desc: desc}
}

// keyed is a limiter applied per key, in a bounded table.
type keyed[K comparable] struct {
	*limiter
	t *table[K, bucket]
}

func (k keyed[K]) allow(h uint64, key K, now int64) bool {
	s, b, fresh := k.t.lock(h, key)
	ok := b.take(now, k.perNS, k.burst, fresh)
	s.mu.Unlock()
	return ok
}

// global is one bucket for everything.
type global struct {
	*limiter
	mu sync.Mutex
	b  bucket
	on bool
}

func (g *global) allow(now int64) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	fresh := !g.on
	g.on = true
	return g.b.take(now, g.perNS, g.burst, fresh)
}

// rates is the rate-limit state of one policy.
type rates struct {
	source keyed[netip.Addr]
	sender keyed[string]
	global *global

	// Flood mode: a bucket of over-limit events; when it runs dry,
	// floodUntil moves Hold into the future.
	flood      *global
	floodHold  int64
	floodUntil atomic.Int64
}

func newRates(spec *Spec) *rates {
	r := &rates{}
	tracked := spec.Rate.MaxTracked
	if tracked <= 0 {
		tracked = 65536
	}
	if l := newLimiter(spec.Rate.PerSource); l != nil {
		r.source = keyed[netip.Addr]{l, newTable[netip.Addr, bucket](tracked)}
	}
	if l := newLimiter(spec.Rate.PerSender); l != nil {
		r.sender = keyed[string]{l, newTable[string, bucket](tracked)}
	}
	if l := newLimiter(spec.Rate.Global); l != nil {
		r.global = &global{limiter: l}
	}
	if spec.Flood.Threshold > 0 {
		r.flood = &global{limiter: newLimiter(&Limit{Rate: Rate{N: spec.Flood.Threshold, Per: 1e9}})}
		r.floodHold = int64(spec.Flood.Hold.Duration)
	}
	return r
}

// overLimit records a message over some limit and reports whether the
// daemon is now in flood mode.
func (r *rates) overLimit(now int64) bool {
	if r.flood == nil {
		return false
	}
	if !r.flood.allow(now) {
		r.floodUntil.Store(now + r.floodHold)
	}
	return r.flooding(now)
}

func (r *rates) flooding(now int64) bool { return r.flood != nil && now < r.floodUntil.Load() }
