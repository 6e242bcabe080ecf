package ipp

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Limits on what Decode accepts. The wire allows 65535-byte names and
// values without limit in number; a message from a print spooler needs
// far less, and these keep a hostile one from costing more than its size.
const (
	// MaxAttributes is the most attributes (collection members
	// included) one message may carry.
	MaxAttributes = 1024
	// MaxValues is the most values, counted over every attribute.
	MaxValues = 8192
	// MaxDepth is how deeply collections may nest.
	MaxDepth = 8
)

// headerLen is version-number (2), operation-id or status-code (2) and
// request-id (4) (RFC 8010 section 3.1.1).
const headerLen = 8

// ErrShort means the bytes ended inside a message. Reader takes it as a
// sign to read more; at the end of a stream it is a truncated message.
var ErrShort = errors.New("insufficient data")

// ErrLimit means a message exceeded one of the decoder's limits.
var ErrLimit = errors.New("limit exceeded")

// fieldError says which field of the message was wrong and at which
// offset.
type fieldError struct {
	field string
	off   int
	err   error
}

func (e *fieldError) Error() string {
	return fmt.Sprintf("ipp: %s at offset %d: %v", e.field, e.off, e.err)
}

func (e *fieldError) Unwrap() error { return e.err }

// The unpack helpers are the only way the decoder reads a buffer: each
// checks bounds before touching it and returns the offset after the
// field, so a length read from the wire never indexes past the bytes
// present. Integers are big-endian (RFC 8010 section 3.1).

func unpackUint8(b []byte, off int) (uint8, int, error) {
	if off < 0 || off >= len(b) {
		return 0, off, ErrShort
	}
	return b[off], off + 1, nil
}

func unpackUint16(b []byte, off int) (uint16, int, error) {
	if off < 0 || off > len(b)-2 {
		return 0, off, ErrShort
	}
	return binary.BigEndian.Uint16(b[off:]), off + 2, nil
}

func unpackUint32(b []byte, off int) (uint32, int, error) {
	if off < 0 || off > len(b)-4 {
		return 0, off, ErrShort
	}
	return binary.BigEndian.Uint32(b[off:]), off + 4, nil
}

func unpackBytes(b []byte, off, n int) ([]byte, int, error) {
	if off < 0 || n < 0 || off > len(b) || n > len(b)-off {
		return nil, off, fmt.Errorf("%d bytes needed, %d present: %w", n, max(len(b)-off, 0), ErrShort)
	}
	return b[off : off+n : off+n], off + n, nil
}

// decoder walks one message; counts hold it to the limits.
type decoder struct {
	b          []byte
	off        int
	attributes int
	values     int
}

// Decode reads one message from the start of b and returns it with the
// number of bytes it took; bytes after the end-of-attributes tag (the
// document data of a Print-Job, or the next message on a CUPS notifier's
// standard input) are not looked at. An error wraps ErrShort when b ended
// inside the message, ErrLimit when a limit was exceeded.
func Decode(b []byte) (Message, int, error) {
	d := decoder{b: b}
	m, err := d.message()
	if err != nil {
		return Message{}, 0, err
	}
	return m, d.off, nil
}

func (d *decoder) fail(field string, off int, err error) error {
	return &fieldError{field: field, off: off, err: err}
}

func (d *decoder) message() (Message, error) {
	var m Message
	var err error
	start := d.off
	if m.Version.Major, d.off, err = unpackUint8(d.b, d.off); err != nil {
		return m, d.fail("version-number", start, err)
	}
	if m.Version.Minor, d.off, err = unpackUint8(d.b, d.off); err != nil {
		return m, d.fail("version-number", start, err)
	}
	if m.Version.Major < 1 || m.Version.Major > 2 {
		return m, d.fail("version-number", start, fmt.Errorf("version %s is not 1.x or 2.x", m.Version))
	}
	if m.Code, d.off, err = unpackUint16(d.b, d.off); err != nil {
		return m, d.fail("operation-id or status-code", d.off, err)
	}
	if m.RequestID, d.off, err = unpackUint32(d.b, d.off); err != nil {
		return m, d.fail("request-id", d.off, err)
	}
	for {
		at := d.off
		tag, next, err := unpackUint8(d.b, d.off)
		if err != nil {
			return m, d.fail("tag (no end-of-attributes-tag)", at, err)
		}
		t := Tag(tag)
		if t.IsDelimiter() {
			d.off = next
			switch t {
			case TagEnd:
				return m, nil
			case 0x00:
				return m, d.fail("delimiter tag", at, errors.New("0x00 is reserved"))
			}
			m.Groups = append(m.Groups, Group{Tag: t})
			continue
		}
		if len(m.Groups) == 0 {
			return m, d.fail("value tag", at, fmt.Errorf("%s before any group", t))
		}
		g := &m.Groups[len(m.Groups)-1]
		name, v, err := d.value(0)
		if err != nil {
			return m, err
		}
		if t == TagEndCollection || t == TagMemberAttrName {
			return m, d.fail("value tag", at, fmt.Errorf("%s outside a collection", t))
		}
		if err := d.add(&g.Attributes, name, v, at); err != nil {
			return m, err
		}
	}
}

// add appends v to attrs: as a new attribute when name is set, as an
// additional value of the last one when it is empty.
func (d *decoder) add(attrs *[]Attribute, name string, v Value, at int) error {
	d.values++
	if d.values > MaxValues {
		return d.fail("value", at, fmt.Errorf("more than %d values: %w", MaxValues, ErrLimit))
	}
	if name == "" {
		if len(*attrs) == 0 {
			return d.fail("name-length", at, errors.New("additional value (empty name) with no attribute before it"))
		}
		last := &(*attrs)[len(*attrs)-1]
		last.Values = append(last.Values, v)
		return nil
	}
	d.attributes++
	if d.attributes > MaxAttributes {
		return d.fail("attribute", at, fmt.Errorf("more than %d attributes: %w", MaxAttributes, ErrLimit))
	}
	*attrs = append(*attrs, Attribute{Name: name, Values: []Value{v}})
	return nil
}

