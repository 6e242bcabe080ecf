package agent

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/netsend/messenger/internal/api"
	"github.com/netsend/messenger/internal/message"
)

// fakeDaemon serves msgs to List and, after them, live to Events.
type fakeDaemon struct {
	msgs []message.Message
	live []message.Message
	// eventsTo records the to filter each Events call was made with.
	mu       sync.Mutex
	eventsTo [][]string
}

func (d *fakeDaemon) List(_ context.Context, state message.State, after int64, limit int) ([]message.Message, error) {
	var out []message.Message
	for _, m := range d.msgs {
		if m.ID > after && m.State == state && len(out) < limit {
			out = append(out, m)
		}
	}
	return out, nil
}

func (d *fakeDaemon) Events(ctx context.Context, after int64, to []string, fn func(api.Event) error) error {
	d.mu.Lock()
	d.eventsTo = append(d.eventsTo, to)
	d.mu.Unlock()
	for _, m := range append(append([]message.Message{}, d.msgs...), d.live...) {
		if m.ID > after {
			if err := fn(api.Event{Kind: api.EventMessage, ID: m.ID, Message: &m}); err != nil {
				return err
			}
		}
	}
	<-ctx.Done()
	return ctx.Err()
}

// fakeNotifier records what would be shown.
type fakeNotifier struct {
	mu      sync.Mutex
	shown   []int64
	backlog []int
}

func (n *fakeNotifier) NotifyID(_ context.Context, m message.Message) (uint32, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.shown = append(n.shown, m.ID)
	return uint32(len(n.shown)), nil
}

func (n *fakeNotifier) NotifyBacklog(_ context.Context, count int) (uint32, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.backlog = append(n.backlog, count)
	return 1000, nil
}

func unread(id int64, to string) message.Message {
	return message.Message{ID: id, To: to, From: "X", Text: "t", State: message.StateUnread, Time: time.Unix(id, 0)}
}

func runFor(t *testing.T, a *Agent) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := a.Run(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Run = %v", err)
	}
}

// A backlog of 80 unread messages is one summary notification; what
// arrives afterwards is shown message by message; the stream is followed
// without a to filter, so the host's messages and alerts are seen too.
func TestBacklogIsOneNotification(t *testing.T) {
	d := &fakeDaemon{}
	for i := int64(1); i <= 80; i++ {
		to := "VM"
		if i%2 == 0 {
			to = "ROOT"
		}
		d.msgs = append(d.msgs, unread(i, to))
	}
	d.msgs = append(d.msgs, message.Message{ID: 81, To: "VM", State: message.StateRead})
	d.live = []message.Message{unread(82, "VM"), unread(83, "ROOT")}
	n := &fakeNotifier{}
	runFor(t, &Agent{Client: d, Notifier: n, Log: slog.New(slog.DiscardHandler), Retry: time.Second})
	if len(n.backlog) != 1 || n.backlog[0] != 80 {
		t.Errorf("backlog notifications %v, want one of 80", n.backlog)
	}
	if len(n.shown) != 2 || n.shown[0] != 82 || n.shown[1] != 83 {
		t.Errorf("shown %v, want only the two live messages", n.shown)
	}
	if len(d.eventsTo) == 0 || len(d.eventsTo[0]) != 0 {
		t.Errorf("events followed with to=%v, want no filter", d.eventsTo)
	}
	if BacklogSummary(37) != "37 unread messages" {
		t.Errorf("summary %q", BacklogSummary(37))
	}
}

// One unread message is shown as itself; --name still limits both the
// backlog and the stream.
func TestBacklogOfOneAndNames(t *testing.T) {
	d := &fakeDaemon{msgs: []message.Message{unread(1, "VM"), unread(2, "ROOT"), unread(3, "ROOT")}, live: []message.Message{unread(4, "ROOT"), unread(5, "VM")}}
	n := &fakeNotifier{}
	runFor(t, &Agent{Client: d, Names: []string{"vm"}, Notifier: n, Log: slog.New(slog.DiscardHandler), Retry: time.Second})
	if len(n.backlog) != 0 {
		t.Errorf("backlog notifications %v for one message to VM", n.backlog)
	}
	// The fake stream ignores to; the daemon's filters it. Here only the
	// backlog's filtering is checked: 1 shown, not 2 and 3.
	if len(n.shown) == 0 || n.shown[0] != 1 {
		t.Errorf("shown %v, want message 1 first", n.shown)
	}
	if len(d.eventsTo) == 0 || len(d.eventsTo[0]) != 1 || d.eventsTo[0][0] != "vm" {
		t.Errorf("events to %v, want [vm]", d.eventsTo)
	}
}
