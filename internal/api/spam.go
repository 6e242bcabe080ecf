package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/netsend/messenger/internal/apitype"
	"github.com/netsend/messenger/internal/message"
	"github.com/netsend/messenger/internal/store"
)

// ErrPolicyRefused wraps a policy change the daemon refused (a rule that
// does not compile, an entry that contradicts the configuration); the
// old policy stays in force.
var ErrPolicyRefused = errors.New("policy not changed")

// Spam is the spam defence as the API changes it.
type Spam interface {
	Reload(ctx context.Context) error
	// Block and Trust add a sender name or a network (CIDR, address or
	// "local") and return it as it will be matched.
	Block(ctx context.Context, value string) (string, error)
	Trust(ctx context.Context, value string) (string, error)
	// Release delivers a quarantined message now.
	Release(ctx context.Context, id int64) (message.Message, error)
}

func (s *Server) spamRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/spam", s.adminOnly("list the quarantine", s.listSpam))
	mux.HandleFunc("GET /v1/spam/{id}", s.adminOnly("read the quarantine", s.getSpam))
	mux.HandleFunc("POST /v1/spam/{id}/release", s.adminOnly("release quarantined messages", s.releaseSpam))
	mux.HandleFunc("POST /v1/spam/block", s.adminOnly("block senders", s.addEntry("block")))
	mux.HandleFunc("POST /v1/spam/trust", s.adminOnly("trust senders", s.addEntry("trust")))
	mux.HandleFunc("POST /v1/policy/reload", s.adminOnly("reload the policy", s.reloadPolicy))
}

// adminOnly lets only admins reach h; what names the action for the
// refusal.
func (s *Server) adminOnly(what string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.admin(w, r, what) {
			h(w, r)
		}
	}
}

func (s *Server) listSpam(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	q.Set("state", string(message.StateQuarantined))
	r.URL.RawQuery = q.Encode()
	s.list(w, r)
}

// getSpam returns a message the policy judged: quarantined, or released
// from the quarantine (it keeps its rule and explanation).
func (s *Server) getSpam(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	m, err := s.Store.Get(r.Context(), id)
	if err != nil {
		s.storeError(w, id, err)
		return
	}
	if m.Rule == "" {
		writeError(w, http.StatusNotFound, fmt.Errorf("message %d was delivered without a rule; nothing to explain", id))
		return
	}
	writeJSON(w, http.StatusOK, m)
}

func (s *Server) releaseSpam(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	m, err := s.Spam.Release(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, fmt.Errorf("no quarantined message with id %d", id))
		return
	}
	if err != nil {
		s.internal(w, err)
		return
	}
	writeJSON(w, http.StatusOK, m)
}

func (s *Server) addEntry(list string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req apitype.PolicyEntryRequest
		if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&req); err != nil || req.Value == "" {
			writeError(w, http.StatusBadRequest, fmt.Errorf("body must be JSON like {\"value\": \"SPAMMER\"} or {\"value\": \"192.0.2.0/24\"}"))
			return
		}
		add := s.Spam.Block
		if list == "trust" {
			add = s.Spam.Trust
		}
		v, err := add(r.Context(), req.Value)
		switch {
		case errors.Is(err, ErrPolicyRefused):
			writeError(w, http.StatusBadRequest, err)
		case err != nil:
			s.internal(w, err)
		default:
			writeJSON(w, http.StatusOK, apitype.PolicyEntryResponse{List: list, Value: v})
		}
	}
}

func (s *Server) reloadPolicy(w http.ResponseWriter, r *http.Request) {
	err := s.Spam.Reload(r.Context())
	switch {
	case errors.Is(err, ErrPolicyRefused):
		writeError(w, http.StatusBadRequest, err)
	case err != nil:
		s.internal(w, err)
	default:
		writeJSON(w, http.StatusOK, map[string]string{"status": "reloaded"})
	}
}

// Spam lists the quarantine, oldest first.
func (c *Client) Spam(ctx context.Context, limit int) ([]message.Message, error) {
	return c.List(ctx, message.StateQuarantined, 0, limit)
}

// Explain returns a message the policy judged, with its rule and what
// matched.
func (c *Client) Explain(ctx context.Context, id int64) (message.Message, error) {
	var m message.Message
	err := c.do(ctx, http.MethodGet, fmt.Sprintf("/v1/spam/%d", id), &m)
	return m, err
}

// Release delivers a quarantined message now.
func (c *Client) Release(ctx context.Context, id int64) (message.Message, error) {
	var m message.Message
	err := c.do(ctx, http.MethodPost, fmt.Sprintf("/v1/spam/%d/release", id), &m)
	return m, err
}

// AddPolicyEntry blocks or trusts (list) a sender or network.
func (c *Client) AddPolicyEntry(ctx context.Context, list, value string) (apitype.PolicyEntryResponse, error) {
	var out apitype.PolicyEntryResponse
	err := c.send(ctx, http.MethodPost, "/v1/spam/"+list, apitype.PolicyEntryRequest{Value: value}, &out)
	return out, err
}

// ReloadPolicy makes the daemon read its configuration file's policy again.
func (c *Client) ReloadPolicy(ctx context.Context) error {
	return c.send(ctx, http.MethodPost, "/v1/policy/reload", nil, nil)
}
