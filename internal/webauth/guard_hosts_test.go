package webauth

import (
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

func ifaces(addrs ...string) func() ([]net.Addr, error) {
	return func() ([]net.Addr, error) {
		var out []net.Addr
		for _, a := range addrs {
			_, n, err := net.ParseCIDR(a)
			if err != nil {
				panic(err)
			}
			ip, _, _ := net.ParseCIDR(a)
			out = append(out, &net.IPNet{IP: ip, Mask: n.Mask})
		}
		return out, nil
	}
}

func TestListenerHosts(t *testing.T) {
	list := ifaces("127.0.0.1/8", "192.0.2.2/24", "2001:db8::2/64", "fe80::1/64")
	for _, tc := range []struct {
		addr string
		want []string
	}{
		{"192.0.2.2:8139", []string{"192.0.2.2"}},
		{"0.0.0.0:8139", []string{"127.0.0.1", "192.0.2.2"}},
		{"[::]:8139", []string{"127.0.0.1", "192.0.2.2", "2001:db8::2"}},
	} {
		a, _ := net.ResolveTCPAddr("tcp", tc.addr)
		if got := ListenerHosts(a, list); !slices.Equal(got, tc.want) {
			t.Errorf("ListenerHosts(%s) = %v, want %v", tc.addr, got, tc.want)
		}
	}
}

// A listener on every address answers to the interfaces' addresses, and
// a Host it does not know is refused with the flag that allows it.
func TestGuardAnswersToListenerAddresses(t *testing.T) {
	a, _ := net.ResolveTCPAddr("tcp", "0.0.0.0:28139")
	h := GuardFor(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}),
		ListenerHosts(a, ifaces("192.0.2.2/24"))...)
	for host, want := range map[string]int{"192.0.2.2:28139": 200, "localhost:28139": 200, "evil.example:28139": 421} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Host = host
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != want {
			t.Errorf("Host %s: %d, want %d", host, w.Code, want)
		}
		if want == 421 && !strings.Contains(w.Body.String(), "--http-host") {
			t.Errorf("421 body %q does not name --http-host", w.Body.String())
		}
	}
}
