package webauth

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/netsend/messenger/internal/access"
	"github.com/netsend/messenger/internal/apitype"
)

// TokensFileName holds, in the data directory, the users' API tokens:
// their names, owners and SHA-256, never the tokens themselves.
const TokensFileName = "tokens.json"

// lastUsedEvery bounds how often a token's use is written to the file:
// "last used" is a hint for spotting dead tokens, not an audit log, and a
// script polling every second must not rewrite the file every second.
const lastUsedEvery = 10 * time.Minute

type storedToken struct {
	Name     string     `json:"name"`
	User     string     `json:"user"`
	UID      int        `json:"uid"`
	SHA256   string     `json:"sha256"`
	Created  time.Time  `json:"created"`
	LastUsed *time.Time `json:"last_used,omitempty"`

	hash    [sha256.Size]byte
	written time.Time // LastUsed as the file has it
}

func (t *storedToken) info() apitype.TokenInfo {
	return apitype.TokenInfo{Name: t.Name, User: t.User, Created: t.Created, LastUsed: t.LastUsed}
}

type tokensFile struct {
	Tokens []*storedToken `json:"tokens"`
}

// ErrTokenExists is returned when the account already has a token of
// that name; ErrNoSuchToken when it has none.
var (
	ErrTokenExists = errors.New("token exists")
	ErrNoSuchToken = errors.New("no such token")
)

// ErrBadTokenName is a token name that is not 1 to 64 letters, digits,
// '-', '_' or '.'.
var ErrBadTokenName = errors.New("use 1 to 64 letters, digits, '-', '_' or '.'")

var tokenNameRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// Tokens are the users' API tokens, kept in a file of the data
// directory that only the daemon's account may read.
type Tokens struct {
	path string
	now  func() time.Time

	mu   sync.Mutex
	list []*storedToken
}

// OpenTokens reads the token file of dataDir; a missing file is an empty
// list.
func OpenTokens(dataDir string) (*Tokens, error) {
	t := &Tokens{path: filepath.Join(dataDir, TokensFileName), now: time.Now}
	b, err := os.ReadFile(t.path)
	if errors.Is(err, os.ErrNotExist) {
		return t, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the API tokens: %w", err)
	}
	var f tokensFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("reading the API tokens in %s: %w", t.path, err)
	}
	for _, st := range f.Tokens {
		raw, err := hex.DecodeString(st.SHA256)
		if err != nil || len(raw) != sha256.Size {
			return nil, fmt.Errorf("%s: token %q of %s has no SHA-256 in hex", t.path, st.Name, st.User)
		}
		copy(st.hash[:], raw)
		if st.LastUsed != nil {
			st.written = *st.LastUsed
		}
		t.list = append(t.list, st)
	}
	return t, nil
}

// Create makes a token named name for c, stores its hash and returns it
// with the token, which is not kept.
func (t *Tokens) Create(c access.Caller, name string) (apitype.NewTokenResponse, error) {
	if !tokenNameRE.MatchString(name) {
		return apitype.NewTokenResponse{}, fmt.Errorf("token name %q: %w", name, ErrBadTokenName)
	}
	token, hash, err := MakeToken()
	if err != nil {
		return apitype.NewTokenResponse{}, err
	}
	st := &storedToken{Name: name, User: c.Login, UID: c.UID, SHA256: hash, Created: t.now().UTC().Truncate(time.Second)}
	raw, _ := hex.DecodeString(hash)
	copy(st.hash[:], raw)
	t.mu.Lock()
	defer t.mu.Unlock()
	if slices.ContainsFunc(t.list, func(o *storedToken) bool { return o.UID == c.UID && o.Name == name }) {
		return apitype.NewTokenResponse{}, fmt.Errorf("%w: %s already has a token named %q; revoke it first", ErrTokenExists, c.Login, name)
	}
	next := append(slices.Clip(t.list), st)
	if err := t.write(next); err != nil {
		return apitype.NewTokenResponse{}, err
	}
	t.list = next
	return apitype.NewTokenResponse{TokenInfo: st.info(), Token: token}, nil
}

