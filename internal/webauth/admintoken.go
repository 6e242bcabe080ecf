package webauth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// TokenFileName holds, in the data directory, the SHA-256 of the token
// that opens the web page and API on a listener off loopback. The token
// itself is shown once, when made, and stored nowhere.
const TokenFileName = "web-token.sha256"

// LoginPath is where the sign-in form used to be; it still answers, as
// SignInPath does, for bookmarks.
const LoginPath = "/login"

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

// Auth knows the admin web token by its hash; Web takes it as a
// credential, as a bearer token (scripts) or in the sign-in form, which
// opens a session rather than keeping the token in a cookie.
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
