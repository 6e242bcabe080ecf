// Package api is the daemon's local HTTP API, served on its Unix socket
// (and on the loopback HTTP listener), and the client the CLI verbs use to
// reach it. The CLI never opens the database itself.
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

	"github.com/netsend/messenger/internal/access"
	"github.com/netsend/messenger/internal/apitype"
	"github.com/netsend/messenger/internal/message"
	"github.com/netsend/messenger/internal/names"
	"github.com/netsend/messenger/internal/netbios"
	"github.com/netsend/messenger/internal/store"
	"github.com/netsend/messenger/internal/webauth"
)

// Store is what the API reads and changes.
type Store interface {
	Get(ctx context.Context, id int64) (message.Message, error)
	List(ctx context.Context, opt store.ListOptions) ([]message.Message, error)
	SetState(ctx context.Context, id int64, st message.State) error
	Delete(ctx context.Context, id int64) error
	// Recipients lists the names messages are stored under.
	Recipients(ctx context.Context) ([]string, error)
}

// Names is the daemon's name table as the API changes it.
type Names interface {
	List() []names.Entry
	// AddAlias adds a message alias and registers it on the network; an
	// error wrapping names.ErrConflict means another node holds it.
	AddAlias(ctx context.Context, name, owner string) (names.Entry, error)
	DeleteAlias(ctx context.Context, name string) error
}

// Sender sends messages for the API's callers.
type Sender interface {
	Send(ctx context.Context, req apitype.SendRequest) ([]apitype.Delivery, error)
}

// NameOf converts a table entry.
func NameOf(e names.Entry) apitype.Name {
	return apitype.Name{Name: e.Text, Suffix: fmt.Sprintf("%02X", e.Name.Suffix()), Group: e.Group, Source: string(e.Source), State: string(e.State), Owner: e.Owner}
}

// Server serves the API.
type Server struct {
	Store  Store
	Names  Names
	Sender Sender
	Spam   Spam
	Status func() apitype.Status
	// Events, when set, serves GET /v1/events and hears of reads and
	// deletions.
	Events *EventBus
	// Alerts, when set, serves POST /v1/alerts.
	Alerts Alerter
	// Sent and HubLink, when the NATS hub is on, serve GET /v1/sent and
	// /v1/hub/status; HubLink hears of hub messages marked read.
	Sent    SentStore
	HubLink HubAPI
	Log     *slog.Logger
	// Rules say what each caller may do; every request has a caller.
	Rules *access.Rules
	// Credentials, on the HTTP listener, turn sessions and tokens into
	// callers; on the socket the peer credentials do.
	Credentials Credentials
	// Web makes sign-in links (POST /v1/web/signin); Tokens are the
	// users' API tokens (/v1/tokens).
	Web    *webauth.Web
	Tokens *webauth.Tokens
}

// MaxPage is the most messages GET /v1/messages answers at once: a limit
// of 0 or above it gets this many, and the client pages on.
const MaxPage = 1000

// HealthPath answers without a credential: whether the daemon runs.
const HealthPath = "/v1/health"

// Handler returns the API's routes, each behind identify but the health
// answer.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	guarded := s.identify(mux)
	outer := http.NewServeMux()
	outer.HandleFunc("GET "+HealthPath, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	outer.Handle("/", guarded)
	mux.HandleFunc("GET /v1/whoami", s.whoami)
	mux.HandleFunc("GET /v1/status", s.status)
	mux.HandleFunc("GET /v1/messages", s.list)
	mux.HandleFunc("GET /v1/messages/{id}", s.get)
	mux.HandleFunc("POST /v1/messages/{id}/read", s.markRead)
	mux.HandleFunc("DELETE /v1/messages/{id}", s.delete)
	mux.HandleFunc("POST /v1/send", s.send)
	mux.HandleFunc("GET /v1/names", s.listNames)
	mux.HandleFunc("POST /v1/names", s.addName)
	mux.HandleFunc("DELETE /v1/names/{name}", s.deleteName)
	mux.HandleFunc("GET /v1/events", s.events)
	mux.HandleFunc("POST /v1/alerts", s.raiseAlert)
	s.inboxRoutes(mux)
	s.spamRoutes(mux)
	s.tokenRoutes(mux)
	s.hubRoutes(mux)
	return outer
}

