package api

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/netsend/messenger/internal/message"
	"github.com/netsend/messenger/internal/metrics"
	"github.com/netsend/messenger/internal/pipeline"
	"github.com/netsend/messenger/internal/policy"
	"github.com/netsend/messenger/internal/store"
)

// tally is what one client of the stream saw: the message ids in the order
// they came, and how often it was told it lagged.
type tally struct {
	mu     sync.Mutex
	ids    []int64
	lagged int
}

func (t *tally) add(id int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.ids = append(t.ids, id)
}

func (t *tally) last() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.ids) == 0 {
		return 0
	}
	return t.ids[len(t.ids)-1]
}

// check fails unless the ids are exactly want, in that order: none
// missing, none twice.
func (t *tally) check(tb testing.TB, who string, want []int64) {
	tb.Helper()
	t.mu.Lock()
	defer t.mu.Unlock()
	seen := map[int64]int{}
	for i, id := range t.ids {
		seen[id]++
		if i > 0 && id <= t.ids[i-1] {
			tb.Errorf("%s: id %d came after %d", who, id, t.ids[i-1])
		}
	}
	missing, twice := 0, 0
	for _, id := range want {
		switch seen[id] {
		case 0:
			missing++
		case 1:
		default:
			twice++
		}
		delete(seen, id)
	}
	if missing > 0 || twice > 0 || len(seen) > 0 || len(t.ids) != len(want) {
		tb.Errorf("%s: saw %d events for %d messages: %d missing, %d twice, %d not sent (e.g. quarantined)",
			who, len(t.ids), len(want), missing, twice, len(seen))
	}
}

// rawStream follows GET /v1/events as a browser would, parsing the SSE
// text itself, and counts into t until ctx ends. read, when not nil, holds
// the reading back until it is closed: a client that does not keep up.
func rawStream(ctx context.Context, c *Client, after int64, t *tally, read <-chan struct{}) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/v1/events?after="+strconv.FormatInt(after, 10), nil)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if read != nil {
		select {
		case <-read:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, maxEventLine)
	var id, kind string
	for sc.Scan() {
		line := sc.Text()
		if line != "" {
			field, value, _ := strings.Cut(line, ":")
			switch field {
			case "id":
				id = strings.TrimSpace(value)
			case "event":
				kind = strings.TrimSpace(value)
			}
			continue
		}
		switch kind {
		case EventMessage:
			n, err := strconv.ParseInt(id, 10, 64)
			if err != nil {
				return fmt.Errorf("message event with id %q", id)
			}
			t.add(n)
		case EventLagged:
			t.mu.Lock()
			t.lagged++
			t.mu.Unlock()
		}
		id, kind = "", ""
	}
	return ctx.Err()
}

// quarantineSome quarantines the messages whose text ends in "q" and
// drops those ending in "x", so the stored ids have holes the stream must
// step over.
type quarantineSome struct{}

func (quarantineSome) Decide(m *message.Message) policy.Verdict {
	switch {
	case strings.HasSuffix(m.Text, "q"):
		return policy.Verdict{Action: policy.Quarantine, Rule: "test"}
	case strings.HasSuffix(m.Text, "x"):
		return policy.Verdict{Action: policy.Drop, Rule: "test"}
	}
	return policy.Verdict{Action: policy.Deliver}
}

