package hub

import (
	"sync"
	"time"

	"github.com/netsend/messenger/internal/apitype"
)

// The flights kept in memory: enough for every message a busy host has
// out at once, and long enough for any receipt of a host that is online.
// A message past either bound is still found in the Outbox, only more
// slowly.
const (
	flightsMax = 16384
	flightTTL  = 10 * time.Minute
)

// flight is a message this host published (or is publishing), kept
// until whoever waits for it has learnt what became of it: what a
// receipt needs to know of it without reading its row, which may not
// even be committed yet, and what the receipt said.
type flight struct {
	host    string
	created time.Time
	// recorded is closed once the commit of the row is done, whether it
	// succeeded or not: an update of the row must wait for it.
	recorded chan struct{}
	// told is the final state the first receipt brought; "" while none
	// came.
	told apitype.SentState
}

// flights are the messages in flight, by hub id. A receipt looks its
// message up (lookup) and leaves its word there (settle); whoever waits
// for a message looks there first (waitState). So the path of a round
// trip reads no row, even when the receipt comes back before the sender
// has begun to wait, or before the row is committed: the rows are
// written, and read only for what is not in flight.
type flights struct {
	mu    sync.Mutex
	byID  map[string]*flight
	order []flightEntry // oldest first from head, for pruning
	head  int
	now   func() time.Time
}

type flightEntry struct {
	id string
	at time.Time
}

func newFlights(now func() time.Time) *flights {
	return &flights{byID: map[string]*flight{}, now: now}
}

// add records the flights of a batch, all recorded when the returned
// channel is closed.
func (f *flights) add(batch []*pendingSend) chan struct{} {
	ch := make(chan struct{})
	now := f.now()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.prune(now, len(batch))
	for _, p := range batch {
		f.byID[p.row.HubID] = &flight{host: p.row.Host, created: p.row.Created, recorded: ch}
		f.order = append(f.order, flightEntry{p.row.HubID, now})
	}
	return ch
}

// prune drops the flights older than flightTTL, and the oldest while
// adding n more would pass flightsMax. Lock held.
func (f *flights) prune(now time.Time, n int) {
	for f.head < len(f.order) {
		e := f.order[f.head]
		if now.Sub(e.at) < flightTTL && len(f.byID)+n <= flightsMax {
			break
		}
		delete(f.byID, e.id)
		f.order[f.head] = flightEntry{}
		f.head++
	}
	// Entries taken by their receipts stay in order until they are
	// reached; compact once the dead head is most of the slice.
	if f.head > 1024 && f.head > len(f.order)/2 {
		f.order = append(f.order[:0], f.order[f.head:]...)
		f.head = 0
	}
}

// lookup returns a copy of the flight of hubID.
func (f *flights) lookup(hubID string) (flight, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if fl := f.byID[hubID]; fl != nil {
		return *fl, true
	}
	return flight{}, false
}

// settle records what the receipt for hubID said, unless an earlier
// receipt said it first.
func (f *flights) settle(hubID string, state apitype.SentState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if fl := f.byID[hubID]; fl != nil && fl.told == "" {
		fl.told = state
	}
}

// waitState says whether hubID is in flight and, if a receipt came for
// it, what it said; a waiter that learns that here is the last one the
// flight is kept for.
func (f *flights) waitState(hubID string) (inFlight bool, told apitype.SentState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fl := f.byID[hubID]
	if fl == nil {
		return false, ""
	}
	if fl.told != "" {
		delete(f.byID, hubID)
	}
	return true, fl.told
}

// drop removes the flights of ids: rows closed without going out,
// which no receipt will ever name.
func (f *flights) drop(ids []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, id := range ids {
		delete(f.byID, id)
	}
}
