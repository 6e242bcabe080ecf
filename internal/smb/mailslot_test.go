package smb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

// goldenMailslot is the SMB part of docs/protocols/netbios-datagrams.md,
// "Worked example: a directed mailslot message": a write to
// \MAILSLOT\MESSNGR carrying ALICE\0BOB\0Hello\0, DataOffset 88 after a
// zero pad byte.
var goldenMailslot = zeroHeader(0x25) + `
11
00 00 10 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
10 00 58 00 03 00
01 00 00 00 02 00
23 00
5c 4d 41 49 4c 53 4c 4f 54 5c 4d 45 53 53 4e 47 52 00
00
41 4c 49 43 45 00 42 4f 42 00 48 65 6c 6c 6f 00`

// goldenMailslotOdd is the layout of the crafted sender in
// docs/protocols/peers.md, "Handcrafted NetBIOS packets": no pad byte,
// DataOffset 87, ParameterOffset 87 too, priority 1, Timeout 1000.
var goldenMailslotOdd = zeroHeader(0x25) + `
11
00 00 10 00 00 00 00 00 00 00 00 00 e8 03 00 00 00 00 00 00 57 00
10 00 57 00 03 00
01 00 01 00 02 00
22 00
5c 4d 41 49 4c 53 4c 4f 54 5c 4d 45 53 53 4e 47 52 00
41 4c 49 43 45 00 42 4f 42 00 48 65 6c 6c 6f 00`

// goldenWin98Payload is the Win98 capture's MESSNGR data
// (docs/protocols/netbios-datagrams.md, "The MESSNGR payload"),
// DataCount 32.
const goldenWin98Payload = "WIN98USER\x00WORKGROUP\x00HELLO WORLD\x00"

func equalMailslot(a, b MailslotWrite) bool {
	return a.Name == b.Name && a.Priority == b.Priority && a.Class == b.Class && a.Timeout == b.Timeout && bytes.Equal(a.Data, b.Data)
}

func TestMailslotGolden(t *testing.T) {
	wire := unhex(t, goldenMailslot)
	if len(wire) != 104 {
		t.Fatalf("golden is %d bytes, want 104", len(wire))
	}
	p := mustParse(t, goldenMailslot)
	if p.Len() != len(wire) || p.WordCount() != 17 || len(p.Bytes) != 35 {
		t.Fatalf("packet %v", p)
	}
	m, err := ParseMailslotWrite(p)
	if err != nil {
		t.Fatal(err)
	}
	want := MailslotWrite{Name: MessengerMailslot, Class: MailslotClassUnreliable, Data: []byte("ALICE\x00BOB\x00Hello\x00")}
	if !equalMailslot(m, want) {
		t.Errorf("parsed %+v\nwant   %+v", m, want)
	}
	if got, want := m.String(), `Write Mail Slot "\\MAILSLOT\\MESSNGR", priority 0, class 2 (unreliable & broadcast), 16 bytes`; got != want {
		t.Errorf("String = %q\nwant     %q", got, want)
	}
	built, err := AppendMailslotWrite(nil, Header{}, want)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(built, wire) {
		t.Errorf("built\n% x\nwant\n% x", built, wire)
	}

	msg, err := ParseMessengerPayload(m.Data)
	if err != nil {
		t.Fatal(err)
	}
	if string(msg.From) != "ALICE" || string(msg.To) != "BOB" || string(msg.Text) != "Hello" {
		t.Errorf("payload %+v", msg)
	}
	if got, want := msg.String(), `\MAILSLOT\MESSNGR from "ALICE" to "BOB" 5 bytes`; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
	data, err := AppendMessengerPayload(nil, msg)
	if err != nil || !bytes.Equal(data, m.Data) {
		t.Errorf("payload built % x, %v", data, err)
	}
}

func TestMailslotOddOffset(t *testing.T) {
	p := mustParse(t, goldenMailslotOdd)
	m, err := ParseMailslotWrite(p)
	if err != nil {
		t.Fatal(err)
	}
	want := MailslotWrite{Name: MessengerMailslot, Priority: 1, Class: 2, Timeout: 1000, Data: []byte("ALICE\x00BOB\x00Hello\x00")}
	if !equalMailslot(m, want) {
		t.Errorf("parsed %+v\nwant   %+v", m, want)
	}
	// Rebuilt in Windows' layout: padded, DataOffset 88.
	built, err := AppendMailslotWrite(nil, Header{}, m)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := Parse(built)
	if err != nil {
		t.Fatal(err)
	}
	if off, _ := p2.Word(12); off != 88 {
		t.Errorf("rebuilt DataOffset %d", off)
	}
	if m2, err := ParseMailslotWrite(p2); err != nil || !equalMailslot(m2, want) {
		t.Errorf("rebuilt parses as %+v, %v", m2, err)
	}
}

