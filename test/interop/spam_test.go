package interop

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/netsend/messenger/internal/message"
	"github.com/netsend/messenger/internal/netbios"
	"github.com/netsend/messenger/internal/smb"
	"github.com/netsend/messenger/internal/transport/smbmsg"
)

// smbSend sends one message over its own session from source.
func smbSend(d *daemon, source netip.Addr, from, to, text string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	called, _ := netbios.NewName(to, 0x03)
	calling, _ := netbios.NewName("SENDER", 0)
	c, err := smbmsg.DialFrom(ctx, source, d.addr(), called, calling)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	return c.SendSingle([]byte(from), []byte(to), []byte(text))
}

// mailslotDatagram builds a MESSNGR broadcast datagram, as net send *.
func mailslotDatagram(t testing.TB, from, to, text string) []byte {
	t.Helper()
	data, err := smb.AppendMessengerPayload(nil, smb.MessengerPayload{From: []byte(from), To: []byte(to), Text: []byte(text)})
	if err != nil {
		t.Fatal(err)
	}
	w, err := smb.AppendMailslotWrite(nil, smb.Header{}, smb.MailslotWrite{Name: smb.MessengerMailslot, Priority: 1, Class: 2, Data: data})
	if err != nil {
		t.Fatal(err)
	}
	src, _ := netbios.NewName("SPAMHOST", 0)
	b, err := netbios.AppendDatagram(nil, netbios.Datagram{Type: netbios.BroadcastDatagram, Flags: netbios.DatagramFirst, ID: 7,
		SourceIP: netip.MustParseAddr("127.0.0.1"), SourcePort: 138, Source: src, Destination: netbios.WildcardName(), Data: w})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeConfig(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

func (d *daemon) spamList() []message.Message {
	d.t.Helper()
	out, err := d.cli("spam", "list", "--json")
	if err != nil {
		d.t.Fatal(err)
	}
	return jsonMessages(d.t, "spam list --json", out)
}

// The verbs end to end: a rule quarantines, explain says why, release
// delivers, block and trust apply at once and survive a restart, and a
// reload with a bad rule keeps the old policy and names the line.
func TestSpamVerbs(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "m.toml")
	writeConfig(t, conf, "[policy]\n[[policy.rule]]\nname = \"pills\"\ntext = \"(?i)viagra\"\naction = \"quarantine\"\n")
	dataDir := t.TempDir()
	d := startDaemon(t, dataDir, "--config", conf)
	lo := netip.MustParseAddr("127.0.0.1")

	if err := smbSend(d, lo, "ALICE", "MSGHOST", "Cheap Viagra here"); err != nil {
		t.Fatalf("quarantined message not acknowledged: %v", err)
	}
	q := d.spamList()
	if len(q) != 1 || q[0].Rule != "pills" || q[0].From != "ALICE" || q[0].Transport != "smb" || !strings.HasPrefix(q[0].Source, "127.0.0.1:") {
		t.Fatalf("spam list = %+v", q)
	}
	if len(d.inbox()) != 0 {
		t.Fatal("a quarantined message is in the inbox")
	}
	out, err := d.cli("spam", "explain", strconv.FormatInt(q[0].ID, 10))
	if err != nil || !strings.Contains(out, "rule:    pills") || !strings.Contains(out, `text "Viagra" matched "(?i)viagra"`) {
		t.Fatalf("spam explain: %v\n%s", err, out)
	}
	if _, err := d.cli("spam", "release", strconv.FormatInt(q[0].ID, 10)); err != nil {
		t.Fatal(err)
	}
	if in := d.inbox(); len(in) != 1 || in[0].State != message.StateUnread || in[0].Text != "Cheap Viagra here" {
		t.Fatalf("after release, inbox = %+v", in)
	}
	waitFor(t, 5*time.Second, func() string {
		if strings.Contains(d.stdout.String(), "Cheap Viagra here") {
			return ""
		}
		return "released message not shown by the pop-up sink"
	})
	if _, err := d.cli("spam", "release", strconv.FormatInt(q[0].ID, 10)); err == nil {
		t.Error("releasing a delivered message succeeded")
	}

	if out, err := d.cli("spam", "block", "mallory"); err != nil || out != "block: MALLORY\n" {
		t.Fatalf("spam block: %v %q", err, out)
	}
	if err := smbSend(d, lo, "Mallory", "MSGHOST", "hello"); err == nil {
		t.Error("a blocked sender's message was acknowledged")
	}
	if _, err := d.cli("spam", "trust", "MALLORY"); err == nil {
		t.Error("trusting a blocked sender was accepted")
	}
	if _, err := d.cli("spam", "trust", "127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.cli("spam", "block", "10.0.0.0/33"); err == nil {
		t.Error("a bad CIDR was accepted")
	}

	// A bad rule: refused with the line, the old policy stays.
	writeConfig(t, conf, "[policy]\n[[policy.rule]]\nname = \"pills\"\ntext = \"(?i)viagra\"\naction = \"vaporise\"\n")
	if _, err := d.cli("spam", "reload"); err == nil || !strings.Contains(err.Error(), conf+":5:") {
		t.Fatalf("reload of a bad rule: %v", err)
	}
	d.cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, 5*time.Second, func() string {
		if strings.Count(d.stderr.String(), "policy reload refused") >= 2 {
			return ""
		}
		return "SIGHUP with a bad rule not refused in the log:\n" + d.stderr.String()
	})
	// Trusted 127.0.0.1 beats the pills rule; the rule still holds for others.
	if err := smbSend(d, lo, "BOB", "MSGHOST", "viagra, trusted"); err != nil {
		t.Fatal(err)
	}
	if err := smbSend(d, netip.MustParseAddr("127.0.0.2"), "BOB", "MSGHOST", "viagra from elsewhere"); err != nil {
		t.Fatal(err)
	}
	if q := d.spamList(); len(q) != 1 || q[0].Text != "viagra from elsewhere" {
		t.Fatalf("old policy not in force after the refused reload: %+v", q)
	}

	// SIGHUP with a good file: the new rule drops.
	writeConfig(t, conf, "[policy]\n[[policy.rule]]\nname = \"pills\"\ntext = \"(?i)viagra\"\naction = \"drop\"\n")
	d.cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, 5*time.Second, func() string {
		if strings.Contains(d.stderr.String(), "policy reloaded") {
			return ""
		}
		return "no reload logged"
	})
	if err := smbSend(d, netip.MustParseAddr("127.0.0.2"), "BOB", "MSGHOST", "more viagra"); err == nil {
		t.Error("message the reloaded rule drops was acknowledged")
	}
	if m := d.metrics(); !strings.Contains(m, `messenger_policy_decisions_total{rule="pills",verdict="drop"} 1`) {
		t.Errorf("metrics lack the drop by pills:\n%s", grepLines(m, "policy_decisions"))
	}

	// Run-time entries survive a restart (from elsewhere: 127.0.0.1 is
	// trusted now, and trust comes before blocks).
	d.stop()
	d = startDaemon(t, dataDir, "--config", conf)
	if err := smbSend(d, netip.MustParseAddr("127.0.0.3"), "MALLORY", "MSGHOST", "still blocked?"); err == nil {
		t.Error("block forgotten across a restart")
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func rssKB(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

func freeUDPPortFlood(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}
