package smb

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// unhex decodes a hex dump that may contain spaces, newlines and '|'.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	s = strings.ReplaceAll(s, "|", " ")
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatalf("bad hex in test: %v", err)
	}
	return b
}

// zeroHeader is the all-zero header Windows senders use ([MS-MSRP] 2.2.3).
func zeroHeader(cmd byte) string {
	return "ff 53 4d 42 " + hex.EncodeToString([]byte{cmd}) + strings.Repeat(" 00", 27)
}

// goldenSendMessage is the example of docs/protocols/smb-messages.md,
// "Single-block messages", without the NBSS prefix.
var goldenSendMessage = zeroHeader(0xD0) + `
00 14 00
04 41 4c 49 43 45 00
04 42 4f 42 00
01 05 00 48 65 6c 6c 6f`

// The byte images of docs/protocols/smb-messages.md, "Multi-block
// messages", after the 32-byte header.
var (
	goldenStartMB         = zeroHeader(0xD5) + "00 0c 00 04 41 4c 49 43 45 00 04 42 4f 42 00"
	goldenStartMBResponse = "ff 53 4d 42 d5 00 00 00 00 80" + strings.Repeat(" 00", 22) + "01 01 00 00 00"
	goldenTextMB          = zeroHeader(0xD7) + "01 01 00 0b 00 01 08 00 70 61 72 74 20 6f 6e 65"
	goldenEndMB           = zeroHeader(0xD6) + "01 01 00 00 00"
)

// goldenSmbclientTextMB is the 0xD7 smbclient -M sends
// (docs/protocols/peers.md, "What smbclient -M sends"), with a zero
// header in place of smbclient's PID.
var goldenSmbclientTextMB = zeroHeader(0xD7) + "01 | 00 00 | 20 00 | 01 1d 00" +
	hex.EncodeToString([]byte("Hello from smbclient test 1\r\n"))

func mustParse(t testing.TB, s string) Packet {
	t.Helper()
	p, err := Parse(unhex(t, s))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return p
}

func TestSendMessageGolden(t *testing.T) {
	wire := unhex(t, goldenSendMessage)
	if len(wire) != 55 {
		t.Fatalf("golden is %d bytes, want 55", len(wire))
	}
	p := mustParse(t, goldenSendMessage)
	if p.Header != (Header{Command: CommandSendMessage}) || p.WordCount() != 0 || len(p.Bytes) != 20 || p.Len() != 55 {
		t.Fatalf("packet = %v, header %+v", p, p.Header)
	}
	m, err := ParseSendMessage(p)
	if err != nil {
		t.Fatal(err)
	}
	if string(m.Originator) != "ALICE" || string(m.Destination) != "BOB" || string(m.Text) != "Hello" {
		t.Errorf("parsed %+v", m)
	}
	if got, want := m.String(), `SMB_COM_SEND_MESSAGE from "ALICE" to "BOB" 5 bytes`; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
	built, err := AppendSendMessage(nil, Header{}, SendMessage{Originator: []byte("ALICE"), Destination: []byte("BOB"), Text: []byte("Hello")})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(built, wire) {
		t.Errorf("built\n% x\nwant\n% x", built, wire)
	}
}

