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
		got := requestToken(r)
		// A bare token (what ntfy clients may also send) is read as
		// itself whatever else the reader tries.
		if header == "" && auth != "" && isBareToken(auth) && got != auth {
			t.Fatalf("auth=%q read as %q", auth, got)
		}
	})
}

// isBareToken reports whether s has only the characters tokens are made
// of (base64url) and is not itself base64 of an Authorization value.
func isBareToken(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return authParam(s) == "Bearer "+s
}
