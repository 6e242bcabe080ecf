package dcerpc

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
)

// UUIDLen is the wire size of a UUID.
const UUIDLen = 16

// UUID is a DCE UUID in canonical order: the bytes as the string form
// prints them, time_low first and most significant byte first. On the wire
// C706 encodes time_low, time_mid and time_hi_and_version as integers in
// the PDU's byte order and the remaining eight bytes as they are, so the
// same interface arrives as f8 91 7b 5a 00 ff d0 11 … from a little-endian
// peer and 5a 7b 91 f8 ff 00 11 d0 … from a big-endian one. Keeping the
// canonical form in the struct makes two UUIDs compare equal whatever drep
// carried them; ReadUUID and AppendUUID do the swapping.
type UUID [UUIDLen]byte

// ParseUUID parses the canonical form 5a7b91f8-ff00-11d0-a9b2-00c04fb6e6fc,
// in either case, optionally in braces as Windows prints it.
func ParseUUID(s string) (UUID, error) {
	if len(s) == 38 && s[0] == '{' && s[37] == '}' {
		s = s[1:37]
	}
	var u UUID
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return UUID{}, fmt.Errorf("dcerpc: parsing UUID %q: %w", s, ErrBadUUID)
	}
	// Groups of hex digits and where their bytes go.
	for _, g := range [...]struct{ from, to, at int }{{0, 8, 0}, {9, 13, 4}, {14, 18, 6}, {19, 23, 8}, {24, 36, 10}} {
		if _, err := hex.Decode(u[g.at:], []byte(s[g.from:g.to])); err != nil {
			return UUID{}, fmt.Errorf("dcerpc: parsing UUID %q: %w", s, ErrBadUUID)
		}
	}
	return u, nil
}

// String returns the canonical lower-case form, as tshark prints it.
func (u UUID) String() string {
	var buf [36]byte
	hex.Encode(buf[0:8], u[0:4])
	buf[8] = '-'
	hex.Encode(buf[9:13], u[4:6])
	buf[13] = '-'
	hex.Encode(buf[14:18], u[6:8])
	buf[18] = '-'
	hex.Encode(buf[19:23], u[8:10])
	buf[23] = '-'
	hex.Encode(buf[24:], u[10:])
	return string(buf[:])
}

// IsNil reports whether u is the nil UUID, the object of nearly every
// call.
func (u UUID) IsNil() bool { return u == UUID{} }

// ReadUUID reads a UUID from the first 16 bytes of b, whose first three
// fields are in d's integer byte order.
func ReadUUID(b []byte, d DataRep) (UUID, error) {
	if len(b) < UUIDLen {
		return UUID{}, fmt.Errorf("dcerpc: reading UUID: %d of %d bytes: %w", len(b), UUIDLen, ErrShort)
	}
	return readUUID(b, d.order()), nil
}

// readUUID is ReadUUID without the length check, for the fixed header.
func readUUID(b []byte, o byteOrder) UUID {
	var u UUID
	// Canonical order is big-endian whatever the wire used.
	be := binary.BigEndian
	be.PutUint32(u[0:], o.Uint32(b[0:]))
	be.PutUint16(u[4:], o.Uint16(b[4:]))
	be.PutUint16(u[6:], o.Uint16(b[6:]))
	copy(u[8:], b[8:16])
	return u
}

// AppendUUID appends u with its first three fields in d's byte order.
func AppendUUID(b []byte, d DataRep, u UUID) []byte {
	return appendUUID(b, d.order(), u)
}

func appendUUID(b []byte, o byteOrder, u UUID) []byte {
	be := binary.BigEndian
	b = o.AppendUint32(b, be.Uint32(u[0:]))
	b = o.AppendUint16(b, be.Uint16(u[4:]))
	b = o.AppendUint16(b, be.Uint16(u[6:]))
	return append(b, u[8:]...)
}