func TestMultiBlockGolden(t *testing.T) {
	start, err := ParseSendStartMBMessage(mustParse(t, goldenStartMB))
	if err != nil {
		t.Fatal(err)
	}
	if string(start.Originator) != "ALICE" || string(start.Destination) != "BOB" {
		t.Errorf("0xD5 parsed %+v", start)
	}
	if got, want := start.String(), `SMB_COM_SEND_START_MB_MESSAGE from "ALICE" to "BOB"`; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
	built, err := AppendSendStartMBMessage(nil, Header{}, start)
	if err != nil || !bytes.Equal(built, unhex(t, goldenStartMB)) {
		t.Errorf("0xD5 built % x, %v", built, err)
	}

	resp, err := AppendStartMBResponse(nil, Header{Command: CommandSendStartMBMessage}, 1)
	if err != nil || !bytes.Equal(resp, unhex(t, goldenStartMBResponse)) {
		t.Errorf("0xD5 response built\n% x, %v\nwant\n% x", resp, err, unhex(t, goldenStartMBResponse))
	}
	group, err := ParseStartMBResponse(mustParse(t, goldenStartMBResponse))
	if err != nil || group != 1 {
		t.Errorf("ParseStartMBResponse = %d, %v", group, err)
	}

	text, err := ParseSendTextMBMessage(mustParse(t, goldenTextMB))
	if err != nil {
		t.Fatal(err)
	}
	if text.GroupID != 1 || string(text.Text) != "part one" {
		t.Errorf("0xD7 parsed %+v", text)
	}
	if got, want := text.String(), "SMB_COM_SEND_TEXT_MB_MESSAGE group 1, 8 bytes"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
	built, err = AppendSendTextMBMessage(nil, Header{}, text)
	if err != nil || !bytes.Equal(built, unhex(t, goldenTextMB)) {
		t.Errorf("0xD7 built % x, %v", built, err)
	}

	end, err := ParseSendEndMBMessage(mustParse(t, goldenEndMB))
	if err != nil || end.GroupID != 1 {
		t.Fatalf("0xD6 parsed %+v, %v", end, err)
	}
	if got, want := end.String(), "SMB_COM_SEND_END_MB_MESSAGE group 1"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
	built, err = AppendSendEndMBMessage(nil, Header{}, end)
	if err != nil || !bytes.Equal(built, unhex(t, goldenEndMB)) {
		t.Errorf("0xD6 built % x, %v", built, err)
	}
}

func TestSmbclientTextMB(t *testing.T) {
	wire := unhex(t, goldenSmbclientTextMB)
	m, err := ParseSendTextMBMessage(mustParse(t, goldenSmbclientTextMB))
	if err != nil {
		t.Fatal(err)
	}
	if m.GroupID != 0 || string(m.Text) != "Hello from smbclient test 1\r\n" {
		t.Errorf("parsed %+v", m)
	}
	built, err := AppendSendTextMBMessage(nil, Header{}, m)
	if err != nil || !bytes.Equal(built, wire) {
		t.Errorf("built % x, %v", built, err)
	}
}

func TestHeaderRoundTrip(t *testing.T) {
	h := Header{
		Command: CommandSendTextMBMessage, Status: 0x01020304, Flags: 0x18, Flags2: 0xC803,
		PIDHigh: 0x1122, SecurityFeatures: [8]byte{1, 2, 3, 4, 5, 6, 7, 8}, Reserved: 0x3344,
		TID: 0xFFFF, PIDLow: 0x5566, UID: 0x7788, MID: 0x99AA,
	}
	b, err := AppendPacket(nil, h, []uint16{0x0102, 0xA0B0}, []byte("xyz"))
	if err != nil {
		t.Fatal(err)
	}
	want := unhex(t, `ff 53 4d 42 d7 04 03 02 01 18 03 c8 22 11 01 02 03 04 05 06 07 08 44 33 ff ff 66 55 88 77 aa 99
		02 02 01 b0 a0 03 00 78 79 7a`)
	if !bytes.Equal(b, want) {
		t.Fatalf("built\n% x\nwant\n% x", b, want)
	}
	p, err := Parse(append(b, "trailing"...))
	if err != nil {
		t.Fatal(err)
	}
	if p.Header != h || !bytes.Equal(p.Words, want[33:37]) || string(p.Bytes) != "xyz" || p.Len() != len(want) {
		t.Errorf("parsed %+v", p)
	}
	if w, err := p.Word(1); err != nil || w != 0xA0B0 {
		t.Errorf("Word(1) = 0x%04X, %v", w, err)
	}
	for _, i := range []int{-1, 2, 1 << 62} {
		if _, err := p.Word(i); !errors.Is(err, ErrShort) {
			t.Errorf("Word(%d) error = %v", i, err)
		}
	}
	// Appending to parsed slices must not overwrite what follows them.
	_ = append(p.Words, 0xEE)
	if p.Bytes[0] == 0xEE || cap(p.Bytes) != len(p.Bytes) {
		t.Error("Words and Bytes must be capped sub-slices")
	}
}

