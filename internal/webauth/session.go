// Package webauth is the HTTP listener's sign-in and its guard: one-time
// sign-in links, the sessions they open, the users' API tokens, the admin
// web token, and the checks of Host, Origin and the request header that
// keep other sites and rebound names out.
package webauth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/netsend/messenger/internal/access"
	"github.com/netsend/messenger/internal/apitype"
)

// SignInPath is where a sign-in link (made by `messenger web`) lands and
// where the page sends a browser without a session; SignOutPath ends the
// session.
const (
	SignInPath  = "/signin"
	SignOutPath = "/signout"
)

// SessionCookie holds a web session's random id: the session itself
// (whose it is, until when) stays in the daemon's memory.
const SessionCookie = "messenger_session"

// CodeTTL is how long a sign-in link works: long enough to paste it into
// a browser, short enough that one found in a terminal's scrollback later
// is useless. A link works once.
const CodeTTL = 2 * time.Minute

// Web is the HTTP listener's sign-in and its Credentials: one-time
// sign-in codes, the sessions they open (in memory: a restart of the
// daemon signs everyone out), the users' API tokens and the admin web
// token of `messenger web token`.
type Web struct {
	Accounts *access.Accounts
	Tokens   *Tokens
	// Admin is the admin web token; nil when none was made.
	Admin *Auth
	// BaseURL is where sign-in links point: [web] external_url, or the
	// HTTP listener's own address; empty when there is no listener.
	BaseURL string
	// SessionTTL is how long a session lasts from sign-in.
	SessionTTL time.Duration
	Log        *slog.Logger

	now func() time.Time

	mu       sync.Mutex
	codes    map[[sha256.Size]byte]grant
	sessions map[[sha256.Size]byte]grant
}

// grant is a code's or a session's account and end. Only the account is
// kept, not the caller: its role and groups are looked up at each
// request, so that leaving the admin group takes effect at once.
type grant struct {
	uid     int
	login   string
	expires time.Time
}

func (w *Web) clock() time.Time {
	if w.now != nil {
		return w.now()
	}
	return time.Now()
}

// secret makes a random secret and the key it is stored under: its
// SHA-256, so that the maps hold nothing a browser could present.
func secret() (string, [sha256.Size]byte, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", [sha256.Size]byte{}, fmt.Errorf("making a secret: %w", err)
	}
	s := base64.RawURLEncoding.EncodeToString(raw)
	return s, sha256.Sum256([]byte(s)), nil
}

// NewCode makes a one-time sign-in link for c.
func (w *Web) NewCode(c access.Caller) (apitype.SignIn, error) {
	if w.BaseURL == "" {
		return apitype.SignIn{}, fmt.Errorf("the daemon serves no web page: set http_addr (or [web] external_url behind a proxy)")
	}
	code, key, err := secret()
	if err != nil {
		return apitype.SignIn{}, err
	}
	exp := w.clock().Add(CodeTTL)
	w.mu.Lock()
	if w.codes == nil {
		w.codes = map[[sha256.Size]byte]grant{}
	}
	w.sweep(w.codes)
	w.codes[key] = grant{uid: c.UID, login: c.Login, expires: exp}
	w.mu.Unlock()
	return apitype.SignIn{URL: strings.TrimSuffix(w.BaseURL, "/") + SignInPath + "?code=" + url.QueryEscape(code), Expires: exp}, nil
}

// sweep drops the expired entries of m, so that codes never used and
// sessions never signed out do not pile up. Its caller holds mu.
func (w *Web) sweep(m map[[sha256.Size]byte]grant) {
	now := w.clock()
	for k, g := range m {
		if !now.Before(g.expires) {
			delete(m, k)
		}
	}
}

// redeem takes a code, once, and opens a session for its account.
func (w *Web) redeem(code string) (string, grant, bool) {
	key := sha256.Sum256([]byte(code))
	w.mu.Lock()
	g, ok := w.codes[key]
	delete(w.codes, key) // used or expired, it never works again
	w.mu.Unlock()
	if !ok || !w.clock().Before(g.expires) {
		return "", grant{}, false
	}
	id, err := w.open(g.uid, g.login)
	if err != nil {
		w.Log.Error("web sign-in", slog.Any("err", err))
		return "", grant{}, false
	}
	return id, g, true
}

