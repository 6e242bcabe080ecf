package webauth

import (
	"net/http"
	"net/url"
	"testing"
)

// FuzzRequestToken feeds ?auth= (and the header) to the token reader,
// which must not panic and must find a token only in a recognisable form.
func FuzzRequestToken(f *testing.F) {
	for _, s := range []string{"QmVhcmVyIGFiYw", "QmVhcmVyIGFiYw==", "Basic", "tok_en-123", "", "%%%", "QmFzaWMgT21GaVl3PT0"} {
		f.Add(s, "")
		f.Add("", "Bearer "+s)
	}
	f.Fuzz(func(t *testing.T, auth, header string) {
		r := &http.Request{Header: http.Header{}, URL: &url.URL{RawQuery: url.Values{"auth": {auth}}.Encode()}}
		if header != "" {
			r.Header.Set("Authorization", header)
		}
		_ = requestToken(r)
		if header == "" && auth != "" && requestToken(r) == "" && authParam(auth) == "" {
			t.Fatalf("auth=%q read as nothing", auth)
		}
	})
}