func TestAppendPacketLimits(t *testing.T) {
	if _, err := AppendPacket(nil, Header{}, make([]uint16, 255), make([]byte, 65535)); err != nil {
		t.Errorf("largest packet: %v", err)
	}
	if out, err := AppendPacket([]byte("keep"), Header{}, make([]uint16, 256), nil); !errors.Is(err, ErrTooLong) || string(out) != "keep" {
		t.Errorf("256 words: %q %v", out, err)
	}
	if out, err := AppendPacket([]byte("keep"), Header{}, nil, make([]byte, 65536)); !errors.Is(err, ErrTooLong) || string(out) != "keep" {
		t.Errorf("65536 bytes: %q %v", out, err)
	}
}

func TestParseErrors(t *testing.T) {
	d0 := zeroHeader(0xD0)
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"empty", "", ErrShort},
		{"short header", "ff 53 4d 42 d0 00 00", ErrShort},
		{"bad magic", "fe" + zeroHeader(0xD0)[2:] + " 00 00 00", ErrNotSMB},
		{"SMB2 magic", "fe 53 4d 42" + strings.Repeat(" 00", 60), ErrNotSMB},
		{"no WordCount", d0, ErrShort},
		{"WordCount past end", d0 + "02 01 00 02", ErrShort},
		{"no ByteCount", d0 + "01 01 00", ErrShort},
		{"half ByteCount", d0 + "00 05", ErrShort},
		{"ByteCount past end", d0 + "00 05 00 01 02 03 04", ErrShort},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(unhex(t, tt.in))
			if !errors.Is(err, tt.want) {
				t.Errorf("Parse error = %v, want %v", err, tt.want)
			}
		})
	}
	_, err := Parse(unhex(t, d0+"00 05 00 01 02 03 04"))
	if err == nil || !strings.Contains(err.Error(), "ByteCount") {
		t.Errorf("error %v should name ByteCount", err)
	}
}

// packet builds an SMB with a zero header around raw words and bytes,
// computing nothing: the counts are part of the test input.
func packet(cmd byte, body string) string { return zeroHeader(cmd) + " " + body }

