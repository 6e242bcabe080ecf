package api

import (
	"net/http"

	"github.com/netsend/messenger/internal/access"
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
