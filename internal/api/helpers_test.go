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

// rootCredentials takes every HTTP request for root's, for tests of the
// HTTP path that are not about credentials.
type rootCredentials struct{}

func (rootCredentials) Caller(*http.Request) (access.Caller, bool) {
	return access.Caller{Login: "root", Admin: true, Via: "test"}, true
}
