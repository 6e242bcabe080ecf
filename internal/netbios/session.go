package netbios

import (
	"fmt"
	"net/netip"
)

// HeaderLen is the length of a session service packet header (RFC 1002
// 4.3.1).
const HeaderLen = 4

// MaxPayloadLen is the largest payload a session packet can carry: 16
// length bits plus the E (length extension) bit in FLAGS.
const MaxPayloadLen = 0x1FFFF

// flagE is the length extension bit, the 17th bit of the payload length.
// RFC 1002 reserves the other FLAGS bits and requires them to be zero.
const flagE = 0x01

// PacketType is the TYPE field of a session service packet.
type PacketType uint8

// Session packet types (RFC 1002 4.3.1).
const (
	SessionMessage          PacketType = 0x00
	SessionRequest          PacketType = 0x81
	PositiveSessionResponse PacketType = 0x82
	NegativeSessionResponse PacketType = 0x83
	RetargetSessionResponse PacketType = 0x84
	SessionKeepAlive        PacketType = 0x85
)

// packetTypeNames holds the name RFC 1002 gives each type.
var packetTypeNames = map[PacketType]string{
	SessionMessage:          "SESSION MESSAGE",
	SessionRequest:          "SESSION REQUEST",
	PositiveSessionResponse: "POSITIVE SESSION RESPONSE",
	NegativeSessionResponse: "NEGATIVE SESSION RESPONSE",
	RetargetSessionResponse: "RETARGET SESSION RESPONSE",
	SessionKeepAlive:        "SESSION KEEP ALIVE",
}

// String returns the name RFC 1002 gives the type.
func (t PacketType) String() string {
	if name, ok := packetTypeNames[t]; ok {
		return name
	}
	return fmt.Sprintf("PacketType(0x%02X)", uint8(t))
}

func (t PacketType) known() bool {
	switch t {
	case SessionMessage, SessionRequest, PositiveSessionResponse,
		NegativeSessionResponse, RetargetSessionResponse, SessionKeepAlive:
		return true
	}
	return false
}

// Header is the 4-byte header in front of every session packet. Length is
// the payload length, 0..MaxPayloadLen.
type Header struct {
	Type   PacketType
	Length int
}

// String formats the header as a protocol analyser would.
func (h Header) String() string {
	return fmt.Sprintf("%v, length %d", h.Type, h.Length)
}

// ParseHeader parses the first HeaderLen bytes of b. On ErrUnknownPacketType
// the returned Header still holds the type and length, so a lenient caller
// may skip the payload instead of dropping the connection.
func ParseHeader(b []byte) (Header, error) {
	if len(b) < HeaderLen {
		return Header{}, fmt.Errorf("netbios: parsing session header: %d of %d bytes: %w", len(b), HeaderLen, ErrShort)
	}
	flags := b[1]
	if flags&^flagE != 0 {
		return Header{}, fmt.Errorf("netbios: parsing session header: FLAGS 0x%02X: %w", flags, ErrBadFlags)
	}
	h := Header{
		Type:   PacketType(b[0]),
		Length: int(flags&flagE)<<16 | int(b[2])<<8 | int(b[3]),
	}
	if !h.Type.known() {
		return h, fmt.Errorf("netbios: parsing session header: TYPE 0x%02X: %w", b[0], ErrUnknownPacketType)
	}
	return h, nil
}

// AppendHeader appends the header h, setting the E bit when Length needs a
// 17th bit. On error b is returned unchanged.
func AppendHeader(b []byte, h Header) ([]byte, error) {
	if !h.Type.known() {
		return b, fmt.Errorf("netbios: building session header: TYPE 0x%02X: %w", uint8(h.Type), ErrUnknownPacketType)
	}
	if h.Length < 0 || h.Length > MaxPayloadLen {
		return b, fmt.Errorf("netbios: building session header: length %d not in 0..%d: %w", h.Length, MaxPayloadLen, ErrTooLong)
	}
	return appendHeader(b, h.Type, h.Length), nil
}