// whoami tells the caller who the daemon takes them for.
func (s *Server) whoami(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, caller(r))
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.Status())
}

func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	var opt store.ListOptions
	q := r.URL.Query()
	if v := q.Get("state"); v != "" {
		switch st := message.State(v); st {
		case message.StateUnread, message.StateRead, message.StateQuarantined:
			opt.State = st
		default:
			writeError(w, http.StatusBadRequest, fmt.Errorf("state %q is not unread, read or quarantined", v))
			return
		}
	}
	var err error
	if opt.AfterID, opt.Limit, err = pageQuery(q); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	if err := searchQuery(q, &opt); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	// A page is bounded whatever was asked, so that neither side holds an
	// inbox of any size at once; a client pages on with after (or before,
	// newest first) from the last id it got.
	if opt.Limit == 0 || opt.Limit > MaxPage {
		opt.Limit = MaxPage
	}
	if opt.State == message.StateQuarantined && !s.admin(w, r, "list the quarantine") {
		return
	}
	msgs, ok := s.listReadable(w, r, opt)
	if !ok {
		return
	}
	if msgs == nil {
		msgs = []message.Message{}
	}
	writeJSON(w, http.StatusOK, msgs)
}

// listReadable lists the messages opt selects among those the caller may
// read; otherwise it has answered and reports false.
func (s *Server) listReadable(w http.ResponseWriter, r *http.Request, opt store.ListOptions) ([]message.Message, bool) {
	if c := caller(r); !c.Admin {
		all, err := s.Store.Recipients(r.Context())
		if err != nil {
			s.internal(w, err)
			return nil, false
		}
		opt.To = s.Rules.Readable(c, all)
	}
	msgs, err := s.Store.List(r.Context(), opt)
	if err != nil {
		s.internal(w, err)
		return nil, false
	}
	return msgs, true
}

func (s *Server) get(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	m, ok := s.readable(w, r, id, "read")
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, m)
}

// readable fetches message id if the caller may act on it (what names the
// action for the refusal); otherwise it has answered and reports false.
func (s *Server) readable(w http.ResponseWriter, r *http.Request, id int64, what string) (message.Message, bool) {
	m, err := s.Store.Get(r.Context(), id)
	if err != nil {
		s.storeError(w, id, err)
		return m, false
	}
	if !s.mayRead(w, r, messageRef{ID: m.ID, To: m.To, State: string(m.State)}, what) {
		return m, false
	}
	return m, true
}

func (s *Server) markRead(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	if _, ok := s.readable(w, r, id, "mark"); !ok {
		return
	}
	if err := s.Store.SetState(r.Context(), id, message.StateRead); err != nil {
		s.storeError(w, id, err)
		return
	}
	m, err := s.Store.Get(r.Context(), id)
	if err != nil {
		s.storeError(w, id, err)
		return
	}
	s.noteRead(m)
	writeJSON(w, http.StatusOK, m)
}

func (s *Server) delete(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	gone, ok := s.readable(w, r, id, "delete")
	if !ok {
		return
	}
	if err := s.Store.Delete(r.Context(), id); err != nil {
		s.storeError(w, id, err)
		return
	}
	if s.Events != nil {
		s.Events.Publish(Event{Kind: EventDelete, ID: id, Message: &gone})
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) send(w http.ResponseWriter, r *http.Request) {
	var req apitype.SendRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, apitype.Error{Error: "body must be JSON like {\"to\": \"BOB\", \"text\": \"hello\"}: " + err.Error(), Code: apitype.CodeBadRequest})
		return
	}
	c := caller(r)
	if req.Address != "" && !s.admin(w, r, "send to an address (an outbound connection of the daemon's choosing)") {
		return
	}
	if req.From == "" {
		req.From = c.Login
	}
	if err := s.Rules.MaySendAs(c, req.From); err != nil {
		refuse(w, err)
		return
	}
	req.LocalUser = c.Login
	deliveries, err := s.Sender.Send(r.Context(), req)
	if err != nil {
		var e *apitype.SendError
		if errors.As(err, &e) {
			writeJSON(w, http.StatusBadRequest, apitype.Error{Error: e.Error(), Code: e.Code})
			return
		}
		s.internal(w, err)
		return
	}
	writeJSON(w, http.StatusOK, apitype.SendResponse{Deliveries: deliveries})
}

