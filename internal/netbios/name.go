package netbios

import (
	"fmt"
	"strings"
)

// NameLen is the length of a NetBIOS name: 15 name bytes and the suffix.
const NameLen = 16

// maxBaseLen is how many bytes of a name the user chooses; the 16th is the
// suffix ("name type") that says which service the name belongs to.
const maxBaseLen = NameLen - 1

// Name is a 16-byte NetBIOS name as RFC 1001 defines it: 15 OEM bytes,
// right-padded with spaces, and a suffix byte. It is a comparable value, so
// it can be a map key; == compares the exact bytes.
type Name struct {
	b [NameLen]byte
}

// forbiddenNameBytes are the characters Windows refuses in computer names
// and message aliases; a name containing them could not have been
// registered by a real peer. '*' is kept for the wildcard, which only
// WildcardName can produce.
const forbiddenNameBytes = "\"/\\[]:|<>+=;,?*"

// NewName builds the name s<suffix>. s is OEM bytes (the caller has already
// converted from Unicode with the configured code page); ASCII letters are
// upper-cased as NetBT did before registering or looking up a name. The
// suffix is not validated: every byte value is a legitimate name type.
func NewName(s string, suffix byte) (Name, error) {
	var n Name
	switch {
	case s == "":
		return n, fmt.Errorf("netbios: %w: empty name", ErrInvalidName)
	case len(s) > maxBaseLen:
		return n, fmt.Errorf("netbios: %w: %q is %d bytes, more than %d", ErrInvalidName, s, len(s), maxBaseLen)
	case s[0] == '.':
		return n, fmt.Errorf("netbios: %w: %q starts with '.'", ErrInvalidName, s)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 {
			return n, fmt.Errorf("netbios: %w: %q has control byte 0x%02X", ErrInvalidName, s, c)
		}
		if strings.IndexByte(forbiddenNameBytes, c) >= 0 {
			return n, fmt.Errorf("netbios: %w: %q contains %q", ErrInvalidName, s, c)
		}
		n.b[i] = upperASCII(c)
	}
	for i := len(s); i < maxBaseLen; i++ {
		n.b[i] = ' '
	}
	n.b[maxBaseLen] = suffix
	return n, nil
}

// WildcardName returns the name node status queries are addressed to: '*'
// padded with NULs rather than spaces (RFC 1002 4.2.17), suffix 0x00.
func WildcardName() Name {
	var n Name
	n.b[0] = '*'
	return n
}

// NameFromBytes returns b as a Name without any check, as it came off the
// wire; peers are not bound by NewName's rules.
func NameFromBytes(b [NameLen]byte) Name {
	return Name{b: b}
}

// Suffix returns the 16th byte, the name type (0x03 for the messenger).
func (n Name) Suffix() byte { return n.b[maxBaseLen] }

// Bytes returns the 16 bytes of the name.
func (n Name) Bytes() [NameLen]byte { return n.b }

// Base returns the first 15 bytes without their padding. Both spaces and
// NULs are trimmed because the wildcard and some non-Windows stacks pad with
// NULs.
func (n Name) Base() string {
	end := maxBaseLen
	for end > 0 && (n.b[end-1] == ' ' || n.b[end-1] == 0) {
		end--
	}
	return string(n.b[:end])
}

// String formats the name as nbtstat and Wireshark do, BOB<03>. Bytes that
// are not printable ASCII are escaped as \xNN so that a hostile name cannot
// forge log lines or terminal control sequences.
func (n Name) String() string {
	var sb strings.Builder
	base := n.Base()
	sb.Grow(len(base) + 4)
	for i := 0; i < len(base); i++ {
		c := base[i]
		if c < 0x20 || c >= 0x7F || c == '\\' {
			fmt.Fprintf(&sb, `\x%02X`, c)
			continue
		}
		sb.WriteByte(c)
	}
	fmt.Fprintf(&sb, "<%02X>", n.Suffix())
	return sb.String()
}

// EqualFold reports whether n and other are the same name ignoring ASCII
// case, which is how NetBT matched a called name against its table. The
// suffix is compared exactly: it is a number, not a letter.
func (n Name) EqualFold(other Name) bool {
	for i := 0; i < maxBaseLen; i++ {
		if upperASCII(n.b[i]) != upperASCII(other.b[i]) {
			return false
		}
	}
	return n.b[maxBaseLen] == other.b[maxBaseLen]
}

// Upper returns n with its ASCII letters upper-cased, the form EqualFold
// compares: a map keyed by it finds a name as NetBT matched names.
func (n Name) Upper() Name {
	for i := 0; i < maxBaseLen; i++ {
		n.b[i] = upperASCII(n.b[i])
	}
	return n
}

// upperASCII leaves bytes ≥ 0x80 alone: their case depends on the OEM code
// page, which is the caller's business.
func upperASCII(c byte) byte {
	if 'a' <= c && c <= 'z' {
		return c - ('a' - 'A')
	}
	return c
}
