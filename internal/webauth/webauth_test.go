package webauth

import (
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/netsend/messenger/internal/access"
)

// numbered is a caller for an account without a passwd entry, which
// Accounts knows by number: tests need no real accounts.
func numbered(uid int) access.Caller {
	return access.Caller{UID: uid, Login: strconv.Itoa(uid)}
}

// testWeb is a Web on a fake clock, with a token store in a temporary
// directory and the admin web token made.
func testWeb(t *testing.T, base string) (*Web, *time.Time, string) {
	t.Helper()
	dir := t.TempDir()
	tokens, err := OpenTokens(dir)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := NewToken(dir)
	if err != nil {
		t.Fatal(err)
	}
	auth, err := LoadAuth(dir)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	w := &Web{Accounts: access.NewAccounts(access.DefaultConfig()), Tokens: tokens, Admin: auth, BaseURL: base,
		SessionTTL: time.Hour, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	w.now = func() time.Time { return now }
	tokens.now = w.now
	return w, &now, admin
}

// webHandler serves w's pages around a page that answers 418 with the
// caller's login, behind the guard, as the daemon's HTTP listener does.
func webHandler(w *Web, hosts ...string) http.Handler {
	inner := http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		c, _ := w.Caller(r)
		rw.WriteHeader(http.StatusTeapot)
		io.WriteString(rw, c.Login+" "+c.Via)
	})
	return GuardFor(w.Wrap(inner, nil), hosts...)
}

