package smb

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strconv"
)

// MaxNameLen bounds OriginatorName and DestinationName. [MS-MSRP] allows 15
// bytes, but real senders (smbclient -U) put whole user names there, so the
// limit only protects the receiver.
const MaxNameLen = 255

// MaxBlockLen is the largest message data block, DataLength ≤ 128
// ([MS-MSRP] 2.2.3.1.1 and 2.2.3.1.3).
const MaxBlockLen = 128

// Buffer format bytes that precede each field in the Bytes of core
// commands ([MS-CIFS] 2.2.2.5).
const (
	formatDataBlock = 0x01
	formatDialect   = 0x02
	formatString    = 0x04
)

// SendMessage is SMB_COM_SEND_MESSAGE (0xD0), a whole message in one SMB
// ([MS-MSRP] 2.2.3.1.1). Text is exactly DataLength bytes in the sender's
// OEM code page; line breaks and a trailing NUL are the caller's to
// normalise.
type SendMessage struct {
	Originator, Destination []byte
	Text                    []byte
}

// String summarises the request without its text, which does not belong in
// logs.
func (m SendMessage) String() string {
	return fmt.Sprintf("%v from %s to %s %d bytes", CommandSendMessage, quote(m.Originator), quote(m.Destination), len(m.Text))
}

// ParseSendMessage parses p as SMB_COM_SEND_MESSAGE. Bytes after the data
// block, within ByteCount, are ignored.
func ParseSendMessage(p Packet) (SendMessage, error) {
	const cmd = CommandSendMessage
	if err := p.check(cmd, 0); err != nil {
		return SendMessage{}, err
	}
	var m SendMessage
	var err error
	off := 0
	if m.Originator, off, err = unpackString(p.Bytes, off); err != nil {
		return SendMessage{}, fieldError(cmd, "OriginatorName", err)
	}
	if m.Destination, off, err = unpackString(p.Bytes, off); err != nil {
		return SendMessage{}, fieldError(cmd, "DestinationName", err)
	}
	if m.Text, _, err = unpackDataBlock(p.Bytes, off); err != nil {
		return SendMessage{}, fieldError(cmd, "Data", err)
	}
	return m, nil
}

// AppendSendMessage appends a complete SMB_COM_SEND_MESSAGE request with
// header h; h.Command is set for the caller. On error b is returned
// unchanged.
func AppendSendMessage(b []byte, h Header, m SendMessage) ([]byte, error) {
	const cmd = CommandSendMessage
	if err := checkString(cmd, "OriginatorName", m.Originator); err != nil {
		return b, err
	}
	if err := checkString(cmd, "DestinationName", m.Destination); err != nil {
		return b, err
	}
	if err := checkBlock(cmd, m.Text); err != nil {
		return b, err
	}
	h.Command = cmd
	b, bc := beginBytes(b, h)
	b = appendString(b, m.Originator)
	b = appendString(b, m.Destination)
	b = appendDataBlock(b, m.Text)
	return endBytes(b, bc), nil
}

// SendStartMBMessage is SMB_COM_SEND_START_MB_MESSAGE (0xD5), which opens a
// multi-block message ([MS-MSRP] 2.2.3.1.2).
type SendStartMBMessage struct {
	Originator, Destination []byte
}

// String summarises the request.
func (m SendStartMBMessage) String() string {
	return fmt.Sprintf("%v from %s to %s", CommandSendStartMBMessage, quote(m.Originator), quote(m.Destination))
}

// ParseSendStartMBMessage parses p as SMB_COM_SEND_START_MB_MESSAGE. Bytes
// after DestinationName, within ByteCount, are ignored.
func ParseSendStartMBMessage(p Packet) (SendStartMBMessage, error) {
	const cmd = CommandSendStartMBMessage
	if err := p.check(cmd, 0); err != nil {
		return SendStartMBMessage{}, err
	}
	var m SendStartMBMessage
	var err error
	off := 0
	if m.Originator, off, err = unpackString(p.Bytes, off); err != nil {
		return SendStartMBMessage{}, fieldError(cmd, "OriginatorName", err)
	}
	if m.Destination, _, err = unpackString(p.Bytes, off); err != nil {
		return SendStartMBMessage{}, fieldError(cmd, "DestinationName", err)
	}
	return m, nil
}

// AppendSendStartMBMessage appends a complete SMB_COM_SEND_START_MB_MESSAGE
// request with header h; h.Command is set for the caller. On error b is
// returned unchanged.
func AppendSendStartMBMessage(b []byte, h Header, m SendStartMBMessage) ([]byte, error) {
	const cmd = CommandSendStartMBMessage
	if err := checkString(cmd, "OriginatorName", m.Originator); err != nil {
		return b, err
	}
	if err := checkString(cmd, "DestinationName", m.Destination); err != nil {
		return b, err
	}
	h.Command = cmd
	b, bc := beginBytes(b, h)
	b = appendString(b, m.Originator)
	b = appendString(b, m.Destination)
	return endBytes(b, bc), nil
}

