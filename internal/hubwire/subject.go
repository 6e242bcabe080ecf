// Package hubwire is the hub's protocol without its transport: the JSON
// of envelopes, receipts and registry records (bytes in, checked structs
// out), the subject tokens hosts and names become, and the topology —
// the names and configurations of the streams, buckets and consumers.
// It opens no connection and starts no goroutine; packages hub (the
// daemon's runtime), hubauth (credentials and provisioning) and
// hubserver (the embedded server) build on it. docs/protocols/hub.md
// describes the protocol.
package hubwire

import (
	"encoding/hex"
	"fmt"
	"strings"
)

// SubjectToken turns a host or messenger name into one subject token (and
// key-value key part): names of only A-Z, 0-9, '_' and '-' stay as they
// are (upper-cased); anything else becomes "x" and the hex of its UTF-8
// bytes, so that no name can become a wildcard, an extra token or an
// empty one.
func SubjectToken(name string) string {
	up := strings.ToUpper(name)
	plain := up != ""
	for i := 0; i < len(up) && plain; i++ {
		c := up[i]
		plain = c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
	}
	// A plain name starting with 'X' followed by hex digits could pass for
	// an encoded one; plain names never start with a lower-case x, and
	// encoded ones always do.
	if plain {
		return up
	}
	return "x" + hex.EncodeToString([]byte(up))
}

// NameFromToken reverses SubjectToken.
func NameFromToken(tok string) (string, error) {
	if rest, ok := strings.CutPrefix(tok, "x"); ok {
		b, err := hex.DecodeString(rest)
		if err != nil || len(b) == 0 {
			return "", fmt.Errorf("hub: subject token %q is not a name", tok)
		}
		return string(b), nil
	}
	if tok == "" || SubjectToken(tok) != tok {
		return "", fmt.Errorf("hub: subject token %q is not a name", tok)
	}
	return tok, nil
}