func hit(h http.Handler, method, target string, hdr map[string]string, body string, cookies ...*http.Cookie) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	for _, c := range cookies {
		r.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

func sessionCookie(t *testing.T, rec *httptest.ResponseRecorder) *http.Cookie {
	t.Helper()
	for _, c := range rec.Result().Cookies() {
		if c.Name == SessionCookie {
			return c
		}
	}
	t.Fatalf("no session cookie in %d %v", rec.Code, rec.Result().Header)
	return nil
}

func TestSignInLink(t *testing.T) {
	w, now, _ := testWeb(t, "http://127.0.0.1:8139")
	h := webHandler(w)
	alice := numbered(4242)
	in, err := w.NewCode(alice)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(in.URL, "http://127.0.0.1:8139/signin?code=") || !in.Expires.Equal(now.Add(CodeTTL)) {
		t.Fatalf("sign-in link %+v", in)
	}
	if rec := hit(h, "GET", "http://127.0.0.1:8139/", nil, ""); rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != SignInPath {
		t.Errorf("page without a session: %d %q, want a redirect to %s", rec.Code, rec.Header().Get("Location"), SignInPath)
	}
	if rec := hit(h, "GET", "http://127.0.0.1:8139/signin", nil, ""); rec.Code != 200 || !strings.Contains(rec.Body.String(), "messenger web") {
		t.Errorf("sign-in page: %d %s", rec.Code, rec.Body)
	}

	rec := hit(h, "GET", in.URL, nil, "")
	if rec.Code != 200 {
		t.Fatalf("following the link: %d %s", rec.Code, rec.Body)
	}
	ck := sessionCookie(t, rec)
	if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Secure || ck.Path != "/" || ck.MaxAge != 3600 {
		t.Errorf("cookie attributes: %+v", ck)
	}
	u, _ := url.Parse(in.URL)
	if ck.Value == u.Query().Get("code") || strings.Contains(ck.Value, u.Query().Get("code")) {
		t.Error("the cookie holds the code")
	}
	if rec := hit(h, "GET", "http://127.0.0.1:8139/", nil, "", ck); rec.Code != http.StatusTeapot || rec.Body.String() != "4242 session" {
		t.Errorf("page with the session: %d %q", rec.Code, rec.Body)
	}

	// A link works once.
	if rec := hit(h, "GET", in.URL, nil, ""); rec.Code != http.StatusUnauthorized || len(rec.Result().Cookies()) != 0 {
		t.Errorf("the link a second time: %d %v", rec.Code, rec.Result().Cookies())
	}
	// And not after CodeTTL.
	late, _ := w.NewCode(alice)
	*now = now.Add(CodeTTL)
	if rec := hit(h, "GET", late.URL, nil, ""); rec.Code != http.StatusUnauthorized {
		t.Errorf("an expired link: %d", rec.Code)
	}

	// Sign-out: a form post from the page; the session is gone, even for
	// a copy of the cookie.
	origin := map[string]string{"Origin": "http://127.0.0.1:8139", "Content-Type": "application/x-www-form-urlencoded"}
	if rec := hit(h, "POST", "http://127.0.0.1:8139/signout", map[string]string{"Origin": "http://evil.example"}, "", ck); rec.Code != http.StatusForbidden {
		t.Errorf("sign-out posted from another site: %d, want 403", rec.Code)
	}
	out := hit(h, "POST", "http://127.0.0.1:8139/signout", origin, "", ck)
	if out.Code != http.StatusSeeOther || sessionCookie(t, out).MaxAge >= 0 {
		t.Errorf("sign-out: %d %v", out.Code, out.Result().Cookies())
	}
	if rec := hit(h, "GET", "http://127.0.0.1:8139/", nil, "", ck); rec.Code != http.StatusSeeOther {
		t.Errorf("page after sign-out: %d", rec.Code)
	}
}

func TestSessionExpires(t *testing.T) {
	w, now, _ := testWeb(t, "https://messenger.example")
	h := webHandler(w, "https://messenger.example")
	in, _ := w.NewCode(numbered(4242))
	// Through the proxy: Host is the external name.
	rec := hit(h, "GET", strings.Replace(in.URL, "https://", "http://", 1), nil, "")
	ck := sessionCookie(t, rec)
	if !ck.Secure {
		t.Errorf("cookie for an https external_url is not Secure: %+v", ck)
	}
	*now = now.Add(time.Hour - time.Second)
	if rec := hit(h, "GET", "http://messenger.example/", nil, "", ck); rec.Code != http.StatusTeapot {
		t.Errorf("session before its end: %d", rec.Code)
	}
	*now = now.Add(time.Second)
	if rec := hit(h, "GET", "http://messenger.example/", nil, "", ck); rec.Code != http.StatusSeeOther {
		t.Errorf("session after session_ttl: %d", rec.Code)
	}
}

// Behind a TLS proxy the page's changes come with the external URL's
// origin, whatever Host the proxy passes on.
func TestGuardExternalURL(t *testing.T) {
	inner := http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { rw.WriteHeader(http.StatusTeapot) })
	h := GuardFor(inner, "https://messenger.example")
	change := func(host, origin string) int {
		return hit(h, "POST", "http://"+host+"/v1/send", map[string]string{"Origin": origin, RequestHeader: "1"}, "").Code
	}
	for _, c := range []struct {
		host, origin string
		want         int
	}{
		{"messenger.example", "https://messenger.example", http.StatusTeapot},
		{"127.0.0.1:8139", "https://messenger.example", http.StatusTeapot},
		{"127.0.0.1:8139", "http://127.0.0.1:8139", http.StatusTeapot},
		{"messenger.example", "https://evil.example", http.StatusForbidden},
		{"messenger.example", "http://messenger.example.evil.example", http.StatusForbidden},
		{"evil.example", "https://evil.example", http.StatusMisdirectedRequest},
	} {
		if got := change(c.host, c.origin); got != c.want {
			t.Errorf("Host %s, Origin %s: %d, want %d", c.host, c.origin, got, c.want)
		}
	}
}

// The admin web token still signs in, as root, and opens a session: the
// cookie never holds the token.
func TestAdminTokenSignIn(t *testing.T) {
	w, _, admin := testWeb(t, "http://10.9.8.7:8139")
	h := webHandler(w, "10.9.8.7")
	base := "http://10.9.8.7:8139"
	form := "application/x-www-form-urlencoded"
	if rec := hit(h, "GET", base+"/v1/status", map[string]string{"Authorization": "Bearer " + admin}, ""); rec.Code != http.StatusTeapot || rec.Body.String() != "root admin-token" {
		t.Errorf("bearer admin token: %d %q", rec.Code, rec.Body)
	}
	if rec := hit(h, "POST", base+LoginPath, map[string]string{"Content-Type": form, "Origin": base}, "token=nope"); rec.Code != http.StatusUnauthorized {
		t.Errorf("sign-in with a wrong token: %d", rec.Code)
	}
	if rec := hit(h, "POST", base+SignInPath, map[string]string{"Content-Type": form, "Origin": "http://evil.example"}, "token="+url.QueryEscape(admin)); rec.Code != http.StatusForbidden {
		t.Errorf("sign-in posted from another site: %d, want 403", rec.Code)
	}
	rec := hit(h, "POST", base+SignInPath, map[string]string{"Content-Type": form, "Origin": base}, "token="+url.QueryEscape(admin))
	ck := sessionCookie(t, rec)
	if rec.Code != http.StatusSeeOther || strings.Contains(ck.Value, admin) || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode {
		t.Fatalf("sign-in: %d %+v", rec.Code, ck)
	}
	if rec := hit(h, "GET", base+"/", nil, "", ck); rec.Code != http.StatusTeapot || rec.Body.String() != "root session" {
		t.Errorf("page with the session: %d %q", rec.Code, rec.Body)
	}
}

