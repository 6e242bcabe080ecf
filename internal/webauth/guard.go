package webauth

import (
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/netsend/messenger/internal/apitype"
)

// ContentSecurityPolicy lets the page load only its own script and style
// and talk only to this daemon. Images may also be data: URLs, which is
// how the page draws the unread badge onto its favicon (a canvas has no
// other way out); the manifest and the service worker come from here.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; " +
	"img-src 'self' data:; manifest-src 'self'; worker-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// RequestHeader must accompany every change made over HTTP: a form or an
// image on another site cannot send it without a CORS preflight, which
// the daemon never answers.
const RequestHeader = "X-Messenger-Request"

// Guard wraps the handlers served on the HTTP listener: it refuses
// requests for a host name that is not loopback (DNS rebinding), changes
// from another origin or without RequestHeader (cross-site request
// forgery), and sets the security headers on every answer.
func Guard(next http.Handler) http.Handler { return GuardFor(next) }

// GuardFor is Guard for a listener off loopback or behind a proxy:
// besides the loopback names it answers to the hosts given, which a
// rebinding attacker's page cannot send. A host is a name (the
// listener's own address, a configured name) or a base URL ([web]
// external_url): a URL's host is answered to and its origin is accepted
// for changes, since a page served through a TLS proxy sends
// "Origin: https://messenger.example" while the proxy may pass on its own
// Host.
func GuardFor(next http.Handler, hosts ...string) http.Handler {
	var names, origins []string
	for _, h := range hosts {
		if u, err := url.Parse(h); err == nil && strings.Contains(h, "://") && u.Host != "" {
			names = append(names, u.Hostname())
			origins = append(origins, strings.ToLower(u.Scheme+"://"+u.Host))
			continue
		}
		names = append(names, h)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", ContentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		// same-origin rather than no-referrer: the page's own form posts
		// (sign-in, sign-out) then carry their real Origin, where
		// no-referrer makes the browser send "Origin: null"; other sites
		// still learn nothing, not even a sign-in link's code.
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		if !loopbackHost(r.Host) && !knownHost(r.Host, names) {
			writeJSONError(w, http.StatusMisdirectedRequest, apitype.Error{Error: "this daemon does not answer to the host name " + r.Host +
				": name it with --http-host (http_hosts in the configuration file) to allow it"})
			return
		}
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
		default:
			if o := r.Header.Get("Origin"); o != "" && !sameOrigin(r, o) && !slices.Contains(origins, strings.ToLower(o)) {
				writeJSONError(w, http.StatusForbidden, apitype.Error{Error: "cross-origin request refused"})
				return
			}
			if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
				writeJSONError(w, http.StatusForbidden, apitype.Error{Error: "cross-site request refused"})
				return
			}
			// The sign-in form and the sign-out button are plain form
			// posts; the origin checks above keep other sites from posting
			// them.
			if r.Header.Get(RequestHeader) == "" && !formPath(r.URL.Path) {
				writeJSONError(w, http.StatusForbidden, apitype.Error{Error: "changes over HTTP need the " + RequestHeader + " header"})
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// ListenerHosts are the addresses a listener at addr is reached by, which
// it answers to without being told: its own address, and for a listener
// on every address (0.0.0.0, [::]) every address of the host's
// interfaces (ifaceAddrs is net.InterfaceAddrs), since a browser opened
// at http://192.0.2.2:8139/ sends that as its Host. An address a
// rebinding attacker's name could resolve to is one the attacker's page
// could reach anyway; what the guard keeps out is a name it does not own.
// Addresses added after the start are not known: --http-host names them.
func ListenerHosts(addr net.Addr, ifaceAddrs func() ([]net.Addr, error)) []string {
	ta, ok := addr.(*net.TCPAddr)
	if !ok {
		return nil
	}
	if !ta.IP.IsUnspecified() {
		return []string{ta.IP.String()}
	}
	var hosts []string
	if ifaceAddrs == nil {
		return nil
	}
	list, err := ifaceAddrs()
	if err != nil {
		return nil
	}
	for _, a := range list {
		var ip net.IP
		switch v := a.(type) {
		case *net.IPNet:
			ip = v.IP
		case *net.IPAddr:
			ip = v.IP
		}
		// A link-local address needs a zone in a URL, which browsers do
		// not send; an IPv4 listener (0.0.0.0) takes no IPv6 requests.
		if ip == nil || ip.IsLinkLocalUnicast() || (ta.IP.To4() != nil && ip.To4() == nil) {
			continue
		}
		hosts = append(hosts, ip.String())
	}
	return hosts
}

// sameOrigin reports whether origin is the one the request was made to.
func sameOrigin(r *http.Request, origin string) bool {
	scheme := "http://"
	if r.TLS != nil {
		scheme = "https://"
	}
	return strings.EqualFold(origin, scheme+r.Host)
}

// formPath reports whether path takes plain form posts, without
// RequestHeader.
func formPath(path string) bool {
	return path == SignInPath || path == SignOutPath || path == LoginPath
}

// knownHost reports whether a Host header names one of hosts, with or
// without a port.
func knownHost(host string, hosts []string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	for _, k := range hosts {
		if strings.EqualFold(host, k) {
			return true
		}
	}
	return false
}

// loopbackHost reports whether a Host header names this machine's
// loopback: localhost or a loopback address, with or without a port.
func loopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// writeJSONError answers with the API's JSON error body.
func writeJSONError(w http.ResponseWriter, code int, e apitype.Error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(e)
}
