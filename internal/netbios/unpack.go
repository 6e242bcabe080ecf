package netbios

import (
	"encoding/binary"
	"fmt"
)

// The unpack helpers are the only way the name and datagram service
// parsers read a buffer: each checks bounds before touching it and returns
// the offset after the field, so a length taken from the wire can never
// index past the bytes present. Integers are big-endian, as everywhere in
// RFC 1002. The errors are bare; callers wrap them with the field's name.

func unpackUint8(msg []byte, off int) (uint8, int, error) {
	if off < 0 || off >= len(msg) {
		return 0, off, ErrShort
	}
	return msg[off], off + 1, nil
}

func unpackUint16(msg []byte, off int) (uint16, int, error) {
	if off < 0 || off > len(msg)-2 {
		return 0, off, ErrShort
	}
	return binary.BigEndian.Uint16(msg[off:]), off + 2, nil
}

func unpackUint32(msg []byte, off int) (uint32, int, error) {
	if off < 0 || off > len(msg)-4 {
		return 0, off, ErrShort
	}
	return binary.BigEndian.Uint32(msg[off:]), off + 4, nil
}

// unpackBytes returns n bytes at off, capped so that appending to the
// result cannot overwrite what follows in msg.
func unpackBytes(msg []byte, off, n int) ([]byte, int, error) {
	if off < 0 || n < 0 || off > len(msg) || n > len(msg)-off {
		return nil, off, fmt.Errorf("%d bytes needed at offset %d, %d present: %w", n, off, max(len(msg)-off, 0), ErrShort)
	}
	return msg[off : off+n : off+n], off + n, nil
}
