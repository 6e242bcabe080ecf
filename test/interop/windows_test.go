package interop

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/netsend/messenger/internal/netbios"
	"github.com/netsend/messenger/internal/smb"
	"github.com/netsend/messenger/internal/transport/smbmsg"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The byte images below are copied from docs/protocols/netbios-sessions.md
// ("Worked example: session request") and docs/protocols/smb-messages.md
// ("Single-block messages"), not produced by our encoder: a session
// request from ALICE<00> to BOB<03>, and a single-block 0xD0 "Hello" with
// an all-zero header, the way Windows sends it.
const (
	docSessionRequest = `81 00 00 44
20 45 43 45 50 45 43 43 41 43 41 43 41 43 41 43 41 43 41 43 41 43 41 43
41 43 41 43 41 43 41 41 44 00
20 45 42 45 4d 45 4a 45 44 45 46 43 41 43 41 43 41 43 41 43 41 43 41 43
41 43 41 43 41 43 41 41 41 00`
	docSendMessage = `00 00 00 37
ff 53 4d 42 d0 00 00 00 00 00 00 00 00 00 00 00
00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
00 14 00
04 41 4c 49 43 45 00
04 42 4f 42 00
01 05 00 48 65 6c 6c 6f`
)

// rawExchange writes each request and reads one session packet in answer.
func rawExchange(t *testing.T, addr string, requests ...[]byte) [][]byte {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	var replies [][]byte
	for _, req := range requests {
		if _, err := c.Write(req); err != nil {
			t.Fatal(err)
		}
		hdr := make([]byte, 4)
		if _, err := io.ReadFull(c, hdr); err != nil {
			t.Fatalf("reading reply: %v", err)
		}
		n := int(hdr[1]&1)<<16 | int(hdr[2])<<8 | int(hdr[3])
		body := make([]byte, n)
		if _, err := io.ReadFull(c, body); err != nil {
			t.Fatal(err)
		}
		replies = append(replies, append(hdr, body...))
	}
	return replies
}

func TestWindowsShapes(t *testing.T) {
	d := startDaemon(t, "", "--name", "BOB")
	capt := startCapture(t, d.smbPort)

	// 1. The bytes of docs/protocols, verbatim.
	replies := rawExchange(t, d.addr(), unhex(t, docSessionRequest), unhex(t, docSendMessage))
	if !bytes.Equal(replies[0], []byte{0x82, 0, 0, 0}) {
		t.Fatalf("session response = % x, want positive 82 00 00 00", replies[0])
	}
	// Reply: NBSS header, SMB header with command 0xD0, status 0, reply flag.
	if r := replies[1]; len(r) != 4+35 || r[8] != 0xD0 || !bytes.Equal(r[9:13], []byte{0, 0, 0, 0}) || r[13]&0x80 == 0 {
		t.Fatalf("0xD0 reply = % x; want a 35-byte success response", r)
	}

	// 2. Windows shapes built by our client: 0xD0 with 0x14 line breaks,
	// and a multi-block message in 128-byte blocks, also with 0x14.
	called, _ := netbios.NewName("BOB", 0x03)
	calling, _ := netbios.NewName("WINXP", 0x03)
	single := []byte("Server going down\x14at 17:00\x14\x14Save your work")
	var multi bytes.Buffer
	for multi.Len() < 600 {
		multi.WriteString("Windows multi-block line\x14")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := smbmsg.Dial(ctx, d.addr(), called, calling)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SendSingle([]byte("ADMIN"), []byte("BOB"), single); err != nil {
		t.Fatal(err)
	}
	if err := c.SendMultiBlock([]byte("ADMIN"), []byte("BOB"), multi.Bytes(), smb.MaxBlockLen); err != nil {
		t.Fatal(err)
	}
	c.Close()

	// 3. Errors a real server gives: 0xD7 without 0xD5, an unknown command,
	// and a session for a name we do not have.
	c, err = smbmsg.Dial(ctx, d.addr(), called, calling)
	if err != nil {
		t.Fatal(err)
	}
	err = c.SendRaw(smb.CommandSendTextMBMessage, func(h smb.Header) ([]byte, error) {
		return smb.AppendSendTextMBMessage(nil, h, smb.SendTextMBMessage{Text: []byte("orphan")})
	})
	if !errors.Is(err, smb.ErrCodeInvalidParameter) {
		t.Errorf("0xD7 without 0xD5: error %v, want invalid parameter", err)
	}
	err = c.SendRaw(smb.CommandGetMachineName, func(h smb.Header) ([]byte, error) {
		return smb.AppendPacket(nil, h, nil, nil)
	})
	if !errors.Is(err, smb.ErrCodeUnknownCommand) {
		t.Errorf("0xD4: error %v, want unknown command", err)
	}
	c.Close()
	nobody, _ := netbios.NewName("NOBODY", 0x03)
	if _, err := smbmsg.Dial(ctx, d.addr(), nobody, calling); !errors.Is(err, smbmsg.ErrNameNotPresent) {
		t.Errorf("session to NOBODY<03>: %v, want called name not present", err)
	}

	// Our daemon's replies: 2 + 1 + (1 + 5 + 1) + 2 + 1 frames.
	capt.stop(13)
	checked := capt.assertCleanDecode()
	if checked < 13 {
		t.Errorf("tshark saw %d NBSS frames from the daemon, want at least 13", checked)
	}
	// tshark reads our Windows-shaped request the way we meant it.
	fields := capt.mustTshark("-Y", "smb.cmd == 0xd0 && smb.flags.response == 0 && smb.originator_name == \"ADMIN\"",
		"-T", "fields", "-e", "smb.originator_name", "-e", "smb.destination_name", "-e", "smb.message.len")
	if strings.TrimSpace(fields) != "ADMIN\tBOB\t"+strconv.Itoa(len(single)) {
		t.Errorf("tshark decodes our 0xD0 as %q, want ADMIN, BOB, %d bytes", fields, len(single))
	}
	neg := capt.mustTshark("-Y", "nbss.type == 0x83", "-T", "fields", "-e", "nbss.error_code")
	if !strings.Contains(neg, "0x82") {
		t.Errorf("tshark sees no negative session response 'called name not present': %q", neg)
	}

	msgs := d.inbox()
	want := map[string]bool{
		"Hello": false,
		"Server going down\nat 17:00\n\nSave your work":  false,
		strings.ReplaceAll(multi.String(), "\x14", "\n"): false,
	}
	for _, m := range msgs {
		if _, ok := want[m.Text]; ok {
			want[m.Text] = true
		}
	}
	for text, found := range want {
		if !found {
			t.Errorf("inbox lacks %q; it has %+v", text, msgs)
		}
	}
	if len(msgs) != 3 {
		t.Errorf("inbox has %d messages, want exactly 3 (nothing stored for the errors)", len(msgs))
	}
}