func TestMailslotOtherNames(t *testing.T) {
	// \MAILSLOT\BROWSE is 16 bytes: with its NUL the data is already at an
	// even offset, 86, as in [MS-BRWS] 4.1.
	for _, tt := range []struct {
		name   string
		offset uint16
	}{{`\MAILSLOT\BROWSE`, 86}, {`\MAILSLOT\LANMAN`, 86}, {`\mailslot\messngr`, 88}, {"", 70}, {`\MAILSLOT\X`, 82}} {
		m := MailslotWrite{Name: tt.name, Priority: 3, Class: MailslotClassReliable, Timeout: 0x12345678, Data: []byte{1, 2, 3}}
		built, err := AppendMailslotWrite(nil, Header{MID: 9}, m)
		if err != nil {
			t.Fatal(err)
		}
		p, err := Parse(built)
		if err != nil {
			t.Fatal(err)
		}
		if off, _ := p.Word(12); off != tt.offset || off%2 != 0 {
			t.Errorf("%q: DataOffset %d, want %d", tt.name, off, tt.offset)
		}
		got, err := ParseMailslotWrite(p)
		if err != nil || !equalMailslot(got, m) || p.Header.MID != 9 || p.Header.Command != CommandTransaction {
			t.Errorf("%q: round trip %+v, %v", tt.name, got, err)
		}
	}
	m := MailslotWrite{Name: MessengerMailslot, Class: 7}
	if got := m.String(); !strings.Contains(got, "class 7,") {
		t.Errorf("String = %q", got)
	}
	if got := (MailslotWrite{Class: 1}).String(); !strings.Contains(got, "class 1 (reliable)") {
		t.Errorf("String = %q", got)
	}
}

// mailslotWith returns the golden write with the little-endian word at
// byte offset off of Words replaced by v.
func mailslotWith(t *testing.T, off int, v uint16) []byte {
	t.Helper()
	b := unhex(t, goldenMailslot)
	binary.LittleEndian.PutUint16(b[HeaderLen+1+off:], v)
	return b
}

func TestParseMailslotWriteErrors(t *testing.T) {
	golden := unhex(t, goldenMailslot)
	setupCount2 := mailslotWith(t, trSetupCount, 2)
	unterminated := bytes.Clone(golden)
	unterminated = append(unterminated[:HeaderLen+1+34], 0x05, 0x00, 'A', 'B', 'C', 'D', 'E') // ByteCount 5, no NUL
	longName := unhex(t, zeroHeader(0x25)+"11"+strings.Repeat(" 00", 34))
	binary.LittleEndian.PutUint16(longName[HeaderLen+1+trSetupCount:], 3)
	binary.LittleEndian.PutUint16(longName[HeaderLen+1+trSetup:], 1)
	longName = binary.LittleEndian.AppendUint16(longName, 257)
	longName = append(longName, bytes.Repeat([]byte{'N'}, 256)...)
	longName = append(longName, 0)

	tests := []struct {
		name  string
		wire  []byte
		want  error
		field string
	}{
		{"wrong command", unhex(t, goldenSendMessage), ErrWrongCommand, "SMB_COM_SEND_MESSAGE"},
		{"WordCount 14", unhex(t, zeroHeader(0x25)+"0e"+strings.Repeat(" 00", 28)+" 00 00"), ErrWordCount, "WordCount 14"},
		{"SetupCount 2", setupCount2, ErrNotMailslot, "SetupCount"},
		{"opcode 2", mailslotWith(t, trSetup, 2), ErrNotMailslot, "MailSlotOpcode"},
		{"multi-part data", mailslotWith(t, trTotalDataCount, 100), ErrMultiPart, "TotalDataCount: 100 but DataCount 16"},
		{"multi-part parameters", mailslotWith(t, trTotalParameterCount, 4), ErrMultiPart, "TotalParameterCount"},
		{"DataCount above total", mailslotWith(t, trDataCount, 17), ErrTooLong, "DataCount: 17 exceeds TotalDataCount 16"},
		{"ParameterCount above total", mailslotWith(t, trParameterCount, 1), ErrTooLong, "ParameterCount"},
		{"DataOffset into the name", mailslotWith(t, trDataOffset, 80), ErrBadOffset, "DataOffset: 80"},
		{"DataOffset into the words", mailslotWith(t, trDataOffset, 40), ErrBadOffset, "DataOffset: 40"},
		{"DataOffset past ByteCount", mailslotWith(t, trDataOffset, 89), ErrShort, "DataOffset 89, DataCount 16"},
		{"DataOffset far away", mailslotWith(t, trDataOffset, 0xFFFF), ErrShort, "Data"},
		{"unterminated name", unterminated, ErrUnterminated, "Name"},
		{"name too long", longName, ErrTooLong, "Name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse(tt.wire)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			_, err = ParseMailslotWrite(p)
			if !errors.Is(err, tt.want) {
				t.Fatalf("error = %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.field) {
				t.Errorf("error %q does not name %q", err, tt.field)
			}
		})
	}

	// DataCount 0: nothing to locate, whatever DataOffset says.
	empty := mailslotWith(t, trDataCount, 0)
	binary.LittleEndian.PutUint16(empty[HeaderLen+1+trTotalDataCount:], 0)
	binary.LittleEndian.PutUint16(empty[HeaderLen+1+trDataOffset:], 0)
	p, _ := Parse(empty)
	if m, err := ParseMailslotWrite(p); err != nil || m.Data == nil || len(m.Data) != 0 || m.Name != MessengerMailslot {
		t.Errorf("empty write: %+v, %v", m, err)
	}
}