// AppendStartMBResponse appends the successful reply to a 0xD5 request:
// WordCount 1 carrying the message group ID, as [MS-MSRP] 2.2.3.1.2
// specifies (Samba's smbd sends WordCount 0 instead).
func AppendStartMBResponse(b []byte, req Header, groupID uint16) ([]byte, error) {
	words := [1]uint16{groupID}
	return AppendResponse(b, req, nil, words[:], nil)
}

// ParseStartMBResponse returns the message group ID from the reply to a
// 0xD5 request, or the error the reply carries. A reply without words, as
// Samba's smbd sends, means group 0; Samba's own client does the same.
func ParseStartMBResponse(p Packet) (groupID uint16, err error) {
	const cmd = CommandSendStartMBMessage
	if p.Header.Command != cmd {
		return 0, fmt.Errorf("smb: parsing %v response: got %v: %w", cmd, p.Header.Command, ErrWrongCommand)
	}
	if err := p.Err(); err != nil {
		return 0, err
	}
	if p.WordCount() == 0 {
		return 0, nil
	}
	return binary.LittleEndian.Uint16(p.Words), nil
}

// SendTextMBMessage is SMB_COM_SEND_TEXT_MB_MESSAGE (0xD7), one block of a
// multi-block message ([MS-MSRP] 2.2.3.1.3).
type SendTextMBMessage struct {
	GroupID uint16
	Text    []byte
}

// String summarises the request without its text.
func (m SendTextMBMessage) String() string {
	return fmt.Sprintf("%v group %d, %d bytes", CommandSendTextMBMessage, m.GroupID, len(m.Text))
}

// ParseSendTextMBMessage parses p as SMB_COM_SEND_TEXT_MB_MESSAGE. Bytes
// after the data block, within ByteCount, are ignored.
func ParseSendTextMBMessage(p Packet) (SendTextMBMessage, error) {
	const cmd = CommandSendTextMBMessage
	if err := p.check(cmd, 1); err != nil {
		return SendTextMBMessage{}, err
	}
	m := SendTextMBMessage{GroupID: binary.LittleEndian.Uint16(p.Words)}
	var err error
	if m.Text, _, err = unpackDataBlock(p.Bytes, 0); err != nil {
		return SendTextMBMessage{}, fieldError(cmd, "Data", err)
	}
	return m, nil
}

// AppendSendTextMBMessage appends a complete SMB_COM_SEND_TEXT_MB_MESSAGE
// request with header h; h.Command is set for the caller. On error b is
// returned unchanged.
func AppendSendTextMBMessage(b []byte, h Header, m SendTextMBMessage) ([]byte, error) {
	const cmd = CommandSendTextMBMessage
	if err := checkBlock(cmd, m.Text); err != nil {
		return b, err
	}
	h.Command = cmd
	b, bc := beginBytes(b, h, m.GroupID)
	b = appendDataBlock(b, m.Text)
	return endBytes(b, bc), nil
}

// SendEndMBMessage is SMB_COM_SEND_END_MB_MESSAGE (0xD6), which completes
// a multi-block message ([MS-MSRP] 2.2.3.1.4).
type SendEndMBMessage struct {
	GroupID uint16
}

// String summarises the request.
func (m SendEndMBMessage) String() string {
	return fmt.Sprintf("%v group %d", CommandSendEndMBMessage, m.GroupID)
}

// ParseSendEndMBMessage parses p as SMB_COM_SEND_END_MB_MESSAGE. ByteCount
// should be 0; any bytes are ignored, since nothing depends on them.
func ParseSendEndMBMessage(p Packet) (SendEndMBMessage, error) {
	if err := p.check(CommandSendEndMBMessage, 1); err != nil {
		return SendEndMBMessage{}, err
	}
	return SendEndMBMessage{GroupID: binary.LittleEndian.Uint16(p.Words)}, nil
}

// AppendSendEndMBMessage appends a complete SMB_COM_SEND_END_MB_MESSAGE
// request with header h; h.Command is set for the caller.
func AppendSendEndMBMessage(b []byte, h Header, m SendEndMBMessage) ([]byte, error) {
	h.Command = CommandSendEndMBMessage
	b, bc := beginBytes(b, h, m.GroupID)
	return endBytes(b, bc), nil
}

