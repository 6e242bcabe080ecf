package policy

import (
	"hash/maphash"
	"net/netip"
)

// maxRunCount bounds the distinct recipients and sources counted per
// text: a run is recognised at a threshold, so counting past it buys
// nothing, and the fixed arrays keep each remembered text small.
const maxRunCount = 32

// runEntry is what is remembered of one text: when its window began and
// hashes of the distinct recipients and sources seen since.
type runEntry struct {
	start  int64
	recips [maxRunCount]uint32
	srcs   [maxRunCount]uint32
	nr, ns uint8
}

// spamRuns detects one text sent to many recipients or from many sources.
type spamRuns struct {
	t                   *table[uint64, runEntry]
	window              int64
	recipients, sources int
	desc                string
}

func newSpamRuns(s *SpamRunSpec) *spamRuns {
	if s.Recipients == 0 && s.Sources == 0 {
		return nil
	}
	n := s.MaxTexts
	if n <= 0 {
		n = 16384
	}
	return &spamRuns{t: newTable[uint64, runEntry](n), window: int64(s.Window.Duration),
		recipients: s.Recipients, sources: s.Sources}
}

// observe counts m and reports whether its text is part of a run: how
// many recipients or sources (which), at or past the threshold.
func (r *spamRuns) observe(text, to string, src netip.Addr, now int64) (which string, count int) {
	h := normalizedHash(r.t.seed, text)
	s, e, fresh := r.t.lock(h, h)
	defer s.mu.Unlock()
	if fresh || now-e.start > r.window {
		*e = runEntry{start: now}
	}
	rh := uint32(maphash.String(r.t.seed, to))
	sb := src.As16()
	sh := uint32(maphash.Bytes(r.t.seed, sb[:]))
	e.nr = addDistinct(&e.recips, e.nr, rh)
	e.ns = addDistinct(&e.srcs, e.ns, sh)
	if r.recipients > 0 && int(e.nr) >= r.recipients {
		return "recipients", int(e.nr)
	}
	if r.sources > 0 && int(e.ns) >= r.sources {
		return "sources", int(e.ns)
	}
	return "", 0
}

func addDistinct(set *[maxRunCount]uint32, n uint8, h uint32) uint8 {
	for _, x := range set[:n] {
		if x == h {
			return n
		}
	}
	if int(n) < len(set) {
		set[n] = h
		n++
	}
	return n
}

// normalizedHash hashes text with ASCII case folded and everything but
// letters dropped, so that a spam run varying spacing, punctuation or a
// counter in the text still counts as one text. No copy is made.
func normalizedHash(seed maphash.Seed, text string) uint64 {
	var h maphash.Hash
	h.SetSeed(seed)
	var buf [64]byte
	n := 0
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		case c >= 'a' && c <= 'z', c >= 0x80:
		default:
			continue
		}
		buf[n] = c
		n++
		if n == len(buf) {
			h.Write(buf[:])
			n = 0
		}
	}
	h.Write(buf[:n])
	return h.Sum64()
}
