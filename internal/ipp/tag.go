package ipp

import "fmt"

// Tag is a delimiter tag (0x00-0x0F) opening an attribute group, or a
// value tag (0x10-0xFF) saying how an attribute's value is encoded
// (RFC 8010 section 3.5).
type Tag uint8

// Delimiter tags (RFC 8010 section 3.5.1; subscription and
// event-notification from RFC 3995, the rest from the IANA registry).
const (
	TagOperation         Tag = 0x01
	TagJob               Tag = 0x02
	TagEnd               Tag = 0x03
	TagPrinter           Tag = 0x04
	TagUnsupportedGroup  Tag = 0x05
	TagSubscription      Tag = 0x06
	TagEventNotification Tag = 0x07
	TagResource          Tag = 0x08
	TagDocument          Tag = 0x09
	TagSystem            Tag = 0x0A
)

// Out-of-band value tags (RFC 8010 section 3.5.2): the value is empty and
// the tag alone says why.
const (
	TagUnsupportedValue Tag = 0x10
	TagUnknown          Tag = 0x12
	TagNoValue          Tag = 0x13
	TagNotSettable      Tag = 0x15
	TagDeleteAttribute  Tag = 0x16
	TagAdminDefine      Tag = 0x17
)

// Value tags (RFC 8010 section 3.5.2).
const (
	TagInteger          Tag = 0x21
	TagBoolean          Tag = 0x22
	TagEnum             Tag = 0x23
	TagOctetString      Tag = 0x30
	TagDateTime         Tag = 0x31
	TagResolution       Tag = 0x32
	TagRangeOfInteger   Tag = 0x33
	TagBeginCollection  Tag = 0x34
	TagTextWithLanguage Tag = 0x35
	TagNameWithLanguage Tag = 0x36
	TagEndCollection    Tag = 0x37
	TagText             Tag = 0x41 // textWithoutLanguage
	TagName             Tag = 0x42 // nameWithoutLanguage
	TagKeyword          Tag = 0x44
	TagURI              Tag = 0x45
	TagURIScheme        Tag = 0x46
	TagCharset          Tag = 0x47
	TagNaturalLanguage  Tag = 0x48
	TagMimeMediaType    Tag = 0x49
	TagMemberAttrName   Tag = 0x4A
	TagExtension        Tag = 0x7F
)

// IsDelimiter reports whether t opens a group or ends the attributes.
func (t Tag) IsDelimiter() bool { return t < 0x10 }

// IsOutOfBand reports whether t is an out-of-band value, whose value is
// always empty.
func (t Tag) IsOutOfBand() bool { return t >= 0x10 && t <= 0x1F }

// isString reports whether a value with tag t is a character string
// (RFC 8010 section 3.9: the "character-string" types without language).
func (t Tag) isString() bool { return t >= 0x40 && t <= 0x5F && t != TagMemberAttrName }

// fixedLen is the only value length RFC 8010 allows for t, or -1 when the
// length varies.
func (t Tag) fixedLen() int {
	switch {
	case t.IsOutOfBand():
		return 0
	case t == TagInteger, t == TagEnum:
		return 4
	case t == TagBoolean:
		return 1
	case t == TagDateTime:
		return 11
	case t == TagResolution:
		return 9
	case t == TagRangeOfInteger:
		return 8
	case t == TagEndCollection:
		return 0
	}
	return -1
}

var tagNames = map[Tag]string{
	TagOperation:         "operation-attributes-tag",
	TagJob:               "job-attributes-tag",
	TagEnd:               "end-of-attributes-tag",
	TagPrinter:           "printer-attributes-tag",
	TagUnsupportedGroup:  "unsupported-attributes-tag",
	TagSubscription:      "subscription-attributes-tag",
	TagEventNotification: "event-notification-attributes-tag",
	TagResource:          "resource-attributes-tag",
	TagDocument:          "document-attributes-tag",
	TagSystem:            "system-attributes-tag",
	TagUnsupportedValue:  "unsupported",
	TagUnknown:           "unknown",
	TagNoValue:           "no-value",
	TagNotSettable:       "not-settable",
	TagDeleteAttribute:   "delete-attribute",
	TagAdminDefine:       "admin-define",
	TagInteger:           "integer",
	TagBoolean:           "boolean",
	TagEnum:              "enum",
	TagOctetString:       "octetString",
	TagDateTime:          "dateTime",
	TagResolution:        "resolution",
	TagRangeOfInteger:    "rangeOfInteger",
	TagBeginCollection:   "collection",
	TagTextWithLanguage:  "textWithLanguage",
	TagNameWithLanguage:  "nameWithLanguage",
	TagEndCollection:     "endCollection",
	TagText:              "textWithoutLanguage",
	TagName:              "nameWithoutLanguage",
	TagKeyword:           "keyword",
	TagURI:               "uri",
	TagURIScheme:         "uriScheme",
	TagCharset:           "charset",
	TagNaturalLanguage:   "naturalLanguage",
	TagMimeMediaType:     "mimeMediaType",
	TagMemberAttrName:    "memberAttrName",
	TagExtension:         "extension",
}

// String returns the name RFC 8010 gives the tag.
func (t Tag) String() string {
	if s, ok := tagNames[t]; ok {
		return s
	}
	return fmt.Sprintf("tag(0x%02X)", uint8(t))
}
