package api

import (
	"net"
	"net/http"

	"github.com/netsend/messenger/internal/webauth"
)

// SocketServer is the local socket's server: the API, each caller known
// by the peer credentials, and the metrics, which every local account
// may read.
func (s *Server) SocketServer(metrics http.Handler) *http.Server {
	mux := http.NewServeMux()
	mux.Handle("/v1/", s.Handler())
	mux.Handle("GET /metrics", metrics)
	srv := newHTTPServer(mux)
	srv.ConnContext = PeerConnContext
	// A local caller may wait as long as it asks (send --wait=1h).
	srv.WriteTimeout = 0
	return srv
}

// HTTPOptions say what the HTTP listener serves besides the API.
type HTTPOptions struct {
	// Addr is the listener's address: on loopback the metrics are open
	// and any Host is accepted.
	Addr net.Addr
	// Hosts are further names the listener answers to (http_hosts).
	Hosts []string
	// ExternalURL is the base URL of a proxy in front (web.external_url).
	ExternalURL string
	// WebPage serves the web inbox at / (sinks.web).
	WebPage bool
	Metrics http.Handler
}

// HTTPServer is the HTTP listener's server: every request but the health
// answer needs a credential bound to an account (a web session, a user's
// API token or the admin web token, all known to s.Web), and every one
// passes GuardFor, which refuses other sites' and hosts' requests.
func (s *Server) HTTPServer(o HTTPOptions) *http.Server {
	mux := http.NewServeMux()
	loopback := IsLoopback(o.Addr)
	if loopback {
		mux.Handle("GET /metrics", o.Metrics)
	} else {
		// Off loopback the network would read the host's counters: an
		// admin's credential is needed.
		mux.Handle("GET /metrics", s.AdminHandler(o.Metrics, "read the metrics over the network"))
	}
	var hosts []string
	if !loopback {
		host, _, _ := net.SplitHostPort(o.Addr.String())
		hosts = append([]string{host}, o.Hosts...)
	}
	if o.ExternalURL != "" {
		hosts = append(hosts, o.ExternalURL)
	}
	guard := func(h http.Handler) http.Handler { return webauth.GuardFor(h, hosts...) }
	mux.Handle("/v1/", guard(s.Handler()))
	page := http.NotFoundHandler()
	if o.WebPage {
		page = WebHandler()
	}
	// The sign-in and sign-out pages are served even without the web
	// inbox: a session also opens the API to a browser's scripts.
	mux.Handle("/", guard(s.Web.Wrap(page, openWebPath)))
	return newHTTPServer(mux)
}

// IsLoopback reports whether a listener's address is on loopback.
func IsLoopback(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}