func TestAppendMailslotWriteErrors(t *testing.T) {
	for _, tt := range []struct {
		name string
		m    MailslotWrite
		want error
	}{
		{"NUL in name", MailslotWrite{Name: "\\MAILSLOT\\A\x00B"}, ErrEmbeddedNUL},
		{"long name", MailslotWrite{Name: strings.Repeat("N", MaxMailslotNameLen+1)}, ErrTooLong},
		{"too much data", MailslotWrite{Name: MessengerMailslot, Data: make([]byte, maxByteCount-17)}, ErrTooLong},
	} {
		out, err := AppendMailslotWrite([]byte("keep"), Header{}, tt.m)
		if !errors.Is(err, tt.want) || string(out) != "keep" {
			t.Errorf("%s: %q, %v, want %v", tt.name, out, err, tt.want)
		}
	}
	// The most data that fits with the pad byte, and without it.
	for _, tt := range []struct{ n, offset int }{{maxByteCount - 19, 88}, {maxByteCount - 18, 87}} {
		m := MailslotWrite{Name: MessengerMailslot, Data: make([]byte, tt.n)}
		out, err := AppendMailslotWrite(nil, Header{}, m)
		if err != nil {
			t.Fatalf("%d bytes: %v", tt.n, err)
		}
		p, err := Parse(out)
		if err != nil {
			t.Fatal(err)
		}
		if off, _ := p.Word(12); int(off) != tt.offset {
			t.Errorf("%d bytes: DataOffset %d, want %d", tt.n, off, tt.offset)
		}
		if got, err := ParseMailslotWrite(p); err != nil || len(got.Data) != len(m.Data) {
			t.Errorf("%d bytes: parsed %d bytes, %v", tt.n, len(got.Data), err)
		}
	}
}

