package hub

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/netsend/messenger/internal/apitype"
	"github.com/netsend/messenger/internal/hubwire"
)

// queueWhileDown stops ts, sends texts from a to BOB (each queued in the
// outbox), and starts ts again; it returns the queued ids in order.
func queueWhileDown(t *testing.T, ts *testServer, a *testHost, texts []string) []string {
	t.Helper()
	ts.stop()
	eventually(t, "A to notice the hub is down", func() bool {
		st, err := a.Status(ctxT(t))
		return err == nil && !st.Connected
	})
	var ids []string
	for _, text := range texts {
		res := send(t, a, "BOB", text)
		if res.Sent.State != apitype.SentQueued {
			t.Fatalf("Send with the hub down = %+v, want queued", res.Sent)
		}
		ids = append(ids, res.Sent.HubID)
	}
	ts.start()
	return ids
}

// queueAndDeliver queues n numbered messages from a to BOB while ts is
// down, and waits until they are delivered, checking that B stored them
// in order; it returns their ids.
func queueAndDeliver(t *testing.T, ts *testServer, a, b *testHost, n int) []string {
	t.Helper()
	texts := numbered(n)
	ids := queueWhileDown(t, ts, a, texts)
	for _, id := range ids {
		waitState(t, a, id, apitype.SentDelivered)
	}
	if got := storedTexts(b); !slices.Equal(got, texts) {
		t.Errorf("B stored %q, want %q", got, texts)
	}
	return ids
}

func numbered(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("queued %d", i+1)
	}
	return out
}

// storedTexts are the texts B stored, in order.
func storedTexts(b *testHost) []string {
	var out []string
	for _, m := range b.local.messages() {
		out = append(out, m.Text)
	}
	return out
}

// streamBatches reads MESSENGER_MSG as the hub keeps it: each message's
// id and the atomic batch it came in ("" for none).
func streamBatches(t *testing.T, js jetstream.JetStream) (ids, batches []string) {
	t.Helper()
	st, err := js.Stream(ctxT(t), hubwire.StreamMsg)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := st.GetMsg(ctxT(t), seq)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.Header.Get(jetstream.MsgIDHeader))
		batches = append(batches, m.Header.Get(batchIDHeader))
	}
	return ids, batches
}

// TestOutboxGoesInAtomicBatches: what queued while the hub was away goes
// as one atomic batch when it returns, and arrives whole and in order.
func TestOutboxGoesInAtomicBatches(t *testing.T) {
	ts := startTestServer(t, "HOSTA", "HOSTB")
	a, b := startPair(t, ts)

	ids := queueAndDeliver(t, ts, a, b, 20)
	_, js := ts.raw()
	streamIDs, batches := streamBatches(t, js)
	if !slices.Equal(streamIDs, ids) {
		t.Fatalf("the stream holds %q, want %q", streamIDs, ids)
	}
	if batches[0] == "" || slices.ContainsFunc(batches, func(b string) bool { return b != batches[0] }) {
		t.Errorf("the queued messages were not one atomic batch: %q", batches)
	}
	if a.noAtomic.Load() {
		t.Error("the hub was taken for one without atomic batches")
	}
}

// TestOutboxBatchPublishedAgain: a batch the hub stored but whose answer
// was lost (the rows still queued) is refused as a whole the second time;
// the host then publishes it message by message, which the hub keeps
// once each, and the rows end sent.
func TestOutboxBatchPublishedAgain(t *testing.T) {
	ts := startTestServer(t, "HOSTA", "HOSTB")
	a, b := startPair(t, ts)
	ids := queueWhileDown(t, ts, a, numbered(5))
	for _, id := range ids {
		waitState(t, a, id, apitype.SentDelivered)
		// WaitDelivered answers on the receipt, before its commit: a
		// commit after the rewind below would undo it.
		eventually(t, id+" recorded delivered", func() bool { return a.outbox.state(t, id) == apitype.SentDelivered })
	}

	// As if the answer to the batch had been lost: queued again. Under
	// pubMu, so that no flush under way marks them sent without
	// publishing them.
	a.pubMu.Lock()
	a.outbox.mu.Lock()
	for i := range a.outbox.rows {
		a.outbox.rows[i].State = apitype.SentQueued
	}
	a.outbox.mu.Unlock()
	a.pubMu.Unlock()
	if _, err := a.flush(ctxT(t)); err != nil {
		t.Fatalf("flush: %v", err)
	}
	// The outbox loop may have flushed them first; whichever did, only
	// a publish the hub took makes a queued row sent.
	for _, id := range ids {
		if st := a.outbox.state(t, id); st != apitype.SentSent {
			t.Errorf("%s is %s after the second flush, want sent", id, st)
		}
	}
	_, js := ts.raw()
	if streamIDs, _ := streamBatches(t, js); !slices.Equal(streamIDs, ids) {
		t.Errorf("the stream holds %q, want each of %q once", streamIDs, ids)
	}
	if got := storedTexts(b); !slices.Equal(got, numbered(5)) {
		t.Errorf("B stored %q", got)
	}
}

