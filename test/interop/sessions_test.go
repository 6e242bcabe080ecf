package interop

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/netsend/messenger/internal/netbios"
	"github.com/netsend/messenger/internal/transport/smbmsg"
)

// hogAddr stands for another host on loopback: the local address of the
// connections that try to take every session.
var hogAddr = netip.MustParseAddr("127.0.0.2")

// Issue 16: one source holding every session it may (16 by default)
// leaves room for the others, and the real smbclient from 127.0.0.1
// still delivers. The total is set to 20 so that without the per-source
// cap the hog's 24 attempts would take every slot.
func TestSmbclientPastASessionHog(t *testing.T) {
	requirePeer(t, "smbclient")
	d := startDaemon(t, "", "--smb-max-sessions", "20")
	called, _ := netbios.NewName("MSGHOST", 0x03)
	calling, _ := netbios.NewName("HOG", 0x00)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	held, refused := 0, 0
	for i := 0; i < 24; i++ {
		c, err := smbmsg.DialFrom(ctx, hogAddr, d.addr(), called, calling)
		if err == nil {
			held++
			t.Cleanup(func() { c.Close() })
			continue
		}
		var r *smbmsg.SessionRefusedError
		if !errors.As(err, &r) || r.Code != netbios.InsufficientResources {
			t.Fatalf("session %d from %v: %v, want a session or insufficient resources", i+1, hogAddr, err)
		}
		refused++
	}
	if held != 16 || refused != 8 {
		t.Fatalf("%v holds %d sessions and was refused %d; want 16 and 8", hogAddr, held, refused)
	}

	out := smbclientSend(t, d, "MSGHOST", "alice", []byte("past the hog\n"))
	m := findMessage(d.inbox(), "alice", "past the hog\n")
	if m == nil {
		t.Fatalf("smbclient's message not stored while %v held its sessions; smbclient said:\n%s\ninbox: %+v", hogAddr, out, d.inbox())
	}
	if !strings.HasPrefix(m.Source, "127.0.0.1:") {
		t.Errorf("stored from %q, want 127.0.0.1", m.Source)
	}
}

// A source outside policy.transports.smb.allow is closed at accept,
// unanswered, while smbclient from inside delivers; a policy reload lets
// the outsider in at its next connection.
func TestSmbclientWithOutsiderClosedAtAccept(t *testing.T) {
	requirePeer(t, "smbclient")
	conf := filepath.Join(t.TempDir(), "messenger.toml")
	write := func(allow string) {
		t.Helper()
		if err := os.WriteFile(conf, []byte("[policy.transports.smb]\nallow = ["+allow+"]\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(`"127.0.0.1/32"`)
	d := startDaemon(t, "", "--config", conf)
	called, _ := netbios.NewName("MSGHOST", 0x03)
	calling, _ := netbios.NewName("OUTSIDER", 0x00)

	dialer := net.Dialer{LocalAddr: &net.TCPAddr{IP: hogAddr.AsSlice()}, Timeout: 10 * time.Second}
	c, err := dialer.Dial("tcp", d.addr())
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	req, _ := netbios.AppendSessionRequest(nil, netbios.SessionRequestPacket{Called: called, Calling: calling})
	c.Write(req) // may fail: the server may have closed already
	b := make([]byte, 16)
	n, err := c.Read(b)
	c.Close()
	if err == nil {
		t.Fatalf("the daemon answered % x to a source outside smb.allow; it must close unanswered", b[:n])
	}
	if !errors.Is(err, io.EOF) && !strings.Contains(err.Error(), "reset") {
		t.Fatalf("read from an outsider's connection: %v, want it closed", err)
	}

	// 127.0.0.1 is inside, and the real smbclient delivers from it.
	if said := smbclientSend(t, d, "MSGHOST", "insider", []byte("inside\n")); findMessage(d.inbox(), "insider", "inside\n") == nil {
		t.Fatalf("smbclient from 127.0.0.1 not stored; it said:\n%s", said)
	}

	write(`"127.0.0.1/32", "127.0.0.2/32"`)
	if out, err := d.cli("spam", "reload"); err != nil {
		t.Fatalf("spam reload: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := smbmsg.DialFrom(ctx, hogAddr, d.addr(), called, calling)
	if err != nil {
		t.Fatalf("%v after the reload admitted it: %v", hogAddr, err)
	}
	if err := out.SendSingle([]byte("FORMER"), []byte("MSGHOST"), []byte("let in")); err != nil {
		t.Fatal(err)
	}
	out.Close()
	if msgs := d.inbox(); len(msgs) != 2 {
		t.Errorf("inbox %+v, want the insider's and the admitted source's messages", msgs)
	}
}
