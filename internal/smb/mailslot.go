package smb

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
)

// MessengerMailslot is the mailslot the messenger reads: net send *,
// net send /domain and WinPopup write to it in NetBIOS datagrams. Names
// are matched case-insensitively (strings.EqualFold).
const MessengerMailslot = `\MAILSLOT\MESSNGR`

// MaxMailslotNameLen bounds the mailslot name; real ones are under 30
// bytes.
const MaxMailslotNameLen = 255

// Mailslot classes, Setup[2] of a mailslot write ([MS-MAIL] 2.2.1). Over
// datagrams only the second class exists, and receivers ignore the field.
const (
	MailslotClassReliable   uint16 = 1
	MailslotClassUnreliable uint16 = 2 // "unreliable & broadcast", what every sender uses
)

// mailslotWriteOpcode is Setup[0] of a mailslot write, the only opcode
// [MS-MAIL] defines.
const mailslotWriteOpcode = 1

// An SMB_COM_TRANSACTION request has 14 fixed parameter words followed by
// SetupCount setup words; a mailslot write has three ([MS-CIFS]
// 2.2.4.33.1, [MS-MAIL] 2.2.1).
const (
	transactionFixedWords = 14
	mailslotSetupCount    = 3
	mailslotWordCount     = transactionFixedWords + mailslotSetupCount
)

// Byte offsets of the transaction fields within Words.
const (
	trTotalParameterCount = 0
	trTotalDataCount      = 2
	trTimeout             = 12
	trParameterCount      = 18
	trDataCount           = 22
	trDataOffset          = 24
	trSetupCount          = 26
	trSetup               = 28 // Setup[0]; Setup[i] at trSetup+2*i
)

// MailslotWrite is a mailslot write ([MS-MAIL] 2.2.1): an
// SMB_COM_TRANSACTION request carrying one datagram's worth of data to a
// named mailslot. Data aliases the buffer the Packet was parsed from.
type MailslotWrite struct {
	Name     string // e.g. MessengerMailslot
	Priority uint16
	Class    uint16
	Timeout  uint32 // milliseconds; meaningless for a datagram, kept as sent
	Data     []byte
}

// String summarises the write as Wireshark's mailslot dissector does,
// without the data.
func (m MailslotWrite) String() string {
	class := fmt.Sprintf("class %d", m.Class)
	switch m.Class {
	case MailslotClassReliable:
		class = "class 1 (reliable)"
	case MailslotClassUnreliable:
		class = "class 2 (unreliable & broadcast)"
	}
	return fmt.Sprintf("Write Mail Slot %s, priority %d, %s, %d bytes", quote([]byte(m.Name)), m.Priority, class, len(m.Data))
}

