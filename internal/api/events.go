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

// Event is one change the event stream reports.
type Event struct {
	Kind string
	ID   int64
	// Message is the message delivered (EventMessage), or the one read or
	// deleted, so that each stream shows it only to who may read it.
	Message *message.Message
}

// subscriberQueue bounds how far one client of the stream may lag; a
// client that falls further behind is cut off and catches up from the
// store when it reconnects.
const subscriberQueue = 256

// Hub fans changes out to the clients of the event stream. It is the
// pipeline sink "events": it sees every delivered and released message.
type Hub struct {
	mu     sync.Mutex
	subs   map[chan Event]struct{}
	closed bool
}

// NewHub returns an empty hub.
func NewHub() *Hub { return &Hub{subs: map[chan Event]struct{}{}} }

// Name identifies the hub as a sink.
func (h *Hub) Name() string { return "events" }

// Show publishes a delivered message.
func (h *Hub) Show(m message.Message) { h.Publish(Event{Kind: EventMessage, ID: m.ID, Message: &m}) }

// Publish hands e to every client without waiting for any.
func (h *Hub) Publish(e Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs {
		select {
		case ch <- e:
		default:
			delete(h.subs, ch)
			close(ch)
		}
	}
}

// Close ends every stream, so that the HTTP servers can shut down.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for ch := range h.subs {
		delete(h.subs, ch)
		close(ch)
	}
}

func (h *Hub) subscribe() (chan Event, func()) {
	ch := make(chan Event, subscriberQueue)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		close(ch)
		return ch, func() {}
	}
	h.subs[ch] = struct{}{}
	return ch, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if _, ok := h.subs[ch]; ok {
			delete(h.subs, ch)
			close(ch)
		}
	}
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
	// Subscribe before replaying, so nothing falls between the two.
	ch, unsubscribe := s.Events.subscribe()
	defer unsubscribe()

	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, "retry: 2000\n\n")

	last := after
	send := func(e Event) error {
		switch e.Kind {
		case EventMessage:
			if e.ID <= last {
				return nil // already sent by the replay
			}
			last = e.ID
			if to != nil && !to[strings.ToUpper(strings.TrimSpace(e.Message.To))] {
				return nil
			}
			if !s.Rules.MayRead(c, e.Message.To) || (e.Message.State == message.StateQuarantined && !c.Admin) {
				return nil
			}
			data, _ := json.Marshal(e.Message)
			fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", e.ID, e.Kind, data)
		default:
			if e.Message != nil && !s.Rules.MayRead(c, e.Message.To) {
				return nil
			}
			fmt.Fprintf(w, "event: %s\ndata: {\"id\":%d}\n\n", e.Kind, e.ID)
		}
		return rc.Flush()
	}
	if cursor != "" {
		for {
			msgs, err := s.Store.List(r.Context(), store.ListOptions{AfterID: last, Limit: 500})
			if err != nil {
				s.Log.Warn("events: replay", slog.Any("err", err))
				return
			}
			for i := range msgs {
				if err := send(Event{Kind: EventMessage, ID: msgs[i].ID, Message: &msgs[i]}); err != nil {
					return
				}
			}
			if len(msgs) < 500 {
				break
			}
		}
	}
	if err := rc.Flush(); err != nil {
		return
	}
	tick := time.NewTicker(keepAlive)
	defer tick.Stop()
	for {
		select {
		case e, ok := <-ch:
			if !ok {
				return
			}
			if err := send(e); err != nil {
				return
			}
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