func TestMessageParseErrors(t *testing.T) {
	long := strings.Repeat("41 ", 256)
	tests := []struct {
		name  string
		in    string
		parse func(Packet) error
		want  error
	}{
		{"D0 wrong command", packet(0xD5, "00 0c 00 04 41 4c 49 43 45 00 04 42 4f 42 00"), parseD0, ErrWrongCommand},
		{"D0 WordCount 1", packet(0xD0, "01 00 00 00 00"), parseD0, ErrWordCount},
		{"D0 empty", packet(0xD0, "00 00 00"), parseD0, ErrShort},
		{"D0 missing 04", packet(0xD0, "00 06 00 41 00 04 42 00 01"), parseD0, ErrBufferFormat},
		{"D0 missing 04 before destination", packet(0xD0, "00 06 00 04 41 00 42 00 01"), parseD0, ErrBufferFormat},
		{"D0 missing NUL", packet(0xD0, "00 04 00 04 41 4c 49"), parseD0, ErrUnterminated},
		{"D0 NUL beyond ByteCount", packet(0xD0, "00 03 00 04 41 4c 00"), parseD0, ErrUnterminated},
		{"D0 name too long", packet(0xD0, "00 02 01 04 "+long+"00"), parseD0, ErrTooLong},
		{"D0 no data block", packet(0xD0, "00 05 00 04 41 00 04 00"), parseD0, ErrShort},
		{"D0 missing 01", packet(0xD0, "00 08 00 04 41 00 04 42 00 05 00"), parseD0, ErrBufferFormat},
		{"D0 DataLength truncated", packet(0xD0, "00 08 00 04 41 00 04 42 00 01 05"), parseD0, ErrShort},
		{"D0 DataLength past end", packet(0xD0, "00 0b 00 04 41 00 04 42 00 01 05 00 48 65"), parseD0, ErrShort},
		{"D0 DataLength past ByteCount", packet(0xD0, "00 0b 00 04 41 00 04 42 00 01 05 00 48 65 6c 6c 6f"), parseD0, ErrShort},
		{"D0 DataLength 129", packet(0xD0, "00 0a 00 04 41 00 04 42 00 01 81 00 48"), parseD0, ErrBlockTooLong},
		{"D0 DataLength 65535", packet(0xD0, "00 0a 00 04 41 00 04 42 00 01 ff ff 48"), parseD0, ErrBlockTooLong},
		{"D5 wrong command", packet(0xD0, "00 00 00"), parseD5, ErrWrongCommand},
		{"D5 WordCount 1", packet(0xD5, "01 00 00 00 00"), parseD5, ErrWordCount},
		{"D5 missing 04", packet(0xD5, "00 04 00 41 00 42 00"), parseD5, ErrBufferFormat},
		{"D5 missing destination", packet(0xD5, "00 03 00 04 41 00"), parseD5, ErrShort},
		{"D5 destination missing NUL", packet(0xD5, "00 05 00 04 41 00 04 42"), parseD5, ErrUnterminated},
		{"D7 wrong command", packet(0xD6, "01 01 00 00 00"), parseD7, ErrWrongCommand},
		{"D7 WordCount 0", packet(0xD7, "00 04 00 01 01 00 41"), parseD7, ErrWordCount},
		{"D7 WordCount 2", packet(0xD7, "02 01 00 00 00 04 00 01 01 00 41"), parseD7, ErrWordCount},
		{"D7 missing 01", packet(0xD7, "01 01 00 04 00 05 01 00 41"), parseD7, ErrBufferFormat},
		{"D7 empty bytes", packet(0xD7, "01 01 00 00 00"), parseD7, ErrShort},
		{"D7 DataLength past end", packet(0xD7, "01 01 00 04 00 01 02 00 41"), parseD7, ErrShort},
		{"D7 DataLength 129", packet(0xD7, "01 01 00 04 00 01 81 00 41"), parseD7, ErrBlockTooLong},
		{"D6 wrong command", packet(0xD7, "01 01 00 00 00"), parseD6, ErrWrongCommand},
		{"D6 WordCount 0", packet(0xD6, "00 00 00"), parseD6, ErrWordCount},
		{"negotiate wrong command", packet(0xD0, "00 00 00"), parseNeg, ErrWrongCommand},
		{"negotiate WordCount 1", packet(0x72, "01 00 00 00 00"), parseNeg, ErrWordCount},
		{"negotiate missing 02", packet(0x72, "00 03 00 04 41 00"), parseNeg, ErrBufferFormat},
		{"negotiate missing NUL", packet(0x72, "00 03 00 02 41 42"), parseNeg, ErrUnterminated},
		{"negotiate dialect too long", packet(0x72, "00 02 01 02 "+long+"00"), parseNeg, ErrTooLong},
		{"negotiate 65 dialects", packet(0x72, "00 82 00 "+strings.Repeat("02 00 ", 65)), parseNeg, ErrTooMany},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustParse(t, tt.in)
			err := tt.parse(p)
			if !errors.Is(err, tt.want) {
				t.Errorf("error = %v, want %v", err, tt.want)
			}
		})
	}
}

func parseD0(p Packet) error  { _, err := ParseSendMessage(p); return err }
func parseD5(p Packet) error  { _, err := ParseSendStartMBMessage(p); return err }
func parseD7(p Packet) error  { _, err := ParseSendTextMBMessage(p); return err }
func parseD6(p Packet) error  { _, err := ParseSendEndMBMessage(p); return err }
func parseNeg(p Packet) error { _, err := ParseNegotiate(p); return err }