// ParseMailslotWrite parses p as a mailslot write: SMB_COM_TRANSACTION,
// WordCount 17, SetupCount 3, opcode 1. The name is the NUL-terminated OEM
// string that starts the Bytes (Flags2 Unicode is never set on a
// datagram). The data is found through DataOffset, counted from the start
// of the SMB header, and DataCount, never at a fixed offset: senders pad
// the name differently (Windows to an even offset, 88 for MESSNGR; some
// not at all, 87). It must lie within ByteCount, after the name. A write
// split over secondary transactions (TotalDataCount above DataCount) is
// refused with ErrMultiPart. Parameters, which a mailslot write does not
// have, are ignored, and so are the Flags and pad bytes.
func ParseMailslotWrite(p Packet) (MailslotWrite, error) {
	const cmd = CommandTransaction
	if err := p.check(cmd, mailslotWordCount); err != nil {
		return MailslotWrite{}, err
	}
	w := p.Words // 34 bytes, checked above
	le := binary.LittleEndian
	if n := w[trSetupCount]; n != mailslotSetupCount {
		return MailslotWrite{}, fieldError(cmd, "SetupCount", fmt.Errorf("%d, want %d: %w", n, mailslotSetupCount, ErrNotMailslot))
	}
	if op := le.Uint16(w[trSetup:]); op != mailslotWriteOpcode {
		return MailslotWrite{}, fieldError(cmd, "MailSlotOpcode", fmt.Errorf("%d, want %d (write mail slot): %w", op, mailslotWriteOpcode, ErrNotMailslot))
	}
	for _, c := range [...]struct {
		count, total string
		off, totOff  int
	}{{"ParameterCount", "TotalParameterCount", trParameterCount, trTotalParameterCount}, {"DataCount", "TotalDataCount", trDataCount, trTotalDataCount}} {
		n, total := le.Uint16(w[c.off:]), le.Uint16(w[c.totOff:])
		switch {
		case total > n:
			return MailslotWrite{}, fieldError(cmd, c.total, fmt.Errorf("%d but %s %d: %w", total, c.count, n, ErrMultiPart))
		case n > total:
			return MailslotWrite{}, fieldError(cmd, c.count, fmt.Errorf("%d exceeds %s %d: %w", n, c.total, total, ErrTooLong))
		}
	}
	m := MailslotWrite{
		Priority: le.Uint16(w[trSetup+2:]),
		Class:    le.Uint16(w[trSetup+4:]),
		Timeout:  le.Uint32(w[trTimeout:]),
	}

	name, nameEnd, err := unpackCString(p.Bytes, 0, MaxMailslotNameLen)
	if err != nil {
		return MailslotWrite{}, fieldError(cmd, "Name", err)
	}
	// The messenger's own mailslot is the common case; naming it by the
	// constant spares an allocation per datagram.
	if string(name) == MessengerMailslot {
		m.Name = MessengerMailslot
	} else {
		m.Name = string(name)
	}

	count, offset := int(le.Uint16(w[trDataCount:])), int(le.Uint16(w[trDataOffset:]))
	if count == 0 {
		// Nothing to locate; senders leave DataOffset at anything.
		m.Data = p.Bytes[nameEnd:nameEnd:nameEnd]
		return m, nil
	}
	bytesStart := p.Len() - len(p.Bytes)
	if rel := offset - bytesStart; rel < nameEnd {
		return MailslotWrite{}, fieldError(cmd, "DataOffset", fmt.Errorf("%d points before the end of Name at offset %d: %w", offset, bytesStart+nameEnd, ErrBadOffset))
	} else if m.Data, _, err = unpackBytes(p.Bytes, rel, count); err != nil {
		return MailslotWrite{}, fieldError(cmd, fmt.Sprintf("Data (DataOffset %d, DataCount %d, ByteCount %d)", offset, count, len(p.Bytes)), err)
	}
	return m, nil
}

// AppendMailslotWrite appends a complete mailslot write with header h, in
// the layout Windows uses ([MS-MAIL] 2.2.1;
// docs/protocols/netbios-datagrams.md, "The MESSNGR mailslot write"): no
// parameters, Flags 0, the name followed by one pad byte (zero) when
// needed to start the data at an even offset, so DataOffset is 88 for
// \MAILSLOT\MESSNGR and 86 for \MAILSLOT\BROWSE; the pad is dropped only
// when the data would otherwise not fit in ByteCount. h.Command is set for
// the caller; Windows sends every other header field zero. On error b is
// returned unchanged.
func AppendMailslotWrite(b []byte, h Header, m MailslotWrite) ([]byte, error) {
	const cmd = CommandTransaction
	if len(m.Name) > MaxMailslotNameLen {
		return b, fmt.Errorf("smb: building %v Name: %d bytes, more than %d: %w", cmd, len(m.Name), MaxMailslotNameLen, ErrTooLong)
	}
	if strings.IndexByte(m.Name, 0) >= 0 {
		return b, fmt.Errorf("smb: building %v Name %s: %w", cmd, quote([]byte(m.Name)), ErrEmbeddedNUL)
	}
	bytesStart := minLen + 2*mailslotWordCount
	nameEnd := bytesStart + len(m.Name) + 1
	pad := nameEnd & 1
	if nameEnd+pad-bytesStart+len(m.Data) > maxByteCount {
		// The pad is only alignment; data that fills ByteCount goes
		// without it, as senders that never pad send everything.
		pad = 0
	}
	dataOffset := nameEnd + pad
	if n := dataOffset - bytesStart + len(m.Data); n > maxByteCount {
		return b, fmt.Errorf("smb: building %v Data: %d bytes make ByteCount %d, more than %d: %w", cmd, len(m.Data), n, maxByteCount, ErrTooLong)
	}
	h.Command = cmd
	words := [mailslotWordCount]uint16{
		1:  uint16(len(m.Data)), // TotalDataCount
		6:  uint16(m.Timeout),
		7:  uint16(m.Timeout >> 16),
		11: uint16(len(m.Data)), // DataCount
		12: uint16(dataOffset),
		13: mailslotSetupCount, // Reserved3 in the high byte stays zero
		14: mailslotWriteOpcode,
		15: m.Priority,
		16: m.Class,
	}
	b, bc := beginBytes(b, h, words[:]...)
	b = append(b, m.Name...)
	b = append(b, 0)
	if pad != 0 {
		b = append(b, 0)
	}
	b = append(b, m.Data...)
	return endBytes(b, bc), nil
}

