package api

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/netsend/messenger/internal/access"
	"github.com/netsend/messenger/internal/apitype"
)

// The token routes: a user manages their own tokens only (403 for
// another's), an admin anyone's; sign-in links only for socket callers.
func TestTokenRoutes(t *testing.T) {
	w := testWeb(t)
	s := &Server{Tokens: w.Tokens, Web: w, Rules: &access.Rules{Accounts: w.Accounts}, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	h := s.Handler()
	// alice must be a real account: an admin names her by login.
	alice, err := w.Accounts.ByLogin("nobody")
	if err != nil {
		t.Skip("no account nobody:", err)
	}
	bob := numbered(4243)
	alice.Via, bob.Via = "socket", "socket"
	root := access.Caller{UID: 0, Login: "root", Admin: true, Via: "socket"}
	as := func(c access.Caller, method, target, body string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, target, strings.NewReader(body))
		r = r.WithContext(access.WithCaller(r.Context(), c))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec
	}
	rec := as(alice, "POST", "/v1/tokens", `{"name":"x"}`)
	var made apitype.NewTokenResponse
	if rec.Code != http.StatusCreated || json.Unmarshal(rec.Body.Bytes(), &made) != nil || made.Token == "" || made.User != "nobody" {
		t.Fatalf("alice makes a token: %d %s", rec.Code, rec.Body)
	}
	for _, c := range []struct {
		method, target, body string
	}{
		{"POST", "/v1/tokens", `{"name":"y","user":"nobody"}`},
		{"GET", "/v1/tokens?user=nobody", ""},
		{"GET", "/v1/tokens?user=*", ""},
		{"DELETE", "/v1/tokens/x?user=nobody", ""},
	} {
		rec := as(bob, c.method, c.target, c.body)
		var e apitype.Error
		json.Unmarshal(rec.Body.Bytes(), &e)
		if rec.Code != http.StatusForbidden || e.Code != apitype.CodeForbidden || !strings.Contains(e.Error, "4243 may not") {
			t.Errorf("bob: %s %s: %d %s, want 403 forbidden", c.method, c.target, rec.Code, rec.Body)
		}
	}
	if rec := as(bob, "DELETE", "/v1/tokens/x", ""); rec.Code != http.StatusNotFound {
		t.Errorf("bob revokes his own (missing) x: %d, want 404", rec.Code)
	}
	if rec := as(bob, "GET", "/v1/tokens", ""); strings.TrimSpace(rec.Body.String()) != "[]" {
		t.Errorf("bob's list shows %s", rec.Body)
	}
	if rec := as(root, "GET", "/v1/tokens?user=nobody", ""); rec.Code != 200 || !strings.Contains(rec.Body.String(), `"name":"x"`) || strings.Contains(rec.Body.String(), made.Token) {
		t.Errorf("root lists alice's: %d %s", rec.Code, rec.Body)
	}
	if rec := as(root, "DELETE", "/v1/tokens/x?user=nobody", ""); rec.Code != http.StatusNoContent {
		t.Errorf("root revokes alice's: %d %s", rec.Code, rec.Body)
	}

	if rec := as(alice, "POST", "/v1/web/signin", ""); rec.Code != 200 || !strings.Contains(rec.Body.String(), "/signin?code=") {
		t.Errorf("sign-in link on the socket: %d %s", rec.Code, rec.Body)
	}
	alice.Via = "token"
	if rec := as(alice, "POST", "/v1/web/signin", ""); rec.Code != http.StatusForbidden {
		t.Errorf("sign-in link over HTTP: %d, want 403", rec.Code)
	}
}