func TestMessageLenient(t *testing.T) {
	// Trailing bytes inside ByteCount (e.g. a NUL after the text) and
	// after it are ignored; text is taken as DataLength bytes, NUL included.
	p := mustParse(t, packet(0xD0, "00 0d 00 04 41 00 04 42 00 01 03 00 48 69 00 00 | 99 99"))
	m, err := ParseSendMessage(p)
	if err != nil {
		t.Fatal(err)
	}
	if string(m.Text) != "Hi\x00" || string(m.Originator) != "A" || string(m.Destination) != "B" {
		t.Errorf("parsed %+v", m)
	}
	// Empty names and an empty block are well formed.
	m, err = ParseSendMessage(mustParse(t, packet(0xD0, "00 07 00 04 00 04 00 01 00 00")))
	if err != nil || len(m.Originator) != 0 || len(m.Destination) != 0 || len(m.Text) != 0 {
		t.Errorf("empty fields: %+v, %v", m, err)
	}
	// A 128-byte block is the largest allowed.
	m, err = ParseSendMessage(mustParse(t, packet(0xD0, "00 89 00 04 41 00 04 42 00 01 80 00"+strings.Repeat(" 61", 128))))
	if err != nil || len(m.Text) != 128 {
		t.Errorf("128-byte block: %d bytes, %v", len(m.Text), err)
	}
	// 0xD6 with bytes is accepted.
	if _, err := ParseSendEndMBMessage(mustParse(t, packet(0xD6, "01 05 00 01 00 00"))); err != nil {
		t.Errorf("0xD6 with bytes: %v", err)
	}
	// A name of MaxNameLen bytes is accepted and round-trips.
	name := bytes.Repeat([]byte{0x8E}, MaxNameLen)
	b, err := AppendSendStartMBMessage(nil, Header{}, SendStartMBMessage{Originator: name, Destination: []byte("BOB")})
	if err != nil {
		t.Fatal(err)
	}
	s, err := ParseSendStartMBMessage(mustParse(t, hex.EncodeToString(b)))
	if err != nil || !bytes.Equal(s.Originator, name) {
		t.Errorf("long name: %v", err)
	}
	if !strings.Contains(s.String(), `\x8e`) {
		t.Errorf("String should escape OEM bytes: %s", s)
	}
}

func TestMessageAppendErrors(t *testing.T) {
	long := bytes.Repeat([]byte("A"), MaxNameLen+1)
	tests := []struct {
		name  string
		build func([]byte) ([]byte, error)
		want  error
	}{
		{"D0 originator too long", func(b []byte) ([]byte, error) {
			return AppendSendMessage(b, Header{}, SendMessage{Originator: long})
		}, ErrTooLong},
		{"D0 NUL in destination", func(b []byte) ([]byte, error) {
			return AppendSendMessage(b, Header{}, SendMessage{Destination: []byte("B\x00B")})
		}, ErrEmbeddedNUL},
		{"D0 text too long", func(b []byte) ([]byte, error) {
			return AppendSendMessage(b, Header{}, SendMessage{Text: make([]byte, 129)})
		}, ErrBlockTooLong},
		{"D5 destination too long", func(b []byte) ([]byte, error) {
			return AppendSendStartMBMessage(b, Header{}, SendStartMBMessage{Destination: long})
		}, ErrTooLong},
		{"D5 NUL in originator", func(b []byte) ([]byte, error) {
			return AppendSendStartMBMessage(b, Header{}, SendStartMBMessage{Originator: []byte{0}})
		}, ErrEmbeddedNUL},
		{"D7 text too long", func(b []byte) ([]byte, error) {
			return AppendSendTextMBMessage(b, Header{}, SendTextMBMessage{Text: make([]byte, 129)})
		}, ErrBlockTooLong},
		{"negotiate NUL", func(b []byte) ([]byte, error) {
			return AppendNegotiate(b, Header{}, []string{"NT LM\x000.12"})
		}, ErrEmbeddedNUL},
		{"negotiate too many", func(b []byte) ([]byte, error) {
			return AppendNegotiate(b, Header{}, make([]string, 65))
		}, ErrTooMany},
		{"negotiate dialect too long", func(b []byte) ([]byte, error) {
			return AppendNegotiate(b, Header{}, []string{strings.Repeat("x", 256)})
		}, ErrTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := tt.build([]byte("keep"))
			if !errors.Is(err, tt.want) {
				t.Errorf("error = %v, want %v", err, tt.want)
			}
			if string(out) != "keep" {
				t.Errorf("buffer changed on error: %q", out)
			}
		})
	}
}

