package hub

import (
	"context"
	"sync"
	"time"

	"github.com/netsend/messenger/internal/apitype"
)

// recordHold bounds how long the rows of published Sends wait for the
// rows of other Sends before their commit, while other Sends or waits
// are under way. A sender's commit runs beside the message's trip
// through the recipient (a few milliseconds), so a Send that then waits
// for its receipt does not wait longer for it; and the rows of more
// Sends share one sync. A receipt for a row still held ends the hold.
const recordHold = time.Millisecond

// rowBatch is what publishBatch leaves to be recorded: the Sends it
// published, their rows, and the channel closed once they are committed.
type rowBatch struct {
	keep     []*pendingSend
	rows     []*apitype.Sent
	recorded chan struct{}
}

// rowRecorder gathers the rows of published Sends for one goroutine at a
// time (recordRows), which commits them together.
type rowRecorder struct {
	mu      sync.Mutex
	queue   []rowBatch
	n       int       // rows in queue
	since   time.Time // when the oldest of them was queued
	running bool
	wanted  bool          // a receipt came for a queued row
	wake    chan struct{} // buffered: something above changed
	hold    time.Duration // recordHold; tests set their own
}

// queueRows leaves b to the rows recorder, starting it if none runs.
func (h *Hub) queueRows(b rowBatch) {
	r := &h.rows
	r.mu.Lock()
	if len(r.queue) == 0 {
		r.since = time.Now()
	}
	r.queue = append(r.queue, b)
	r.n += len(b.rows)
	start := !r.running
	r.running = true
	r.mu.Unlock()
	if start {
		go h.recordRows()
		return
	}
	signal(r.wake)
}

// rowsWanted ends the hold when recorded, the commit a receipt's row
// waits for, has not been done: the receipt's Send is waiting for it.
func (h *Hub) rowsWanted(recorded <-chan struct{}) {
	select {
	case <-recorded:
		return
	default:
	}
	r := &h.rows
	r.mu.Lock()
	r.wanted = r.n > 0
	r.mu.Unlock()
	signal(r.wake)
}

// recordRows commits what is queued, in one commit a round, until the
// queue is empty. A round waits first, up to recordHold after its
// oldest row was queued, while Sends or waits not in it are under way
// and nobody's receipt came; at one client it never waits.
func (h *Hub) recordRows() {
	r := &h.rows
	var timer *time.Timer
	for {
		r.mu.Lock()
		if len(r.queue) == 0 {
			r.running = false
			r.mu.Unlock()
			return
		}
		left := r.hold - time.Since(r.since)
		if !r.wanted && left > 0 && h.active.Load() > int64(r.n) {
			r.mu.Unlock()
			if timer == nil {
				timer = time.NewTimer(left)
			} else {
				timer.Reset(left)
			}
			select {
			case <-r.wake:
				timer.Stop()
			case <-timer.C:
			}
			continue
		}
		queue := r.queue
		r.queue, r.n, r.wanted = nil, 0, false
		r.mu.Unlock()
		h.recordAll(queue)
	}
}

// recordAll commits the rows of queue in one call of the store.
func (h *Hub) recordAll(queue []rowBatch) {
	if len(queue) == 1 {
		b := queue[0]
		h.record(context.Background(), b.keep, b.rows, b.recorded, false)
		return
	}
	var keep []*pendingSend
	var rows []*apitype.Sent
	for _, b := range queue {
		keep = append(keep, b.keep...)
		rows = append(rows, b.rows...)
	}
	done := make(chan struct{})
	h.record(context.Background(), keep, rows, done, false)
	for _, b := range queue {
		close(b.recorded)
	}
}
