package alert

import (
	"container/list"
	"time"

	"github.com/netsend/messenger/internal/message"
)

// MaxRemembered bounds what the Alerter remembers, each of: alerts shown
// (for de-duplication) and callers' sources seen (for rate limits). Past it the
// least recently used are forgotten: a repeat may then be shown again, or
// a source start with a full bucket, which is the safe way to be wrong.
const MaxRemembered = 10000

// shownKey is one alert from one caller, in one status, shown to one
// recipient. The caller is part of it so that an alert raised by one
// caller never hides the same alert raised by another: otherwise anyone
// allowed to alert could mute, say, NUT's ONBATT by sending it first.
type shownKey struct {
	caller    string
	key       string
	status    message.AlertStatus
	recipient string
}

// shown remembers when each alert was last shown to each recipient, in
// the order it happened, so the oldest are found first.
type shown struct {
	order *list.List // of *shownEntry, oldest first
	index map[shownKey]*list.Element
}

type shownEntry struct {
	k  shownKey
	at time.Time
	// content is what was shown (severity, title and text): under one key
	// a changed condition — a UPS on battery, then low, then shutting
	// down — is news, not a repeat.
	content string
}

func newShown() *shown { return &shown{order: list.New(), index: map[shownKey]*list.Element{}} }

// recent reports whether k was shown with this content within window
// before now.
func (s *shown) recent(k shownKey, content string, now time.Time, window time.Duration) bool {
	e, ok := s.index[k]
	return ok && e.Value.(*shownEntry).content == content && now.Sub(e.Value.(*shownEntry).at) < window
}

// get returns what is remembered of k.
func (s *shown) get(k shownKey) (shownEntry, bool) {
	e, ok := s.index[k]
	if !ok {
		return shownEntry{}, false
	}
	return *e.Value.(*shownEntry), true
}

// set remembers k as shown at with content, forgetting what is past window
// or past MaxRemembered.
func (s *shown) set(k shownKey, at time.Time, content string, window time.Duration) {
	if e, ok := s.index[k]; ok {
		s.order.Remove(e)
	}
	s.index[k] = s.order.PushBack(&shownEntry{k: k, at: at, content: content})
	for s.order.Len() > 0 {
		front := s.order.Front()
		old := front.Value.(*shownEntry)
		if s.order.Len() <= MaxRemembered && at.Sub(old.at) < window {
			break
		}
		s.order.Remove(front)
		delete(s.index, old.k)
	}
}

func (s *shown) forget(k shownKey) {
	if e, ok := s.index[k]; ok {
		s.order.Remove(e)
		delete(s.index, k)
	}
}

func (s *shown) len() int { return s.order.Len() }

// buckets are the rate limits' token buckets, one per caller and source
// (the Alerter's key), the least recently used forgotten past
// MaxRemembered.
type buckets struct {
	order *list.List // of *bucket, least recently used first
	index map[string]*list.Element
}

type bucket struct {
	key    string
	tokens float64
	last   time.Time
}

func newBuckets() *buckets { return &buckets{order: list.New(), index: map[string]*list.Element{}} }

// take spends one of key's tokens; false when it has none. A bucket
// holds burst tokens and gains perMinute a minute.
func (b *buckets) take(key string, now time.Time, perMinute, burst int) bool {
	e, ok := b.index[key]
	if !ok {
		e = b.order.PushBack(&bucket{key: key, tokens: float64(burst), last: now})
		b.index[key] = e
		if b.order.Len() > MaxRemembered {
			oldest := b.order.Front()
			b.order.Remove(oldest)
			delete(b.index, oldest.Value.(*bucket).key)
		}
	} else {
		b.order.MoveToBack(e)
	}
	bk := e.Value.(*bucket)
	if d := now.Sub(bk.last); d > 0 {
		bk.tokens = min(float64(burst), bk.tokens+d.Minutes()*float64(perMinute))
		bk.last = now
	}
	if bk.tokens < 1 {
		return false
	}
	bk.tokens--
	return true
}
