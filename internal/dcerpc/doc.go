// Package dcerpc encodes and decodes connectionless DCE/RPC (ncadg_ip_udp,
// the "v4" protocol of C706 chapter 12) as far as a messenger needs it: the
// 80-byte header, fragment reassembly, the NDR of conformant varying byte
// strings, and the one call of the msgsvcsend interface, NetrSendMessage
// ([MS-MSRP] 3.2.4.1), which is how 2002-2004 "messenger spam" reached the
// Windows pop-up over UDP 135 and 1026-1029.
//
// The same parsing was the target of MS03-043, a buffer overrun in the
// Windows Messenger service, so the parsers treat every count the peer sends
// as hostile: the header's len must fit in the datagram, NDR max_count,
// offset and actual_count must agree with each other, with a caller's limit
// and with the bytes present, and nothing is ever allocated in proportion to
// a declared length. The Reassembler, the only stateful type, holds at most
// the caps its owner gives it, whatever arrives.
//
// The package is a pure codec with the rules of packages netbios and smb:
// every read is bounds-checked, no input makes a parser panic, builders
// append to a caller's buffer, and parsed byte fields (Packet.Body, the
// strings of a SendMessageRequest) alias the input; copy them before reusing
// the buffer.
//
// Byte order. Both integer representations of the data representation label
// (drep) are read, in the header and in NDR. EBCDIC character data is not:
// NetrSendMessage's strings are bytes whose meaning depends on the character
// representation, and converting EBCDIC is not worth carrying for a protocol
// no EBCDIC host ever spoke, so ParseSendMessageRequest fails with
// ErrUnsupportedDataRep. Headers with EBCDIC drep still parse (the header has
// no characters), so a server can answer them. Everything this package builds
// for a reply uses NativeDataRep (little-endian, ASCII, IEEE), which C706
// allows: each PDU carries its own drep and the receiver converts, and it is
// what Windows sends.
//
// Errors wrap one of the sentinels below and name the field at fault, e.g.
// "dcerpc: parsing header: len: 300 bytes declared, 54 present: insufficient
// data".
package dcerpc

import "errors"

// Sentinel errors. Every error returned by this package wraps exactly one of
// them.
var (
	// ErrShort means a field runs past the end of the bytes present,
	// including a header len or NDR actual_count larger than the data.
	ErrShort = errors.New("insufficient data")
	// ErrVersion means an rpc_vers other than 4.
	ErrVersion = errors.New("not connectionless DCE/RPC version 4")
	// ErrUnknownPacketType means a ptype C706 does not define (above 10).
	ErrUnknownPacketType = errors.New("unknown packet type")
	// ErrUnsupportedDataRep means a drep this package cannot read: an
	// integer representation other than big- or little-endian, or EBCDIC
	// where characters are involved.
	ErrUnsupportedDataRep = errors.New("unsupported data representation")
	// ErrUnsupportedAuth means an auth_proto other than 0. Authenticated
	// connectionless RPC appends a verifier this package does not read.
	ErrUnsupportedAuth = errors.New("authenticated RPC not supported")
	// ErrTooLong means a value longer than the field or a limit allows: a
	// body over 65535 bytes, an NDR max_count above the caller's limit, a
	// call larger than the Reassembler's byte cap.
	ErrTooLong = errors.New("value too long")
	// ErrTooMany means more fragments than the Reassembler accepts per call.
	ErrTooMany = errors.New("too many fragments")
	// ErrBadOffset means an NDR offset other than 0, which a [string]
	// parameter never has.
	ErrBadOffset = errors.New("NDR offset not zero")
	// ErrBadCount means NDR counts that contradict each other: an
	// actual_count of 0 or above max_count.
	ErrBadCount = errors.New("inconsistent NDR counts")
	// ErrUnterminated means an NDR [string] whose last element is not NUL.
	ErrUnterminated = errors.New("string not NUL-terminated")
	// ErrEmbeddedNUL means a string with a NUL before its terminator, or a
	// string to be sent that contains one.
	ErrEmbeddedNUL = errors.New("string contains NUL")
	// ErrFragment means a fragment that contradicts its call: a second
	// last fragment, a fragment past the last, or a header that differs
	// from the call's first fragment in interface, opnum, version, object
	// or drep.
	ErrFragment = errors.New("inconsistent fragment")
	// ErrNotStatus means Packet.Status was asked of a packet that carries
	// no status (anything but a fault or reject).
	ErrNotStatus = errors.New("packet carries no status")
	// ErrBadUUID means a string that is not a UUID in the canonical
	// 8-4-4-4-12 hex form.
	ErrBadUUID = errors.New("malformed UUID")
)