func (s *Server) listNames(w http.ResponseWriter, r *http.Request) {
	out := []apitype.Name{}
	for _, e := range s.Names.List() {
		out = append(out, NameOf(e))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) addName(w http.ResponseWriter, r *http.Request) {
	var req apitype.AddNameRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("body must be JSON like {\"name\": \"HELPDESK\"}: %w", err))
		return
	}
	if !s.admin(w, r, "add names") {
		return
	}
	if req.User != "" {
		u, err := s.Rules.Accounts.ByLogin(req.User)
		if err != nil {
			writeError(w, http.StatusBadRequest, fmt.Errorf("--user %s: %w", req.User, err))
			return
		}
		req.User = u.Login
	}
	e, err := s.Names.AddAlias(r.Context(), req.Name, req.User)
	switch {
	case err == nil:
		writeJSON(w, http.StatusCreated, NameOf(e))
	case errors.Is(err, names.ErrConflict), errors.Is(err, names.ErrExists):
		writeError(w, http.StatusConflict, err)
	case errors.Is(err, netbios.ErrInvalidName):
		writeError(w, http.StatusBadRequest, err)
	default:
		s.internal(w, err)
	}
}

func (s *Server) deleteName(w http.ResponseWriter, r *http.Request) {
	if !s.admin(w, r, "delete names") {
		return
	}
	err := s.Names.DeleteAlias(r.Context(), r.PathValue("name"))
	switch {
	case err == nil:
		w.WriteHeader(http.StatusNoContent)
	case errors.Is(err, names.ErrNotFound):
		writeError(w, http.StatusNotFound, err)
	case errors.Is(err, names.ErrPermanent), errors.Is(err, names.ErrInConfig):
		writeError(w, http.StatusConflict, err)
	case errors.Is(err, netbios.ErrInvalidName):
		writeError(w, http.StatusBadRequest, err)
	default:
		s.internal(w, err)
	}
}

func pathID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	v := r.PathValue("id")
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 {
		writeError(w, http.StatusBadRequest, fmt.Errorf("message id %q is not a positive integer", v))
		return 0, false
	}
	return id, true
}

func (s *Server) storeError(w http.ResponseWriter, id int64, err error) {
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, fmt.Errorf("no message with id %d", id))
		return
	}
	s.internal(w, err)
}

func (s *Server) internal(w http.ResponseWriter, err error) {
	s.Log.Error("api", slog.Any("err", err))
	writeError(w, http.StatusInternalServerError, errors.New("internal error; see the daemon's log"))
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, err error) {
	writeJSON(w, code, apitype.Error{Error: err.Error()})
}

// pageQuery reads the after (an id) and limit parameters every list takes.
func pageQuery(q url.Values) (after int64, limit int, err error) {
	if v := q.Get("after"); v != "" {
		if after, err = strconv.ParseInt(v, 10, 64); err != nil || after < 0 {
			return 0, 0, fmt.Errorf("after %q is not a non-negative integer", v)
		}
	}
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 0 {
			return 0, 0, fmt.Errorf("limit %q is not a non-negative integer", v)
		}
	}
	return after, limit, nil
}

// pageValues are the query parameters of a list: state, after and limit,
// each only when set.
func pageValues(state string, after int64, limit int) url.Values {
	q := url.Values{}
	if state != "" {
		q.Set("state", state)
	}
	if after > 0 {
		q.Set("after", strconv.FormatInt(after, 10))
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	return q
}