func TestTokens(t *testing.T) {
	w, now, _ := testWeb(t, "http://127.0.0.1:8139")
	h := webHandler(w)
	alice, bob := numbered(4242), numbered(4243)
	made, err := w.Tokens.Create(alice, "phone")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Tokens.Create(alice, "phone"); err == nil {
		t.Error("a second token of the same name")
	}
	if _, err := w.Tokens.Create(alice, "no spaces"); err == nil {
		t.Error("a token name with a space")
	}
	if _, err := w.Tokens.Create(bob, "phone"); err != nil {
		t.Errorf("bob's own token named like alice's: %v", err)
	}

	path := filepath.Join(filepath.Dir(w.Tokens.path), TokensFileName)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("token file mode %v, want 0600", fi.Mode().Perm())
	}
	b, _ := os.ReadFile(path)
	if strings.Contains(string(b), made.Token) || !strings.Contains(string(b), `"sha256"`) {
		t.Errorf("token file holds the token or no hash:\n%s", b)
	}

	get := func(hdr map[string]string, target string) (int, string) {
		rec := hit(h, "GET", "http://127.0.0.1:8139"+target, hdr, "")
		return rec.Code, rec.Body.String()
	}
	if code, who := get(map[string]string{"Authorization": "Bearer " + made.Token}, "/"); code != http.StatusTeapot || who != "4242 token" {
		t.Errorf("bearer token: %d %q", code, who)
	}
	if c, _ := w.Caller(httptest.NewRequest("GET", "/", nil)); c.Login != "" {
		t.Errorf("no credential made a caller %+v", c)
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.SetBasicAuth("", made.Token)
	if c, ok := w.Caller(r); !ok || c.Login != "4242" || c.Token != "phone" || c.Via != "token" {
		t.Errorf("basic auth: %+v %v", c, ok)
	}
	r = httptest.NewRequest("GET", "/?auth="+base64URL("Bearer "+made.Token), nil)
	if c, ok := w.Caller(r); !ok || c.Login != "4242" {
		t.Errorf("?auth=: %+v %v", c, ok)
	}
	if code, _ := get(map[string]string{"Authorization": "Bearer " + made.Token + "x"}, "/v1/x"); code == http.StatusTeapot {
		t.Error("a wrong token let through")
	}

	// Last use is noted, and listed.
	*now = now.Add(time.Hour)
	get(map[string]string{"Authorization": "Bearer " + made.Token}, "/")
	list := w.Tokens.List(alice.UID)
	if len(list) != 1 || list[0].Name != "phone" || list[0].User != "4242" || list[0].LastUsed == nil || !list[0].LastUsed.Equal(*now) {
		t.Errorf("alice's tokens: %+v", list)
	}
	if all := w.Tokens.List(-1); len(all) != 2 {
		t.Errorf("every token: %+v", all)
	}

	// Reopened from the file, and revoked.
	again, err := OpenTokens(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if st, ok := again.match(made.Token); !ok || st.UID != alice.UID {
		t.Errorf("reopened store does not know the token: %+v", st)
	}
	if err := w.Tokens.Revoke(bob.UID, "nope"); err == nil {
		t.Error("revoking a token that does not exist")
	}
	if err := w.Tokens.Revoke(alice.UID, "phone"); err != nil {
		t.Fatal(err)
	}
	if code, _ := get(map[string]string{"Authorization": "Bearer " + made.Token}, "/"); code == http.StatusTeapot {
		t.Error("a revoked token let through")
	}
	if list := w.Tokens.List(bob.UID); len(list) != 1 {
		t.Errorf("revoking alice's token touched bob's: %+v", list)
	}
}

func base64URL(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
