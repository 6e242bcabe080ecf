package message

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"
)

// LineBreak is the byte Windows senders put in SMB message text for every
// CR, LF, CRLF or LFCR (MS-MSRP 2.2.3.1).
const LineBreak = 0x14

// DefaultCodePage is the OEM code page assumed when none is configured; it is
// Samba's default "dos charset".
const DefaultCodePage = "CP850"

var codePages = map[string]encoding.Encoding{
	"CP437":  charmap.CodePage437,
	"CP850":  charmap.CodePage850,
	"CP852":  charmap.CodePage852,
	"CP855":  charmap.CodePage855,
	"CP858":  charmap.CodePage858,
	"CP860":  charmap.CodePage860,
	"CP862":  charmap.CodePage862,
	"CP863":  charmap.CodePage863,
	"CP865":  charmap.CodePage865,
	"CP866":  charmap.CodePage866,
	"CP1252": charmap.Windows1252,
	"CP932":  japanese.ShiftJIS,
	"CP936":  simplifiedchinese.GBK,
	"CP949":  korean.EUCKR,
	"CP950":  traditionalchinese.Big5,
}

// ErrUnknownCodePage is returned for a code page name this build does not know.
var ErrUnknownCodePage = errors.New("unknown code page")

// CodePage converts between an OEM code page and UTF-8.
type CodePage struct {
	name string
	enc  encoding.Encoding
}

// LookupCodePage finds a code page by name: "CP850", "cp850", "850" and
// "IBM850" all name the same one.
func LookupCodePage(name string) (CodePage, error) {
	key := strings.ToUpper(strings.TrimSpace(name))
	key = strings.TrimPrefix(key, "IBM")
	key = strings.TrimPrefix(key, "CP")
	if enc, ok := codePages["CP"+key]; ok {
		return CodePage{name: "CP" + key, enc: enc}, nil
	}
	return CodePage{}, fmt.Errorf("%w %q (known: %s)", ErrUnknownCodePage, name, strings.Join(CodePageNames(), ", "))
}

// CodePageNames lists the code pages LookupCodePage accepts.
func CodePageNames() []string {
	return []string{"CP437", "CP850", "CP852", "CP855", "CP858", "CP860", "CP862", "CP863", "CP865", "CP866", "CP1252", "CP932", "CP936", "CP949", "CP950"}
}

// Name is the canonical name of the code page, e.g. "CP850".
func (c CodePage) Name() string { return c.name }

// Decode turns OEM bytes into UTF-8. Bytes the code page cannot map become
// U+FFFD: a message is never dropped for its characters.
func (c CodePage) Decode(b []byte) string {
	if isASCII(b) {
		return string(b)
	}
	out, err := c.enc.NewDecoder().Bytes(b)
	if err != nil {
		return strings.ToValidUTF8(string(b), "\uFFFD")
	}
	return strings.ToValidUTF8(string(out), "\uFFFD")
}

// Encode turns UTF-8 into OEM bytes; characters the code page lacks become '?'.
func (c CodePage) Encode(s string) []byte {
	if isASCIIString(s) {
		return []byte(s)
	}
	out, err := encoding.ReplaceUnsupported(c.enc.NewEncoder()).Bytes([]byte(s))
	if err == nil && !strings.ContainsRune(s, encoding.ASCIISub) {
		// x/text substitutes SUB (0x1A); people expect the '?' Windows showed.
		for i, b := range out {
			if b == encoding.ASCIISub {
				out[i] = '?'
			}
		}
	}
	if err != nil {
		return []byte(strings.Map(func(r rune) rune {
			if r < utf8.RuneSelf {
				return r
			}
			return '?'
		}, s))
	}
	return out
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func isASCIIString(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// NormalizeLineBreaks turns every line-break form a sender may use — 0x14,
// CR LF, LF CR, a lone CR or LF — into a single "\n", and removes one
// trailing NUL terminator if the sender counted it in the data.
func NormalizeLineBreaks(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == 0 {
		b = b[:n-1]
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		switch c := b[i]; c {
		case LineBreak:
			out = append(out, '\n')
		case '\r', '\n':
			out = append(out, '\n')
			if i+1 < len(b) && (b[i+1] == '\r' || b[i+1] == '\n') && b[i+1] != c {
				i++
			}
		default:
			out = append(out, c)
		}
	}
	return out
}

// ErrUnencodable is returned when text holds a character the code page
// cannot carry.
var ErrUnencodable = errors.New("character not in the code page")

// EncodeStrict turns UTF-8 into OEM bytes and fails, naming the first
// character the code page lacks, rather than send something else than the
// user wrote.
func (c CodePage) EncodeStrict(s string) ([]byte, error) {
	if isASCIIString(s) {
		return []byte(s), nil
	}
	out, err := c.enc.NewEncoder().Bytes([]byte(s))
	if err == nil {
		return out, nil
	}
	enc := c.enc.NewEncoder()
	for _, r := range s {
		if _, err := enc.String(string(r)); err != nil {
			return nil, fmt.Errorf("%w: %q (U+%04X) cannot be sent in %s", ErrUnencodable, r, r, c.name)
		}
	}
	return nil, fmt.Errorf("%w: text cannot be sent in %s", ErrUnencodable, c.name)
}
