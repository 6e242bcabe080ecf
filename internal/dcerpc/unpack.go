package dcerpc

import (
	"encoding/binary"
	"fmt"
)

// byteOrder is what binary.BigEndian and binary.LittleEndian both are, so
// one value both reads and appends in the drep's order.
type byteOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

// The unpack helpers are the only way the parsers read a buffer whose
// length depends on the peer: each checks bounds before touching it and
// returns the offset after the field, so a count taken from the wire can
// never index past the bytes present. The errors are bare; callers wrap
// them with the field's name.

func unpackUint8(msg []byte, off int) (uint8, int, error) {
	if off < 0 || off >= len(msg) {
		return 0, off, fmt.Errorf("1 byte needed at offset %d, %d present: %w", off, max(len(msg)-off, 0), ErrShort)
	}
	return msg[off], off + 1, nil
}

func unpackUint16(msg []byte, off int, o byteOrder) (uint16, int, error) {
	if off < 0 || off > len(msg)-2 {
		return 0, off, fmt.Errorf("2 bytes needed at offset %d, %d present: %w", off, max(len(msg)-off, 0), ErrShort)
	}
	return o.Uint16(msg[off:]), off + 2, nil
}

func unpackUint32(msg []byte, off int, o byteOrder) (uint32, int, error) {
	if off < 0 || off > len(msg)-4 {
		return 0, off, fmt.Errorf("4 bytes needed at offset %d, %d present: %w", off, max(len(msg)-off, 0), ErrShort)
	}
	return o.Uint32(msg[off:]), off + 4, nil
}

// unpackBytes returns n bytes at off, capped so that appending to the
// result cannot overwrite what follows in msg.
func unpackBytes(msg []byte, off, n int) ([]byte, int, error) {
	if off < 0 || n < 0 || off > len(msg) || n > len(msg)-off {
		return nil, off, fmt.Errorf("%d bytes needed at offset %d, %d present: %w", n, off, max(len(msg)-off, 0), ErrShort)
	}
	return msg[off : off+n : off+n], off + n, nil
}
