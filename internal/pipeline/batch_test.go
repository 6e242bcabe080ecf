package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/netsend/messenger/internal/message"
	"github.com/netsend/messenger/internal/metrics"
	"github.com/netsend/messenger/internal/policy"
	"github.com/netsend/messenger/internal/store"
)

// memBatchStore is a memStore that also takes batches, recording how
// they came, and fails the message whose text is failText.
type memBatchStore struct {
	memStore
	batches  [][]string
	failText string
}

// failingStore is memStore failing the message whose text is failText.
type failingStore struct {
	*memStore
	failText string
}

func (s failingStore) Add(ctx context.Context, m *message.Message) error {
	if m.Text == s.failText {
		return errors.New("disk full")
	}
	return s.memStore.Add(ctx, m)
}

func (s *memBatchStore) AddBatch(ctx context.Context, ms []*message.Message) []error {
	var texts []string
	errs := make([]error, len(ms))
	var stop error
	for i, m := range ms {
		texts = append(texts, m.Text)
		switch {
		case stop != nil:
			errs[i] = stop
		case m.Text == s.failText:
			errs[i] = errors.New("disk full")
			stop = store.ErrBatchAborted
		default:
			errs[i] = s.Add(ctx, m)
		}
	}
	s.batches = append(s.batches, texts)
	return errs
}

// dropSpam drops messages from "spam" and quarantines those from "odd".
type dropSpam struct{}

func (dropSpam) Decide(m *message.Message) policy.Verdict {
	switch m.From {
	case "spam":
		return policy.Verdict{Action: policy.Drop, Rule: "spam"}
	case "odd":
		return policy.Verdict{Action: policy.Quarantine, Rule: "odd"}
	}
	return policy.Verdict{}
}

func TestDeliverBatch(t *testing.T) {
	for _, batchStore := range []bool{true, false} {
		t.Run(fmt.Sprint("batch store ", batchStore), func(t *testing.T) {
			bs := &memBatchStore{failText: "fails"}
			var st Store = failingStore{&bs.memStore, "fails"}
			if batchStore {
				st = bs
			}
			sink := &recordingSink{}
			met := metrics.New()
			p := New(dropSpam{}, st, met, slog.New(slog.NewTextHandler(io.Discard, nil)), sink)
			in := []message.Message{
				{From: "ALICE", To: "BOB", Text: "one"},
				{From: "spam", To: "BOB", Text: "buy"},
				{From: "odd", To: "BOB", Text: "held"},
				{From: "ALICE", To: "BOB", Text: "two"},
			}
			ms := make([]*message.Message, len(in))
			for i := range in {
				in[i].Transport = message.TransportHub
				ms[i] = &in[i]
			}
			errs := p.DeliverBatch(context.Background(), ms)
			if errs[0] != nil || !errors.Is(errs[1], ErrDropped) || errs[2] != nil || errs[3] != nil {
				t.Fatalf("DeliverBatch = %v; want nil, ErrDropped, nil, nil", errs)
			}
			if in[0].ID != 1 || in[2].ID != 2 || in[3].ID != 3 || in[1].ID != 0 {
				t.Errorf("ids %d %d %d %d; want 1 0 2 3 (stored in order, the dropped one not)", in[0].ID, in[1].ID, in[2].ID, in[3].ID)
			}
			if in[2].State != message.StateQuarantined || in[3].State != message.StateUnread {
				t.Errorf("states %s, %s; want quarantined, unread", in[2].State, in[3].State)
			}
			if batchStore && fmt.Sprint(bs.batches) != "[[one held two]]" {
				t.Errorf("store batches %v, want the accepted messages in one batch", bs.batches)
			}

			// A store failure fails the messages after it too, unstored.
			again := []message.Message{
				{From: "ALICE", To: "BOB", Text: "three", Transport: message.TransportHub},
				{From: "ALICE", To: "BOB", Text: "fails", Transport: message.TransportHub},
				{From: "ALICE", To: "BOB", Text: "four", Transport: message.TransportHub},
			}
			errs = p.DeliverBatch(context.Background(), []*message.Message{&again[0], &again[1], &again[2]})
			if errs[0] != nil || errs[1] == nil || errs[2] == nil {
				t.Errorf("DeliverBatch with a failing store = %v; want nil, an error, an error", errs)
			}
			p.Close()
			var shown []string
			for _, m := range sink.seen {
				shown = append(shown, m.Text)
			}
			if fmt.Sprint(shown) != "[one two three]" {
				t.Errorf("sinks showed %v, want [one two three]", shown)
			}
			if got := testutil.ToFloat64(met.Received.WithLabelValues("hub")); got != 4 {
				t.Errorf("received counter = %v, want 4", got)
			}
			if got := testutil.ToFloat64(met.Quarantined.WithLabelValues("hub", "odd")); got != 1 {
				t.Errorf("quarantined counter = %v, want 1", got)
			}
		})
	}
}
