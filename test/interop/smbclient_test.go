package interop

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/netsend/messenger/internal/message"
)

// smbclientSend runs the real `smbclient -M` against the daemon. Its exit
// status says nothing about delivery (it exits 0 when the server dropped
// the message), so callers check the inbox.
func smbclientSend(t *testing.T, d *daemon, recipient, user string, stdin []byte) string {
	t.Helper()
	smbclient := requirePeer(t, "smbclient")
	conf := filepath.Join(t.TempDir(), "smb.conf")
	// A private, almost empty configuration: the test must not depend on
	// the host's /etc/samba/smb.conf. The dos charset is stated because it
	// is what our daemon's default code page assumes.
	if err := os.WriteFile(conf, []byte("[global]\n  dos charset = CP850\n  netbios name = TESTCLIENT\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(smbclient, "-s", conf, "-M", recipient, "-I", "127.0.0.1", "-p", strconv.Itoa(d.smbPort), "-N", "-U", user)
	cmd.Stdin = bytes.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("smbclient -M: %v\n%s", err, out)
	}
	return string(out)
}

func findMessage(msgs []message.Message, from, text string) *message.Message {
	for i := range msgs {
		if msgs[i].From == from && msgs[i].Text == text {
			return &msgs[i]
		}
	}
	return nil
}

func TestSmbclientMessages(t *testing.T) {
	d := startDaemon(t, "", "--name", "HELPDESK")

	var long strings.Builder
	for i := 1; long.Len() < 900; i++ {
		long.WriteString("Line " + strconv.Itoa(i) + " of a long message that smbclient must split into 127-byte blocks.\n")
	}
	accented := "Grüße aus Köln: élève, garçon, Ærø, ½ × ±\n"

	for _, tc := range []struct {
		name, to, user string
		stdin          []byte
		want           string // text as the inbox must show it
	}{
		{"short", "MSGHOST", "alice", []byte("Hello from smbclient\n"), "Hello from smbclient\n"},
		{"long multi-block", "HELPDESK", "bob", []byte(long.String()), long.String()},
		// smbclient converts its UTF-8 input to the dos charset (CP850 here)
		// before sending; the daemon converts back.
		{"accented", "msghost", "zoë", []byte(accented), accented},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := smbclientSend(t, d, tc.to, tc.user, tc.stdin)
			m := findMessage(d.inbox(), tc.user, tc.want)
			if m == nil {
				t.Fatalf("message not in the inbox; smbclient said:\n%s\ninbox:\n%+v", out, d.inbox())
			}
			if m.To != tc.to || m.Transport != message.TransportSMB || m.State != message.StateUnread || !strings.HasPrefix(m.Source, "127.0.0.1:") {
				t.Errorf("stored %+v; want to %q, transport smb, unread, source 127.0.0.1", m, tc.to)
			}
			// messenger read shows it with the classic header and marks it read.
			shown, err := d.cli("read", strconv.FormatInt(m.ID, 10))
			if err != nil {
				t.Fatal(err)
			}
			header := "Message from " + tc.user + " to " + tc.to + " on "
			if !strings.HasPrefix(shown, header) || !strings.Contains(shown, "\n\n"+tc.want) {
				t.Errorf("messenger read printed %q; want header %q and the text", shown, header)
			}
			after := d.inbox()
			if m2 := findMessage(after, tc.user, tc.want); m2 == nil || m2.State != message.StateRead {
				t.Errorf("after read the message is %+v; want state read", m2)
			}
		})
	}
	if !strings.Contains(d.stdout.String(), "Message from alice to MSGHOST on ") {
		t.Errorf("no pop-up block on the daemon's stdout:\n%s", d.stdout)
	}
}

// The old service kept about six unread pop-ups and dropped the rest;
// ours keeps every one.
func TestKeepsEveryUnreadMessage(t *testing.T) {
	d := startDaemon(t, "")
	const n = 20
	for i := 0; i < n; i++ {
		smbclientSend(t, d, "MSGHOST", "sender"+strconv.Itoa(i), []byte("unread number "+strconv.Itoa(i)+"\n"))
	}
	out, err := d.cli("inbox", "--unread", "--json")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(out, "\n"); got != n {
		t.Fatalf("inbox --unread lists %d messages, want %d:\n%s", got, n, out)
	}
}

func TestSmbclientUnknownName(t *testing.T) {
	d := startDaemon(t, "")
	out := smbclientSend(t, d, "NOSUCHNAME", "alice", []byte("lost?\n"))
	if msgs := d.inbox(); len(msgs) != 0 {
		t.Fatalf("a message for a name we do not have was stored: %+v", msgs)
	}
	if !strings.Contains(out, "NT_STATUS") && !strings.Contains(strings.ToLower(out), "called name") {
		t.Logf("smbclient output: %s", out)
	}
	if !strings.Contains(d.stderr.String(), "name_not_present") {
		t.Errorf("daemon log does not say why the session was refused:\n%s", d.stderr)
	}
}

// On port 139 smbclient speaks NetBIOS sessions proper (a session request
// with the called name first); on other ports it uses direct-hosted
// framing. This test covers the real session path with the real client.
func TestSmbclientOnPort139(t *testing.T) {
	requireRoot(t, "binding TCP 139")
	if ln, err := net.Listen("tcp", "127.0.0.1:139"); err != nil {
		t.Skipf("port 139 is taken on this machine: %v", err)
	} else {
		ln.Close()
	}
	d := startDaemonOnPort(t, 139)
	capt := startCapture(t, 139)
	smbclientSend(t, d, "MSGHOST", "carol", []byte("over a real NetBIOS session\n"))
	if findMessage(d.inbox(), "carol", "over a real NetBIOS session\n") == nil {
		t.Fatalf("message over port 139 not in the inbox: %+v", d.inbox())
	}
	capt.stop(4)
	capt.assertCleanDecode()
	req := capt.mustTshark("-Y", "nbss.type == 0x81", "-T", "fields", "-e", "nbss.called_name")
	if !strings.Contains(req, "MSGHOST<03>") {
		t.Errorf("smbclient did not send a session request for MSGHOST<03>: %q", req)
	}

	// On 139 the session request must come first, as smbd requires: a
	// Windows-shaped 0xD0 without one gets a negative session response
	// (unspecified error) and is not stored.
	replies := rawExchange(t, d.addr(), unhex(t, docSendMessage))
	if want := []byte{0x83, 0, 0, 1, 0x8F}; !bytes.Equal(replies[0], want) {
		t.Errorf("SMB before the session request on 139: answer % x, want % x", replies[0], want)
	}
	if msgs := d.inbox(); len(msgs) != 1 {
		t.Errorf("inbox %+v, want only smbclient's message", msgs)
	}
}
