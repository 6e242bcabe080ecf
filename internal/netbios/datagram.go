package netbios

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"
)

// Datagram header lengths (RFC 1002 4.4.1): every datagram starts with
// MSG_TYPE, FLAGS, DGM_ID, SOURCE_IP and SOURCE_PORT; the three kinds that
// carry user data add DGM_LENGTH and PACKET_OFFSET.
const (
	dgmBaseLen   = 10
	dgmHeaderLen = 14
)

// MaxDatagramLen is the largest datagram service packet this package
// parses or builds: the most a UDP payload can hold. User data is capped
// at MaxDatagramLen minus the header and the two names.
const MaxDatagramLen = 0xFFFF

// DatagramType is the MSG_TYPE of a datagram service packet.
type DatagramType uint8

// Datagram types (RFC 1002 4.4.1).
const (
	DirectUniqueDatagram          DatagramType = 0x10
	DirectGroupDatagram           DatagramType = 0x11
	BroadcastDatagram             DatagramType = 0x12
	DatagramError                 DatagramType = 0x13
	DatagramQueryRequest          DatagramType = 0x14
	DatagramPositiveQueryResponse DatagramType = 0x15
	DatagramNegativeQueryResponse DatagramType = 0x16
)

// datagramTypeNames holds the name RFC 1002 gives each type.
var datagramTypeNames = map[DatagramType]string{
	DirectUniqueDatagram:          "DIRECT_UNIQUE DATAGRAM",
	DirectGroupDatagram:           "DIRECT_GROUP DATAGRAM",
	BroadcastDatagram:             "BROADCAST DATAGRAM",
	DatagramError:                 "DATAGRAM ERROR",
	DatagramQueryRequest:          "DATAGRAM QUERY REQUEST",
	DatagramPositiveQueryResponse: "DATAGRAM POSITIVE QUERY RESPONSE",
	DatagramNegativeQueryResponse: "DATAGRAM NEGATIVE QUERY RESPONSE",
}

// String returns the name RFC 1002 gives the type.
func (t DatagramType) String() string {
	if n, ok := datagramTypeNames[t]; ok {
		return n
	}
	return fmt.Sprintf("DatagramType(0x%02X)", uint8(t))
}

// carriesData reports whether the type has DGM_LENGTH, PACKET_OFFSET, both
// names and user data.
func (t DatagramType) carriesData() bool {
	return t == DirectUniqueDatagram || t == DirectGroupDatagram || t == BroadcastDatagram
}

func (t DatagramType) isQuery() bool {
	return t == DatagramQueryRequest || t == DatagramPositiveQueryResponse || t == DatagramNegativeQueryResponse
}

// DatagramFlags is the FLAGS byte of a datagram: the fragment bits and the
// sender's node type.
type DatagramFlags uint8

// Datagram flags (RFC 1002 4.4.1). A datagram that is not fragmented has
// DatagramFirst set and DatagramMore clear.
const (
	DatagramMore  DatagramFlags = 0x01 // more fragments follow
	DatagramFirst DatagramFlags = 0x02 // first fragment

	// Source node type (SNT).
	SNTBNode DatagramFlags = 0x00
	SNTPNode DatagramFlags = 0x04
	SNTMNode DatagramFlags = 0x08
	SNTNBDD  DatagramFlags = 0x0C // NBDD in RFC 1002; Microsoft's H-node

	sntMask          DatagramFlags = 0x0C
	dgmReservedFlags DatagramFlags = 0xF0
)

// SNT returns the source node type bits.
func (f DatagramFlags) SNT() DatagramFlags { return f & sntMask }

// String formats the flags as Wireshark does, e.g. "FIRST, B-node".
func (f DatagramFlags) String() string {
	var parts []string
	if f&DatagramMore != 0 {
		parts = append(parts, "MORE")
	}
	if f&DatagramFirst != 0 {
		parts = append(parts, "FIRST")
	}
	switch f.SNT() {
	case SNTBNode:
		parts = append(parts, "B-node")
	case SNTPNode:
		parts = append(parts, "P-node")
	case SNTMNode:
		parts = append(parts, "M-node")
	default:
		parts = append(parts, "NBDD")
	}
	if r := f & dgmReservedFlags; r != 0 {
		parts = append(parts, fmt.Sprintf("reserved 0x%02X", uint8(r)))
	}
	return strings.Join(parts, ", ")
}

// DatagramErrorCode is the ERROR_CODE of a DATAGRAM ERROR packet.
type DatagramErrorCode uint8

