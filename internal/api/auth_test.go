package api

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func TestAuth(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadAuth(dir); err != ErrNoToken {
		t.Fatalf("LoadAuth without a token = %v, want ErrNoToken", err)
	}
	token, err := NewToken(dir)
	if err != nil {
		t.Fatal(err)
	}
	auth, err := LoadAuth(dir)
	if err != nil {
		t.Fatal(err)
	}
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	h := GuardFor(auth.Wrap(inner), "10.9.8.7", "msg.example")
	do := func(method, target string, hdr map[string]string, body string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, target, strings.NewReader(body))
		for k, v := range hdr {
			r.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	base := "http://10.9.8.7:8139"
	if w := do("GET", base+"/v1/status", nil, ""); w.Code != http.StatusUnauthorized {
		t.Errorf("API without a token: %d, want 401", w.Code)
	}
	if w := do("GET", base+"/", nil, ""); w.Code != http.StatusSeeOther || w.Header().Get("Location") != LoginPath {
		t.Errorf("page without a token: %d %q, want a redirect to the sign-in page", w.Code, w.Header().Get("Location"))
	}
	if w := do("GET", base+"/v1/status", map[string]string{"Authorization": "Bearer wrong"}, ""); w.Code != http.StatusUnauthorized {
		t.Errorf("wrong token: %d", w.Code)
	}
	if w := do("GET", base+"/v1/status", map[string]string{"Authorization": "Bearer " + token}, ""); w.Code != http.StatusTeapot {
		t.Errorf("right token: %d", w.Code)
	}
	if w := do("GET", "http://evil.example/v1/status", map[string]string{"Authorization": "Bearer " + token}, ""); w.Code != http.StatusMisdirectedRequest {
		t.Errorf("an unknown Host (DNS rebinding): %d, want 421", w.Code)
	}
	form := "application/x-www-form-urlencoded"
	if w := do("POST", base+LoginPath, map[string]string{"Content-Type": form, "Origin": base}, "token=nope"); w.Code != http.StatusUnauthorized {
		t.Errorf("sign-in with a wrong token: %d", w.Code)
	}
	if w := do("POST", base+LoginPath, map[string]string{"Content-Type": form, "Origin": "http://evil.example"}, "token="+url.QueryEscape(token)); w.Code != http.StatusForbidden {
		t.Errorf("sign-in posted from another site: %d, want 403", w.Code)
	}
	w := do("POST", base+LoginPath, map[string]string{"Content-Type": form, "Origin": base}, "token="+url.QueryEscape(token))
	cookies := w.Result().Cookies()
	if w.Code != http.StatusSeeOther || len(cookies) != 1 || !cookies[0].HttpOnly || cookies[0].SameSite != http.SameSiteStrictMode {
		t.Fatalf("sign-in: %d %+v", w.Code, cookies)
	}
	r := httptest.NewRequest("GET", base+"/", nil)
	r.AddCookie(cookies[0])
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if rec.Code != http.StatusTeapot {
		t.Errorf("page with the cookie: %d", rec.Code)
	}
}