// appendHeader is AppendHeader for callers that have already bounded the
// length.
func appendHeader(b []byte, t PacketType, length int) []byte {
	return append(b, byte(t), byte(length>>16)&flagE, byte(length>>8), byte(length))
}

// SessionRequestPacket is the payload of a SESSION REQUEST: the name the
// caller wants to talk to and the name it calls from (RFC 1002 4.3.2).
type SessionRequestPacket struct {
	Called, Calling           Name
	CalledScope, CallingScope string
}

// String formats the request as Wireshark does.
func (r SessionRequestPacket) String() string {
	return fmt.Sprintf("%v, called %s, calling %s", SessionRequest, scoped(r.Called, r.CalledScope), scoped(r.Calling, r.CallingScope))
}

func scoped(n Name, scope string) string {
	if scope == "" {
		return n.String()
	}
	return fmt.Sprintf("%v (scope %q)", n, scope)
}

// ParseSessionRequest parses the payload of a SESSION REQUEST (the bytes
// after the 4-byte header). The two names must fill the payload exactly.
func ParseSessionRequest(payload []byte) (SessionRequestPacket, error) {
	var r SessionRequestPacket
	var err error
	var off int
	r.Called, r.CalledScope, off, err = decodeName(payload, 0, false)
	if err != nil {
		return SessionRequestPacket{}, fmt.Errorf("netbios: parsing CALLED NAME: %w", err)
	}
	r.Calling, r.CallingScope, off, err = decodeName(payload, off, false)
	if err != nil {
		return SessionRequestPacket{}, fmt.Errorf("netbios: parsing CALLING NAME: %w", err)
	}
	if off != len(payload) {
		return SessionRequestPacket{}, fmt.Errorf("netbios: parsing SESSION REQUEST: %d bytes after the names: %w", len(payload)-off, ErrTrailing)
	}
	return r, nil
}

// AppendSessionRequest appends a complete SESSION REQUEST, header included.
// On error b is returned unchanged.
func AppendSessionRequest(b []byte, r SessionRequestPacket) ([]byte, error) {
	if err := checkScope(r.CalledScope); err != nil {
		return b, fmt.Errorf("netbios: building SESSION REQUEST: CALLED NAME: %w", err)
	}
	if err := checkScope(r.CallingScope); err != nil {
		return b, fmt.Errorf("netbios: building SESSION REQUEST: CALLING NAME: %w", err)
	}
	// Two names of at most 255 bytes each cannot reach MaxPayloadLen.
	length := encodedNameLen(r.CalledScope) + encodedNameLen(r.CallingScope)
	out := appendHeader(b, SessionRequest, length)
	out, _ = AppendEncodedName(out, r.Called, r.CalledScope)
	out, _ = AppendEncodedName(out, r.Calling, r.CallingScope)
	return out, nil
}

// NegativeResponseCode is the ERROR_CODE of a NEGATIVE SESSION RESPONSE.
type NegativeResponseCode uint8

// Negative session response codes (RFC 1002 4.3.4).
const (
	NotListeningOnCalledName   NegativeResponseCode = 0x80
	NotListeningForCallingName NegativeResponseCode = 0x81
	CalledNameNotPresent       NegativeResponseCode = 0x82
	InsufficientResources      NegativeResponseCode = 0x83
	UnspecifiedError           NegativeResponseCode = 0x8F
)

// String returns RFC 1002's wording for the code.
func (c NegativeResponseCode) String() string {
	switch c {
	case NotListeningOnCalledName:
		return "not listening on called name"
	case NotListeningForCallingName:
		return "not listening for calling name"
	case CalledNameNotPresent:
		return "called name not present"
	case InsufficientResources:
		return "called name present, but insufficient resources"
	case UnspecifiedError:
		return "unspecified error"
	}
	return fmt.Sprintf("NegativeResponseCode(0x%02X)", uint8(c))
}

