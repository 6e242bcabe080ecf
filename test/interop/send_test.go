package interop

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// sendCLI runs `messenger send` against daemon d and returns its output
// and exit status.
func (d *daemon) send(stdin string, args ...string) (stdout, stderr string, code int) {
	d.t.Helper()
	cmd := exec.Command(binary, append([]string{"--data-dir", d.dataDir, "send"}, args...)...)
	if d.netns != "" {
		cmd = exec.Command("ip", append([]string{"netns", "exec", d.netns, binary, "--data-dir", d.dataDir, "send"}, args...)...)
	}
	cmd.Stdin = strings.NewReader(stdin)
	return runExit(d.t, cmd)
}

// smbdReceiver is Samba's smbd as a WinPopup receiver on a loopback high
// port; each message it accepts becomes one file in msgDir.
type smbdReceiver struct {
	port   int
	msgDir string
	peer   *sambaPeer
}

func startSmbdReceiver(t *testing.T, ns, iface, netbiosName string, port int, withNmbd bool) *smbdReceiver {
	t.Helper()
	requireRoot(t, "running smbd")
	dir := t.TempDir()
	r := &smbdReceiver{port: port, msgDir: filepath.Join(dir, "msgs")}
	portLine := ""
	if port != 139 {
		portLine = "smb ports = " + strconv.Itoa(port)
	}
	// The message command moves smbd's temporary file (the text, already
	// converted from the dos charset) into msgDir: one file per message,
	// its bytes exactly what smbd received.
	conf := writeSambaConf(t, dir, netbiosName, iface, portLine, "dos charset = CP850",
		"message command = /bin/mv %s "+r.msgDir+"/")
	daemons := []string{"smbd"}
	if withNmbd {
		daemons = append(daemons, "nmbd")
	}
	r.peer = startSamba(t, ns, conf, daemons...)
	return r
}

// messages waits until smbd has written want messages and returns them,
// oldest first.
func (r *smbdReceiver) messages(t *testing.T, want int) []string {
	t.Helper()
	var out []string
	waitFor(t, 15*time.Second, func() string {
		entries, _ := os.ReadDir(r.msgDir)
		if len(entries) < want {
			return strconv.Itoa(len(entries)) + " messages in smbd's directory, want " + strconv.Itoa(want) + "\nsmbd log:\n" + r.peer.log()
		}
		sort.Slice(entries, func(i, j int) bool {
			a, _ := entries[i].Info()
			b, _ := entries[j].Info()
			return a.ModTime().Before(b.ModTime())
		})
		out = out[:0]
		for _, e := range entries {
			b, _ := os.ReadFile(filepath.Join(r.msgDir, e.Name()))
			out = append(out, string(b))
		}
		return ""
	})
	return out
}

func TestSendToSmbd(t *testing.T) {
	requirePeer(t, "smbd")
	port := freePort(t)
	smbd := startSmbdReceiver(t, "", "lo", "SMBPEER", port, false)
	waitFor(t, 15*time.Second, func() string {
		if c, err := netDial("127.0.0.1:" + strconv.Itoa(port)); err != nil {
			return err.Error() + "\nsmbd log:\n" + smbd.peer.log()
		} else {
			c.Close()
		}
		return ""
	})
	d := startDaemon(t, "")
	var long strings.Builder
	for i := 1; long.Len() < 700; i++ {
		long.WriteString("Line " + strconv.Itoa(i) + " of a message long enough for several blocks.\n")
	}
	texts := []string{
		"Hello smbd, from messenger send",
		strings.TrimRight(long.String(), "\n"),
		"Grüße aus Köln: élève, garçon, Ærø, ½ × ±",
	}
	for i, text := range texts {
		out, errOut, code := d.send(text, "SMBPEER", "--from", "alice", "--address", "127.0.0.1:"+strconv.Itoa(port))
		if code != 0 || !strings.Contains(out, "The message was successfully sent to SMBPEER.") {
			t.Fatalf("send %d: exit %d\n%s%s", i, code, out, errOut)
		}
	}
	got := smbd.messages(t, len(texts))
	for i, want := range texts {
		if got[i] != want {
			t.Errorf("smbd received %q\nwant byte-exact %q", got[i], want)
		}
	}
}