// open starts a session for an account and returns its id.
func (w *Web) open(uid int, login string) (string, error) {
	id, key, err := secret()
	if err != nil {
		return "", err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.sessions == nil {
		w.sessions = map[[sha256.Size]byte]grant{}
	}
	w.sweep(w.sessions)
	w.sessions[key] = grant{uid: uid, login: login, expires: w.clock().Add(w.SessionTTL)}
	return id, nil
}

func (w *Web) session(r *http.Request) (grant, bool) {
	ck, err := r.Cookie(SessionCookie)
	if err != nil || ck.Value == "" {
		return grant{}, false
	}
	key := sha256.Sum256([]byte(ck.Value))
	w.mu.Lock()
	defer w.mu.Unlock()
	g, ok := w.sessions[key]
	if ok && !w.clock().Before(g.expires) {
		delete(w.sessions, key)
		return grant{}, false
	}
	return g, ok
}

func (w *Web) close(r *http.Request) {
	if ck, err := r.Cookie(SessionCookie); err == nil {
		key := sha256.Sum256([]byte(ck.Value))
		w.mu.Lock()
		delete(w.sessions, key)
		w.mu.Unlock()
	}
}

// Caller implements Credentials: a session cookie, a user's API token or
// the admin web token, in that order.
func (w *Web) Caller(r *http.Request) (access.Caller, bool) {
	if g, ok := w.session(r); ok {
		c, ok := w.account(g.uid, g.login)
		c.Via = "session"
		return c, ok
	}
	token := requestToken(r)
	if token == "" {
		return access.Caller{}, false
	}
	if w.Tokens != nil {
		if st, ok := w.Tokens.match(token); ok {
			c, ok := w.account(st.UID, st.User)
			c.Via, c.Token = "token", st.Name
			return c, ok
		}
	}
	if w.Admin != nil && w.Admin.valid(token) {
		return access.Caller{UID: 0, Login: "root", Admin: true, Via: "admin-token"}, true
	}
	return access.Caller{}, false
}

// account looks up the account a session or token was made for. An
// account that is gone, or whose uid now belongs to another login (a
// user deleted and the uid given again), gets nothing.
func (w *Web) account(uid int, login string) (access.Caller, bool) {
	c, err := w.Accounts.ByUID(uid)
	if err != nil || c.Login != login {
		return access.Caller{}, false
	}
	return c, true
}

// secure says whether cookies must be Secure: on a TLS connection, or
// when the page is published at an https external_url (a TLS proxy in
// front of a plain-HTTP listener).
func (w *Web) secure(r *http.Request) bool {
	return r.TLS != nil || strings.HasPrefix(strings.ToLower(w.BaseURL), "https://")
}

func (w *Web) setSession(rw http.ResponseWriter, r *http.Request, id string) {
	http.SetCookie(rw, &http.Cookie{Name: SessionCookie, Value: id, Path: "/", MaxAge: int(w.SessionTTL / time.Second),
		Expires: w.clock().Add(w.SessionTTL), HttpOnly: true, Secure: w.secure(r), SameSite: http.SameSiteStrictMode})
}

// Wrap serves the sign-in and sign-out pages and lets through to next
// (the web page) only requests with a credential; others are sent to the
// sign-in page. The stylesheet is open, as the sign-in page uses it, and
// so are the manifest and icons (openWebPaths).
//
// open says which paths the page may serve without a session.
func (w *Web) Wrap(next http.Handler, open func(path string) bool) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case SignInPath, LoginPath:
			w.signIn(rw, r)
			return
		case SignOutPath:
			w.signOut(rw, r)
			return
		}
		if open != nil && open(r.URL.Path) {
			next.ServeHTTP(rw, r)
			return
		}
		if _, ok := w.Caller(r); ok {
			next.ServeHTTP(rw, r)
			return
		}
		http.Redirect(rw, r, SignInPath, http.StatusSeeOther)
	})
}

const signInPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Messenger: sign in</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="stylesheet" href="/style.css"></head>
<body><main class="signin"><h1>Messenger</h1>
<!--notice-->
<p>To sign in, run <code>messenger web</code> as yourself on the daemon's host: it prints a
link that signs you in once, within two minutes (<code>messenger web --open</code> opens it).</p>
<details><summary>Admin web token</summary>
<form method="post" action="/signin">
<label>Token <input type="password" name="token" autocomplete="current-password" required></label>
<button type="submit">Sign in</button></form>
<p>The token comes from <code>messenger web token</code> on the daemon's host; it signs in as root.</p>
</details></main></body></html>
`

// signedInPage moves on to the inbox by a refresh rather than a redirect:
// a SameSite=Strict cookie set during a redirect chain that began on
// another site (a link clicked in a chat) is not sent along it, but a
// navigation this page makes is same-site.
const signedInPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Messenger: signed in</title>
<meta http-equiv="refresh" content="0;url=/"><link rel="stylesheet" href="/style.css"></head>
<body><main class="signin"><h1>Messenger</h1><p>Signed in as %s. <a href="/">Open the inbox</a>.</p></main></body></html>
`

func htmlPage(rw http.ResponseWriter, code int, page string) {
	rw.Header().Set("Content-Type", "text/html; charset=utf-8")
	rw.Header().Set("Cache-Control", "no-store")
	rw.WriteHeader(code)
	rw.Write([]byte(page))
}

func notice(text string) string {
	return strings.Replace(signInPage, "<!--notice-->", `<p role="alert">`+html.EscapeString(text)+`</p>`, 1)
}

func (w *Web) signIn(rw http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		code := r.URL.Query().Get("code")
		if code == "" {
			htmlPage(rw, http.StatusOK, strings.Replace(signInPage, "<!--notice-->\n", "", 1))
			return
		}
		id, g, ok := w.redeem(code)
		if !ok {
			htmlPage(rw, http.StatusUnauthorized, notice("That sign-in link has expired or was used already. Run messenger web for a new one."))
			return
		}
		w.setSession(rw, r, id)
		w.Log.Info("web sign-in", slog.String("user", g.login), slog.String("via", "link"))
		htmlPage(rw, http.StatusOK, fmt.Sprintf(signedInPage, html.EscapeString(g.login)))
	case http.MethodPost:
		// The admin web token's form: a session, as root, rather than the
		// token itself in a cookie.
		r.Body = http.MaxBytesReader(rw, r.Body, 4096)
		if err := r.ParseForm(); err != nil || w.Admin == nil || !w.Admin.valid(r.PostForm.Get("token")) {
			htmlPage(rw, http.StatusUnauthorized, notice("That token is not right."))
			return
		}
		id, err := w.open(0, "root")
		if err != nil {
			w.Log.Error("web sign-in", slog.Any("err", err))
			writeJSONError(rw, http.StatusInternalServerError, apitype.Error{Error: "internal error; see the daemon's log"})
			return
		}
		w.setSession(rw, r, id)
		w.Log.Info("web sign-in", slog.String("user", "root"), slog.String("via", "admin-token"))
		http.Redirect(rw, r, "/", http.StatusSeeOther)
	default:
		rw.Header().Set("Allow", "GET, HEAD, POST")
		writeJSONError(rw, http.StatusMethodNotAllowed, apitype.Error{Error: fmt.Sprintf("%s is not allowed here", r.Method)})
	}
}

func (w *Web) signOut(rw http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		rw.Header().Set("Allow", "POST")
		writeJSONError(rw, http.StatusMethodNotAllowed, apitype.Error{Error: fmt.Sprintf("%s is not allowed here: sign out with POST", r.Method)})
		return
	}
	w.close(r)
	http.SetCookie(rw, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: w.secure(r), SameSite: http.SameSiteStrictMode})
	http.Redirect(rw, r, SignInPath, http.StatusSeeOther)
}
