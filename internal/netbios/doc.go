// Package netbios encodes and decodes the NetBIOS-over-TCP structures of
// RFC 1001 and RFC 1002 that a messenger needs: the 16-byte NetBIOS name,
// its first- and second-level wire encodings, the name service packets of
// UDP port 137 (queries, registration and its defence, release, node
// status), the datagram service packets of UDP port 138 that carry
// mailslot messages, and the session service packets that carry SMB on TCP
// port 139.
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
	// ErrBadFlags means reserved bits of a session or datagram packet
	// header are set, or a name service header field out of range was
	// given to a builder.
	ErrBadFlags = errors.New("reserved flag bits set")
	// ErrUnknownPacketType means a session packet type that RFC 1002 does
	// not define.
	ErrUnknownPacketType = errors.New("unknown session packet type")
	// ErrBadAddress means an address that is not IPv4 where RFC 1002 has
	// room only for IPv4 (retarget, NB_ADDRESS, SOURCE_IP).
	ErrBadAddress = errors.New("address is not IPv4")
	// ErrTooMany means more entries than this package accepts: a name
	// service section count above MaxSectionCount, more NB entries than
	// MaxNBEntries, more node status names than NUM_NAMES can count.
	ErrTooMany = errors.New("too many entries")
	// ErrLengthMismatch means a length field disagrees with the bytes it
	// describes: a DGM_LENGTH other than the bytes after PACKET_OFFSET, an
	// NB RDATA that is not a whole number of 6-byte entries.
	ErrLengthMismatch = errors.New("length field does not match the data")
	// ErrUnknownDatagramType means a datagram MSG_TYPE that RFC 1002 does
	// not define.
	ErrUnknownDatagramType = errors.New("unknown datagram type")
)
