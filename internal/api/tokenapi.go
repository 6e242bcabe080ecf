package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"github.com/netsend/messenger/internal/access"
	"github.com/netsend/messenger/internal/apitype"
	"github.com/netsend/messenger/internal/webauth"
)

func (s *Server) tokenRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/web/signin", s.webSignIn)
	mux.HandleFunc("POST /v1/tokens", s.createToken)
	mux.HandleFunc("GET /v1/tokens", s.listTokens)
	mux.HandleFunc("DELETE /v1/tokens/{name}", s.revokeToken)
}

// webSignIn makes a one-time sign-in link for the caller. Only a caller
// on the socket gets one: the kernel vouches for who they are, where a
// session or token over HTTP would let one credential breed another.
func (s *Server) webSignIn(w http.ResponseWriter, r *http.Request) {
	c := caller(r)
	if c.Via != "socket" {
		refuse(w, access.Refuse("%s may not make a sign-in link over HTTP: run \"messenger web\" on the daemon's host", c.Login))
		return
	}
	if s.Web == nil {
		writeJSON(w, http.StatusConflict, apitype.Error{Error: "the daemon serves no web page: set http_addr"})
		return
	}
	in, err := s.Web.NewCode(c)
	if err != nil {
		writeJSON(w, http.StatusConflict, apitype.Error{Error: err.Error()})
		return
	}
	s.Log.Info("web sign-in link made", slog.String("user", c.Login))
	writeJSON(w, http.StatusOK, in)
}

// tokenOwner is the account a token request is about: the caller's own,
// or for an admin the one named by user. A user naming another account
// is refused.
func (s *Server) tokenOwner(w http.ResponseWriter, r *http.Request, user, what string) (access.Caller, bool) {
	c := caller(r)
	if s.Tokens == nil {
		writeJSON(w, http.StatusConflict, apitype.Error{Error: "this daemon keeps no API tokens"})
		return c, false
	}
	if user == "" || user == c.Login {
		return c, true
	}
	if !s.admin(w, r, what+" of another account ("+user+")") {
		return c, false
	}
	u, err := s.Rules.Accounts.ByLogin(user)
	if err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("--user %s: %w", user, err))
		return c, false
	}
	return u, true
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request) {
	var req apitype.NewTokenRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("body must be JSON like {\"name\": \"phone\"}: %w", err))
		return
	}
	// Over HTTP a leaked token or session could otherwise breed tokens
	// that outlive it: new ones are made on the socket only.
	if c := caller(r); c.Via != "socket" {
		refuse(w, access.Refuse("%s may not make tokens over HTTP: run \"messenger token create\" on the host", c.Login))
		return
	}
	owner, ok := s.tokenOwner(w, r, req.User, "make tokens")
	if !ok {
		return
	}
	out, err := s.Tokens.Create(owner, req.Name)
	switch {
	case errors.Is(err, webauth.ErrTokenExists):
		writeError(w, http.StatusConflict, err)
		return
	case errors.Is(err, webauth.ErrBadTokenName):
		writeError(w, http.StatusBadRequest, err)
		return
	case err != nil:
		s.internal(w, err)
		return
	}
	s.Log.Info("API token made", slog.String("user", owner.Login), slog.String("token", req.Name), slog.String("by", caller(r).Login))
	writeJSON(w, http.StatusCreated, out)
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) {
	user := r.URL.Query().Get("user")
	if user == "*" {
		// Every account's: admins only.
		if s.Tokens == nil {
			writeJSON(w, http.StatusConflict, apitype.Error{Error: "this daemon keeps no API tokens"})
			return
		}
		if !s.admin(w, r, "list every account's tokens") {
			return
		}
		writeJSON(w, http.StatusOK, s.Tokens.List(-1))
		return
	}
	owner, ok := s.tokenOwner(w, r, user, "list the tokens")
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, s.Tokens.List(owner.UID))
}

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request) {
	owner, ok := s.tokenOwner(w, r, r.URL.Query().Get("user"), "revoke the tokens")
	if !ok {
		return
	}
	name := r.PathValue("name")
	err := s.Tokens.Revoke(owner.UID, name)
	switch {
	case errors.Is(err, webauth.ErrNoSuchToken):
		writeError(w, http.StatusNotFound, fmt.Errorf("%s has no token named %q", owner.Login, name))
		return
	case err != nil:
		s.internal(w, err)
		return
	}
	s.Log.Info("API token revoked", slog.String("user", owner.Login), slog.String("token", name), slog.String("by", caller(r).Login))
	w.WriteHeader(http.StatusNoContent)
}