// Datagram error codes (RFC 1002 4.4.3).
const (
	DestinationNameNotPresent    DatagramErrorCode = 0x82
	InvalidSourceNameFormat      DatagramErrorCode = 0x83
	InvalidDestinationNameFormat DatagramErrorCode = 0x84
)

// String returns RFC 1002's wording for the code.
func (c DatagramErrorCode) String() string {
	switch c {
	case DestinationNameNotPresent:
		return "destination name not present"
	case InvalidSourceNameFormat:
		return "invalid source name format"
	case InvalidDestinationNameFormat:
		return "invalid destination name format"
	}
	return fmt.Sprintf("DatagramErrorCode(0x%02X)", uint8(c))
}

// Datagram is a datagram service packet (RFC 1002 4.4). Which fields mean
// something depends on Type:
//
//   - DIRECT_UNIQUE, DIRECT_GROUP and BROADCAST use every field but
//     ErrorCode. DGM_LENGTH is not a field: it is computed from the names
//     and Data.
//   - DATAGRAM ERROR uses the first five fields and ErrorCode.
//   - The three query packets use the first five fields and Destination.
//
// Data aliases the buffer given to ParseDatagram.
type Datagram struct {
	Type         DatagramType
	Flags        DatagramFlags
	ID           uint16
	SourceIP     netip.Addr // IPv4
	SourcePort   uint16
	PacketOffset uint16

	Source, Destination           Name
	SourceScope, DestinationScope string

	Data      []byte
	ErrorCode DatagramErrorCode
}

// String summarises the datagram as a protocol analyser would; user data
// is counted, not shown.
func (d Datagram) String() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%v, ID 0x%04X, %v, from %v", d.Type, d.ID, d.Flags, netip.AddrPortFrom(d.SourceIP, d.SourcePort))
	switch {
	case d.Type.carriesData():
		fmt.Fprintf(&sb, ", %s -> %s, %d bytes", scoped(d.Source, d.SourceScope), scoped(d.Destination, d.DestinationScope), len(d.Data))
		if d.PacketOffset != 0 {
			fmt.Fprintf(&sb, " at offset %d", d.PacketOffset)
		}
	case d.Type == DatagramError:
		fmt.Fprintf(&sb, ", %v", d.ErrorCode)
	case d.Type.isQuery():
		fmt.Fprintf(&sb, ", %s", scoped(d.Destination, d.DestinationScope))
	}
	return sb.String()
}

// ParseDatagram parses a datagram service packet, which must fill b
// exactly.
//
// For the three data-carrying types DGM_LENGTH must equal the bytes after
// PACKET_OFFSET (names plus user data), which is what Windows and Samba
// send. If it does not, ParseDatagram still parses the names and takes
// the user data from the bytes present, as Samba's nmbd does (it ignores
// the field), and returns the datagram together with an error wrapping
// ErrLengthMismatch: a caller that wants nmbd's leniency can accept it,
// and one that wants the RFC rejects it. Any other error comes with a zero
// Datagram, except ErrUnknownDatagramType, which comes with the header
// fields so that the caller can log them.
//
// Names must not use compression pointers; fragments are returned as they
// are (Flags and PacketOffset say which part of the datagram they hold).
func ParseDatagram(b []byte) (Datagram, error) {
	if len(b) > MaxDatagramLen {
		return Datagram{}, dgmParseError("packet", fmt.Errorf("%d bytes, more than %d: %w", len(b), MaxDatagramLen, ErrTooLong))
	}
	if len(b) < dgmBaseLen {
		return Datagram{}, dgmParseError("header", fmt.Errorf("%d of %d bytes: %w", len(b), dgmBaseLen, ErrShort))
	}
	var d Datagram
	off := 0
	t, off, _ := unpackUint8(b, off)
	f, off, _ := unpackUint8(b, off)
	d.Type, d.Flags = DatagramType(t), DatagramFlags(f)
	d.ID, off, _ = unpackUint16(b, off)
	ip, off, _ := unpackBytes(b, off, 4)
	d.SourceIP = netip.AddrFrom4([4]byte(ip))
	d.SourcePort, off, _ = unpackUint16(b, off)
	if d.Flags&dgmReservedFlags != 0 {
		return Datagram{}, dgmParseError("FLAGS", fmt.Errorf("0x%02X: %w", f, ErrBadFlags))
	}

	var err error
	switch {
	case d.Type.carriesData():
		var dgmLen uint16
		if dgmLen, off, err = unpackUint16(b, off); err != nil {
			return Datagram{}, dgmParseError("DGM_LENGTH", err)
		}
		if d.PacketOffset, off, err = unpackUint16(b, off); err != nil {
			return Datagram{}, dgmParseError("PACKET_OFFSET", err)
		}
		if d.Source, d.SourceScope, off, err = decodeName(b, off, false); err != nil {
			return Datagram{}, dgmParseError("SOURCE_NAME", err)
		}
		if d.Destination, d.DestinationScope, off, err = decodeName(b, off, false); err != nil {
			return Datagram{}, dgmParseError("DESTINATION_NAME", err)
		}
		d.Data, _, _ = unpackBytes(b, off, len(b)-off)
		if after := len(b) - dgmHeaderLen; int(dgmLen) != after {
			return d, dgmParseError("DGM_LENGTH", fmt.Errorf("%d, but %d bytes follow PACKET_OFFSET: %w", dgmLen, after, ErrLengthMismatch))
		}
		return d, nil
	case d.Type == DatagramError:
		var code uint8
		if code, off, err = unpackUint8(b, off); err != nil {
			return Datagram{}, dgmParseError("ERROR_CODE", err)
		}
		d.ErrorCode = DatagramErrorCode(code)
	case d.Type.isQuery():
		if d.Destination, d.DestinationScope, off, err = decodeName(b, off, false); err != nil {
			return Datagram{}, dgmParseError("DESTINATION_NAME", err)
		}
	default:
		return d, dgmParseError("MSG_TYPE", fmt.Errorf("0x%02X: %w", t, ErrUnknownDatagramType))
	}
	if off != len(b) {
		return Datagram{}, dgmParseError(d.Type.String(), fmt.Errorf("%d bytes after the last field: %w", len(b)-off, ErrTrailing))
	}
	return d, nil
}