func TestMessengerPayload(t *testing.T) {
	tests := []struct {
		name           string
		data           string
		from, to, text string
		want           error
	}{
		{"Win98", goldenWin98Payload, "WIN98USER", "WORKGROUP", "HELLO WORLD", nil},
		{"no final NUL", "A\x00B\x00text", "A", "B", "text", nil},
		{"empty text", "A\x00B\x00", "A", "B", "", nil},
		{"empty fields", "\x00\x00\x00", "", "", "", nil},
		{"after the text", "A\x00B\x00hi\x00junk\x00", "A", "B", "hi", nil},
		{"line breaks", "A\x00B\x00one\r\ntwo\x14three\x00", "A", "B", "one\r\ntwo\x14three", nil},
		{"OEM bytes", "M\x81LLER\x00B\x00gr\x81\xe1e\x00", "M\x81LLER", "B", "gr\x81\xe1e", nil},
		{"longest names", strings.Repeat("f", 255) + "\x00" + strings.Repeat("t", 255) + "\x00x", strings.Repeat("f", 255), strings.Repeat("t", 255), "x", nil},
		{"empty", "", "", "", "", ErrUnterminated},
		{"no NUL", "ALICE", "", "", "", ErrUnterminated},
		{"no To", "ALICE\x00BOB", "", "", "", ErrUnterminated},
		{"long From", strings.Repeat("f", 256) + "\x00B\x00", "", "", "", ErrTooLong},
		{"long To", "A\x00" + strings.Repeat("t", 256) + "\x00", "", "", "", ErrTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := ParseMessengerPayload([]byte(tt.data))
			if tt.want != nil {
				if !errors.Is(err, tt.want) {
					t.Fatalf("error = %v, want %v", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(m.From) != tt.from || string(m.To) != tt.to || string(m.Text) != tt.text {
				t.Errorf("parsed %q %q %q", m.From, m.To, m.Text)
			}
		})
	}
	m, _ := ParseMessengerPayload([]byte(goldenWin98Payload))
	out, err := AppendMessengerPayload([]byte("pre"), m)
	if err != nil || string(out) != "pre"+goldenWin98Payload || len(out)-3 != 32 {
		t.Errorf("built %q, %v", out, err)
	}
	_, err = ParseMessengerPayload([]byte("ALICE\x00BOB"))
	if err == nil || !strings.Contains(err.Error(), "To") {
		t.Errorf("missing To: %v", err)
	}

	for _, tt := range []struct {
		name string
		m    MessengerPayload
		want error
	}{
		{"NUL in From", MessengerPayload{From: []byte("A\x00")}, ErrEmbeddedNUL},
		{"NUL in To", MessengerPayload{To: []byte("\x00")}, ErrEmbeddedNUL},
		{"NUL in Text", MessengerPayload{Text: []byte("a\x00b")}, ErrEmbeddedNUL},
		{"long From", MessengerPayload{From: bytes.Repeat([]byte("f"), 256)}, ErrTooLong},
		{"long To", MessengerPayload{To: bytes.Repeat([]byte("t"), 256)}, ErrTooLong},
	} {
		if out, err := AppendMessengerPayload([]byte("keep"), tt.m); !errors.Is(err, tt.want) || string(out) != "keep" {
			t.Errorf("%s: %q, %v, want %v", tt.name, out, err, tt.want)
		}
	}
}

func FuzzParseMailslotWrite(f *testing.F) {
	f.Add(unhex(f, goldenMailslot))
	f.Add(unhex(f, goldenMailslotOdd))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Parse(b)
		if err != nil {
			return
		}
		m, err := ParseMailslotWrite(p)
		if err != nil {
			return
		}
		_ = m.String()
		p2 := reparse(t)(AppendMailslotWrite(nil, p.Header, m))
		m2, err := ParseMailslotWrite(p2)
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if p2.Header != p.Header || !equalMailslot(m, m2) {
			t.Fatalf("round trip %+v != %+v", m2, m)
		}
	})
}

func FuzzParseMessengerPayload(f *testing.F) {
	f.Add([]byte(goldenWin98Payload))
	f.Add([]byte("ALICE\x00BOB\x00Hello\x00"))
	f.Add([]byte("A\x00B\x00no final NUL"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseMessengerPayload(data)
		if err != nil {
			return
		}
		_ = m.String()
		out, err := AppendMessengerPayload(nil, m)
		if err != nil {
			t.Fatalf("re-encoding: %v", err)
		}
		m2, err := ParseMessengerPayload(out)
		if err != nil || !bytes.Equal(m.From, m2.From) || !bytes.Equal(m.To, m2.To) || !bytes.Equal(m.Text, m2.Text) {
			t.Fatalf("round trip %+v, %v; want %+v", m2, err, m)
		}
		if len(out) > len(data)+1 {
			t.Fatalf("re-encoded %d bytes from %d", len(out), len(data))
		}
	})
}

func BenchmarkParseMailslotWrite(b *testing.B) {
	wire := unhex(b, goldenMailslot)
	b.ReportAllocs()
	for b.Loop() {
		p, err := Parse(wire)
		if err != nil {
			b.Fatal(err)
		}
		m, err := ParseMailslotWrite(p)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := ParseMessengerPayload(m.Data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendMailslotWrite(b *testing.B) {
	payload := MessengerPayload{From: []byte("ALICE"), To: []byte("BOB"), Text: []byte("Hello")}
	data := make([]byte, 0, 64)
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if data, err = AppendMessengerPayload(data[:0], payload); err != nil {
			b.Fatal(err)
		}
		if buf, err = AppendMailslotWrite(buf[:0], Header{}, MailslotWrite{Name: MessengerMailslot, Class: MailslotClassUnreliable, Data: data}); err != nil {
			b.Fatal(err)
		}
	}
}
