package netbios

import (
	"fmt"
	"strings"
)

const (
	// encodedLen is the length of the first label: each of the 16 name
	// bytes becomes two characters (RFC 1001 14.1).
	encodedLen = 2 * NameLen

	// maxEncodedNameLen bounds a second-level encoded name, counting every
	// length byte and the terminating root label, as for DNS names
	// (RFC 1002 4.1 and RFC 883).
	maxEncodedNameLen = 255

	// maxLabelLen is the longest label a 6-bit length can express.
	maxLabelLen = 63

	// Label type, the top two bits of a label's length byte. 0x40 and 0x80
	// are reserved (RFC 883 / RFC 1002 4.1) and always rejected.
	labelTypeMask    = 0xC0
	labelTypeNormal  = 0x00
	labelTypePointer = 0xC0
)

// AppendEncodedName appends n in second-level encoding: the 32-character
// first-level label, one label per dot-separated part of scope, and the
// root label. scope is empty for the default (and nearly universal) empty
// NetBIOS scope. On error b is returned unchanged.
func AppendEncodedName(b []byte, n Name, scope string) ([]byte, error) {
	if err := checkScope(scope); err != nil {
		return b, fmt.Errorf("netbios: encoding %v: %w", n, err)
	}
	b = append(b, encodedLen)
	for _, c := range n.b {
		b = append(b, 'A'+c>>4, 'A'+c&0x0F)
	}
	for rest := scope; rest != ""; {
		var label string
		label, rest, _ = strings.Cut(rest, ".")
		b = append(b, byte(len(label)))
		b = append(b, label...)
	}
	return append(b, 0), nil
}

// encodedNameLen returns how many bytes AppendEncodedName writes for a
// valid scope.
func encodedNameLen(scope string) int {
	n := 1 + encodedLen + 1
	if scope != "" {
		n += 1 + len(scope) // each dot becomes a length byte, plus the first
	}
	return n
}

// checkScope rejects scopes that could not be decoded back to the same
// string: empty labels (leading, trailing or doubled dots), labels longer
// than 63 bytes, and names longer than 255 bytes.
func checkScope(scope string) error {
	if scope == "" {
		return nil
	}
	if l := encodedNameLen(scope); l > maxEncodedNameLen {
		return fmt.Errorf("scope %q makes the encoded name %d bytes, more than %d: %w", scope, l, maxEncodedNameLen, ErrTooLong)
	}
	for rest := scope; ; {
		label, after, found := strings.Cut(rest, ".")
		if label == "" {
			return fmt.Errorf("scope %q has an empty label: %w", scope, ErrBadLabel)
		}
		if len(label) > maxLabelLen {
			return fmt.Errorf("scope label %q is %d bytes, more than %d: %w", label, len(label), maxLabelLen, ErrTooLong)
		}
		if !found {
			return nil
		}
		rest = after
	}
}

// DecodeName decodes the second-level encoded name at msg[off:] and returns
// the name, its scope (dotted, "" for none) and the offset just past it.
// Compression pointers are an error: the session and datagram services
// never compress, so a pointer there is an attack or a corrupt packet.
func DecodeName(msg []byte, off int) (Name, string, int, error) {
	n, scope, next, err := decodeName(msg, off, false)
	if err != nil {
		return Name{}, "", off, fmt.Errorf("netbios: decoding name: %w", err)
	}
	return n, scope, next, nil
}

// unpackLabel reads the label whose length byte is at msg[off]. For an
// ordinary label it returns the label's bytes (empty for the root label
// that ends a name) and ptr = -1; for a compression pointer it returns the
// offset pointed to in ptr. next is the offset after the label or pointer.
// It is shared by every name decoder so that bounds and label types are
// checked in one place.
func unpackLabel(msg []byte, off int) (label []byte, ptr, next int, err error) {
	if off < 0 || off >= len(msg) {
		return nil, -1, off, fmt.Errorf("label length at offset %d: %w", off, ErrShort)
	}
	l := int(msg[off])
	switch l & labelTypeMask {
	case labelTypeNormal:
		end := off + 1 + l
		if end > len(msg) {
			return nil, -1, off, fmt.Errorf("label of %d bytes at offset %d runs past the end (%d bytes): %w", l, off, len(msg), ErrShort)
		}
		return msg[off+1 : end : end], -1, end, nil
	case labelTypePointer:
		if off+2 > len(msg) {
			return nil, -1, off, fmt.Errorf("compression pointer at offset %d: %w", off, ErrShort)
		}
		return nil, int(msg[off]&^labelTypeMask)<<8 | int(msg[off+1]), off + 2, nil
	default:
		return nil, -1, off, fmt.Errorf("reserved label type 0x%02X at offset %d: %w", l&labelTypeMask, off, ErrBadLabel)
	}
}

// decodeName walks the labels of the name at off. With pointers false a
// compression pointer is an error; with pointers true (for the name
// service) each pointer must point strictly before the label sequence it
// appears in, which bounds the walk without a hop counter and rules out
// loops.
func decodeName(msg []byte, off int, pointers bool) (Name, string, int, error) {
	var (
		n        Name
		scope    [maxEncodedNameLen]byte
		scopeLen int
		total    int // encoded length so far, as if the name were uncompressed
		first    = true
		next     = -1 // offset after the name where it started; fixed at the first pointer
		seqStart = off
	)
	for {
		label, ptr, after, err := unpackLabel(msg, off)
		if err != nil {
			return Name{}, "", 0, err
		}
		if ptr >= 0 {
			if !pointers {
				return Name{}, "", 0, fmt.Errorf("label at offset %d: %w", off, ErrCompression)
			}
			if ptr >= seqStart {
				return Name{}, "", 0, fmt.Errorf("compression pointer at offset %d to %d does not point backwards: %w", off, ptr, ErrBadLabel)
			}
			if next < 0 {
				next = after
			}
			off, seqStart = ptr, ptr
			continue
		}
		total += 1 + len(label)
		if total > maxEncodedNameLen {
			return Name{}, "", 0, fmt.Errorf("encoded name exceeds %d bytes: %w", maxEncodedNameLen, ErrTooLong)
		}
		if first {
			if len(label) != encodedLen {
				return Name{}, "", 0, fmt.Errorf("first label at offset %d is %d bytes, not %d: %w", off, len(label), encodedLen, ErrBadLabel)
			}
			for i := range NameLen {
				hi, lo := label[2*i]-'A', label[2*i+1]-'A'
				if hi > 0x0F || lo > 0x0F {
					return Name{}, "", 0, fmt.Errorf("character %q at offset %d is not in 'A'..'P': %w", firstBad(label[2*i:2*i+2]), off+1+2*i, ErrBadLabel)
				}
				n.b[i] = hi<<4 | lo
			}
			first = false
			off = after
			continue
		}
		if len(label) == 0 {
			if next < 0 {
				next = after
			}
			return n, string(scope[:scopeLen]), next, nil
		}
		for _, c := range label {
			if c == '.' {
				return Name{}, "", 0, fmt.Errorf("scope label at offset %d contains '.': %w", off, ErrBadLabel)
			}
		}
		if scopeLen > 0 {
			scope[scopeLen] = '.'
			scopeLen++
		}
		scopeLen += copy(scope[scopeLen:], label)
		off = after
	}
}

func firstBad(pair []byte) byte {
	if pair[0]-'A' > 0x0F {
		return pair[0]
	}
	return pair[1]
}
