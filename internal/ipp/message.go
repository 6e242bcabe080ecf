package ipp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Version is the IPP version of a message, e.g. 2.0.
type Version struct{ Major, Minor uint8 }

func (v Version) String() string { return fmt.Sprintf("%d.%d", v.Major, v.Minor) }

// Operation ids this project sends (RFC 8011 section 5.4.15).
const (
	OpGetJobAttributes uint16 = 0x0009
)

// StatusOK is successful-ok; status codes below 0x0100 are successes
// (RFC 8011 section B.1.2).
const StatusOK uint16 = 0x0000

// Message is one IPP request, response or (CUPS) event notification.
type Message struct {
	Version Version
	// Code is the operation-id of a request and the status-code of a
	// response. CUPS writes 0 in the event messages it gives notifiers.
	Code      uint16
	RequestID uint32
	Groups    []Group
}

// Group is the attributes between one delimiter tag and the next.
type Group struct {
	Tag        Tag
	Attributes []Attribute
}

// Attribute is a name with one or more values (the additional values of a
// 1setOf are the following values with an empty name on the wire).
type Attribute struct {
	Name   string
	Values []Value
}

// Value is one value of an attribute: its tag and its octets as they are
// on the wire, or, for a collection, its members.
type Value struct {
	Tag Tag
	// Bytes are the value's octets; empty for a collection.
	Bytes []byte
	// Members are a collection's member attributes, in order.
	Members []Attribute
}

// ErrNotFound is returned by the Message accessors for an attribute the
// message does not carry.
var ErrNotFound = errors.New("attribute not present")

// String makes a string value (text, name, keyword, uri, charset,
// naturalLanguage, mimeMediaType, uriScheme).
func String(tag Tag, s string) Value { return Value{Tag: tag, Bytes: []byte(s)} }

// Integer makes an integer or enum value.
func Integer(tag Tag, n int32) Value {
	return Value{Tag: tag, Bytes: binary.BigEndian.AppendUint32(nil, uint32(n))}
}

// Boolean makes a boolean value.
func Boolean(b bool) Value {
	if b {
		return Value{Tag: TagBoolean, Bytes: []byte{1}}
	}
	return Value{Tag: TagBoolean, Bytes: []byte{0}}
}

// Text returns a string value: the whole value of the character-string
// types, the text part of textWithLanguage and nameWithLanguage.
func (v Value) Text() (string, error) {
	switch {
	case v.Tag.isString():
		return string(v.Bytes), nil
	case v.Tag == TagTextWithLanguage || v.Tag == TagNameWithLanguage:
		_, text, err := splitWithLanguage(v.Bytes)
		return text, err
	}
	return "", fmt.Errorf("value is %s, not a string", v.Tag)
}

// Int returns an integer or enum value.
func (v Value) Int() (int32, error) {
	if (v.Tag != TagInteger && v.Tag != TagEnum) || len(v.Bytes) != 4 {
		return 0, fmt.Errorf("value is %s of %d bytes, not an integer or enum", v.Tag, len(v.Bytes))
	}
	return int32(binary.BigEndian.Uint32(v.Bytes)), nil
}

// Bool returns a boolean value.
func (v Value) Bool() (bool, error) {
	if v.Tag != TagBoolean || len(v.Bytes) != 1 {
		return false, fmt.Errorf("value is %s of %d bytes, not a boolean", v.Tag, len(v.Bytes))
	}
	return v.Bytes[0] != 0, nil
}

// splitWithLanguage reads the two length-prefixed parts of a
// textWithLanguage or nameWithLanguage value (RFC 8010 section 3.9).
func splitWithLanguage(b []byte) (lang, text string, err error) {
	l, off, err := unpackUint16(b, 0)
	if err != nil {
		return "", "", fmt.Errorf("language length: %w", err)
	}
	lb, off, err := unpackBytes(b, off, int(l))
	if err != nil {
		return "", "", fmt.Errorf("language: %w", err)
	}
	t, off, err := unpackUint16(b, off)
	if err != nil {
		return "", "", fmt.Errorf("text length: %w", err)
	}
	tb, off, err := unpackBytes(b, off, int(t))
	if err != nil {
		return "", "", fmt.Errorf("text: %w", err)
	}
	if off != len(b) {
		return "", "", fmt.Errorf("%d bytes after the text", len(b)-off)
	}
	return string(lb), string(tb), nil
}

// Lookup returns the first attribute named name in any group.
func (m Message) Lookup(name string) (Attribute, bool) {
	for _, g := range m.Groups {
		for _, a := range g.Attributes {
			if a.Name == name {
				return a, true
			}
		}
	}
	return Attribute{}, false
}