// check verifies the command code and the WordCount a parser expects.
func (p Packet) check(cmd Command, wordCount int) error {
	if p.Header.Command != cmd {
		return fmt.Errorf("smb: parsing %v: got %v: %w", cmd, p.Header.Command, ErrWrongCommand)
	}
	if p.WordCount() != wordCount || len(p.Words) != 2*wordCount {
		return fmt.Errorf("smb: parsing %v: WordCount %d, want %d: %w", cmd, p.WordCount(), wordCount, ErrWordCount)
	}
	return nil
}

func fieldError(cmd Command, field string, err error) error {
	return fmt.Errorf("smb: parsing %v %s: %w", cmd, field, err)
}

// unpackString reads a 0x04 buffer-format OEM string and its NUL, which
// must lie within msg (the ByteCount'd bytes).
func unpackString(msg []byte, off int) ([]byte, int, error) {
	f, off, err := unpackByte(msg, off)
	if err != nil {
		return nil, off, fmt.Errorf("BufferFormat: %w", err)
	}
	if f != formatString {
		return nil, off, fmt.Errorf("BufferFormat 0x%02X, want 0x%02X: %w", f, formatString, ErrBufferFormat)
	}
	return unpackCString(msg, off, MaxNameLen)
}

// unpackCString reads a NUL-terminated string of at most maxLen bytes
// (excluding the NUL) and returns it without the NUL.
func unpackCString(msg []byte, off, maxLen int) ([]byte, int, error) {
	if off < 0 || off > len(msg) {
		return nil, off, ErrShort
	}
	rest := msg[off:]
	n := bytes.IndexByte(rest, 0)
	if n < 0 {
		return nil, off, fmt.Errorf("%d bytes without a NUL: %w", len(rest), ErrUnterminated)
	}
	if n > maxLen {
		return nil, off, fmt.Errorf("%d bytes, more than %d: %w", n, maxLen, ErrTooLong)
	}
	return rest[:n:n], off + n + 1, nil
}

// unpackDataBlock reads a 0x01 buffer-format data block of at most
// MaxBlockLen bytes.
func unpackDataBlock(msg []byte, off int) ([]byte, int, error) {
	f, off, err := unpackByte(msg, off)
	if err != nil {
		return nil, off, fmt.Errorf("BufferFormat: %w", err)
	}
	if f != formatDataBlock {
		return nil, off, fmt.Errorf("BufferFormat 0x%02X, want 0x%02X: %w", f, formatDataBlock, ErrBufferFormat)
	}
	n, off, err := unpackUint16(msg, off)
	if err != nil {
		return nil, off, fmt.Errorf("DataLength: %w", err)
	}
	if n > MaxBlockLen {
		return nil, off, fmt.Errorf("DataLength %d exceeds %d: %w", n, MaxBlockLen, ErrBlockTooLong)
	}
	return unpackBytes(msg, off, int(n))
}

func checkString(cmd Command, field string, s []byte) error {
	if len(s) > MaxNameLen {
		return fmt.Errorf("smb: building %v %s: %d bytes, more than %d: %w", cmd, field, len(s), MaxNameLen, ErrTooLong)
	}
	if bytes.IndexByte(s, 0) >= 0 {
		return fmt.Errorf("smb: building %v %s %s: %w", cmd, field, quote(s), ErrEmbeddedNUL)
	}
	return nil
}

func checkBlock(cmd Command, data []byte) error {
	if len(data) > MaxBlockLen {
		return fmt.Errorf("smb: building %v Data: %d bytes, more than %d: %w", cmd, len(data), MaxBlockLen, ErrBlockTooLong)
	}
	return nil
}

// beginBytes appends the header, WordCount, the words and a ByteCount
// placeholder, and returns the placeholder's offset for endBytes. Callers
// have bounded what they append, so the counts fit.
func beginBytes(b []byte, h Header, words ...uint16) ([]byte, int) {
	b = appendHeader(b, h)
	b = append(b, byte(len(words)))
	for _, w := range words {
		b = binary.LittleEndian.AppendUint16(b, w)
	}
	return append(b, 0, 0), len(b)
}

// endBytes fills in the ByteCount reserved by beginBytes.
func endBytes(b []byte, bc int) []byte {
	binary.LittleEndian.PutUint16(b[bc:], uint16(len(b)-bc-2))
	return b
}

func appendString(b, s []byte) []byte {
	b = append(b, formatString)
	b = append(b, s...)
	return append(b, 0)
}

func appendDataBlock(b, data []byte) []byte {
	b = append(b, formatDataBlock)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(data)))
	return append(b, data...)
}

// quote renders OEM bytes for logs: printable ASCII as is, anything else
// escaped, so names in another code page stay legible and harmless.
func quote(b []byte) string {
	return strconv.QuoteToASCII(string(b))
}
