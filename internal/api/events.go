package api

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/netsend/messenger/internal/message"
	"github.com/netsend/messenger/internal/store"
)

// Event kinds of GET /v1/events.
const (
	EventMessage = "message" // a delivered (or released) message; its id is the event id
	EventRead    = "read"    // a message was marked read
	EventDelete  = "delete"  // a message was deleted
)

// EventLagged tells a client of the stream that it fell behind: the
// messages it missed follow (read from the store), but read and delete
// changes in between are lost, so it should reload what it shows.
const EventLagged = "lagged"

// Event is one change the event stream reports.
type Event struct {
	Kind string
	ID   int64
	// Message is the message delivered (EventMessage), or the one read or
	// deleted, so that each stream shows it only to who may read it.
	Message *message.Message
	// released marks a message shown again under its old id (released
	// from the quarantine): streams send it although it is not above
	// the last id they sent.
	released bool
}

// busRing is how many recent events the hub keeps. A client of the stream
// that falls further behind is told (EventLagged) and reads the messages
// it missed from the store, so a flood costs it latency, never messages.
const busRing = 4096

// EventBus fans changes out to the clients of the event stream. Messages come
// from the store's writer (Committed), in commit order, so that every
// stream sends each message once and in id order; the per-request paths
// of the pipeline finish in any order and would skip some.
//
// The hub is a ring every stream reads at its own pace, not a queue per
// stream: publishing never waits for a stream, and a slow stream only
// loses its place in the ring, which it finds again in the store.
type EventBus struct {
	mu     sync.Mutex
	ring   []Event       // event seq s is ring[s%busRing], for s in [next-busRing, next)
	next   uint64        // seq of the next event
	head   int64         // highest message id committed
	wake   chan struct{} // closed, and replaced, when an event arrives or the hub closes
	subs   int
	closed bool

	// Dropped, when set, counts events a stream missed live because it
	// lagged (the messages among them it then reads from the store).
	Dropped func(n int)
}

// NewEventBus returns an empty bus.
func NewEventBus() *EventBus {
	return &EventBus{ring: make([]Event, busRing), wake: make(chan struct{})}
}

// Name is the hub's label in the sink metrics.
func (h *EventBus) Name() string { return "events" }

// StartAt tells the hub the highest message id stored before it started,
// where a stream that asks for no replay begins.
func (h *EventBus) StartAt(id int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.head = max(h.head, id)
}

// Committed publishes the messages of one store commit, in id order; it is
// the store's OnStored. Quarantined messages are stored but not shown, so
// they are not published.
func (h *EventBus) Committed(ms []message.Message) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := range ms {
		h.head = max(h.head, ms[i].ID)
		if ms[i].State == message.StateQuarantined {
			continue
		}
		h.append(Event{Kind: EventMessage, ID: ms[i].ID, Message: &ms[i]})
	}
	h.wakeUp()
}

// Show publishes a message shown again under its old id, one released
// from the quarantine; new messages come through Committed.
func (h *EventBus) Show(m message.Message) {
	h.Publish(Event{Kind: EventMessage, ID: m.ID, Message: &m, released: true})
}

// Publish hands e to every stream without waiting for any.
func (h *EventBus) Publish(e Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.append(e)
	h.wakeUp()
}

// append adds e to the ring; h.mu is held.
func (h *EventBus) append(e Event) {
	if h.closed {
		return
	}
	h.ring[h.next%busRing] = e
	h.next++
}

// wakeUp tells every waiting stream that something changed; h.mu is held.
func (h *EventBus) wakeUp() {
	close(h.wake)
	h.wake = make(chan struct{})
}

// Close ends every stream once it has sent what was published, so that
// the HTTP servers can shut down.
func (h *EventBus) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.closed {
		h.closed = true
		h.wakeUp()
	}
}

// subscribers tells how many streams follow the hub.
func (h *EventBus) subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.subs
}

// subscription is one stream's place in the hub.
type subscription struct {
	h    *EventBus
	next uint64 // seq of the next event to read
}

// subscribe starts a stream at the next event; head is the highest
// message id committed before it.
func (h *EventBus) subscribe() (sub *subscription, head int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.subs++
	return &subscription{h: h, next: h.next}, h.head
}

func (s *subscription) close() {
	s.h.mu.Lock()
	defer s.h.mu.Unlock()
	s.h.subs--
}

// take appends to buf the events after the last one taken, up to
// cap(buf). missed > 0 means the ring has overwritten events the stream
// had not taken: it now stands at the newest event, and must read the
// messages committed before it from the store. With no event and
// nothing missed, wake is closed when there may be, and closed tells the
// hub is closed.
func (s *subscription) take(buf []Event) (evs []Event, missed uint64, wake <-chan struct{}, closed bool) {
	h := s.h
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.next-s.next > busRing {
		missed = h.next - busRing - s.next
		s.next = h.next
		return buf, missed, nil, false
	}
	for s.next < h.next && len(buf) < cap(buf) {
		buf = append(buf, h.ring[s.next%busRing])
		s.next++
	}
	return buf, 0, h.wake, h.closed
}