// MessengerPayload is the data of a write to \MAILSLOT\MESSNGR: three
// NUL-terminated OEM strings, sender, recipient and text, and nothing else
// (no type byte). To is a message alias or, for net send * and /domain,
// the workgroup or domain name. The fields alias the parsed buffer.
type MessengerPayload struct {
	From, To, Text []byte
}

// String summarises the payload without its text, which does not belong
// in logs.
func (m MessengerPayload) String() string {
	return fmt.Sprintf("%s from %s to %s %d bytes", MessengerMailslot, quote(m.From), quote(m.To), len(m.Text))
}

// ParseMessengerPayload parses the data of a MESSNGR mailslot write. From
// and To must each end in a NUL and be at most MaxNameLen bytes. The text
// runs to the next NUL; a missing final NUL is tolerated, since the data
// length already bounds it, and anything after the NUL is ignored.
func ParseMessengerPayload(data []byte) (MessengerPayload, error) {
	var m MessengerPayload
	var off int
	var err error
	if m.From, off, err = unpackCString(data, 0, MaxNameLen); err != nil {
		return MessengerPayload{}, fmt.Errorf("smb: parsing %s payload From: %w", MessengerMailslot, err)
	}
	if m.To, off, err = unpackCString(data, off, MaxNameLen); err != nil {
		return MessengerPayload{}, fmt.Errorf("smb: parsing %s payload To: %w", MessengerMailslot, err)
	}
	text := data[off:]
	if i := bytes.IndexByte(text, 0); i >= 0 {
		text = text[:i]
	}
	m.Text = text[:len(text):len(text)]
	return m, nil
}

// AppendMessengerPayload appends m as MESSNGR mailslot data, each field
// NUL-terminated. On error b is returned unchanged.
func AppendMessengerPayload(b []byte, m MessengerPayload) ([]byte, error) {
	for _, f := range [...]struct {
		name string
		s    []byte
		max  int
	}{{"From", m.From, MaxNameLen}, {"To", m.To, MaxNameLen}, {"Text", m.Text, -1}} {
		if f.max >= 0 && len(f.s) > f.max {
			return b, fmt.Errorf("smb: building %s payload %s: %d bytes, more than %d: %w", MessengerMailslot, f.name, len(f.s), f.max, ErrTooLong)
		}
		if bytes.IndexByte(f.s, 0) >= 0 {
			return b, fmt.Errorf("smb: building %s payload %s: %w", MessengerMailslot, f.name, ErrEmbeddedNUL)
		}
	}
	b = append(b, m.From...)
	b = append(b, 0)
	b = append(b, m.To...)
	b = append(b, 0)
	b = append(b, m.Text...)
	return append(b, 0), nil
}
