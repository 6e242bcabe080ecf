package hub

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/netsend/messenger/internal/apitype"
	"github.com/netsend/messenger/internal/hubwire"
	"github.com/netsend/messenger/internal/message"
	"github.com/netsend/messenger/internal/store"
)

// waitDown waits until h sees the hub as unreachable.
func waitDown(t *testing.T, h *Hub, host string) {
	t.Helper()
	eventually(t, host+" to notice the hub is down", func() bool {
		st, err := h.Status(ctxT(t))
		return err == nil && !st.Connected
	})
}

func owedCount(t *testing.T, o Outbox) int {
	t.Helper()
	n, err := o.CountOwedReceipts(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestReadReceiptWhileServerDown: B reads A's message while the hub is
// down; the receipt is kept, not lost, and reaches A when the hub is
// back, saying when B read it.
func TestReadReceiptWhileServerDown(t *testing.T) {
	ts := startTestServer(t, "HOSTA", "HOSTB")
	a, b := startPair(t, ts)
	first := send(t, a, "BOB", "read while the hub is up")
	second := send(t, a, "BOB", "read while the hub is down")
	waitState(t, a, first.Sent.HubID, apitype.SentDelivered)
	waitState(t, a, second.Sent.HubID, apitype.SentDelivered)
	msgs := b.local.messages()
	if len(msgs) != 2 || msgs[1].HubID != second.Sent.HubID {
		t.Fatalf("B stored %+v, want both messages", msgs)
	}

	// With the hub there, the receipt is paid before MarkRead returns.
	if err := b.MarkRead(ctxT(t), msgs[0]); err != nil {
		t.Fatal(err)
	}
	if n := owedCount(t, b.outbox); n != 0 {
		t.Errorf("%d receipts owed after a read with the hub up, want 0", n)
	}
	eventually(t, "the first read receipt", func() bool { return a.outbox.state(t, first.Sent.HubID) == apitype.SentRead })

	ts.stop()
	waitDown(t, b.Hub, "B")
	if err := b.MarkRead(ctxT(t), msgs[1]); err != nil {
		t.Fatalf("MarkRead with the hub down = %v, want nil (the receipt kept)", err)
	}
	owed, err := b.outbox.OwedReceipts(ctxT(t), 0)
	if err != nil {
		t.Fatal(err)
	}
	want := store.OwedReceipt{HubID: second.Sent.HubID, State: apitype.SentRead, Host: "HOSTA", To: "BOB"}
	if len(owed) != 1 || owed[0].At.IsZero() {
		t.Fatalf("owed with the hub down: %+v, want %+v", owed, want)
	}
	readAt := owed[0].At
	got := owed[0]
	got.At = time.Time{}
	if got != want {
		t.Errorf("owed with the hub down: %+v, want %+v", got, want)
	}
	if st, err := b.Status(ctxT(t)); err != nil || st.ReceiptsOwed != 1 {
		t.Errorf("B's status with the hub down: %+v, %v; want 1 receipt owed", st, err)
	}
	if st := a.outbox.state(t, second.Sent.HubID); st != apitype.SentDelivered {
		t.Errorf("A's message is %s before the hub is back, want delivered", st)
	}

	ts.start()
	eventually(t, "the kept read receipt", func() bool { return a.outbox.state(t, second.Sent.HubID) == apitype.SentRead })
	row, err := a.outbox.SentByHubID(ctxT(t), second.Sent.HubID)
	if err != nil {
		t.Fatal(err)
	}
	if !row.Updated.Equal(readAt) {
		t.Errorf("A has the message read at %s, want %s, when B read it", row.Updated, readAt)
	}
	eventually(t, "B to owe nothing", func() bool { return owedCount(t, b.outbox) == 0 })
	if st, err := b.Status(ctxT(t)); err != nil || st.ReceiptsOwed != 0 {
		t.Errorf("B's status after paying: %+v, %v; want no receipt owed", st, err)
	}
}

// TestOwedReceiptSurvivesRestart: a receipt owed when B's hub client
// stops, its store closed and reopened, is sent by the next one.
func TestOwedReceiptSurvivesRestart(t *testing.T) {
	ts := startTestServer(t, "HOSTA", "HOSTB")
	urls := []string{ts.url()}
	dir := t.TempDir()
	ctx := ctxT(t)
	storeB, err := store.Open(ctx, dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	a := startHost(t, urls, "HOSTA", []string{"ALICE"}, nil, nil)
	local := &memLocal{}
	b, stopB := runHub(t, Options{URLs: urls, HostName: "HOSTB", Local: local, Outbox: storeB,
		Names: func() []string { return []string{"BOB"} }, Log: testLog(t)})
	waitLookup(t, a, "BOB", "HOSTB", true)
	res := send(t, a, "BOB", "read, then restarted")
	waitState(t, a, res.Sent.HubID, apitype.SentDelivered)

	ts.stop()
	waitDown(t, b, "B")
	if err := b.MarkRead(ctx, local.messages()[0]); err != nil {
		t.Fatalf("MarkRead with the hub down = %v", err)
	}
	stopB()
	if err := storeB.Close(); err != nil {
		t.Fatal(err)
	}

	storeB, err = store.Open(ctx, dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { storeB.Close() })
	if n := owedCount(t, storeB); n != 1 {
		t.Fatalf("%d receipts owed after the restart, want 1", n)
	}
	runHub(t, Options{URLs: urls, HostName: "HOSTB", Local: local, Outbox: storeB,
		Names: func() []string { return []string{"BOB"} }, Log: testLog(t)})
	ts.start()
	eventually(t, "the read receipt kept across the restart", func() bool {
		return a.outbox.state(t, res.Sent.HubID) == apitype.SentRead
	})
	eventually(t, "B to owe nothing", func() bool { return owedCount(t, storeB) == 0 })
}

// TestMarkReadRefusesWhatCannotBeKept: a hub message without a recipient
// can be neither kept nor sent: MarkRead says so and owes nothing.
func TestMarkReadRefusesWhatCannotBeKept(t *testing.T) {
	ts := startTestServer(t, "HOSTA", "HOSTB")
	dir := t.TempDir()
	st, err := store.Open(ctxT(t), dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	b, _ := runHub(t, Options{URLs: []string{ts.url()}, HostName: "HOSTB", Local: &memLocal{}, Outbox: st, Log: testLog(t)})
	for name, m := range map[string]message.Message{
		"no recipient":   {Transport: message.TransportHub, HubID: "0abc", Verified: "HOSTA", From: "alice"},
		"hub id not hex": {Transport: message.TransportHub, HubID: "not hex", Verified: "HOSTA", From: "alice", To: "BOB"},
	} {
		if err := b.MarkRead(ctxT(t), m); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%s: MarkRead = %v, want store.ErrInvalid", name, err)
		}
	}
	if n := owedCount(t, st); n != 0 {
		t.Errorf("%d receipts owed, want 0", n)
	}
}

// TestOwedReceiptNoHubTakesIsDropped: a receipt owed that no hub would
// take (a name with a control character) does not stay owed for ever,
// nor does it hold up the others.
func TestOwedReceiptNoHubTakesIsDropped(t *testing.T) {
	ts := startTestServer(t, "HOSTA", "HOSTB")
	urls := []string{ts.url()}
	b := startHost(t, urls, "HOSTB", []string{"BOB"}, nil, nil)
	waitLookup(t, b, "BOB", "HOSTB", true)
	good := hubwire.NewID()
	for _, r := range []store.OwedReceipt{
		{HubID: hubwire.NewID(), State: apitype.SentRead, Host: "HOSTA", To: "BO\x01B", At: b.now()},
		{HubID: good, State: apitype.SentRead, Host: "HOSTA", To: "BOB", At: b.now()},
	} {
		if err := b.outbox.OweReceipt(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	signal(b.kick)
	eventually(t, "B to owe nothing", func() bool { return owedCount(t, b.outbox) == 0 })

	_, js := ts.raw()
	str, err := js.Stream(ctxT(t), hubwire.StreamRcpt)
	if err != nil {
		t.Fatal(err)
	}
	info, err := str.Info(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 {
		t.Fatalf("%s holds %d receipts, want only the good one", hubwire.StreamRcpt, info.State.Msgs)
	}
	m, err := str.GetMsg(ctxT(t), info.State.LastSeq)
	if err != nil {
		t.Fatal(err)
	}
	if id := m.Header.Get(jetstream.MsgIDHeader); id != good+".read" || m.Subject != hubwire.PrefixRcpt+"HOSTA.HOSTB" {
		t.Errorf("the hub took %s on %s, want %s.read on %sHOSTA.HOSTB", id, m.Subject, good, hubwire.PrefixRcpt)
	}
}