func dgmParseError(field string, err error) error {
	return fmt.Errorf("netbios: parsing datagram: %s: %w", field, err)
}

func dgmBuildError(field string, err error) error {
	return fmt.Errorf("netbios: building datagram: %s: %w", field, err)
}

// AppendDatagram appends d in wire form, computing DGM_LENGTH. Fields the
// type does not use are ignored. SourceIP must be IPv4 or IPv4-mapped
// IPv6. On error b is returned unchanged.
func AppendDatagram(b []byte, d Datagram) ([]byte, error) {
	if !d.Type.carriesData() && d.Type != DatagramError && !d.Type.isQuery() {
		return b, dgmBuildError("MSG_TYPE", fmt.Errorf("0x%02X: %w", uint8(d.Type), ErrUnknownDatagramType))
	}
	if d.Flags&dgmReservedFlags != 0 {
		return b, dgmBuildError("FLAGS", fmt.Errorf("0x%02X: %w", uint8(d.Flags), ErrBadFlags))
	}
	ip := d.SourceIP.Unmap()
	if !ip.Is4() {
		return b, dgmBuildError("SOURCE_IP", fmt.Errorf("%v: %w", d.SourceIP, ErrBadAddress))
	}
	if d.Type.carriesData() || d.Type.isQuery() {
		if err := checkScope(d.DestinationScope); err != nil {
			return b, dgmBuildError("DESTINATION_NAME", err)
		}
	}
	var dgmLen int
	if d.Type.carriesData() {
		if err := checkScope(d.SourceScope); err != nil {
			return b, dgmBuildError("SOURCE_NAME", err)
		}
		dgmLen = encodedNameLen(d.SourceScope) + encodedNameLen(d.DestinationScope) + len(d.Data)
		if dgmHeaderLen+dgmLen > MaxDatagramLen {
			return b, dgmBuildError("USER_DATA", fmt.Errorf("%d bytes make a %d-byte datagram, more than %d: %w", len(d.Data), dgmHeaderLen+dgmLen, MaxDatagramLen, ErrTooLong))
		}
	}

	be := binary.BigEndian
	a := ip.As4()
	b = append(b, byte(d.Type), byte(d.Flags))
	b = be.AppendUint16(b, d.ID)
	b = append(b, a[:]...)
	b = be.AppendUint16(b, d.SourcePort)
	switch {
	case d.Type.carriesData():
		b = be.AppendUint16(b, uint16(dgmLen))
		b = be.AppendUint16(b, d.PacketOffset)
		b, _ = AppendEncodedName(b, d.Source, d.SourceScope)
		b, _ = AppendEncodedName(b, d.Destination, d.DestinationScope)
		b = append(b, d.Data...)
	case d.Type == DatagramError:
		b = append(b, byte(d.ErrorCode))
	default:
		b, _ = AppendEncodedName(b, d.Destination, d.DestinationScope)
	}
	return b, nil
}