// keepAlive is how often an idle stream gets a comment line, so proxies
// and clients notice a dead connection.
const keepAlive = 15 * time.Second

// events serves GET /v1/events as server-sent events. Messages after
// Last-Event-ID (or ?after=ID) are replayed from the store first, so a
// client that reconnects misses nothing; ?to=NAME,NAME keeps messages to
// those names only.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	if s.Events == nil {
		writeError(w, http.StatusNotFound, fmt.Errorf("the event stream is off"))
		return
	}
	after := int64(0)
	cursor := r.Header.Get("Last-Event-ID")
	if cursor == "" {
		cursor = r.URL.Query().Get("after")
	}
	if cursor != "" {
		n, err := strconv.ParseInt(cursor, 10, 64)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, fmt.Errorf("event id %q is not a non-negative integer", cursor))
			return
		}
		after = n
	}
	c := caller(r)
	var to map[string]bool
	if v := r.URL.Query().Get("to"); v != "" {
		to = map[string]bool{}
		for _, n := range strings.Split(v, ",") {
			to[strings.ToUpper(strings.TrimSpace(n))] = true
		}
	}
	rc := http.NewResponseController(w)
	// The listener's deadlines bound ordinary requests; a stream lives
	// long, so it reads nothing more and gives each write streamWrite: a
	// client that stops reading is cut off then and resumes from its
	// Last-Event-ID. Unsupported (a test's recorder) means no deadline.
	_ = rc.SetReadDeadline(time.Time{})
	writeBy := func() { _ = rc.SetWriteDeadline(time.Now().Add(streamWrite)) }
	writeBy()
	// Subscribe before replaying, so nothing falls between the two: a
	// message committed after this is in the ring, one before it in the
	// store, and one in both is sent once (ids only ascend).
	sub, head := s.Events.subscribe()
	defer sub.close()

	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, "retry: 2000\n\n")

	last := after
	if cursor == "" {
		// No replay asked for: what was stored before is not news, and a
		// lag must not read it back from the store.
		last = head
	}
	// send writes e unless the caller may not see it; the caller flushes.
	send := func(e Event) {
		switch e.Kind {
		case EventMessage:
			if e.ID <= last && !e.released {
				return // already sent, by the replay or the ring
			}
			last = max(last, e.ID)
			if to != nil && !to[strings.ToUpper(strings.TrimSpace(e.Message.To))] {
				return
			}
			if !s.Rules.MayRead(c, e.Message.To) || (e.Message.State == message.StateQuarantined && !c.Admin) {
				return
			}
			data, _ := json.Marshal(e.Message)
			fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", e.ID, e.Kind, data)
		default:
			if e.Message != nil && !s.Rules.MayRead(c, e.Message.To) {
				return
			}
			fmt.Fprintf(w, "event: %s\ndata: {\"id\":%d}\n\n", e.Kind, e.ID)
		}
	}
	// catchUp sends the stored messages after last, page by page, and
	// flushes each page.
	catchUp := func() error {
		for {
			writeBy()
			msgs, err := s.Store.List(r.Context(), store.ListOptions{AfterID: last, Limit: replayPage})
			if err != nil {
				return fmt.Errorf("events: reading messages after %d: %w", last, err)
			}
			for i := range msgs {
				send(Event{Kind: EventMessage, ID: msgs[i].ID, Message: &msgs[i]})
			}
			if err := rc.Flush(); err != nil {
				return fmt.Errorf("events: sending: %w", err)
			}
			if len(msgs) < replayPage {
				return nil
			}
		}
	}
	if cursor != "" {
		if err := catchUp(); err != nil {
			s.Log.Debug("events: replay ended", slog.Any("err", err))
			return
		}
	}
	if err := rc.Flush(); err != nil {
		return
	}
	tick := time.NewTicker(keepAlive)
	defer tick.Stop()
	buf := make([]Event, 0, 256)
	for {
		evs, missed, wake, closed := sub.take(buf[:0])
		writeBy()
		if missed > 0 {
			if s.Events.Dropped != nil {
				s.Events.Dropped(int(missed))
			}
			s.Log.Debug("events: stream lagged; catching up from the store", slog.Uint64("missed", missed), slog.Int64("after", last))
			fmt.Fprintf(w, "event: %s\ndata: {\"id\":%d,\"missed\":%d}\n\n", EventLagged, last, missed)
			if err := catchUp(); err != nil {
				s.Log.Debug("events: catch-up ended", slog.Any("err", err))
				return
			}
			continue
		}
		if len(evs) > 0 {
			for _, e := range evs {
				send(e)
			}
			clear(evs) // the ring, not buf, keeps the messages alive
			if err := rc.Flush(); err != nil {
				return
			}
			continue
		}
		if closed {
			return
		}
		select {
		case <-wake:
		case <-tick.C:
			fmt.Fprint(w, ": keep-alive\n\n")
			if err := rc.Flush(); err != nil {
				return
			}
		case <-r.Context().Done():
			return
		}
	}
}

// streamWrite bounds how long one write of the event stream may wait for
// its client.
const streamWrite = time.Minute

// replayPage is how many stored messages one read of a replay or a
// catch-up takes.
const replayPage = 500
