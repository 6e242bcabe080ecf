package smb

import (
	"encoding/binary"
	"fmt"
)

// Dialects the negotiate responder knows.
const (
	// DialectCore is the core protocol, the dialect the message commands
	// were defined in.
	DialectCore = "PC NETWORK PROGRAM 1.0"
	// DialectNTLM012 is the NT LAN Manager dialect every NT-era client
	// offers.
	DialectNTLM012 = "NT LM 0.12"
)

// MaxDialects bounds the dialect list of a NEGOTIATE request. Real clients
// offer about a dozen.
const MaxDialects = 64

// noDialect is the DialectIndex that refuses every offered dialect.
const noDialect = 0xFFFF

// maxDialectLen bounds one dialect string; real ones are under 30 bytes.
const maxDialectLen = 255

// Fixed values of the NT LM 0.12 negotiate response. The messenger needs no
// session setup, tree connect or authentication, so it advertises the
// least it can: share-level security with plaintext passwords (SecurityMode
// 0x00, which is also the only mode consistent with an empty challenge),
// one request at a time and no capabilities, which keeps errors in DOS form
// and strings in OEM.
const (
	nt1SecurityMode  = 0x00
	nt1MaxMpxCount   = 1
	nt1MaxNumberVcs  = 1
	nt1MaxBufferSize = 4356
	nt1WordCount     = 17
)

// ParseNegotiate returns the dialect strings offered by an SMB_COM_NEGOTIATE
// request, in order; the reply's DialectIndex indexes this list.
func ParseNegotiate(p Packet) ([]string, error) {
	const cmd = CommandNegotiate
	if err := p.check(cmd, 0); err != nil {
		return nil, err
	}
	var dialects []string
	for off := 0; off < len(p.Bytes); {
		if len(dialects) == MaxDialects {
			return nil, fmt.Errorf("smb: parsing %v: more than %d dialects: %w", cmd, MaxDialects, ErrTooMany)
		}
		f, next, err := unpackByte(p.Bytes, off)
		if err == nil && f != formatDialect {
			err = fmt.Errorf("BufferFormat 0x%02X, want 0x%02X: %w", f, formatDialect, ErrBufferFormat)
		}
		var s []byte
		if err == nil {
			s, next, err = unpackCString(p.Bytes, next, maxDialectLen)
		}
		if err != nil {
			return nil, fieldError(cmd, fmt.Sprintf("Dialects[%d]", len(dialects)), err)
		}
		dialects = append(dialects, string(s))
		off = next
	}
	return dialects, nil
}

// AppendNegotiate appends an SMB_COM_NEGOTIATE request offering dialects;
// h.Command is set for the caller. On error b is returned unchanged.
func AppendNegotiate(b []byte, h Header, dialects []string) ([]byte, error) {
	const cmd = CommandNegotiate
	if len(dialects) > MaxDialects {
		return b, fmt.Errorf("smb: building %v: %d dialects, more than %d: %w", cmd, len(dialects), MaxDialects, ErrTooMany)
	}
	for i, d := range dialects {
		if len(d) > maxDialectLen {
			return b, fmt.Errorf("smb: building %v Dialects[%d]: %d bytes, more than %d: %w", cmd, i, len(d), maxDialectLen, ErrTooLong)
		}
		for j := 0; j < len(d); j++ {
			if d[j] == 0 {
				return b, fmt.Errorf("smb: building %v Dialects[%d] %q: %w", cmd, i, d, ErrEmbeddedNUL)
			}
		}
	}
	h.Command = cmd
	b, bc := beginBytes(b, h)
	for _, d := range dialects {
		b = append(b, formatDialect)
		b = append(b, d...)
		b = append(b, 0)
	}
	return endBytes(b, bc), nil
}

// AppendNegotiateResponse appends the reply to a NEGOTIATE request that
// offered dialects. It prefers the core dialect, whose reply is only the
// DialectIndex; failing that it accepts NT LM 0.12 with a minimal
// non-extended-security reply (SystemTime and ServerTimeZone zero, no
// challenge, no domain name); failing both it answers DialectIndex 0xFFFF,
// refusing them all.
func AppendNegotiateResponse(b []byte, req Header, dialects []string) ([]byte, error) {
	core, nt1 := -1, -1
	for i, d := range dialects {
		if i >= MaxDialects {
			break
		}
		switch {
		case d == DialectCore && core < 0:
			core = i
		case d == DialectNTLM012 && nt1 < 0:
			nt1 = i
		}
	}
	switch {
	case core >= 0:
		words := [1]uint16{uint16(core)}
		return AppendResponse(b, req, nil, words[:], nil)
	case nt1 >= 0:
		// The fields are not word-aligned, so they are laid out as bytes
		// and then read back as the 17 little-endian words they occupy.
		var raw [2 * nt1WordCount]byte
		le := binary.LittleEndian
		le.PutUint16(raw[0:], uint16(nt1)) // DialectIndex
		raw[2] = nt1SecurityMode
		le.PutUint16(raw[3:], nt1MaxMpxCount)
		le.PutUint16(raw[5:], nt1MaxNumberVcs)
		le.PutUint32(raw[7:], nt1MaxBufferSize)
		// MaxRawSize, SessionKey, Capabilities, SystemTime (8),
		// ServerTimeZone (2) and ChallengeLength (1) stay zero.
		var words [nt1WordCount]uint16
		for i := range words {
			words[i] = le.Uint16(raw[2*i:])
		}
		return AppendResponse(b, req, nil, words[:], nil)
	default:
		words := [1]uint16{noDialect}
		return AppendResponse(b, req, nil, words[:], nil)
	}
}
