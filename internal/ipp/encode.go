package ipp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Marshal encodes the message, ending it with end-of-attributes-tag. It
// refuses what Decode would refuse, so whatever it writes reads back.
func (m Message) Marshal() ([]byte, error) { return m.Append(nil) }

// Append appends the encoded message to b.
func (m Message) Append(b []byte) ([]byte, error) {
	b = append(b, m.Version.Major, m.Version.Minor)
	b = binary.BigEndian.AppendUint16(b, m.Code)
	b = binary.BigEndian.AppendUint32(b, m.RequestID)
	for _, g := range m.Groups {
		if !g.Tag.IsDelimiter() || g.Tag == TagEnd || g.Tag == 0 {
			return nil, fmt.Errorf("ipp: group tag %s is not a group delimiter", g.Tag)
		}
		b = append(b, byte(g.Tag))
		for _, a := range g.Attributes {
			var err error
			if b, err = appendAttribute(b, a, 0); err != nil {
				return nil, err
			}
		}
	}
	return append(b, byte(TagEnd)), nil
}

func appendAttribute(b []byte, a Attribute, depth int) ([]byte, error) {
	if a.Name == "" {
		return nil, errors.New("ipp: attribute with an empty name")
	}
	if len(a.Values) == 0 {
		return nil, fmt.Errorf("ipp: attribute %q has no value", a.Name)
	}
	for i, v := range a.Values {
		name := a.Name
		if i > 0 {
			name = ""
		}
		var err error
		if b, err = appendValue(b, name, v, depth); err != nil {
			return nil, fmt.Errorf("ipp: attribute %q: %w", a.Name, err)
		}
	}
	return b, nil
}

func appendValue(b []byte, name string, v Value, depth int) ([]byte, error) {
	switch {
	case v.Tag.IsDelimiter() || v.Tag == TagEndCollection || v.Tag == TagMemberAttrName:
		return nil, fmt.Errorf("%s is not a value tag", v.Tag)
	case len(name) > math.MaxUint16:
		return nil, fmt.Errorf("name of %d bytes", len(name))
	case len(v.Bytes) > math.MaxUint16:
		return nil, fmt.Errorf("value of %d bytes", len(v.Bytes))
	case v.Tag != TagBeginCollection && len(v.Members) > 0:
		return nil, fmt.Errorf("%s value with collection members", v.Tag)
	}
	if _, err := checkValue(v.Tag, v.Bytes); err != nil {
		return nil, err
	}
	b = appendTLV(b, v.Tag, name, v.Bytes)
	if v.Tag != TagBeginCollection {
		return b, nil
	}
	if depth >= MaxDepth {
		return nil, fmt.Errorf("collections nested more than %d deep", MaxDepth)
	}
	for _, m := range v.Members {
		if m.Name == "" || len(m.Name) > math.MaxUint16 {
			return nil, fmt.Errorf("collection member name of %d bytes", len(m.Name))
		}
		if len(m.Values) == 0 {
			return nil, fmt.Errorf("collection member %q has no value", m.Name)
		}
		b = appendTLV(b, TagMemberAttrName, "", []byte(m.Name))
		for _, mv := range m.Values {
			var err error
			if b, err = appendValue(b, "", mv, depth+1); err != nil {
				return nil, fmt.Errorf("member %q: %w", m.Name, err)
			}
		}
	}
	return appendTLV(b, TagEndCollection, "", nil), nil
}

func appendTLV(b []byte, t Tag, name string, value []byte) []byte {
	b = append(b, byte(t))
	b = binary.BigEndian.AppendUint16(b, uint16(len(name)))
	b = append(b, name...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(value)))
	return append(b, value...)
}
