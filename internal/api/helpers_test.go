package api

import (
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/netsend/messenger/internal/access"
	"github.com/netsend/messenger/internal/webauth"
)

// testServer serves s the way the daemon serves its socket: every
// request's caller is the connecting process (the test, as whoever runs
// it), with the default access rules.
func testServer(s *Server) *http.Server {
	if s.Rules == nil {
		s.Rules = &access.Rules{Accounts: access.NewAccounts(access.DefaultConfig())}
	}
	return &http.Server{Handler: s.Handler(), ConnContext: PeerConnContext}
}

// fixedCaller takes every HTTP request for one caller's, for tests of
// the HTTP path that are not about credentials.
type fixedCaller struct{ c access.Caller }

func (f fixedCaller) Caller(*http.Request) (access.Caller, bool) { return f.c, true }

// root is the admin every such request comes from.
var root = access.Caller{Login: "root", Admin: true, Via: "test"}

// testWeb is a Web with a token store in a temporary directory, for the
// token routes (webauth's own tests cover sessions and tokens).
func testWeb(t *testing.T) *webauth.Web {
	t.Helper()
	tokens, err := webauth.OpenTokens(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return &webauth.Web{Accounts: access.NewAccounts(access.DefaultConfig()), Tokens: tokens, BaseURL: "http://127.0.0.1:8139",
		SessionTTL: time.Hour, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

// numbered is a caller for an account without a passwd entry, which
// Accounts knows by number: tests need no real accounts.
func numbered(uid int) access.Caller {
	return access.Caller{UID: uid, Login: strconv.Itoa(uid)}
}