func TestSendToOurDaemon(t *testing.T) {
	recv := startDaemon(t, "", "--host-name", "RECEIVER", "--name", "OPS")
	lmhosts := filepath.Join(t.TempDir(), "lmhosts")
	os.WriteFile(lmhosts, []byte("127.0.0.1  RECEIVER\n127.0.0.1 OPS #PRE\n"), 0o644)
	snd := startDaemon(t, "", "--host-name", "SENDER", "--lmhosts", lmhosts, "--resolve-order", "lmhosts",
		"--send-smb-port", strconv.Itoa(recv.smbPort))

	// Resolved through lmhosts; a short text goes as 0xD0, a long one
	// multi-block, and line breaks arrive as line breaks.
	long := strings.Repeat("A longer line for the multi-block path.\n", 10)
	cases := []struct{ to, text string }{
		{"receiver", "short one\nwith a line break"},
		{"OPS", strings.TrimRight(long, "\n")},
		{"RECEIVER", "Zoë über alles"},
	}
	for _, c := range cases {
		out, errOut, code := snd.send(c.text, c.to, "--from", "bob", "--source", "127.0.0.1")
		if code != 0 {
			t.Fatalf("send to %s: exit %d\n%s%s", c.to, code, out, errOut)
		}
	}
	msgs := recv.inbox()
	if len(msgs) != len(cases) {
		t.Fatalf("receiver has %d messages, want %d: %+v", len(msgs), len(cases), msgs)
	}
	for i, c := range cases {
		if msgs[i].Text != c.text || msgs[i].From != "bob" || !strings.EqualFold(msgs[i].To, c.to) {
			t.Errorf("message %d = %+v, want from bob to %s text %q", i, msgs[i], c.to, c.text)
		}
	}

	// Failures say what net send said, with distinct exit statuses.
	for _, tc := range []struct {
		name  string
		args  []string
		stdin string
		code  int
		want  string
	}{
		{"unknown name", []string{"NOBODY", "hi"}, "", 3, "The message alias could not be found on the network."},
		{"name the receiver lacks", []string{"NOBODY", "--address", "127.0.0.1:" + strconv.Itoa(recv.smbPort), "hi"}, "", 3, "could not be found"},
		{"closed port", []string{"RECEIVER", "--address", "127.0.0.1:" + strconv.Itoa(freePort(t)), "hi"}, "", 4, "not accepting messages"},
		{"character outside the code page", []string{"RECEIVER", "smile ☺"}, "", 2, "U+263A"},
		{"too long", []string{"RECEIVER"}, strings.Repeat("x", 2000), 2, "limit is 1600"},
		{"broadcast too long", []string{"*", strings.Repeat("y", 129)}, "", 2, "at most 128 characters"},
		{"no text", []string{"RECEIVER"}, "", 2, "empty"},
		{"source not ours", []string{"RECEIVER", "--source", "192.0.2.77", "hi"}, "", 2, "not an address of this host"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := snd.send(tc.stdin, tc.args...)
			if code != tc.code || !strings.Contains(out+errOut, tc.want) {
				t.Errorf("exit %d, output %q%q; want exit %d mentioning %q", code, out, errOut, tc.code, tc.want)
			}
		})
	}
	if n := len(recv.inbox()); n != len(cases) {
		t.Errorf("failed sends stored something: %d messages", n)
	}
	// A message to a name of the sender's own host is stored there.
	if _, _, code := snd.send("note to self", "sender"); code != 0 {
		t.Errorf("send to our own name: exit %d", code)
	}
	if m := snd.inbox(); len(m) != 1 || m[0].Text != "note to self" {
		t.Errorf("own inbox %+v", m)
	}
}