// Text returns the first value of the attribute named name as a string;
// ErrNotFound when there is no such attribute.
func (m Message) Text(name string) (string, error) { return firstValue(m, name, Value.Text) }

// Texts returns every value of the attribute named name as strings.
func (m Message) Texts(name string) ([]string, error) {
	a, ok := m.Lookup(name)
	if !ok {
		return nil, fmt.Errorf("%s: %w", name, ErrNotFound)
	}
	out := make([]string, 0, len(a.Values))
	for i, v := range a.Values {
		s, err := v.Text()
		if err != nil {
			return nil, fmt.Errorf("%s value %d: %w", name, i+1, err)
		}
		out = append(out, s)
	}
	return out, nil
}

// Int returns the first value of the attribute named name as an integer
// or enum; ErrNotFound when there is no such attribute.
func (m Message) Int(name string) (int32, error) { return firstValue(m, name, Value.Int) }

// Bool returns the first value of the attribute named name as a boolean;
// ErrNotFound when there is no such attribute.
func (m Message) Bool(name string) (bool, error) { return firstValue(m, name, Value.Bool) }

// firstValue reads the first value of the attribute named name with get,
// naming the attribute in the error.
func firstValue[T any](m Message, name string, get func(Value) (T, error)) (T, error) {
	var zero T
	a, ok := m.Lookup(name)
	if !ok {
		return zero, fmt.Errorf("%s: %w", name, ErrNotFound)
	}
	v, err := get(a.Values[0])
	if err != nil {
		return zero, fmt.Errorf("%s: %w", name, err)
	}
	return v, nil
}

// String prints the message the way ipptool -v does: the header, then
// each group and each attribute with its syntax and values.
func (m Message) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "IPP/%s code=0x%04X request-id=%d\n", m.Version, m.Code, m.RequestID)
	for _, g := range m.Groups {
		fmt.Fprintf(&b, "%s:\n", g.Tag)
		for _, a := range g.Attributes {
			writeAttribute(&b, a, "    ")
		}
	}
	return b.String()
}

func writeAttribute(b *strings.Builder, a Attribute, indent string) {
	set := ""
	if len(a.Values) > 1 {
		set = "1setOf "
	}
	tag := Tag(0)
	if len(a.Values) > 0 {
		tag = a.Values[0].Tag
	}
	fmt.Fprintf(b, "%s%s (%s%s) = ", indent, a.Name, set, tag)
	for i, v := range a.Values {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(v.String())
	}
	b.WriteString("\n")
}

// String prints the value in the notation ipptool uses.
func (v Value) String() string {
	switch {
	case v.Tag.IsOutOfBand():
		return v.Tag.String()
	case v.Tag == TagBeginCollection:
		var b strings.Builder
		b.WriteString("{")
		for i, m := range v.Members {
			if i > 0 {
				b.WriteString(" ")
			}
			b.WriteString(m.Name)
			b.WriteString("=")
			for j, mv := range m.Values {
				if j > 0 {
					b.WriteString(",")
				}
				b.WriteString(mv.String())
			}
		}
		b.WriteString("}")
		return b.String()
	case v.Tag == TagInteger || v.Tag == TagEnum:
		if n, err := v.Int(); err == nil {
			return strconv.Itoa(int(n))
		}
	case v.Tag == TagBoolean:
		if t, err := v.Bool(); err == nil {
			return strconv.FormatBool(t)
		}
	case v.Tag == TagRangeOfInteger && len(v.Bytes) == 8:
		return fmt.Sprintf("%d-%d", int32(binary.BigEndian.Uint32(v.Bytes)), int32(binary.BigEndian.Uint32(v.Bytes[4:])))
	case v.Tag == TagResolution && len(v.Bytes) == 9:
		unit := "dpi"
		if v.Bytes[8] == 4 {
			unit = "dpcm"
		}
		return fmt.Sprintf("%dx%d%s", int32(binary.BigEndian.Uint32(v.Bytes)), int32(binary.BigEndian.Uint32(v.Bytes[4:])), unit)
	case v.Tag == TagDateTime && len(v.Bytes) == 11:
		d := v.Bytes
		return fmt.Sprintf("%04d-%02d-%02dT%02d:%02d:%02d.%d%c%02d%02d",
			binary.BigEndian.Uint16(d), d[2], d[3], d[4], d[5], d[6], d[7], d[8], d[9], d[10])
	case v.Tag == TagTextWithLanguage || v.Tag == TagNameWithLanguage:
		if lang, text, err := splitWithLanguage(v.Bytes); err == nil {
			return strconv.Quote(text) + "@" + lang
		}
	case v.Tag.isString():
		if utf8.Valid(v.Bytes) {
			return string(v.Bytes)
		}
	}
	return fmt.Sprintf("<%x>", v.Bytes)
}
