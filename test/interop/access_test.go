package interop

import (
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/netsend/messenger/internal/message"
)

func textsOf(msgs []message.Message) []string {
	var out []string
	for _, m := range msgs {
		out = append(out, strings.TrimSpace(m.Text))
	}
	return out
}

// TestTwoUsersEachReadTheirOwn is the permission model end to end, with
// real accounts: alice and bob each read their own messages and the
// host's; neither reads, marks or deletes the other's, sends under a name
// not theirs, or changes the spam policy; what they send carries their
// login; loopback HTTP without a credential leaks nothing; and nothing in
// the data directory is readable by other accounts.
func TestTwoUsersEachReadTheirOwn(t *testing.T) {
	requireRoot(t, "creating local accounts")
	alice := addAccount(t, "msgt_alice")
	bob := addAccount(t, "msgt_bob")
	dataDir := sharedDir(t)
	port := freePort(t)
	d := startDaemon(t, dataDir, "--http-addr", "127.0.0.1:"+strconv.Itoa(port))

	// The names: each login's, an alias given to bob, and the host's.
	for _, args := range [][]string{{"name", "add", "MSGT_ALICE"}, {"name", "add", "MSGT_BOB"}, {"name", "add", "OPSDESK", "--user", "msgt_bob"}} {
		if out, err := d.cli(args...); err != nil {
			t.Fatalf("%v: %v", args, err)
		} else if args[2] == "OPSDESK" && !strings.Contains(out, "owned by msgt_bob") {
			t.Errorf("name add --user: %q", out)
		}
	}
	smbclientSend(t, d, "MSGT_ALICE", "peer", []byte("for alice\n"))
	smbclientSend(t, d, "MSGT_BOB", "peer", []byte("for bob\n"))
	smbclientSend(t, d, "OPSDESK", "peer", []byte("for the desk\n"))
	smbclientSend(t, d, "MSGHOST", "peer", []byte("for the host\n"))

	read := func(a account) []string {
		t.Helper()
		out, errOut, code := d.cliAs(a, "inbox", "--json")
		mustCode(t, a.login+" inbox", out, errOut, code, 0)
		return textsOf(jsonMessages(t, "inbox --json", out))
	}
	if got, want := read(alice), []string{"for alice", "for the host"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("alice reads %q, want %q", got, want)
	}
	if got, want := read(bob), []string{"for bob", "for the desk", "for the host"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("bob reads %q, want %q", got, want)
	}
	all := d.inbox()
	if len(all) != 4 {
		t.Fatalf("root reads %d messages, want all 4", len(all))
	}
	var bobsID string
	for _, m := range all {
		if strings.TrimSpace(m.Text) == "for bob" {
			bobsID = strconv.FormatInt(m.ID, 10)
		}
	}

	// Refused, and nothing changes.
	for _, tc := range []struct {
		what string
		args []string
	}{
		{"read bob's message", []string{"read", bobsID}},
		{"delete bob's message", []string{"delete", bobsID}},
		{"send as ADMINISTRATOR", []string{"send", "--from", "ADMINISTRATOR", "MSGHOST", "password expires"}},
		{"send as bob", []string{"send", "--from", "msgt_bob", "MSGHOST", "it is me"}},
		{"block a sender", []string{"spam", "block", "MSGHOST"}},
		{"trust everyone", []string{"spam", "trust", "0.0.0.0/0"}},
		{"reload the policy", []string{"spam", "reload"}},
		{"list the quarantine", []string{"spam", "list"}},
		{"add a name", []string{"name", "add", "GRABBED"}},
		{"delete a name", []string{"name", "del", "OPSDESK"}},
	} {
		out, errOut, code := d.cliAs(alice, tc.args...)
		mustCode(t, "alice may not "+tc.what, out, errOut, code, 7)
		if !strings.Contains(errOut, "msgt_alice may not") || strings.Count(strings.TrimSpace(errOut), "\n") > 0 {
			t.Errorf("alice may not %s: refusal %q is not one sentence naming her", tc.what, errOut)
		}
	}
	after := d.inbox()
	if len(after) != 4 {
		t.Fatalf("after the refusals root reads %d messages, want the same 4", len(after))
	}
	for _, m := range after {
		if strings.TrimSpace(m.Text) == "for bob" && m.State != message.StateUnread {
			t.Errorf("bob's message is %s after alice's refused read", m.State)
		}
	}
	names, _ := d.cli("name")
	if strings.Contains(names, "GRABBED") || !strings.Contains(names, "OPSDESK") {
		t.Errorf("names changed by refused verbs:\n%s", names)
	}

	// Her own send is stored from her login, with her account.
	out, errOut, code := d.cliAs(alice, "send", "MSGT_BOB", "lunch?")
	mustCode(t, "alice sends to bob", out, errOut, code, 0)
	var sent *message.Message
	for _, m := range d.inbox() {
		if m.Text == "lunch?" {
			sent = &m
		}
	}
	if sent == nil || !strings.EqualFold(sent.From, "msgt_alice") || sent.LocalUser != "msgt_alice" {
		t.Fatalf("alice's message stored as %+v, want from and local_user msgt_alice", sent)
	}
	if got := read(bob); !strings.Contains(strings.Join(got, "|"), "lunch?") {
		t.Errorf("bob does not read alice's message: %q", got)
	}
	// Under a name given to him, bob may send.
	out, errOut, code = d.cliAs(bob, "send", "--from", "OPSDESK", "MSGHOST", "desk says hi")
	mustCode(t, "bob sends as his alias", out, errOut, code, 0)

	// Loopback HTTP without a credential: the health answer only.
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	c := &http.Client{Timeout: 5 * time.Second}
	for _, path := range []string{"/v1/messages", "/v1/events?after=0", "/v1/messages/" + bobsID, "/v1/spam", "/v1/status"} {
		resp, err := c.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || strings.Contains(string(body), "for ") {
			t.Errorf("GET %s without a credential: %s %q", path, resp.Status, body)
		}
	}
	resp, err := c.Post(base+"/v1/send", "application/json", strings.NewReader(`{"to":"MSGHOST","text":"anonymous","from":"ADMINISTRATOR"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		t.Errorf("POST /v1/send without a credential: %s", resp.Status)
	}
	if resp, err := c.Get(base + "/v1/health"); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("GET /v1/health: %v %v", resp, err)
	}

	// No file of the daemon's is open to group or others; the directory
	// lets accounts through to the socket, and no further.
	fi, err := os.Stat(dataDir)
	if err != nil || fi.Mode().Perm() != 0o711 {
		t.Errorf("data directory mode %v, %v; want 0711", fi.Mode().Perm(), err)
	}
	filepath.WalkDir(dataDir, func(path string, e fs.DirEntry, err error) error {
		if err != nil || path == dataDir || e.Type()&fs.ModeSocket != 0 {
			return err
		}
		info, _ := e.Info()
		if info.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s is mode %v: readable beyond the daemon's account", path, info.Mode().Perm())
		}
		return nil
	})
}

// TestHostMessagesForAdminsOnly: with host_messages = "admins" a user
// reads only her own names' messages; an admin-group member reads all
// and may change the policy.
func TestHostMessagesForAdminsOnly(t *testing.T) {
	requireRoot(t, "creating local accounts")
	addGroup(t, "msgt_admins")
	alice := addAccount(t, "msgt_alice")
	carol := addAccount(t, "msgt_carol", "msgt_admins")
	dataDir := sharedDir(t)
	conf := filepath.Join(t.TempDir(), "messenger.toml")
	if err := os.WriteFile(conf, []byte("[access]\nadmin_group = \"msgt_admins\"\nhost_messages = \"admins\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, dataDir, "--config", conf)
	if _, err := d.cli("name", "add", "MSGT_ALICE"); err != nil {
		t.Fatal(err)
	}
	smbclientSend(t, d, "MSGT_ALICE", "peer", []byte("for alice\n"))
	smbclientSend(t, d, "MSGHOST", "peer", []byte("for the host\n"))
	out, errOut, code := d.cliAs(alice, "inbox", "--json")
	mustCode(t, "alice inbox", out, errOut, code, 0)
	if got := textsOf(jsonMessages(t, "inbox --json", out)); strings.Join(got, "|") != "for alice" {
		t.Errorf("alice reads %q with host_messages = admins, want only hers", got)
	}
	out, errOut, code = d.cliAs(carol, "inbox", "--json")
	mustCode(t, "carol inbox", out, errOut, code, 0)
	if got := textsOf(jsonMessages(t, "inbox --json", out)); len(got) != 2 {
		t.Errorf("carol, an admin by group, reads %q, want both", got)
	}
	out, errOut, code = d.cliAs(carol, "spam", "block", "SPAMMER")
	mustCode(t, "carol blocks a sender", out, errOut, code, 0)
}
