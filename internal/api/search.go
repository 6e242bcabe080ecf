package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/netsend/messenger/internal/message"
	"github.com/netsend/messenger/internal/store"
)

// EventUnread tells the event stream's clients a message was marked
// unread again, so that every open inbox counts it.
const EventUnread = "unread"

// maxSearch bounds the search text: a LIKE over the whole table is the
// costliest query a user can ask for, and no one types more.
const maxSearch = 200

// inboxRoutes are the web inbox's own changes: unread again, and every
// message read at once.
func (s *Server) inboxRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/messages/{id}/unread", s.markUnread)
	mux.HandleFunc("POST /v1/messages/read-all", s.readAll)
}

// searchQuery reads what GET /v1/messages takes beyond state, after and
// limit: q (search text), before (an id; newest first) and order
// ("newest" or "oldest", the default, so that existing callers page as
// they did).
func searchQuery(q url.Values, opt *store.ListOptions) error {
	if v := q.Get("q"); v != "" {
		if len(v) > maxSearch {
			return fmt.Errorf("q is %d bytes long; at most %d", len(v), maxSearch)
		}
		opt.Text = v
	}
	// from and to are names, compared without regard to case; since a
	// time (RFC 3339). Short, as the names they compare with.
	for _, f := range []struct {
		key string
		dst *string
	}{{"from", &opt.Sender}, {"to", &opt.Recipient}} {
		if v := q.Get(f.key); v != "" {
			if len(v) > maxSearch {
				return fmt.Errorf("%s is %d bytes long; at most %d", f.key, len(v), maxSearch)
			}
			*f.dst = v
		}
	}
	if v := q.Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return fmt.Errorf("since %q is not an RFC 3339 time", v)
		}
		opt.Since = t
	}
	switch v := q.Get("order"); v {
	case "", "oldest":
	case "newest":
		opt.Newest = true
	default:
		return fmt.Errorf("order %q is not newest or oldest", v)
	}
	if v := q.Get("before"); v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id <= 0 {
			return fmt.Errorf("before %q is not a positive integer", v)
		}
		// Paging back from an id only makes sense newest first: the
		// oldest page below it would skip the messages in between.
		opt.BeforeID, opt.Newest = id, true
	}
	return nil
}

func (s *Server) markUnread(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	m, ok := s.readable(w, r, id, "mark")
	if !ok {
		return
	}
	// Only the inbox's two states flip: unread would release a
	// quarantined message past the admin's release, which sends events
	// and receipts of its own.
	if m.State != message.StateRead && m.State != message.StateUnread {
		writeError(w, http.StatusConflict, fmt.Errorf("message %d is %s, not read", id, m.State))
		return
	}
	if err := s.Store.SetState(r.Context(), id, message.StateUnread); err != nil {
		s.storeError(w, id, err)
		return
	}
	m.State = message.StateUnread
	if s.Events != nil {
		s.Events.Publish(Event{Kind: EventUnread, ID: id, Message: &m})
	}
	writeJSON(w, http.StatusOK, m)
}

// ReadAllRequest is the optional body of POST /v1/messages/read-all.
type ReadAllRequest struct {
	// Through, when positive, marks only ids up to it: what the page
	// showed, not a message that arrived since.
	Through int64 `json:"through,omitempty"`
}

// ReadAllResponse lists the messages POST /v1/messages/read-all marked.
type ReadAllResponse struct {
	Read []int64 `json:"read"`
}

// readAll marks read every unread message the caller may read, each as
// POST /v1/messages/{id}/read would (an event, a hub receipt), so that
// other pages and the senders hear of each.
func (s *Server) readAll(w http.ResponseWriter, r *http.Request) {
	var req ReadAllRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&req); err != nil && !errors.Is(err, io.EOF) {
		writeError(w, http.StatusBadRequest, fmt.Errorf("body must be empty or JSON like {\"through\": 42}: %w", err))
		return
	}
	opt := store.ListOptions{State: message.StateUnread}
	if req.Through > 0 {
		opt.BeforeID = req.Through + 1
	}
	msgs, ok := s.listReadable(w, r, opt)
	if !ok {
		return
	}
	out := ReadAllResponse{Read: []int64{}}
	for i := range msgs {
		if err := s.Store.SetState(r.Context(), msgs[i].ID, message.StateRead); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				continue // deleted meanwhile
			}
			s.internal(w, err)
			return
		}
		msgs[i].State = message.StateRead
		s.noteRead(msgs[i])
		out.Read = append(out.Read, msgs[i].ID)
	}
	writeJSON(w, http.StatusOK, out)
}

// noteRead tells the event stream and, for a hub message, its sender's
// host that m was read.
func (s *Server) noteRead(m message.Message) {
	if s.Events != nil {
		s.Events.Publish(Event{Kind: EventRead, ID: m.ID, Message: &m})
	}
	if s.HubLink != nil && m.HubID != "" {
		// The reader need not wait for the sender's host: the receipt
		// goes out in the background, bounded.
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := s.HubLink.MarkRead(ctx, m); err != nil {
				s.Log.Warn("read receipt lost: neither kept nor sent", slog.Int64("id", m.ID), slog.String("to_host", m.Verified), slog.Any("err", err))
			}
		}()
	}
}
