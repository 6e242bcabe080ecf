package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/netsend/messenger/internal/apitype"
	"github.com/netsend/messenger/internal/message"
	"github.com/netsend/messenger/internal/store"
)

// ErrPolicyRefused wraps a policy change the daemon refused (a rule that
// does not compile, an entry that contradicts the configuration); the
// old policy stays in force.
var ErrPolicyRefused = errors.New("policy not changed")

// ErrNoConfigFile answers a reload of a daemon that runs on its embedded
// defaults: there is nothing to read again, and saying "reloaded" would
// hide that the file the operator edited is not the daemon's.
var ErrNoConfigFile = errors.New("the daemon runs on its embedded defaults and has no configuration file to reload")

// ErrPolicyInConfig wraps the removal of an entry that the configuration
// file holds: only the file changes it.
var ErrPolicyInConfig = errors.New("policy entry from the configuration file")

// Spam is the spam defence as the API changes it.
type Spam interface {
	// Reload puts the configuration file's policy in force; file, when
	// set, must be the file the daemon reads.
	Reload(ctx context.Context, file string) (apitype.PolicyReload, error)
	// Entries lists the block and trust lists: the configuration file's
	// and those added at run time.
	Entries(ctx context.Context) ([]apitype.PolicyEntry, error)
	// Remove takes a run-time entry off list ("block" or "trust") and
	// returns it as it was matched.
	Remove(ctx context.Context, list, value string) (string, error)
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
	mux.HandleFunc("GET /v1/spam/entries", s.adminOnly("list the block and trust lists", s.listEntries))
	// {value...}: a CIDR has a slash in it.
	mux.HandleFunc("DELETE /v1/spam/block/{value...}", s.adminOnly("unblock senders", s.removeEntry("block")))
	mux.HandleFunc("DELETE /v1/spam/trust/{value...}", s.adminOnly("untrust senders", s.removeEntry("trust")))
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
		s.answerPolicy(w, apitype.PolicyEntryResponse{List: list, Value: v}, err)
	}
}

func (s *Server) listEntries(w http.ResponseWriter, r *http.Request) {
	out, err := s.Spam.Entries(r.Context())
	if err != nil {
		s.internal(w, err)
		return
	}
	if out == nil {
		out = []apitype.PolicyEntry{}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) removeEntry(list string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v, err := s.Spam.Remove(r.Context(), list, r.PathValue("value"))
		switch {
		case errors.Is(err, store.ErrNotFound):
			writeError(w, http.StatusNotFound, err)
		case errors.Is(err, ErrPolicyInConfig):
			writeError(w, http.StatusConflict, err)
		default:
			s.answerPolicy(w, apitype.PolicyEntryResponse{List: list, Value: v}, err)
		}
	}
}

func (s *Server) reloadPolicy(w http.ResponseWriter, r *http.Request) {
	var req apitype.PolicyReloadRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&req); err != nil && !errors.Is(err, io.EOF) {
		writeError(w, http.StatusBadRequest, fmt.Errorf("body must be empty or JSON like {\"config\": \"/etc/messenger/messenger.toml\"}: %w", err))
		return
	}
	out, err := s.Spam.Reload(r.Context(), req.Config)
	switch {
	case errors.Is(err, ErrNoConfigFile):
		writeError(w, http.StatusConflict, err)
	default:
		s.answerPolicy(w, out, err)
	}
}

// answerPolicy answers a change of the spam policy: out when err is nil,
// a bad request when the daemon refused the change, otherwise an
// internal error.
func (s *Server) answerPolicy(w http.ResponseWriter, out any, err error) {
	switch {
	case errors.Is(err, ErrPolicyRefused):
		writeError(w, http.StatusBadRequest, err)
	case err != nil:
		s.internal(w, err)
	default:
		writeJSON(w, http.StatusOK, out)
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

// ReloadPolicy makes the daemon read its configuration file's policy
// again; file, when set, must be the file the daemon reads.
func (c *Client) ReloadPolicy(ctx context.Context, file string) (apitype.PolicyReload, error) {
	var out apitype.PolicyReload
	err := c.send(ctx, http.MethodPost, "/v1/policy/reload", apitype.PolicyReloadRequest{Config: file}, &out)
	return out, err
}

// PolicyEntries lists the block and trust lists.
func (c *Client) PolicyEntries(ctx context.Context) ([]apitype.PolicyEntry, error) {
	var out []apitype.PolicyEntry
	err := c.do(ctx, http.MethodGet, "/v1/spam/entries", &out)
	return out, err
}

// RemovePolicyEntry takes a run-time entry off list ("block" or "trust").
func (c *Client) RemovePolicyEntry(ctx context.Context, list, value string) (apitype.PolicyEntryResponse, error) {
	var out apitype.PolicyEntryResponse
	err := c.do(ctx, http.MethodDelete, "/v1/spam/"+list+"/"+url.PathEscape(value), &out)
	return out, err
}