// TestOutboxWithoutAtomicBatches: a hub whose message stream takes no
// atomic batches (provisioned by an older version) still gets the outbox
// whole and in order, one message at a time.
func TestOutboxWithoutAtomicBatches(t *testing.T) {
	ts := startTestServer(t, "HOSTA", "HOSTB")
	_, js := ts.raw()
	cfg := hubwire.StreamConfigs(1)[0]
	cfg.AllowAtomicPublish = false
	if _, err := js.UpdateStream(ctxT(t), cfg); err != nil {
		t.Fatalf("turning atomic batches off: %v", err)
	}
	a, b := startPair(t, ts)

	queueAndDeliver(t, ts, a, b, 10)
	if !a.noAtomic.Load() {
		t.Error("the refusal of atomic batches was not remembered")
	}
	_, js = ts.raw()
	if _, batches := streamBatches(t, js); slices.ContainsFunc(batches, func(b string) bool { return b != "" }) {
		t.Errorf("messages stored as batches by a stream that takes none: %q", batches)
	}
}

// TestOutboxAfterRestartDuringOutage: a host restarted while the hub is
// away has looked nothing up, yet a send to a name it wrote to before is
// queued for that name's host (where it last sent to it) and delivered
// when the hub returns; a name it never wrote to is refused, not queued.
func TestOutboxAfterRestartDuringOutage(t *testing.T) {
	ts := startTestServer(t, "HOSTA", "HOSTB")
	a, b := startPair(t, ts)
	waitState(t, a, send(t, a, "BOB", "before").Sent.HubID, apitype.SentDelivered)

	ts.stop()
	a.stop()
	a = startHost(t, []string{ts.url()}, "HOSTA", []string{"ALICE"}, nil, a.outbox)
	res := send(t, a, "bob", "during the outage")
	if res.Sent.State != apitype.SentQueued || res.Sent.Host != "HOSTB" || res.Online {
		t.Fatalf("Send after a restart during the outage = %+v, want queued for HOSTB", res)
	}
	if _, err := a.Send(ctxT(t), SendRequest{To: "NOBODY", Text: "x"}); err == nil {
		t.Error("a name never written to was accepted while the hub is away")
	}
	ts.start()
	waitState(t, a, res.Sent.HubID, apitype.SentDelivered)
	if got := storedTexts(b); !slices.Equal(got, []string{"before", "during the outage"}) {
		t.Errorf("B stored %q", got)
	}
}

// TestWaitDeliveredBeforeTheCommit: who waits for a message learns it was
// delivered when the receipt arrives, not after this host's commit of it;
// the row follows once that commit is done.
func TestWaitDeliveredBeforeTheCommit(t *testing.T) {
	ts := startTestServer(t, "HOSTA", "HOSTB")
	urls := []string{ts.url()}
	held := make(chan struct{})
	a := startHost(t, urls, "HOSTA", []string{"ALICE"}, nil, &memOutbox{holdReceipts: held})
	startHost(t, urls, "HOSTB", []string{"BOB"}, nil, nil)
	waitLookup(t, a, "BOB", "HOSTB", true)

	id := send(t, a, "BOB", "quick").Sent.HubID
	waitState(t, a, id, apitype.SentDelivered)
	if st := a.outbox.state(t, id); st != apitype.SentSent {
		t.Errorf("the row is %s while its receipt's commit is held, want sent", st)
	}
	close(held)
	eventually(t, "the receipt to be recorded", func() bool { return a.outbox.state(t, id) == apitype.SentDelivered })
}

// TestReceiptBeforeTheRowIsRecorded: a message is published before its
// row is committed, so its receipt can come back first; it waits for the
// row instead of being dropped as a receipt for a message never sent.
func TestReceiptBeforeTheRowIsRecorded(t *testing.T) {
	ts := startTestServer(t, "HOSTA", "HOSTB")
	urls := []string{ts.url()}
	held := make(chan struct{})
	a := startHost(t, urls, "HOSTA", []string{"ALICE"}, nil, &memOutbox{holdAdds: held})
	b := startHost(t, urls, "HOSTB", []string{"BOB"}, nil, nil)
	release := sync.OnceFunc(func() { close(held) })
	t.Cleanup(release) // before the hosts stop, should the test fail first
	waitLookup(t, a, "BOB", "HOSTB", true)

	type outcome struct {
		res SendResult
		err error
	}
	sent := make(chan outcome, 1)
	go func() {
		res, err := a.Send(ctxT(t), SendRequest{To: "BOB", Text: "quicker than the commit"})
		sent <- outcome{res, err}
	}()
	_, js := ts.raw()
	eventually(t, "A to hold the receipt of a message it has not recorded yet", func() bool {
		c, err := js.Consumer(ctxT(t), hubwire.StreamRcpt, hubwire.RcptConsumer("HOSTA"))
		if err != nil {
			return false
		}
		info, err := c.Info(ctxT(t))
		return err == nil && info.NumAckPending == 1 && b.local.count() == 1
	})
	release()
	out := <-sent
	if out.err != nil {
		t.Fatalf("Send: %v", out.err)
	}
	waitState(t, a, out.res.Sent.HubID, apitype.SentDelivered)
}
