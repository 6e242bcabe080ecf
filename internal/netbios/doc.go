// Package netbios encodes and decodes the NetBIOS-over-TCP structures of
// RFC 1001 and RFC 1002 that a messenger needs: the 16-byte NetBIOS name,
// its first- and second-level wire encodings, and the session service
// packets that carry SMB on TCP port 139.
//
// The package is a pure codec. Parsers take bytes that came off the wire and
// never trust a length they contain: every read is checked against the bytes
// present, nothing is allocated in proportion to a length the peer declared,
// and no input makes them panic. Builders append to a caller's buffer, so a
// connection can reuse one buffer for every packet it sends.
//
// Errors wrap the sentinel values below and name the field that was wrong,
// so callers can both log something useful and tell causes apart with
// errors.Is.
package netbios

import "errors"

// Sentinel errors. Every error returned by this package wraps exactly one of
// them.
var (
	// ErrShort means a field runs past the end of the bytes given.
	ErrShort = errors.New("insufficient data")
	// ErrTrailing means bytes were left over after a packet whose length
	// must match its contents exactly.
	ErrTrailing = errors.New("unexpected trailing data")
	// ErrTooLong means a value is longer than the protocol can carry.
	ErrTooLong = errors.New("value too long")
	// ErrInvalidName means a string cannot be a NetBIOS name.
	ErrInvalidName = errors.New("invalid NetBIOS name")
	// ErrBadLabel means an encoded name or scope is malformed: a first
	// label that is not 32 characters, characters outside 'A'..'P', a
	// reserved label type, an empty scope label or one containing '.', or
	// a compression pointer that does not point backwards.
	ErrBadLabel = errors.New("malformed encoded name")
	// ErrCompression means an encoded name used a DNS compression pointer
	// where RFC 1002 does not allow one (session and datagram services).
	ErrCompression = errors.New("compression pointer not allowed here")
	// ErrBadFlags means reserved bits of a session packet header are set.
	ErrBadFlags = errors.New("reserved flag bits set")
	// ErrUnknownPacketType means a session packet type that RFC 1002 does
	// not define.
	ErrUnknownPacketType = errors.New("unknown session packet type")
	// ErrBadAddress means a retarget address that is not IPv4.
	ErrBadAddress = errors.New("address is not IPv4")
)
