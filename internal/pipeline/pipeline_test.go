package pipeline

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/netsend/messenger/internal/message"
	"github.com/netsend/messenger/internal/metrics"
)

type memStore struct {
	mu   sync.Mutex
	msgs []message.Message
	err  error
}

func (s *memStore) Add(_ context.Context, m *message.Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	m.ID = int64(len(s.msgs) + 1)
	s.msgs = append(s.msgs, *m)
	return nil
}

type recordingSink struct {
	mu   sync.Mutex
	seen []message.Message
}

func (r *recordingSink) Name() string { return "rec" }
func (r *recordingSink) Show(m message.Message) {
	r.mu.Lock()
	r.seen = append(r.seen, m)
	r.mu.Unlock()
}

func TestDeliver(t *testing.T) {
	st := &memStore{}
	sink := &recordingSink{}
	met := metrics.New()
	p := New(nil, st, met, slog.New(slog.NewTextHandler(io.Discard, nil)), sink)
	m := &message.Message{From: "ALICE", To: "BOB", Text: "hi", Transport: message.TransportSMB}
	if err := p.Deliver(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	if m.ID != 1 || m.State != message.StateUnread || m.Time.IsZero() {
		t.Fatalf("delivered message = %+v; want id 1, unread, time set", m)
	}
	st.err = errors.New("disk full")
	if err := p.Deliver(context.Background(), &message.Message{Transport: message.TransportSMB}); err == nil {
		t.Fatal("Deliver succeeded although the store failed")
	}
	p.Close()
	if len(sink.seen) != 1 || sink.seen[0].Text != "hi" {
		t.Fatalf("sink saw %+v; want exactly the stored message", sink.seen)
	}
	if got := testutil.ToFloat64(met.Received.WithLabelValues("smb")); got != 1 {
		t.Errorf("received counter = %v, want 1", got)
	}
	if got := testutil.ToFloat64(met.Rejected.WithLabelValues("smb", "store")); got != 1 {
		t.Errorf("rejected counter = %v, want 1", got)
	}
}
