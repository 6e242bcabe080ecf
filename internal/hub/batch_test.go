package hub

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/netsend/messenger/internal/apitype"
	"github.com/netsend/messenger/internal/message"
	"github.com/netsend/messenger/internal/store"
)

// batchLocal is a memLocal that takes batches, as the pipeline does, and
// cannot store the message whose text is failText the first time: that
// one and every later one of its batch fail, unstored.
type batchLocal struct {
	*memLocal
	failText string
	mu       sync.Mutex
	failed   bool
	sizes    []int
}

func (l *batchLocal) DeliverBatch(ctx context.Context, ms []*message.Message) []error {
	l.mu.Lock()
	l.sizes = append(l.sizes, len(ms))
	l.mu.Unlock()
	errs := make([]error, len(ms))
	var stop error
	for i, m := range ms {
		if stop != nil {
			errs[i] = stop
			continue
		}
		l.mu.Lock()
		fail := m.Text == l.failText && !l.failed
		if fail {
			l.failed = true
		}
		l.mu.Unlock()
		if fail {
			errs[i] = errors.New("disk full")
			stop = store.ErrBatchAborted
			continue
		}
		errs[i] = l.Deliver(ctx, m)
	}
	return errs
}

// Messages queued for an offline host arrive in batches; one that cannot
// be stored now is retried with every later one, and all end up stored
// once, in the order they were sent, each with its delivered receipt.
func TestBatchNotNowKeepsOrder(t *testing.T) {
	ts := startTestServer(t, "HOSTA", "HOSTB")
	a, b := startPair(t, ts)
	b.stop()
	waitLookup(t, a, "BOB", "HOSTB", false)

	const n = 30
	var ids []string
	for i := range n {
		ids = append(ids, send(t, a, "BOB", fmt.Sprintf("message %02d", i)).Sent.HubID)
	}
	local := &batchLocal{memLocal: b.local, failText: "message 07"}
	startHost(t, []string{ts.url()}, "HOSTB", []string{"BOB"}, nil, b.outbox, func(o *Options) { o.Local = local })
	for _, id := range ids {
		waitState(t, a, id, apitype.SentDelivered)
	}
	msgs := local.messages()
	if len(msgs) != n {
		t.Fatalf("B stored %d messages, want %d", len(msgs), n)
	}
	for i, m := range msgs {
		if want := fmt.Sprintf("message %02d", i); m.Text != want || m.HubID != ids[i] {
			t.Errorf("stored message %d is %q, want %q", i, m.Text, want)
		}
	}
	local.mu.Lock()
	defer local.mu.Unlock()
	if !local.failed {
		t.Error("the failure was never injected")
	}
	batched := false
	for _, s := range local.sizes {
		batched = batched || s > 1
	}
	if !batched {
		t.Errorf("batch sizes %v: every message came alone", local.sizes)
	}
}
