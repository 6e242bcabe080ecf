package dcerpc

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// HeaderLen is the length of the connectionless PDU header (C706 12.5.1).
const HeaderLen = 80

// RPCVersion is rpc_vers of every connectionless PDU.
const RPCVersion = 4

// MaxBodyLen is the largest body the 16-bit len field can describe.
const MaxBodyLen = 0xFFFF

// NoHint is the value of InterfaceHint and ActivityHint that offers the
// receiver no hint, which is what a client sends on its first call.
const NoHint = 0xFFFF

// PacketType is the ptype of a connectionless PDU.
type PacketType uint8

// Packet types (C706 12.5.2.x). A call is a request answered by a response,
// fault or reject; the rest manage retransmission and cancellation.
const (
	TypeRequest   PacketType = 0
	TypePing      PacketType = 1
	TypeResponse  PacketType = 2
	TypeFault     PacketType = 3
	TypeWorking   PacketType = 4
	TypeNocall    PacketType = 5
	TypeReject    PacketType = 6
	TypeAck       PacketType = 7
	TypeClCancel  PacketType = 8
	TypeFack      PacketType = 9
	TypeCancelAck PacketType = 10

	maxPacketType = TypeCancelAck
)

// packetTypeNames holds the name Wireshark gives each type, indexed by
// the type.
var packetTypeNames = [...]string{
	TypeRequest:   "Request",
	TypePing:      "Ping",
	TypeResponse:  "Response",
	TypeFault:     "Fault",
	TypeWorking:   "Working",
	TypeNocall:    "Nocall",
	TypeReject:    "Reject",
	TypeAck:       "Ack",
	TypeClCancel:  "Cl_cancel",
	TypeFack:      "Fack",
	TypeCancelAck: "Cancel_ack",
}

// String returns the name Wireshark gives the type.
func (t PacketType) String() string {
	if int(t) < len(packetTypeNames) && packetTypeNames[t] != "" {
		return packetTypeNames[t]
	}
	return fmt.Sprintf("PacketType(%d)", uint8(t))
}

// Flags1 bits (C706 12.5.3.2). 0x01 and 0x80 are reserved for
// implementations; receivers ignore them.
const (
	Flags1LastFrag   uint8 = 0x02 // last fragment of a fragmented body
	Flags1Frag       uint8 = 0x04 // the body is one fragment of a larger one
	Flags1NoFack     uint8 = 0x08 // do not acknowledge this fragment
	Flags1Maybe      uint8 = 0x10 // "maybe" call: the client wants no reply
	Flags1Idempotent uint8 = 0x20 // may run more than once; skips the conv callback
	Flags1Broadcast  uint8 = 0x40 // sent to every host; implies idempotent
)

// Flags2CancelPending is the only defined flags2 bit: a cancel was pending
// when the call was made.
const Flags2CancelPending uint8 = 0x02

