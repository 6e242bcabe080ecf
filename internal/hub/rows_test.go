package hub

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/netsend/messenger/internal/apitype"
	"github.com/netsend/messenger/internal/hubwire"
)

// countingOutbox counts the calls of AddSentBatch and their rows.
type countingOutbox struct {
	memOutbox
	mu    sync.Mutex
	calls []int
}

func (o *countingOutbox) AddSentBatch(ctx context.Context, rows []*apitype.Sent) []error {
	o.mu.Lock()
	o.calls = append(o.calls, len(rows))
	o.mu.Unlock()
	return o.memOutbox.AddSentBatch(ctx, rows)
}

func (o *countingOutbox) callCounts() []int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]int(nil), o.calls...)
}

// rowsHub is a Hub with only its rows recorder in use, holding rows for
// hold while others are active.
func rowsHub(t *testing.T, hold time.Duration) (*Hub, *countingOutbox) {
	t.Helper()
	out := &countingOutbox{}
	h := New(Options{HostName: "HOSTA", Local: &memLocal{}, Outbox: out})
	h.rows.hold = hold
	return h, out
}

// sentBatch makes a batch of n published Sends as publishBatch leaves it.
func sentBatch(h *Hub, n int) (rowBatch, []*pendingSend) {
	now := time.Now()
	var b rowBatch
	var ps []*pendingSend
	for range n {
		p := &pendingSend{row: apitype.Sent{HubID: hubwire.NewID(), To: "BOB", From: "alice", Text: "hi", Host: "HOSTB",
			Created: now, Updated: now, State: apitype.SentSent}, done: make(chan error, 1)}
		ps = append(ps, p)
		b.keep = append(b.keep, p)
		b.rows = append(b.rows, &p.row)
	}
	b.recorded = h.flights.add(ps)
	return b, ps
}

// answered waits for the Sends' answers; a recorder that never commits
// fails the test rather than hanging it.
func answered(t *testing.T, ps []*pendingSend) {
	t.Helper()
	for _, p := range ps {
		select {
		case err := <-p.done:
			if err != nil {
				t.Fatalf("Send of %s: %v", p.row.HubID, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("Send of %s never answered", p.row.HubID)
		}
	}
}

func TestRowsLoneSendNotHeld(t *testing.T) {
	// A hold of an hour: a lone Send answered at all was not held.
	h, out := rowsHub(t, time.Hour)
	h.active.Add(1) // the Send itself
	b, ps := sentBatch(h, 1)
	h.queueRows(b)
	answered(t, ps)
	if got := out.callCounts(); len(got) != 1 || got[0] != 1 {
		t.Errorf("AddSentBatch calls = %v, want [1]", got)
	}
}

func TestRowsShareCommitWhileOthersActive(t *testing.T) {
	h, out := rowsHub(t, time.Hour)
	h.active.Add(3) // two Sends and someone waiting for a receipt
	b1, ps1 := sentBatch(h, 1)
	b2, ps2 := sentBatch(h, 1)
	h.queueRows(b1)
	h.queueRows(b2)
	// The receipt of the first row comes before its commit: its Send is
	// waiting, so the hold ends.
	h.rowsWanted(b1.recorded)
	answered(t, append(ps1, ps2...))
	if got := out.callCounts(); len(got) != 1 || got[0] != 2 {
		t.Errorf("AddSentBatch calls = %v, want one of 2 rows", got)
	}
	for _, ch := range []chan struct{}{b1.recorded, b2.recorded} {
		select {
		case <-ch:
		default:
			t.Error("a batch's recorded channel is open after its commit")
		}
	}
}

func TestRowsHoldEndsInTime(t *testing.T) {
	h, out := rowsHub(t, time.Millisecond)
	h.active.Add(5) // others active who never send
	b, ps := sentBatch(h, 1)
	h.queueRows(b)
	answered(t, ps)
	if got := out.callCounts(); len(got) != 1 {
		t.Errorf("AddSentBatch calls = %v, want one", got)
	}
}
