package dcerpc

import (
	"bytes"
	"encoding/hex"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// readHexFile reads a testdata hex dump; lines starting with # are
// comments.
func readHexFile(t *testing.T, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	for line := range strings.Lines(string(raw)) {
		if !strings.HasPrefix(line, "#") {
			sb.WriteString(line)
		}
	}
	return unhex(t, sb.String())
}

// checkImpacketRequest parses a PDU Impacket built and compares it with
// what our encoder makes of the same call; the two differ only in the
// padding bytes (0xAB against our zeros).
func checkImpacketRequest(t *testing.T, wire []byte, want SendMessageRequest, activity UUID, seq uint32) {
	t.Helper()
	p := mustParse(t, wire)
	if _, ok := MatchSendMessage(p.Header); !ok || p.Activity != activity || p.SeqNum != seq || p.Flags1 != 0x28 {
		t.Fatalf("header %v", p.Header)
	}
	m, err := ParseSendMessageRequest(p.Body, p.DataRep, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if !equalRequests(m, want) {
		t.Fatalf("parsed %v, want %v", m, want)
	}
	stub, err := AppendSendMessageRequest(nil, NativeDataRep, m)
	if err != nil {
		t.Fatal(err)
	}
	ours, err := AppendPacket(nil, SendMessageHeader(activity, seq), stub)
	if err != nil {
		t.Fatal(err)
	}
	if len(ours) != len(wire) {
		t.Fatalf("ours %d bytes, Impacket's %d", len(ours), len(wire))
	}
	for i := range ours {
		if ours[i] != wire[i] && !(ours[i] == 0 && wire[i] == 0xAB) {
			t.Fatalf("byte %d: ours 0x%02x, Impacket's 0x%02x\n% x\n% x", i, ours[i], wire[i], ours, wire)
		}
	}
}

func TestImpacketGolden(t *testing.T) {
	wire := readHexFile(t, "testdata/impacket-0.10.0-request.hex")
	// Activity bytes 00 01 … 0f on a little-endian wire.
	act := UUID{3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15}
	checkImpacketRequest(t, wire, SendMessageRequest{From: []byte("ALICE"), To: []byte("BOB"), Text: []byte("hello via DCE/RPC v4")}, act, 7)
}

// impacketProgram marshals each case with Impacket's NDR (the NDRCALL and
// STR types the peer script dcerpc_v4_msgsend.py uses) behind a
// hand-packed v4 header, and prints one PDU per line. Strings
// travel hex-encoded and reach Impacket as bytes: given a str, its STR
// type writes UTF-8, which is not what an OEM sender sends.
const impacketProgram = `
import struct, sys
from impacket.dcerpc.v5.ndr import NDRCALL
from impacket.dcerpc.v5.dtypes import STR
from impacket.uuid import uuidtup_to_bin
IFACE = uuidtup_to_bin(('5A7B91F8-FF00-11D0-A9B2-00C04FB6E6FC', '1.0'))[:16]
class NetrSendMessage(NDRCALL):
    opnum = 0
    structure = (('From', STR), ('To', STR), ('Text', STR))
for seq, line in enumerate(sys.stdin.read().split()):
    f, to, x = (bytes.fromhex(h) + b'\0' for h in line.split(','))
    r = NetrSendMessage()
    r['From'], r['To'], r['Text'] = f, to, x
    stub = r.getData()
    hdr = struct.pack('<BBBB3sB16s16s16sIIIHHHHHBB', 4, 0, 0x28, 0, b'\x10\0\0', 0,
                      bytes(16), IFACE, bytes(16), 0, 1, seq, 0, 0xffff, 0xffff, len(stub), 0, 0, 0)
    print((hdr + stub).hex())
`

// TestImpacketLive has Impacket marshal requests of awkward shapes (empty
// strings, every alignment, the longest text, OEM bytes) and parses them.
// It runs only where /usr/bin/python3 has Impacket; nothing is sent on the
// network.
func TestImpacketLive(t *testing.T) {
	const python = "/usr/bin/python3"
	if err := exec.Command(python, "-c", "import impacket").Run(); err != nil {
		t.Skip("Impacket not installed for " + python)
	}
	cases := []SendMessageRequest{
		{From: []byte(""), To: []byte("B"), Text: []byte("")},
		{From: []byte("AB"), To: []byte("ABC"), Text: []byte("ABCD")},
		{From: []byte("SPAMMER"), To: []byte("VICTIM"), Text: bytes.Repeat([]byte("x"), DefaultMaxText)},
		{From: []byte("J\x94RG"), To: []byte("BOB"), Text: []byte("caf\x82 \x14 line\r\nnext\x7f\xff")},
	}
	var in strings.Builder
	for _, c := range cases {
		// Comma-separated, so an empty string is an empty field.
		in.WriteString(hex.EncodeToString(c.From) + "," + hex.EncodeToString(c.To) + "," + hex.EncodeToString(c.Text) + "\n")
	}
	cmd := exec.Command(python, "-c", impacketProgram)
	cmd.Stdin = strings.NewReader(in.String())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	lines := strings.Fields(string(out))
	if len(lines) != len(cases) {
		t.Fatalf("%d PDUs for %d cases:\n%s", len(lines), len(cases), out)
	}
	for i, line := range lines {
		wire, err := hex.DecodeString(line)
		if err != nil {
			t.Fatal(err)
		}
		checkImpacketRequest(t, wire, cases[i], UUID{}, uint32(i))
	}
}