// flags1String lists the set bits in the order and words Wireshark uses.
func flags1String(f uint8) string {
	var parts []string
	for _, b := range [...]struct {
		bit  uint8
		name string
	}{
		{0x80, "Reserved 0x80"}, {Flags1Broadcast, "Broadcast"}, {Flags1Idempotent, "Idempotent"},
		{Flags1Maybe, "Maybe"}, {Flags1NoFack, "No Fack"}, {Flags1Frag, "Fragment"},
		{Flags1LastFrag, "Last Fragment"}, {0x01, "Reserved 0x01"},
	} {
		if f&b.bit != 0 {
			parts = append(parts, b.name)
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// DataRep is the three-byte data representation label (drep, C706 14.1):
// byte 0 holds the integer representation in its high nibble and the
// character representation in its low nibble, byte 1 the floating-point
// representation, byte 2 is reserved.
type DataRep [3]byte

// Data representations this package builds with. NativeDataRep is what
// Windows and Impacket send, 10 00 00.
var (
	NativeDataRep    = DataRep{0x10, 0x00, 0x00} // little-endian, ASCII, IEEE
	BigEndianDataRep = DataRep{0x00, 0x00, 0x00} // big-endian, ASCII, IEEE
)

// Integer and character representations (the nibbles of drep byte 0).
const (
	intBigEndian    = 0
	intLittleEndian = 1
	charASCII       = 0
	charEBCDIC      = 1
)

// BigEndian reports whether integers are big-endian (integer
// representation 0). Values other than 0 and 1 are reserved; ParseHeader
// rejects them.
func (d DataRep) BigEndian() bool { return d[0]>>4 == intBigEndian }

// ASCII reports whether characters are ASCII (character representation
// 0) rather than EBCDIC (1).
func (d DataRep) ASCII() bool { return d[0]&0x0F == charASCII }

// Float returns the floating-point representation.
func (d DataRep) Float() FloatFormat { return FloatFormat(d[1]) }

// String formats the label as Wireshark does, e.g. "100000 (Order:
// Little-endian, Char: ASCII, Float: IEEE)".
func (d DataRep) String() string {
	order := fmt.Sprintf("reserved %d", d[0]>>4)
	switch d[0] >> 4 {
	case intBigEndian:
		order = "Big-endian"
	case intLittleEndian:
		order = "Little-endian"
	}
	char := fmt.Sprintf("reserved %d", d[0]&0x0F)
	switch d[0] & 0x0F {
	case charASCII:
		char = "ASCII"
	case charEBCDIC:
		char = "EBCDIC"
	}
	return fmt.Sprintf("%02x%02x%02x (Order: %s, Char: %s, Float: %v)", d[0], d[1], d[2], order, char, d.Float())
}

// order returns the integer byte order. Reserved integer representations
// read as little-endian; only a drep that passed checkIntegers should reach
// here from the wire.
func (d DataRep) order() byteOrder {
	if d.BigEndian() {
		return binary.BigEndian
	}
	return binary.LittleEndian
}

// checkIntegers rejects the reserved integer representations, with which
// no integer in the PDU can be read.
func (d DataRep) checkIntegers() error {
	if r := d[0] >> 4; r > intLittleEndian {
		return fmt.Errorf("%02x%02x%02x: integer representation %d: %w", d[0], d[1], d[2], r, ErrUnsupportedDataRep)
	}
	return nil
}

// checkChars rejects what checkIntegers does and any character
// representation but ASCII, for parts that carry strings.
func (d DataRep) checkChars() error {
	if err := d.checkIntegers(); err != nil {
		return err
	}
	if !d.ASCII() {
		return fmt.Errorf("%02x%02x%02x: character representation %d, only ASCII is supported: %w", d[0], d[1], d[2], d[0]&0x0F, ErrUnsupportedDataRep)
	}
	return nil
}

// FloatFormat is the floating-point representation of a drep. Nothing in
// msgsvcsend is a float; it is decoded for String only.
type FloatFormat uint8

// Floating-point representations (C706 14.1).
const (
	FloatIEEE FloatFormat = 0
	FloatVAX  FloatFormat = 1
	FloatCray FloatFormat = 2
	FloatIBM  FloatFormat = 3
)

// String returns the name Wireshark uses.
func (f FloatFormat) String() string {
	switch f {
	case FloatIEEE:
		return "IEEE"
	case FloatVAX:
		return "VAX"
	case FloatCray:
		return "Cray"
	case FloatIBM:
		return "IBM"
	}
	return fmt.Sprintf("reserved %d", uint8(f))
}

// Header is the connectionless PDU header (C706 12.5.1). Integers are
// host values; DataRep says how they travel. Serial joins serial_hi (byte
// 7) and serial_lo (byte 79). InterfaceVersion is the raw if_vers: major
// version in the low 16 bits, minor in the high 16.
type Header struct {
	Version          uint8
	Type             PacketType
	Flags1, Flags2   uint8
	DataRep          DataRep
	Object           UUID
	Interface        UUID
	Activity         UUID
	ServerBoot       uint32
	InterfaceVersion uint32
	SeqNum           uint32
	OpNum            uint16
	InterfaceHint    uint16
	ActivityHint     uint16
	BodyLen          uint16
	FragNum          uint16
	AuthProto        uint8
	Serial           uint16
}

// WantsReply reports whether the client waits for an answer: every call
// except a "maybe" call, to which a server sends nothing back, not even a
// reject. The forged-source spam of 2003 set it (flags1 0x78).
func (h Header) WantsReply() bool { return h.Flags1&Flags1Maybe == 0 }

// String summarises the header as a protocol analyser would, e.g.
// "Request, Seq: 0, Serial: 0, Frag: 0, Len: 54, Flags1: 0x28 (Idempotent,
// No Fack), Activity: 33221100-…, Interface: 5a7b91f8-… v1.0
// (msgsvcsend), Opnum: 0".
func (h Header) String() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%v, Seq: %d, Serial: %d, Frag: %d, Len: %d, Flags1: 0x%02x (%s)",
		h.Type, h.SeqNum, h.Serial, h.FragNum, h.BodyLen, h.Flags1, flags1String(h.Flags1))
	if h.Flags2 != 0 {
		fmt.Fprintf(&sb, ", Flags2: 0x%02x", h.Flags2)
		if h.Flags2&Flags2CancelPending != 0 {
			sb.WriteString(" (Cancel Pending)")
		}
	}
	if h.DataRep != NativeDataRep {
		fmt.Fprintf(&sb, ", Drep: %v", h.DataRep)
	}
	if h.Version != RPCVersion {
		fmt.Fprintf(&sb, ", Version: %d", h.Version)
	}
	if !h.Object.IsNil() {
		fmt.Fprintf(&sb, ", Object: %v", h.Object)
	}
	fmt.Fprintf(&sb, ", Activity: %v, Interface: %v v%d.%d", h.Activity, h.Interface, h.InterfaceVersion&0xFFFF, h.InterfaceVersion>>16)
	if h.Interface == MsgSvcSendInterface {
		sb.WriteString(" (msgsvcsend)")
	}
	fmt.Fprintf(&sb, ", Opnum: %d", h.OpNum)
	if h.ServerBoot != 0 {
		fmt.Fprintf(&sb, ", Boot: %d", h.ServerBoot)
	}
	if h.AuthProto != 0 {
		fmt.Fprintf(&sb, ", Auth: %d", h.AuthProto)
	}
	return sb.String()
}

func headerError(field string, err error) error {
	return fmt.Errorf("dcerpc: parsing header: %s: %w", field, err)
}

// ParseHeader parses the 80-byte header at the start of b: rpc_vers must be
// 4, ptype one C706 defines and the drep's integer representation big- or
// little-endian. It checks nothing about the body, so a server can still
// answer a PDU that Parse rejects (an authenticated one, say) with a
// reject that carries its activity and sequence number.
func ParseHeader(b []byte) (Header, error) {
	if len(b) < HeaderLen {
		return Header{}, fmt.Errorf("dcerpc: parsing header: %d of %d bytes: %w", len(b), HeaderLen, ErrShort)
	}
	if b[0] != RPCVersion {
		return Header{}, headerError("rpc_vers", fmt.Errorf("%d, want %d: %w", b[0], RPCVersion, ErrVersion))
	}
	if t := PacketType(b[1]); t > maxPacketType {
		return Header{}, headerError("ptype", fmt.Errorf("%d: %w", b[1], ErrUnknownPacketType))
	}
	d := DataRep{b[4], b[5], b[6]}
	if err := d.checkIntegers(); err != nil {
		return Header{}, headerError("drep", err)
	}
	// The length check above covers every fixed offset below.
	o := d.order()
	return Header{
		Version:          b[0],
		Type:             PacketType(b[1]),
		Flags1:           b[2],
		Flags2:           b[3],
		DataRep:          d,
		Serial:           uint16(b[7])<<8 | uint16(b[79]),
		Object:           readUUID(b[8:], o),
		Interface:        readUUID(b[24:], o),
		Activity:         readUUID(b[40:], o),
		ServerBoot:       o.Uint32(b[56:]),
		InterfaceVersion: o.Uint32(b[60:]),
		SeqNum:           o.Uint32(b[64:]),
		OpNum:            o.Uint16(b[68:]),
		InterfaceHint:    o.Uint16(b[70:]),
		ActivityHint:     o.Uint16(b[72:]),
		BodyLen:          o.Uint16(b[74:]),
		FragNum:          o.Uint16(b[76:]),
		AuthProto:        b[78],
	}, nil
}

// Packet is one connectionless PDU. Body is the BodyLen bytes after the
// header and aliases the buffer given to Parse.
type Packet struct {
	Header
	Body []byte
}

// Len returns how many bytes of the datagram the PDU occupied.
func (p Packet) Len() int { return HeaderLen + len(p.Body) }

// String summarises the PDU; for a fault or reject it adds the status.
func (p Packet) String() string {
	s := p.Header.String()
	if p.Type != TypeFault && p.Type != TypeReject {
		return s
	}
	if st, err := p.Status(); err == nil {
		return s + fmt.Sprintf(", Status: %v", st)
	}
	return s + ", Status: missing"
}

// Status returns the status a fault or reject carries: the first four
// bytes of the body, in the PDU's byte order (C706 12.5.3.5 and 12.5.3.9).
func (p Packet) Status() (Status, error) {
	if p.Type != TypeFault && p.Type != TypeReject {
		return 0, fmt.Errorf("dcerpc: reading status of a %v: %w", p.Type, ErrNotStatus)
	}
	v, _, err := unpackUint32(p.Body, 0, p.DataRep.order())
	if err != nil {
		return 0, fmt.Errorf("dcerpc: parsing %v body: status: %w", p.Type, err)
	}
	return Status(v), nil
}

// Parse parses one PDU, a whole UDP datagram. Besides what ParseHeader
// checks, len must not exceed the bytes after the header — the declared
// length is never trusted, the shape of MS03-043 — and auth_proto must be
// 0. Bytes after the body are ignored: C706 does not forbid them, and a
// verifier-less PDU has nothing there that a caller could use. Reserved
// flag bits are returned as they came.
func Parse(b []byte) (Packet, error) {
	h, err := ParseHeader(b)
	if err != nil {
		return Packet{}, err
	}
	body, _, err := unpackBytes(b, HeaderLen, int(h.BodyLen))
	if err != nil {
		return Packet{}, headerError("len", fmt.Errorf("%d bytes declared, %d present: %w", h.BodyLen, len(b)-HeaderLen, ErrShort))
	}
	if h.AuthProto != 0 {
		return Packet{}, headerError("auth_proto", fmt.Errorf("%d: %w", h.AuthProto, ErrUnsupportedAuth))
	}
	return Packet{Header: h, Body: body}, nil
}

func buildError(field string, err error) error {
	return fmt.Errorf("dcerpc: building header: %s: %w", field, err)
}

// AppendPacket appends the header h followed by body, with the integers in
// h.DataRep's byte order. BodyLen is set from len(body); a zero Version is
// written as 4. On error b is returned unchanged.
func AppendPacket(b []byte, h Header, body []byte) ([]byte, error) {
	if h.Version == 0 {
		h.Version = RPCVersion
	}
	if h.Version != RPCVersion {
		return b, buildError("rpc_vers", fmt.Errorf("%d, want %d: %w", h.Version, RPCVersion, ErrVersion))
	}
	if h.Type > maxPacketType {
		return b, buildError("ptype", fmt.Errorf("%d: %w", uint8(h.Type), ErrUnknownPacketType))
	}
	if err := h.DataRep.checkIntegers(); err != nil {
		return b, buildError("drep", err)
	}
	if h.AuthProto != 0 {
		return b, buildError("auth_proto", fmt.Errorf("%d: %w", h.AuthProto, ErrUnsupportedAuth))
	}
	if len(body) > MaxBodyLen {
		return b, buildError("len", fmt.Errorf("%d bytes, more than %d: %w", len(body), MaxBodyLen, ErrTooLong))
	}
	o := h.DataRep.order()
	d := h.DataRep
	b = append(b, h.Version, byte(h.Type), h.Flags1, h.Flags2, d[0], d[1], d[2], byte(h.Serial>>8))
	b = appendUUID(b, o, h.Object)
	b = appendUUID(b, o, h.Interface)
	b = appendUUID(b, o, h.Activity)
	b = o.AppendUint32(b, h.ServerBoot)
	b = o.AppendUint32(b, h.InterfaceVersion)
	b = o.AppendUint32(b, h.SeqNum)
	b = o.AppendUint16(b, h.OpNum)
	b = o.AppendUint16(b, h.InterfaceHint)
	b = o.AppendUint16(b, h.ActivityHint)
	b = o.AppendUint16(b, uint16(len(body)))
	b = o.AppendUint16(b, h.FragNum)
	b = append(b, h.AuthProto, byte(h.Serial))
	return append(b, body...), nil
}
