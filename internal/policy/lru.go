package policy

import (
	"hash/maphash"
	"net/netip"
	"sync"
)

// shards spreads tracked keys over independent locks, so that transports'
// goroutines deciding at once rarely meet on one mutex.
const shards = 32

// table remembers a bounded number of keys with a value each; when full,
// the least recently seen key is forgotten. Slots live in one slice per
// shard, linked by index, so that after warm-up a decision allocates
// nothing and memory never grows past the cap.
type table[K comparable, V any] struct {
	seed   maphash.Seed
	shards [shards]shard[K, V]
}

type shard[K comparable, V any] struct {
	mu    sync.Mutex
	index map[K]int32
	slots []slot[K, V]
	head  int32 // most recently seen; -1 when empty
	tail  int32 // least recently seen
	cap   int
}

type slot[K comparable, V any] struct {
	key        K
	val        V
	prev, next int32
}

func newTable[K comparable, V any](capacity int) *table[K, V] {
	t := &table[K, V]{seed: maphash.MakeSeed()}
	per := max(1, capacity/shards)
	for i := range t.shards {
		t.shards[i] = shard[K, V]{index: make(map[K]int32), head: -1, tail: -1, cap: per}
	}
	return t
}

// lock finds the value of key, created zero if absent (fresh reports
// that), and returns it with its shard locked; the caller unlocks. No
// callback: a closure here would cost an allocation per decision.
func (t *table[K, V]) lock(h uint64, key K) (s *shard[K, V], v *V, fresh bool) {
	s = &t.shards[h%shards]
	s.mu.Lock()
	i, ok := s.index[key]
	if ok {
		s.touch(i)
		return s, &s.slots[i].val, false
	}
	if len(s.slots) < s.cap {
		s.slots = append(s.slots, slot[K, V]{key: key, prev: -1, next: -1})
		i = int32(len(s.slots) - 1)
	} else {
		i = s.tail
		s.unlink(i)
		delete(s.index, s.slots[i].key)
		var zero V
		s.slots[i] = slot[K, V]{key: key, val: zero, prev: -1, next: -1}
	}
	s.index[key] = i
	s.pushFront(i)
	return s, &s.slots[i].val, true
}

func (s *shard[K, V]) touch(i int32) {
	if s.head == i {
		return
	}
	s.unlink(i)
	s.pushFront(i)
}

func (s *shard[K, V]) unlink(i int32) {
	sl := &s.slots[i]
	if sl.prev >= 0 {
		s.slots[sl.prev].next = sl.next
	} else {
		s.head = sl.next
	}
	if sl.next >= 0 {
		s.slots[sl.next].prev = sl.prev
	} else {
		s.tail = sl.prev
	}
	sl.prev, sl.next = -1, -1
}

func (s *shard[K, V]) pushFront(i int32) {
	s.slots[i].next = s.head
	s.slots[i].prev = -1
	if s.head >= 0 {
		s.slots[s.head].prev = i
	}
	s.head = i
	if s.tail < 0 {
		s.tail = i
	}
}

// len counts the keys tracked (for tests).
func (t *table[K, V]) len() int {
	n := 0
	for i := range t.shards {
		t.shards[i].mu.Lock()
		n += len(t.shards[i].index)
		t.shards[i].mu.Unlock()
	}
	return n
}

func (t *table[K, V]) hashString(s string) uint64 { return maphash.String(t.seed, s) }

func (t *table[K, V]) hashAddr(a netip.Addr) uint64 {
	b := a.As16()
	return maphash.Bytes(t.seed, b[:])
}