// List returns the tokens of the account uid, or everyone's when uid is
// negative, ordered by user and name.
func (t *Tokens) List(uid int) []apitype.TokenInfo {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := []apitype.TokenInfo{}
	for _, st := range t.list {
		if uid < 0 || st.UID == uid {
			out = append(out, st.info())
		}
	}
	slices.SortFunc(out, func(a, b apitype.TokenInfo) int {
		if c := strings.Compare(a.User, b.User); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out
}

// Revoke deletes the token name of the account uid.
func (t *Tokens) Revoke(uid int, name string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	i := slices.IndexFunc(t.list, func(o *storedToken) bool { return o.UID == uid && o.Name == name })
	if i < 0 {
		return fmt.Errorf("%w named %q", ErrNoSuchToken, name)
	}
	next := slices.Delete(slices.Clone(t.list), i, i+1)
	if err := t.write(next); err != nil {
		return err
	}
	t.list = next
	return nil
}

// match returns the stored token whose hash is token's. Every stored hash
// is compared, in constant time, so the answer's timing tells nothing of
// which tokens exist. It notes the use.
func (t *Tokens) match(token string) (storedToken, bool) {
	if token == "" {
		return storedToken{}, false
	}
	sum := sha256.Sum256([]byte(token))
	t.mu.Lock()
	defer t.mu.Unlock()
	var found *storedToken
	for _, st := range t.list {
		if subtle.ConstantTimeCompare(sum[:], st.hash[:]) == 1 {
			found = st
		}
	}
	if found == nil {
		return storedToken{}, false
	}
	now := t.now().UTC().Truncate(time.Second)
	found.LastUsed = &now
	if now.Sub(found.written) >= lastUsedEvery {
		// A failed write loses only the hint; the request goes on.
		if t.write(t.list) == nil {
			found.written = now
		}
	}
	return *found, true
}

// write replaces the file with list, atomically: a crash leaves the old
// file or the new one, never half of one.
func (t *Tokens) write(list []*storedToken) error {
	b, err := json.MarshalIndent(tokensFile{Tokens: list}, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(t.path), ".tokens-*.json")
	if err != nil {
		return fmt.Errorf("writing the API tokens: %w", err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	// CreateTemp makes the file 0600 already; Chmod says so against a
	// umask-less future change of it.
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("writing the API tokens: %w", err)
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("writing the API tokens: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("writing the API tokens: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing the API tokens: %w", err)
	}
	if err := os.Rename(tmp.Name(), t.path); err != nil {
		return fmt.Errorf("writing the API tokens: %w", err)
	}
	return nil
}

// requestToken returns the API token an HTTP request carries, from the
// places clients put one: "Authorization: Bearer TOKEN"; Basic with the
// token as password and any user name, as ntfy clients send it
// (curl -u :TOKEN); and ntfy's ?auth=, the Authorization value in
// unpadded URL base64, for clients that cannot set headers (EventSource).
func requestToken(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if h == "" {
		if v := r.URL.Query().Get("auth"); v != "" {
			h = authParam(v)
		}
	}
	if tok, ok := strings.CutPrefix(h, "Bearer "); ok {
		return strings.TrimSpace(tok)
	}
	if strings.HasPrefix(h, "Basic ") {
		r2 := &http.Request{Header: http.Header{"Authorization": {h}}}
		if _, pass, ok := r2.BasicAuth(); ok {
			return pass
		}
	}
	return ""
}

// authParam reads ntfy's ?auth=: the Authorization value in base64,
// which clients write URL-safe or standard, padded or not. A value that
// decodes to no Authorization value is taken as the bare token, which
// people paste into a subscription URL by hand.
func authParam(v string) string {
	v = strings.TrimRight(strings.TrimSpace(v), "=")
	for _, enc := range []*base64.Encoding{base64.RawURLEncoding, base64.RawStdEncoding} {
		if b, err := enc.DecodeString(v); err == nil {
			if s := string(b); strings.HasPrefix(s, "Bearer ") || strings.HasPrefix(s, "Basic ") {
				return s
			}
		}
	}
	return "Bearer " + v
}
