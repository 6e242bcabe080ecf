package api

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/netsend/messenger/internal/access"
)

// TokenFileName holds, in the data directory, the SHA-256 of the token
// that opens the web page and API on a listener off loopback. The token
// itself is shown once, when made, and stored nowhere.
const TokenFileName = "web-token.sha256"

// LoginPath is where the web page asks for the token.
const LoginPath = "/login"

const sessionCookie = "messenger_token"

// NewToken makes a random token and writes its hash into dataDir.
func NewToken(dataDir string) (string, error) {
	token, hash, err := MakeToken()
	if err != nil {
		return "", err
	}
	path := filepath.Join(dataDir, TokenFileName)
	if err := os.WriteFile(path, []byte(hash+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("writing %s: %w", path, err)
	}
	return token, nil
}

// MakeToken makes a random token (32 bytes, base64url) and returns it
// with its SHA-256 in hex, which is all that is ever stored of it.
func MakeToken() (token, hash string, err error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", "", fmt.Errorf("making a token: %w", err)
	}
	token = base64.RawURLEncoding.EncodeToString(raw)
	sum := sha256.Sum256([]byte(token))
	return token, hex.EncodeToString(sum[:]), nil
}

// ErrNoToken means no token was made for this data directory.
var ErrNoToken = errors.New("no web token: run \"messenger web token\"")

// Auth admits requests that carry the token, as a bearer token (scripts)
// or as the cookie the login form sets (the web page).
type Auth struct {
	hash [sha256.Size]byte
}

// LoadAuth reads the token hash of dataDir.
func LoadAuth(dataDir string) (*Auth, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, TokenFileName))
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNoToken
	}
	if err != nil {
		return nil, err
	}
	raw, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(raw) != sha256.Size {
		return nil, fmt.Errorf("%s is not a SHA-256 in hex; make a new token", TokenFileName)
	}
	a := &Auth{}
	copy(a.hash[:], raw)
	return a, nil
}

func (a *Auth) valid(token string) bool {
	sum := sha256.Sum256([]byte(token))
	return token != "" && subtle.ConstantTimeCompare(sum[:], a.hash[:]) == 1
}

// Wrap lets through requests with the token; the login page and form are
// open; other web pages send the browser to the login page, API calls get
// 401.
func (a *Auth) Wrap(next http.Handler) http.Handler {
	if a == nil {
		a = &Auth{} // no token made: nothing is valid, the login page says so
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == LoginPath {
			a.login(w, r)
			return
		}
		token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if c, err := r.Cookie(sessionCookie); err == nil && token == "" {
			token = c.Value
		}
		if a.valid(token) {
			next.ServeHTTP(w, r)
			return
		}
		if strings.HasPrefix(r.URL.Path, "/v1/") {
			w.Header().Set("WWW-Authenticate", `Bearer realm="messenger"`)
			writeJSON(w, http.StatusUnauthorized, Error{Error: "a token is needed off loopback (Authorization: Bearer TOKEN)"})
			return
		}
		http.Redirect(w, r, LoginPath, http.StatusSeeOther)
	})
}

const loginPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Messenger: sign in</title><link rel="stylesheet" href="/style.css"></head>
<body><main><h1>Messenger</h1><form method="post" action="/login">
<label>Token <input type="password" name="token" autocomplete="current-password" required></label>
<button type="submit">Sign in</button></form>
<p>The token comes from <code>messenger web token</code> on the daemon's host.</p></main></body></html>
`

func (a *Auth) login(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(loginPage))
	case http.MethodPost:
		r.Body = http.MaxBytesReader(w, r.Body, 4096)
		if err := r.ParseForm(); err != nil || !a.valid(r.PostForm.Get("token")) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(strings.Replace(loginPage, "<form", `<p role="alert">That token is not right.</p><form`, 1)))
			return
		}
		http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: r.PostForm.Get("token"), Path: "/",
			HttpOnly: true, SameSite: http.SameSiteStrictMode})
		http.Redirect(w, r, "/", http.StatusSeeOther)
	default:
		writeError(w, http.StatusMethodNotAllowed, fmt.Errorf("%s is not allowed here", r.Method))
	}
}

// AdminToken is the web token made by `messenger web token` as a
// credential: whoever holds it acts as an admin (it was made by one).
type AdminToken struct {
	Auth *Auth // nil when no token was made
}

// Caller implements Credentials.
func (t AdminToken) Caller(r *http.Request) (access.Caller, bool) {
	if t.Auth == nil {
		return access.Caller{}, false
	}
	token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if c, err := r.Cookie(sessionCookie); err == nil && token == "" {
		token = c.Value
	}
	if !t.Auth.valid(token) {
		return access.Caller{}, false
	}
	return access.Caller{UID: 0, Login: "root", Admin: true, Via: "admin-token"}, true
}
