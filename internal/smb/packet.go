package smb

import (
	"encoding/binary"
	"fmt"
)

// HeaderLen is the length of the SMB1 header ([MS-CIFS] 2.2.3.1).
const HeaderLen = 32

// protocolID opens every SMB1 message.
const protocolID = "\xFFSMB"

// minLen is the shortest SMB: a header, WordCount 0 and ByteCount 0.
const minLen = HeaderLen + 1 + 2

// Limits of the generic framing: WordCount is one byte, ByteCount two.
const (
	maxWordCount = 0xFF
	maxByteCount = 0xFFFF
)

// Command is the SMB1 command code.
type Command uint8

// Command codes ([MS-CIFS] 2.2.2.1). Only the message commands and
// NEGOTIATE are implemented; the others are named so logs and errors read
// well.
const (
	CommandTransaction          Command = 0x25
	CommandNegotiate            Command = 0x72
	CommandSendMessage          Command = 0xD0
	CommandSendBroadcastMessage Command = 0xD1
	CommandForwardUserName      Command = 0xD2
	CommandCancelForward        Command = 0xD3
	CommandGetMachineName       Command = 0xD4
	CommandSendStartMBMessage   Command = 0xD5
	CommandSendEndMBMessage     Command = 0xD6
	CommandSendTextMBMessage    Command = 0xD7
)

// commandNames holds the [MS-CIFS] name of each command.
var commandNames = map[Command]string{
	CommandTransaction:          "SMB_COM_TRANSACTION",
	CommandNegotiate:            "SMB_COM_NEGOTIATE",
	CommandSendMessage:          "SMB_COM_SEND_MESSAGE",
	CommandSendBroadcastMessage: "SMB_COM_SEND_BROADCAST_MESSAGE",
	CommandForwardUserName:      "SMB_COM_FORWARD_USER_NAME",
	CommandCancelForward:        "SMB_COM_CANCEL_FORWARD",
	CommandGetMachineName:       "SMB_COM_GET_MACHINE_NAME",
	CommandSendStartMBMessage:   "SMB_COM_SEND_START_MB_MESSAGE",
	CommandSendEndMBMessage:     "SMB_COM_SEND_END_MB_MESSAGE",
	CommandSendTextMBMessage:    "SMB_COM_SEND_TEXT_MB_MESSAGE",
}

// String returns the [MS-CIFS] name of the command.
func (c Command) String() string {
	if name, ok := commandNames[c]; ok {
		return name
	}
	return fmt.Sprintf("Command(0x%02X)", uint8(c))
}

// Header flag bits this package sets or reads ([MS-CIFS] 2.2.3.1).
const (
	FlagsCaseInsensitive uint8  = 0x08
	FlagsReply           uint8  = 0x80
	Flags2LongNames      uint16 = 0x0001
	Flags2NTStatus       uint16 = 0x4000
	Flags2Unicode        uint16 = 0x8000
)

// Header is the 32-byte SMB1 header. Status is the raw 4-byte field; how to
// read it depends on Flags2NTStatus (see Err).
type Header struct {
	Command          Command
	Status           uint32
	Flags            uint8
	Flags2           uint16
	PIDHigh          uint16
	SecurityFeatures [8]byte
	Reserved         uint16
	TID              uint16
	PIDLow           uint16
	UID              uint16
	MID              uint16
}

// IsReply reports whether the header is a server's response.
func (h Header) IsReply() bool { return h.Flags&FlagsReply != 0 }

// String formats the header as a protocol analyser's summary line.
func (h Header) String() string {
	if !h.IsReply() {
		return fmt.Sprintf("%v request, PID %d, MID %d", h.Command, uint32(h.PIDHigh)<<16|uint32(h.PIDLow), h.MID)
	}
	return fmt.Sprintf("%v response, %s, MID %d", h.Command, h.statusString(), h.MID)
}

// ParseHeader parses the header at the start of b. It lets a server answer
// an SMB whose body is malformed with an error reply that carries the
// request's MID.
func ParseHeader(b []byte) (Header, error) {
	if len(b) < HeaderLen {
		return Header{}, fmt.Errorf("smb: parsing header: %d of %d bytes: %w", len(b), HeaderLen, ErrShort)
	}
	if string(b[:4]) != protocolID {
		return Header{}, fmt.Errorf("smb: parsing header: Protocol % X: %w", b[:4], ErrNotSMB)
	}
	le := binary.LittleEndian
	h := Header{
		Command:  Command(b[4]),
		Status:   le.Uint32(b[5:]),
		Flags:    b[9],
		Flags2:   le.Uint16(b[10:]),
		PIDHigh:  le.Uint16(b[12:]),
		Reserved: le.Uint16(b[22:]),
		TID:      le.Uint16(b[24:]),
		PIDLow:   le.Uint16(b[26:]),
		UID:      le.Uint16(b[28:]),
		MID:      le.Uint16(b[30:]),
	}
	copy(h.SecurityFeatures[:], b[14:22])
	return h, nil
}