func TestAppendSetsCommand(t *testing.T) {
	b, err := AppendSendEndMBMessage(nil, Header{Command: CommandNegotiate, MID: 7}, SendEndMBMessage{GroupID: 3})
	if err != nil {
		t.Fatal(err)
	}
	p := mustParse(t, hex.EncodeToString(b))
	if p.Header.Command != CommandSendEndMBMessage || p.Header.MID != 7 {
		t.Errorf("header %+v", p.Header)
	}
}

func TestAppendResponse(t *testing.T) {
	req := Header{
		Command: CommandSendTextMBMessage, Flags: 0x18, Flags2: 0x0003, PIDHigh: 1,
		SecurityFeatures: [8]byte{9, 9, 9, 9, 9, 9, 9, 9}, Reserved: 5,
		TID: 0xFFFF, PIDLow: 0x1234, UID: 0x5678, MID: 0x9ABC,
	}
	echo := Header{Command: req.Command, Flags: FlagsReply, PIDHigh: 1, TID: 0xFFFF, PIDLow: 0x1234, UID: 0x5678, MID: 0x9ABC}

	// Success, DOS form requested.
	b, err := AppendResponse(nil, req, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := mustParse(t, hex.EncodeToString(b))
	if p.Header != echo || p.WordCount() != 0 || len(p.Bytes) != 0 || p.Err() != nil {
		t.Errorf("success reply %+v", p.Header)
	}

	// ERRSRV/ERRnoroom in DOS form: 02 00 53 00.
	b, err = AppendResponse(nil, req, &ErrCodeNoRoom, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := b[5:9]; !bytes.Equal(got, []byte{0x02, 0x00, 0x53, 0x00}) {
		t.Errorf("DOS status bytes % x", got)
	}
	if b[10] != 0 || b[11] != 0 {
		t.Errorf("DOS reply Flags2 = %02x%02x, want 0", b[11], b[10])
	}
	p = mustParse(t, hex.EncodeToString(b))
	if !errors.Is(p.Err(), ErrCodeNoRoom) || !errors.Is(p.Err(), &ErrCodeNoRoom) || errors.Is(p.Err(), ErrCodeMessagesOff) {
		t.Errorf("Err() = %v", p.Err())
	}
	if got, want := p.Header.String(), "SMB_COM_SEND_TEXT_MB_MESSAGE response, ERRSRV/ERRnoroom, MID 39612"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}

	// NT form requested.
	req.Flags2 |= Flags2NTStatus
	b, err = AppendResponse(nil, req, &ErrCodeMessagesOff, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := b[5:9]; !bytes.Equal(got, []byte{0xD0, 0x00, 0x00, 0xC0}) {
		t.Errorf("NT status bytes % x", got)
	}
	p = mustParse(t, hex.EncodeToString(b))
	if p.Header.Flags2 != Flags2NTStatus|Flags2LongNames {
		t.Errorf("NT reply Flags2 = 0x%04X", p.Header.Flags2)
	}
	var re *ReplyError
	if !errors.As(p.Err(), &re) || re.NT != StatusRequestNotAccepted || !errors.Is(p.Err(), ErrCodeMessagesOff) {
		t.Errorf("Err() = %v", p.Err())
	}
	if got, want := p.Err().Error(), "smb: STATUS_REQUEST_NOT_ACCEPTED: the recipient is not receiving messages"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}

	// An error known only in one form is still sent in the other.
	dosOnly := ReplyError{DOS: DOSError{ERRSRV, ERRrmuns}}
	b, _ = AppendResponse(nil, req, &dosOnly, nil, nil)
	if got := b[5:9]; !bytes.Equal(got, []byte{0x02, 0x00, 0x57, 0x00}) {
		t.Errorf("DOS-only error as NT status % x", got)
	}
	p = mustParse(t, hex.EncodeToString(b))
	if !errors.Is(p.Err(), ErrCodeTooManyNames) {
		t.Errorf("CIFS-specific NT status should match its DOS form: %v", p.Err())
	}
	req.Flags2 = 0
	ntOnly := ReplyError{NT: 0xC0000022}
	b, _ = AppendResponse(nil, req, &ntOnly, nil, nil)
	if got := b[5:9]; !bytes.Equal(got, []byte{0x02, 0x00, 0x01, 0x00}) {
		t.Errorf("NT-only error as DOS % x", got)
	}
}

func TestReplyErrorText(t *testing.T) {
	tests := []struct {
		e    error
		want string
	}{
		{ErrCodeNoRoom, "smb: ERRSRV/ERRnoroom (STATUS_INSUFFICIENT_RESOURCES): no room to buffer the message"},
		{&ReplyError{DOS: DOSError{ERRSRV, ERRsmbcmd}}, "smb: ERRSRV/ERRsmbcmd: command not implemented"},
		{&ReplyError{NT: 0xC0000022}, "smb: 0xC0000022"},
		{&ReplyError{DOS: DOSError{7, 9}}, "smb: 0x07/9"},
		{&ReplyError{DOS: DOSError{ERRDOS, ERRnomem}}, "smb: ERRDOS/ERRnomem"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
	if errors.Is(&ReplyError{}, ErrCodeNoRoom) || ErrCodeNoRoom.Is((*ReplyError)(nil)) || ErrCodeNoRoom.Is(ErrShort) {
		t.Error("empty or foreign errors must not match")
	}
}

func TestParseStartMBResponse(t *testing.T) {
	req := Header{Command: CommandSendStartMBMessage}
	samba, _ := AppendResponse(nil, Header{Command: CommandSendStartMBMessage, Flags2: Flags2NTStatus}, nil, nil, nil)
	if g, err := ParseStartMBResponse(mustParse(t, hex.EncodeToString(samba))); g != 0 || err != nil {
		t.Errorf("WordCount 0 reply: %d, %v", g, err)
	}
	spec, _ := AppendStartMBResponse(nil, req, 0x4242)
	if g, err := ParseStartMBResponse(mustParse(t, hex.EncodeToString(spec))); g != 0x4242 || err != nil {
		t.Errorf("WordCount 1 reply: %d, %v", g, err)
	}
	refused, _ := AppendResponse(nil, req, &ErrCodeMessagesOff, nil, nil)
	if _, err := ParseStartMBResponse(mustParse(t, hex.EncodeToString(refused))); !errors.Is(err, ErrCodeMessagesOff) {
		t.Errorf("error reply: %v", err)
	}
	other, _ := AppendResponse(nil, Header{Command: CommandSendMessage}, nil, nil, nil)
	if _, err := ParseStartMBResponse(mustParse(t, hex.EncodeToString(other))); !errors.Is(err, ErrWrongCommand) {
		t.Errorf("wrong command: %v", err)
	}
}

func TestNegotiate(t *testing.T) {
	offered := []string{"PC NETWORK PROGRAM 1.0", "LANMAN1.0", "NT LM 0.12"}
	req, err := AppendNegotiate(nil, Header{MID: 3}, offered)
	if err != nil {
		t.Fatal(err)
	}
	p := mustParse(t, hex.EncodeToString(req))
	got, err := ParseNegotiate(p)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != strings.Join(offered, ",") {
		t.Errorf("dialects %q", got)
	}

	resp, err := AppendNegotiateResponse(nil, p.Header, got)
	if err != nil {
		t.Fatal(err)
	}
	if want := unhex(t, "ff 53 4d 42 72 00 00 00 00 80 00 00 00 00"+strings.Repeat(" 00", 16)+" 03 00 01 00 00 00 00"); !bytes.Equal(resp, want) {
		t.Errorf("core response\n% x\nwant\n% x", resp, want)
	}

	resp, err = AppendNegotiateResponse(nil, p.Header, []string{"LANMAN1.0", "NT LM 0.12"})
	if err != nil {
		t.Fatal(err)
	}
	rp := mustParse(t, hex.EncodeToString(resp))
	if rp.WordCount() != 17 || len(rp.Bytes) != 0 {
		t.Fatalf("NT LM response %v", rp)
	}
	wantWords := unhex(t, `01 00 | 00 | 01 00 | 01 00 | 04 11 00 00 | 00 00 00 00 | 00 00 00 00 | 00 00 00 00 |
		00 00 00 00 00 00 00 00 | 00 00 | 00`)
	if !bytes.Equal(rp.Words, wantWords) {
		t.Errorf("NT LM words\n% x\nwant\n% x", rp.Words, wantWords)
	}

	resp, err = AppendNegotiateResponse(nil, p.Header, []string{"SMB 2.002", "SMB 2.???"})
	if err != nil {
		t.Fatal(err)
	}
	if w, _ := mustParse(t, hex.EncodeToString(resp)).Word(0); w != 0xFFFF {
		t.Errorf("no common dialect: index 0x%04X", w)
	}

	empty, err := ParseNegotiate(mustParse(t, packet(0x72, "00 00 00")))
	if err != nil || len(empty) != 0 {
		t.Errorf("no dialects: %q %v", empty, err)
	}
	max, err := ParseNegotiate(mustParse(t, packet(0x72, "00 80 00 "+strings.Repeat("02 00 ", 64))))
	if err != nil || len(max) != 64 {
		t.Errorf("64 dialects: %d %v", len(max), err)
	}
}

func TestStrings(t *testing.T) {
	tests := []struct {
		got, want string
	}{
		{CommandSendMessage.String(), "SMB_COM_SEND_MESSAGE"},
		{CommandSendBroadcastMessage.String(), "SMB_COM_SEND_BROADCAST_MESSAGE"},
		{CommandGetMachineName.String(), "SMB_COM_GET_MACHINE_NAME"},
		{Command(0x2F).String(), "Command(0x2F)"},
		{StatusInvalidSMB.String(), "STATUS_INVALID_SMB"},
		{Status(0xC0000022).String(), "0xC0000022"},
		{DOSError{ERRSRV, ERRpaused}.String(), "ERRSRV/ERRpaused"},
		{DOSError{}.String(), "SUCCESS/0"},
		{Header{Command: CommandSendMessage, PIDLow: 42, MID: 7}.String(), "SMB_COM_SEND_MESSAGE request, PID 42, MID 7"},
		{Header{Command: CommandSendMessage, Flags: FlagsReply}.String(), "SMB_COM_SEND_MESSAGE response, STATUS_SUCCESS, MID 0"},
		{Header{Command: CommandNegotiate, Flags: FlagsReply, Flags2: Flags2NTStatus, Status: 0xC0000002}.String(), "SMB_COM_NEGOTIATE response, STATUS_NOT_IMPLEMENTED, MID 0"},
		{mustParse(t, goldenSendMessage).String(), "SMB_COM_SEND_MESSAGE request, PID 0, MID 0, WCT 0, BCC 20"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}