// serveOrdered serves the event stream over a store whose writer feeds
// the hub, as the daemon does.
func serveOrdered(t *testing.T) (*Client, *store.Store, *EventBus) {
	t.Helper()
	dir := t.TempDir()
	hub := NewEventBus()
	st, err := store.Open(context.Background(), dir, store.Options{OnStored: hub.Committed})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ln, err := net.Listen("unix", filepath.Join(dir, "api.sock"))
	if err != nil {
		t.Fatal(err)
	}
	srv := testServer(&Server{Store: st, Events: hub, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	go srv.Serve(ln)
	t.Cleanup(func() { hub.Close(); srv.Close() })
	return NewClient(filepath.Join(dir, "api.sock")), st, hub
}

// waitAll waits until every tally reached id, the last delivered: the
// stream sends in id order, so by then each has seen all it will.
func waitAll(t *testing.T, id int64, tallies ...*tally) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute) // a hang guard, not a timing assertion
	for _, tl := range tallies {
		for tl.last() < id {
			if time.Now().After(deadline) {
				t.Fatalf("a stream stopped at id %d, short of %d", tl.last(), id)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// Sixteen publishers deliver concurrently, each message from its own
// goroutine as the ingest listener does; two browser-like streams and the
// agent's client each see every delivered message exactly once, in id
// order, and none quarantined.
func TestEventStreamEveryMessageInOrderUnderLoad(t *testing.T) {
	const publishers, each = 16, 200
	c, st, hub := serveOrdered(t)
	pl := pipeline.New(quarantineSome{}, st, metrics.New(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer pl.Close()
	before := add(t, st, "BOB", "before the streams")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	streams := []*tally{{}, {}}
	for _, tl := range streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := rawStream(ctx, c, before.ID, tl, nil); err != nil && ctx.Err() == nil {
				t.Errorf("stream: %v", err)
			}
		}()
	}
	agent := &tally{}
	wg.Add(1)
	go func() {
		defer wg.Done()
		err := c.Events(ctx, before.ID, nil, func(e Event) error {
			if e.Kind == EventMessage {
				agent.add(e.ID)
			}
			return nil
		})
		if err != nil && ctx.Err() == nil {
			t.Errorf("agent's stream: %v", err)
		}
	}()
	for hub.subscribers() < 3 {
		time.Sleep(5 * time.Millisecond)
	}

	var (
		mu        sync.Mutex
		delivered []int64
		refused   atomic.Int64
		pubs      sync.WaitGroup
	)
	for p := range publishers {
		pubs.Add(1)
		go func() {
			defer pubs.Done()
			for i := range each {
				text := fmt.Sprintf("p%d m%d", p, i)
				switch i % 20 {
				case 7:
					text += " q"
				case 13:
					text += " x"
				}
				m := message.Message{From: fmt.Sprintf("PUB%d", p), To: "BOB", Text: text, Transport: message.TransportSMB}
				err := pl.Deliver(context.Background(), &m)
				switch {
				case err != nil:
					refused.Add(1)
				case m.State != message.StateQuarantined:
					mu.Lock()
					delivered = append(delivered, m.ID)
					mu.Unlock()
				}
			}
		}()
	}
	pubs.Wait()
	if want := int64(publishers * each / 20); refused.Load() != want {
		t.Fatalf("%d messages refused; the policy drops %d", refused.Load(), want)
	}
	// The ids every stream must show: those delivered, in id order.
	want := slices.Sorted(slices.Values(delivered))
	// A last message past the quarantined ones, so each stream shows when
	// it has seen everything.
	end := add(t, st, "BOB", "the end")
	want = append(want, end.ID)
	waitAll(t, end.ID, streams[0], streams[1], agent)
	cancel()
	wg.Wait()
	streams[0].check(t, "first stream", want)
	streams[1].check(t, "second stream", want)
	agent.check(t, "agent's client", want)
}

// A stream that does not read while far more messages are committed than
// the hub keeps is told it lagged, then gets the rest from the store: every
// message still comes once and in order, and the metric hook counts what
// it missed live.
func TestEventStreamLaggingCatchesUpFromStore(t *testing.T) {
	c, st, hub := serveOrdered(t)
	var dropped atomic.Int64
	hub.Dropped = func(n int) { dropped.Add(int64(n)) }
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	slow, read := &tally{}, make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- rawStream(ctx, c, 0, slow, read) }()
	for hub.subscribers() < 1 {
		time.Sleep(5 * time.Millisecond)
	}
	// Enough text that the socket's buffers fill long before the ring
	// wraps: the stream cannot have kept up.
	pad := strings.Repeat("z", 300)
	n := 3 * busRing
	ms := make([]message.Message, n)
	ptrs := make([]*message.Message, n)
	for i := range ms {
		ms[i] = message.Message{From: "ALICE", To: "BOB", Text: fmt.Sprintf("%d %s", i, pad), Transport: message.TransportSMB, State: message.StateUnread, Time: time.Now()}
		ptrs[i] = &ms[i]
	}
	for i, err := range st.AddBatch(context.Background(), ptrs) {
		if err != nil {
			t.Fatalf("AddBatch message %d: %v", i, err)
		}
	}
	want := make([]int64, n)
	for i := range ms {
		want[i] = ms[i].ID
	}
	close(read)
	waitAll(t, want[n-1], slow)
	cancel()
	<-done
	slow.check(t, "slow stream", want)
	if slow.lagged == 0 {
		t.Error("the stream fell behind the ring but was not told it lagged")
	}
	if dropped.Load() == 0 {
		t.Error("Dropped did not count the events the stream missed live")
	}
}