func appendHeader(b []byte, h Header) []byte {
	le := binary.LittleEndian
	b = append(b, protocolID...)
	b = append(b, byte(h.Command))
	b = le.AppendUint32(b, h.Status)
	b = append(b, h.Flags)
	b = le.AppendUint16(b, h.Flags2)
	b = le.AppendUint16(b, h.PIDHigh)
	b = append(b, h.SecurityFeatures[:]...)
	b = le.AppendUint16(b, h.Reserved)
	b = le.AppendUint16(b, h.TID)
	b = le.AppendUint16(b, h.PIDLow)
	b = le.AppendUint16(b, h.UID)
	return le.AppendUint16(b, h.MID)
}

// Packet is one SMB1 message split into its parts. Words holds the
// 2×WordCount parameter bytes and Bytes the ByteCount data bytes; both
// alias the buffer given to Parse.
type Packet struct {
	Header Header
	Words  []byte
	Bytes  []byte
}

// WordCount returns the number of parameter words.
func (p Packet) WordCount() int { return len(p.Words) / 2 }

// Len returns how many bytes of the buffer the message occupied; anything
// after it was ignored by Parse.
func (p Packet) Len() int { return minLen + len(p.Words) + len(p.Bytes) }

// Word returns parameter word i.
func (p Packet) Word(i int) (uint16, error) {
	v, _, err := unpackUint16(p.Words, 2*i)
	if err != nil {
		return 0, fmt.Errorf("smb: reading %v Words[%d] of %d: %w", p.Header.Command, i, p.WordCount(), ErrShort)
	}
	return v, nil
}

// String summarises the message as a protocol analyser would.
func (p Packet) String() string {
	return fmt.Sprintf("%v, WCT %d, BCC %d", p.Header, p.WordCount(), len(p.Bytes))
}

// Parse splits b into header, words and bytes. Bytes after the ByteCount'd
// region are ignored: some stacks pad, and the NetBIOS session layer, not
// SMB, delimits messages.
func Parse(b []byte) (Packet, error) {
	h, err := ParseHeader(b)
	if err != nil {
		return Packet{}, err
	}
	wc, off, err := unpackByte(b, HeaderLen)
	if err != nil {
		return Packet{}, fmt.Errorf("smb: parsing %v WordCount: %w", h.Command, err)
	}
	words, off, err := unpackBytes(b, off, 2*int(wc))
	if err != nil {
		return Packet{}, fmt.Errorf("smb: parsing %v Words (WordCount %d): %w", h.Command, wc, err)
	}
	bc, off, err := unpackUint16(b, off)
	if err != nil {
		return Packet{}, fmt.Errorf("smb: parsing %v ByteCount: %w", h.Command, err)
	}
	data, _, err := unpackBytes(b, off, int(bc))
	if err != nil {
		return Packet{}, fmt.Errorf("smb: parsing %v Bytes (ByteCount %d): %w", h.Command, bc, err)
	}
	return Packet{Header: h, Words: words, Bytes: data}, nil
}

// AppendPacket appends a complete SMB with the given header, parameter
// words and data bytes. On error b is returned unchanged.
func AppendPacket(b []byte, h Header, words []uint16, data []byte) ([]byte, error) {
	if len(words) > maxWordCount {
		return b, fmt.Errorf("smb: building %v: %d words, more than %d: %w", h.Command, len(words), maxWordCount, ErrTooLong)
	}
	if len(data) > maxByteCount {
		return b, fmt.Errorf("smb: building %v: %d data bytes, more than %d: %w", h.Command, len(data), maxByteCount, ErrTooLong)
	}
	b = appendHeader(b, h)
	b = append(b, byte(len(words)))
	for _, w := range words {
		b = binary.LittleEndian.AppendUint16(b, w)
	}
	b = binary.LittleEndian.AppendUint16(b, uint16(len(data)))
	return append(b, data...), nil
}

// The unpack helpers are the only way this package reads a buffer; each
// checks bounds before touching it and returns the offset after the field.

func unpackByte(msg []byte, off int) (byte, int, error) {
	if off < 0 || off >= len(msg) {
		return 0, off, ErrShort
	}
	return msg[off], off + 1, nil
}

func unpackUint16(msg []byte, off int) (uint16, int, error) {
	if off < 0 || off > len(msg)-2 {
		return 0, off, ErrShort
	}
	return binary.LittleEndian.Uint16(msg[off:]), off + 2, nil
}

// unpackBytes returns n bytes at off, capped so that appending to the
// result cannot overwrite what follows in msg.
func unpackBytes(msg []byte, off, n int) ([]byte, int, error) {
	if off < 0 || n < 0 || off > len(msg) || n > len(msg)-off {
		return nil, off, fmt.Errorf("%d bytes needed at offset %d, %d present: %w", n, off, max(len(msg)-off, 0), ErrShort)
	}
	return msg[off : off+n : off+n], off + n, nil
}
