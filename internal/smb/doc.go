// Package smb encodes and decodes the part of SMB1 a messenger speaks: the
// 32-byte header, the generic WordCount/Words/ByteCount/Bytes framing, the
// message commands of [MS-CIFS] 2.2.4.x and [MS-MSRP] 2.2.3 (0xD0, 0xD5,
// 0xD6, 0xD7), the error forms a reply can carry, just enough of
// SMB_COM_NEGOTIATE to answer a client that negotiates before sending a
// message, and the mailslot write ([MS-MAIL]) with the \MAILSLOT\MESSNGR
// payload that net send * broadcasts in NetBIOS datagrams.
//
// The package is a pure codec with the same rules as package netbios: every
// read is bounds-checked against the bytes present, no length a peer
// declares reaches make or an unchecked slice expression, no input makes a
// parser panic, and builders append to a caller's buffer. Parsed byte
// fields (names, text, Words, Bytes) alias the input buffer; copy them
// before reusing it.
//
// Errors wrap one of the sentinels below and name the field at fault.
// Errors a peer reports in a reply are *ReplyError values, comparable with
// errors.Is against ErrCodeNoRoom and its siblings whichever form (NT status
// or DOS class/code) the peer used.
package smb

import "errors"

// Sentinel errors for malformed input and for values a builder cannot
// encode.
var (
	// ErrShort means a field runs past the end of the bytes present, or
	// past ByteCount.
	ErrShort = errors.New("insufficient data")
	// ErrNotSMB means the bytes do not start with "\xFFSMB".
	ErrNotSMB = errors.New(`not an SMB1 message (no "\xFFSMB")`)
	// ErrWrongCommand means a command parser was given another command.
	ErrWrongCommand = errors.New("unexpected command")
	// ErrWordCount means a WordCount the command does not allow.
	ErrWordCount = errors.New("unexpected WordCount")
	// ErrBufferFormat means a buffer format byte other than the one the
	// field needs (0x04 for strings, 0x01 for data blocks, 0x02 for
	// dialects).
	ErrBufferFormat = errors.New("wrong buffer format")
	// ErrUnterminated means a string whose NUL is missing within ByteCount.
	ErrUnterminated = errors.New("string not NUL-terminated")
	// ErrBlockTooLong means a message data block longer than MaxBlockLen.
	// It is a separate sentinel because the server answers it with an SMB
	// error rather than dropping the session.
	ErrBlockTooLong = errors.New("message block too long")
	// ErrTooLong means a value longer than the field or this package's limit
	// allows.
	ErrTooLong = errors.New("value too long")
	// ErrTooMany means more items than this package accepts (dialects).
	ErrTooMany = errors.New("too many items")
	// ErrEmbeddedNUL means a string to be sent contains a NUL byte, which
	// would end it early on the wire.
	ErrEmbeddedNUL = errors.New("string contains NUL")
	// ErrNotMailslot means an SMB_COM_TRANSACTION that is not a mailslot
	// write: a SetupCount other than 3 or an opcode other than 1.
	ErrNotMailslot = errors.New("not a mailslot write")
	// ErrMultiPart means a transaction whose data or parameters continue
	// in secondary requests, which a one-way mailslot datagram never
	// needs and this package does not reassemble.
	ErrMultiPart = errors.New("multi-part transaction not supported")
	// ErrBadOffset means an offset that points outside the part of the
	// message where the field must lie.
	ErrBadOffset = errors.New("offset out of range")
)
