package api

import (
	"context"
	"fmt"
	"net/http"

	"github.com/netsend/messenger/internal/apitype"
	"github.com/netsend/messenger/internal/hub"
	"github.com/netsend/messenger/internal/message"
	"github.com/netsend/messenger/internal/store"
)

// SentStore lists what this host sent through the hub, with receipts.
type SentStore interface {
	ListSent(ctx context.Context, opt store.SentListOptions) ([]apitype.Sent, error)
}

// HubAPI is the daemon's NATS hub as the API shows it (not Hub, the
// event stream's fan-out).
type HubAPI interface {
	Status(ctx context.Context) (hub.Status, error)
	// MarkRead tells a hub message's sender that it was read.
	MarkRead(ctx context.Context, m message.Message) error
}

func (s *Server) hubRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/sent", s.listSent)
	mux.HandleFunc("GET /v1/hub/status", s.adminOnly("see the hub's status", s.hubStatus))
}

func (s *Server) listSent(w http.ResponseWriter, r *http.Request) {
	if s.Sent == nil {
		writeJSON(w, http.StatusServiceUnavailable, apitype.Error{Error: "the hub is switched off in this daemon", Code: "not_available"})
		return
	}
	var opt store.SentListOptions
	q := r.URL.Query()
	if v := q.Get("state"); v != "" {
		switch st := apitype.SentState(v); st {
		case apitype.SentQueued, apitype.SentSent, apitype.SentDelivered, apitype.SentRead, apitype.SentExpired, apitype.SentFailed:
			opt.State = st
		default:
			writeError(w, http.StatusBadRequest, fmt.Errorf("state %q is not queued, sent, delivered, read, expired or failed", v))
			return
		}
	}
	var err error
	if opt.AfterID, opt.Limit, err = pageQuery(q); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	// A user sees what they sent; admins everything.
	if c := caller(r); !c.Admin {
		opt.LocalUser = c.Login
	}
	rows, err := s.Sent.ListSent(r.Context(), opt)
	if err != nil {
		s.internal(w, err)
		return
	}
	if rows == nil {
		rows = []apitype.Sent{}
	}
	writeJSON(w, http.StatusOK, rows)
}

func (s *Server) hubStatus(w http.ResponseWriter, r *http.Request) {
	if s.HubLink == nil {
		writeJSON(w, http.StatusServiceUnavailable, apitype.Error{Error: "the hub is switched off in this daemon", Code: "not_available"})
		return
	}
	st, err := s.HubLink.Status(r.Context())
	if err != nil {
		s.internal(w, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// Sent lists messages sent through the hub; state "" is every state.
func (c *Client) Sent(ctx context.Context, state apitype.SentState, after int64, limit int) ([]apitype.Sent, error) {
	q := pageValues(string(state), after, limit)
	var rows []apitype.Sent
	err := c.do(ctx, http.MethodGet, "/v1/sent?"+q.Encode(), &rows)
	return rows, err
}

// HubStatus asks for the hub's connection, streams and what waits.
func (c *Client) HubStatus(ctx context.Context) (hub.Status, error) {
	var st hub.Status
	err := c.do(ctx, http.MethodGet, "/v1/hub/status", &st)
	return st, err
}