// value reads one value-tag, name and value (RFC 8010 section 3.1.4),
// and the members after it when it begins a collection.
func (d *decoder) value(depth int) (string, Value, error) {
	at := d.off
	tag, off, err := unpackUint8(d.b, d.off)
	if err != nil {
		return "", Value{}, d.fail("value-tag", at, err)
	}
	t := Tag(tag)
	nameLen, off, err := unpackUint16(d.b, off)
	if err != nil {
		return "", Value{}, d.fail("name-length", off, err)
	}
	nb, off, err := unpackBytes(d.b, off, int(nameLen))
	if err != nil {
		return "", Value{}, d.fail("name", off, err)
	}
	valueLen, off, err := unpackUint16(d.b, off)
	if err != nil {
		return "", Value{}, d.fail("value-length of "+attrLabel(nb), off, err)
	}
	vb, next, err := unpackBytes(d.b, off, int(valueLen))
	if err != nil {
		return "", Value{}, d.fail("value of "+attrLabel(nb), off, err)
	}
	if lengthWrong, err := checkValue(t, vb); err != nil {
		if lengthWrong {
			return "", Value{}, d.fail("value-length of "+attrLabel(nb), off-2, err)
		}
		return "", Value{}, d.fail("value of "+attrLabel(nb), off, err)
	}
	d.off = next
	name := string(nb)
	if t != TagBeginCollection {
		// Copied, so that a caller reusing its buffer keeps the message.
		return name, Value{Tag: t, Bytes: append([]byte(nil), vb...)}, nil
	}
	if depth >= MaxDepth {
		return "", Value{}, d.fail("collection "+attrLabel(nb), at, fmt.Errorf("nested more than %d deep: %w", MaxDepth, ErrLimit))
	}
	members, err := d.members(depth + 1)
	if err != nil {
		return "", Value{}, err
	}
	return name, Value{Tag: t, Members: members}, nil
}

// checkValue applies what RFC 8010 says of a value's octets for its tag;
// Decode and Append both use it, so that the encoder refuses what the
// decoder would. lengthWrong tells an error in the value's length from
// one in its content.
func checkValue(t Tag, b []byte) (lengthWrong bool, err error) {
	if want := t.fixedLen(); want >= 0 && len(b) != want {
		return true, fmt.Errorf("%s value is %d bytes, must be %d", t, len(b), want)
	}
	switch t {
	case TagBeginCollection:
		if len(b) != 0 {
			return true, fmt.Errorf("begCollection value is %d bytes, must be 0", len(b))
		}
	case TagBoolean:
		if b[0] > 1 {
			return false, fmt.Errorf("boolean is %d, not 0 or 1", b[0])
		}
	case TagTextWithLanguage, TagNameWithLanguage:
		if _, _, err := splitWithLanguage(b); err != nil {
			return false, fmt.Errorf("%s: %w", t, err)
		}
	}
	return false, nil
}

// members reads a collection's members up to its endCollection (RFC 8010
// section 3.1.6): each a memberAttrName whose value is the member's name,
// then the member's values, all with empty names.
func (d *decoder) members(depth int) ([]Attribute, error) {
	var members []Attribute
	for {
		at := d.off
		tag, _, err := unpackUint8(d.b, d.off)
		if err != nil {
			return nil, d.fail("value-tag (no endCollection)", at, err)
		}
		if Tag(tag).IsDelimiter() {
			return nil, d.fail("value-tag", at, fmt.Errorf("%s inside a collection", Tag(tag)))
		}
		name, v, err := d.value(depth)
		if err != nil {
			return nil, err
		}
		if name != "" {
			return nil, d.fail("name-length", at, fmt.Errorf("member value named %q; members are named by memberAttrName", name))
		}
		if (v.Tag == TagEndCollection || v.Tag == TagMemberAttrName) && len(members) > 0 && len(members[len(members)-1].Values) == 0 {
			return nil, d.fail("value-tag", at, fmt.Errorf("member %q has no value", members[len(members)-1].Name))
		}
		switch {
		case v.Tag == TagEndCollection:
			return members, nil
		case v.Tag == TagMemberAttrName:
			if len(v.Bytes) == 0 {
				return nil, d.fail("memberAttrName", at, errors.New("empty member name"))
			}
			d.attributes++
			if d.attributes > MaxAttributes {
				return nil, d.fail("memberAttrName", at, fmt.Errorf("more than %d attributes: %w", MaxAttributes, ErrLimit))
			}
			members = append(members, Attribute{Name: string(v.Bytes)})
		case len(members) == 0:
			return nil, d.fail("value-tag", at, fmt.Errorf("%s value before any memberAttrName", v.Tag))
		default:
			d.values++
			if d.values > MaxValues {
				return nil, d.fail("value", at, fmt.Errorf("more than %d values: %w", MaxValues, ErrLimit))
			}
			last := &members[len(members)-1]
			last.Values = append(last.Values, v)
		}
	}
}

// attrLabel names an attribute in an error, or says it is an additional
// value when its name is empty.
func attrLabel(name []byte) string {
	if len(name) == 0 {
		return "additional value"
	}
	if len(name) > 64 {
		name = name[:64]
	}
	return fmt.Sprintf("%q", name)
}
