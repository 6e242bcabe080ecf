package hub

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/netsend/messenger/internal/apitype"
)

// TestRoundTripReadsNoRow: concurrent Sends waiting for their receipts
// cost the sender's store its commits and nothing else: the outbox is
// counted once (then known empty), and no row is read, whether a receipt
// comes back before or after its sender began to wait; every message is
// delivered and its row ends delivered.
func TestRoundTripReadsNoRow(t *testing.T) {
	ts := startTestServer(t, "HOSTA", "HOSTB")
	a, b := startPair(t, ts)
	waitLookup(t, a, "BOB", "HOSTB", true)

	const senders, each = 8, 10
	var wg sync.WaitGroup
	ids := make(chan string, senders*each)
	for g := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				res := send(t, a, "BOB", fmt.Sprintf("%d-%d", g, i))
				if i%2 == 0 {
					// Late, so that the receipt is there before the wait.
					time.Sleep(20 * time.Millisecond)
				}
				waitState(t, a, res.Sent.HubID, apitype.SentDelivered)
				ids <- res.Sent.HubID
			}
		}()
	}
	wg.Wait()
	close(ids)
	if got := b.local.count(); got != senders*each {
		t.Errorf("B stored %d messages, want %d", got, senders*each)
	}
	if n := a.outbox.reads.Load(); n != 0 {
		t.Errorf("the round trips read %d rows, want none", n)
	}
	if n := a.outbox.counts.Load(); n != 1 {
		t.Errorf("the outbox was counted %d times, want once", n)
	}
	for id := range ids {
		eventually(t, id+" recorded delivered", func() bool { return a.outbox.state(t, id) == apitype.SentDelivered })
	}
}

// TestConcurrentSendsAreNotOneBatch: Sends that wait for the publisher
// together go out as separate messages, not one atomic batch (which
// would cost the hub a staging store each, for an order no caller was
// promised), and each is delivered once.
func TestConcurrentSendsAreNotOneBatch(t *testing.T) {
	ts := startTestServer(t, "HOSTA", "HOSTB")
	a, b := startPair(t, ts)
	waitLookup(t, a, "BOB", "HOSTB", true)

	// The publisher is held, so that the Sends queue up for it and go
	// out together.
	a.pubMu.Lock()
	unlock := sync.OnceFunc(a.pubMu.Unlock)
	t.Cleanup(unlock)
	const n = 10
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			send(t, a, "BOB", fmt.Sprintf("together %d", i))
		}()
	}
	eventually(t, "the Sends to queue for the publisher", func() bool {
		a.sendMu.Lock()
		defer a.sendMu.Unlock()
		return len(a.pending) == n-1
	})
	unlock()
	wg.Wait()
	eventually(t, "B to store them all", func() bool { return b.local.count() == n })
	_, js := ts.raw()
	streamIDs, batches := streamBatches(t, js)
	if len(streamIDs) != n {
		t.Errorf("the stream holds %d messages, want %d", len(streamIDs), n)
	}
	for i, batch := range batches {
		if batch != "" {
			t.Errorf("message %d of the stream came in atomic batch %s", i, batch)
		}
	}
}

// TestStopRecordsGatheredReceipts: the moves of receipts gather a while
// before they are committed; a host stopped meanwhile commits them
// before it goes, rather than leave its rows behind their receipts.
func TestStopRecordsGatheredReceipts(t *testing.T) {
	ts := startTestServer(t, "HOSTA", "HOSTB")
	a, _ := startPair(t, ts)
	waitLookup(t, a, "BOB", "HOSTB", true)

	id := send(t, a, "BOB", "just before the stop").Sent.HubID
	waitState(t, a, id, apitype.SentDelivered)
	a.stop()
	if st := a.outbox.state(t, id); st != apitype.SentDelivered {
		t.Errorf("the row is %s after a stop, want delivered", st)
	}
}