// AppendNegativeSessionResponse appends a complete NEGATIVE SESSION
// RESPONSE carrying c.
func AppendNegativeSessionResponse(b []byte, c NegativeResponseCode) []byte {
	return append(appendHeader(b, NegativeSessionResponse, 1), byte(c))
}

// ParseNegativeSessionResponse parses the payload of a NEGATIVE SESSION
// RESPONSE. Codes RFC 1002 does not list are returned as they are: the
// caller only reports them.
func ParseNegativeSessionResponse(payload []byte) (NegativeResponseCode, error) {
	if len(payload) < 1 {
		return 0, fmt.Errorf("netbios: parsing NEGATIVE SESSION RESPONSE: ERROR_CODE: %w", ErrShort)
	}
	if len(payload) > 1 {
		return 0, fmt.Errorf("netbios: parsing NEGATIVE SESSION RESPONSE: %d bytes after ERROR_CODE: %w", len(payload)-1, ErrTrailing)
	}
	return NegativeResponseCode(payload[0]), nil
}

// AppendPositiveSessionResponse appends a POSITIVE SESSION RESPONSE.
func AppendPositiveSessionResponse(b []byte) []byte {
	return appendHeader(b, PositiveSessionResponse, 0)
}

// AppendKeepAlive appends a SESSION KEEP ALIVE.
func AppendKeepAlive(b []byte) []byte {
	return appendHeader(b, SessionKeepAlive, 0)
}

// AppendSessionMessage appends a SESSION MESSAGE carrying payload. On error
// b is returned unchanged.
func AppendSessionMessage(b []byte, payload []byte) ([]byte, error) {
	if len(payload) > MaxPayloadLen {
		return b, fmt.Errorf("netbios: building SESSION MESSAGE: payload of %d bytes exceeds %d: %w", len(payload), MaxPayloadLen, ErrTooLong)
	}
	return append(appendHeader(b, SessionMessage, len(payload)), payload...), nil
}

// retargetLen is the payload of a RETARGET SESSION RESPONSE: an IPv4
// address and a port.
const retargetLen = 6

// Retarget is the payload of a RETARGET SESSION RESPONSE: where the caller
// should reconnect (RFC 1002 4.3.5). The field is IPv4 only.
type Retarget struct {
	IP   netip.Addr
	Port uint16
}

// String formats the target as host:port.
func (r Retarget) String() string {
	return netip.AddrPortFrom(r.IP, r.Port).String()
}

// ParseRetarget parses the payload of a RETARGET SESSION RESPONSE.
func ParseRetarget(payload []byte) (Retarget, error) {
	if len(payload) < retargetLen {
		return Retarget{}, fmt.Errorf("netbios: parsing RETARGET SESSION RESPONSE: %d of %d bytes: %w", len(payload), retargetLen, ErrShort)
	}
	if len(payload) > retargetLen {
		return Retarget{}, fmt.Errorf("netbios: parsing RETARGET SESSION RESPONSE: %d bytes after RETARGET_PORT: %w", len(payload)-retargetLen, ErrTrailing)
	}
	return Retarget{
		IP:   netip.AddrFrom4([4]byte(payload[:4])),
		Port: uint16(payload[4])<<8 | uint16(payload[5]),
	}, nil
}

// AppendRetarget appends a complete RETARGET SESSION RESPONSE. IPv4-mapped
// IPv6 addresses are accepted and written as IPv4. On error b is returned
// unchanged.
func AppendRetarget(b []byte, r Retarget) ([]byte, error) {
	ip := r.IP.Unmap()
	if !ip.Is4() {
		return b, fmt.Errorf("netbios: building RETARGET SESSION RESPONSE: RETARGET_IP_ADDRESS %v: %w", r.IP, ErrBadAddress)
	}
	a := ip.As4()
	b = appendHeader(b, RetargetSessionResponse, retargetLen)
	return append(b, a[0], a[1], a[2], a[3], byte(r.Port>>8), byte(r.Port)), nil
}
