package dcerpc

import (
	"bytes"
	"fmt"
	"math"
)

// NDRReader reads NDR (C706 chapter 14) from a PDU body. Alignment is
// relative to the start of the body, which is where the stub starts; the
// header is 80 bytes, a multiple of 8, so that is also alignment within the
// datagram. Errors are bare and name the NDR item (max_count, offset, …);
// callers add the parameter's name.
type NDRReader struct {
	b     []byte
	off   int
	order byteOrder
}

// NewNDRReader returns a reader over body with integers in drep's byte
// order. It does not judge the character representation; strings are
// returned as the bytes sent.
func NewNDRReader(body []byte, drep DataRep) NDRReader {
	return NDRReader{b: body, order: drep.order()}
}

// Offset returns the position of the next read within the body.
func (r *NDRReader) Offset() int { return r.off }

// Len returns the number of unread bytes.
func (r *NDRReader) Len() int { return len(r.b) - r.off }

// Align skips to the next multiple of n. The padding's contents are
// ignored: NDR says nothing about them and Impacket fills them with 0xAB.
// n ≤ 1 is a no-op.
func (r *NDRReader) Align(n int) error {
	if n <= 1 {
		return nil
	}
	pad := (n - r.off%n) % n
	_, off, err := unpackBytes(r.b, r.off, pad)
	if err != nil {
		return fmt.Errorf("alignment to %d: %w", n, err)
	}
	r.off = off
	return nil
}

// Uint8 reads a byte.
func (r *NDRReader) Uint8() (uint8, error) {
	v, off, err := unpackUint8(r.b, r.off)
	if err != nil {
		return 0, err
	}
	r.off = off
	return v, nil
}

// Uint16 aligns to 2 and reads an unsigned short.
func (r *NDRReader) Uint16() (uint16, error) {
	if err := r.Align(2); err != nil {
		return 0, err
	}
	v, off, err := unpackUint16(r.b, r.off, r.order)
	if err != nil {
		return 0, err
	}
	r.off = off
	return v, nil
}

// Uint32 aligns to 4 and reads an unsigned long.
func (r *NDRReader) Uint32() (uint32, error) {
	if err := r.Align(4); err != nil {
		return 0, err
	}
	v, off, err := unpackUint32(r.b, r.off, r.order)
	if err != nil {
		return 0, err
	}
	r.off = off
	return v, nil
}

// ConformantVaryingString reads the conformant varying array of a
// [string] char* (C706 14.3.4.2): max_count, offset and actual_count, each
// an aligned u32, then actual_count bytes whose last is the NUL. It returns
// the bytes without the NUL, aliasing the body.
//
// The counts are the peer's and are checked before anything is read:
// max_count may be at most maxLen+1 (it sizes the receiver's buffer in a
// stub, the quantity MS03-043 abused, and Snort's sid 2257 flags Text above
// 1024), offset must be 0, actual_count must be at least 1 (the NUL), at
// most max_count and at most the bytes left. The terminator must be the
// last byte and the only NUL: a [string] ends at its first NUL, so bytes
// after an embedded one would reach our store and logs but not a Windows
// pop-up, and the difference is a way to hide text; such strings are
// rejected rather than cut.
//
// Padding after the string is not consumed here: the next aligned read
// skips it, and the last parameter of a stub needs none.
func (r *NDRReader) ConformantVaryingString(maxLen int) ([]byte, error) {
	maxLen = max(maxLen, 0)
	maxCount, err := r.Uint32()
	if err != nil {
		return nil, fmt.Errorf("max_count: %w", err)
	}
	if uint64(maxCount) > uint64(maxLen)+1 {
		return nil, fmt.Errorf("max_count: %d, more than %d+1: %w", maxCount, maxLen, ErrTooLong)
	}
	offset, err := r.Uint32()
	if err != nil {
		return nil, fmt.Errorf("offset: %w", err)
	}
	if offset != 0 {
		return nil, fmt.Errorf("offset: %d, want 0: %w", offset, ErrBadOffset)
	}
	actual, err := r.Uint32()
	if err != nil {
		return nil, fmt.Errorf("actual_count: %w", err)
	}
	if actual == 0 {
		return nil, fmt.Errorf("actual_count: 0, a [string] holds at least its NUL: %w", ErrBadCount)
	}
	if actual > maxCount {
		return nil, fmt.Errorf("actual_count: %d, more than max_count %d: %w", actual, maxCount, ErrBadCount)
	}
	// actual ≤ maxCount ≤ maxLen+1, so the conversion cannot overflow.
	s, off, err := unpackBytes(r.b, r.off, int(actual))
	if err != nil {
		return nil, fmt.Errorf("actual_count: %w", err)
	}
	n := len(s) - 1
	if s[n] != 0 {
		return nil, fmt.Errorf("string: last of %d bytes is 0x%02x: %w", len(s), s[n], ErrUnterminated)
	}
	if i := bytes.IndexByte(s[:n], 0); i >= 0 {
		return nil, fmt.Errorf("string: NUL at byte %d of %d: %w", i, len(s), ErrEmbeddedNUL)
	}
	r.off = off
	return s[:n:n], nil
}

// NDRWriter appends NDR to a buffer, with zero bytes as padding. Alignment
// is relative to where the writer started, the start of the stub.
type NDRWriter struct {
	b     []byte
	start int
	order byteOrder
}

// NewNDRWriter returns a writer that appends to b in drep's byte order.
func NewNDRWriter(b []byte, drep DataRep) NDRWriter {
	return NDRWriter{b: b, start: len(b), order: drep.order()}
}

// Bytes returns b with everything written appended.
func (w *NDRWriter) Bytes() []byte { return w.b }

// Len returns the number of bytes written.
func (w *NDRWriter) Len() int { return len(w.b) - w.start }

// Align pads with zeros to the next multiple of n; n ≤ 1 is a no-op.
func (w *NDRWriter) Align(n int) {
	if n <= 1 {
		return
	}
	for pad := (n - w.Len()%n) % n; pad > 0; pad-- {
		w.b = append(w.b, 0)
	}
}

// Uint32 aligns to 4 and writes v.
func (w *NDRWriter) Uint32(v uint32) {
	w.Align(4)
	w.b = w.order.AppendUint32(w.b, v)
}

// ConformantVaryingString writes s as a [string] char*: max_count and
// actual_count both len(s)+1, offset 0, the bytes and a NUL. The padding
// that follows is written by the next aligned item. On error nothing is
// written.
func (w *NDRWriter) ConformantVaryingString(s []byte) error {
	if i := bytes.IndexByte(s, 0); i >= 0 {
		return fmt.Errorf("NUL at byte %d of %d: %w", i, len(s), ErrEmbeddedNUL)
	}
	if uint64(len(s)) >= math.MaxUint32 {
		return fmt.Errorf("%d bytes, more than a u32 count holds: %w", len(s), ErrTooLong)
	}
	n := uint32(len(s)) + 1
	w.Uint32(n)
	w.Uint32(0)
	w.Uint32(n)
	w.b = append(w.b, s...)
	w.b = append(w.b, 0)
	return nil
}
