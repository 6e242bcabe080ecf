package interop

import (
	"encoding/json"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/netsend/messenger/internal/apitype"
)

// Issue 20, item 2: what "spam block" adds is listed and undone, and
// unblocking restores delivery; the configuration file's entries are
// listed but not removable at run time.
func TestSpamEntriesUnblock(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "m.toml")
	writeConfig(t, conf, "[policy]\nblock_senders = [\"SPAMMER\"]\n")
	d := startDaemon(t, "", "--config", conf)
	lo := netip.MustParseAddr("127.0.0.1")

	if _, err := d.cli("spam", "block", "mallory"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.cli("spam", "block", "192.0.2.0/24"); err != nil {
		t.Fatal(err)
	}
	out, err := d.cli("spam", "entries", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var e apitype.PolicyEntry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("spam entries --json line %q: %v", line, err)
		}
		got = append(got, e.List+" "+e.Value+" "+e.Origin)
	}
	if want := "block SPAMMER config|block MALLORY runtime|block 192.0.2.0/24 runtime"; strings.Join(got, "|") != want {
		t.Errorf("spam entries = %q, want %q", strings.Join(got, "|"), want)
	}
	if out, err := d.cli("spam", "entries"); err != nil || !strings.Contains(out, "LIST") || !strings.Contains(out, "MALLORY") {
		t.Errorf("spam entries table: %v\n%s", err, out)
	}

	if err := smbSend(d, lo, "MALLORY", "MSGHOST", "blocked one"); err == nil {
		t.Error("a blocked sender's message was acknowledged")
	}
	if out, err := d.cli("spam", "unblock", "Mallory"); err != nil || out != "MALLORY is no longer on the block list.\n" {
		t.Fatalf("spam unblock: %v %q", err, out)
	}
	if err := smbSend(d, lo, "MALLORY", "MSGHOST", "welcome back"); err != nil {
		t.Fatalf("after unblock: %v", err)
	}
	if in := d.inbox(); len(in) != 1 || in[0].Text != "welcome back" {
		t.Fatalf("inbox after unblock = %+v", in)
	}
	if _, err := d.cli("spam", "unblock", "192.0.2.0/24"); err != nil {
		t.Errorf("unblock of a network: %v", err)
	}
	// Not there, or the file's: refused, and the refusal says why.
	if _, err := d.cli("spam", "unblock", "mallory"); err == nil || !strings.Contains(err.Error(), "not on the block list") {
		t.Errorf("second unblock: %v", err)
	}
	if _, err := d.cli("spam", "untrust", "nobody"); err == nil || !strings.Contains(err.Error(), "not on the trust list") {
		t.Errorf("untrust of nothing: %v", err)
	}
	if _, err := d.cli("spam", "unblock", "spammer"); err == nil || !strings.Contains(err.Error(), "configuration file "+conf) {
		t.Errorf("unblock of a configuration entry: %v", err)
	}
	if out, err := d.cli("spam", "trust", "friend", "--json"); err != nil || out != `{"list":"trust","value":"FRIEND"}`+"\n" {
		t.Fatalf("spam trust --json: %v %q", err, out)
	}
	if out, err := d.cli("spam", "untrust", "friend"); err != nil || !strings.Contains(out, "FRIEND is no longer on the trust list") {
		t.Errorf("untrust: %v %q", err, out)
	}
}

// Issue 20, item 3: spam reload says what it did, refuses a --config the
// daemon does not read and a daemon without a file, and delete and
// release say what they did.
func TestSpamReloadSaysWhat(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "m.toml")
	writeConfig(t, conf, "[policy]\n[[policy.rule]]\nname = \"pills\"\ntext = \"(?i)viagra\"\naction = \"quarantine\"\n")
	d := startDaemon(t, "", "--config", conf)

	if out, err := d.cli("spam", "reload"); err != nil || out != "Policy reloaded from "+conf+": 1 rules in force.\n" {
		t.Errorf("spam reload: %v %q", err, out)
	}
	if out, err := d.cli("--config", conf, "spam", "reload"); err != nil || !strings.Contains(out, "Policy reloaded") {
		t.Errorf("spam reload with the daemon's own --config: %v %q", err, out)
	}
	other := filepath.Join(t.TempDir(), "policy.toml")
	writeConfig(t, other, "[policy]\n")
	if _, err := d.cli("--config", other, "spam", "reload"); err == nil ||
		!strings.Contains(err.Error(), "reloads the daemon's own configuration file ("+conf+")") {
		t.Errorf("spam reload of another file: %v", err)
	}
	if _, err := d.cli("--config", "/nonexistent/policy.toml", "spam", "reload"); err == nil ||
		!strings.Contains(err.Error(), "/nonexistent/policy.toml") {
		t.Errorf("spam reload with a missing --config: %v", err)
	}

	lo := netip.MustParseAddr("127.0.0.1")
	if err := smbSend(d, lo, "ALICE", "MSGHOST", "viagra"); err != nil {
		t.Fatal(err)
	}
	q := d.spamList()
	if len(q) != 1 {
		t.Fatalf("quarantine = %+v", q)
	}
	id := strconv.FormatInt(q[0].ID, 10)
	if out, err := d.cli("spam", "release", id); err != nil || out != "Message "+id+" released: delivered to MSGHOST.\n" {
		t.Errorf("spam release: %v %q", err, out)
	}
	if out, err := d.cli("delete", id); err != nil || out != "Message "+id+" deleted.\n" {
		t.Errorf("delete: %v %q", err, out)
	}
	if out, err := d.cli("spam", "reload", "--json"); err != nil || out != `{"status":"reloaded","config":"`+conf+`","rules":1}`+"\n" {
		t.Errorf("spam reload --json: %v %q", err, out)
	}

	// --via to a name of this host: an error, not a silent local delivery.
	if out, errOut, code := d.send("", "MSGHOST", "--via", "smb", "hi"); code != 2 || !strings.Contains(errOut, "name of this host") {
		t.Errorf("send --via smb to our own name: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}

	// A daemon on its embedded defaults: nothing to reload, and it says so.
	bare := startDaemon(t, "")
	cmd := exec.Command(binary, "--data-dir", bare.dataDir, "spam", "reload")
	cmd.Env = append(os.Environ(), "MESSENGER_CONFIG=", "XDG_CONFIG_HOME="+t.TempDir())
	b, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(b), "has no configuration file to reload") {
		t.Errorf("spam reload on defaults: %v %q", err, b)
	}
}
