package interop

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A real local user's API token subscribes, with curl as ntfy clients
// do, to her name on the ingest listener: a poll returns her message as
// a message event, her token is refused for bob's name, and a live
// stream delivers a message sent after it opened.
func TestNtfySubscribeAsLocalUser(t *testing.T) {
	requireRoot(t, "makes local accounts with useradd")
	curl := requirePeer(t, "curl")
	requirePeer(t, "setpriv")
	alice, bob := addAccount(t, testLogin("alice")), addAccount(t, testLogin("bob"))
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	conf := filepath.Join(t.TempDir(), "messenger.toml")
	if err := os.WriteFile(conf, []byte("[alert]\ningest_addr = \""+addr+"\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, sharedDir(t), "--config", conf)
	d.addAlias("MSGT_ALICE", alice.login)
	d.addAlias("MSGT_BOB", bob.login)
	smbclientSend(t, d, "MSGT_ALICE", "carol", []byte("for alice only\n"))
	smbclientSend(t, d, "MSGT_BOB", "carol", []byte("for bob only\n"))
	waitUntil(t, "both messages stored", func() bool { return len(d.inbox()) == 2 })

	out, stderr, code := d.cliAs(alice, "token", "create", "phone")
	token := strings.TrimSpace(out)
	if code != 0 || token == "" {
		t.Fatalf("token create as alice: %d %q %s", code, out, stderr)
	}
	base := "http://" + addr
	curlGet := func(path string, args ...string) (int, string) {
		t.Helper()
		cmd := exec.Command(curl, append([]string{"-sS", "-m", "10", "-o", "-", "-w", "\n%{http_code}", base + path}, args...)...)
		b, err := cmd.Output()
		if err != nil {
			t.Fatalf("curl %s: %v", path, err)
		}
		s := string(b)
		i := strings.LastIndexByte(s, '\n')
		n, _ := strconv.Atoi(s[i+1:])
		return n, s[:i]
	}

	status, body := curlGet("/msgt_alice/json?poll=1", "-H", "Authorization: Bearer "+token)
	var ev struct {
		Event, Topic, Message string
		Priority              int
	}
	if status != 200 || json.Unmarshal([]byte(strings.TrimSpace(body)), &ev) != nil ||
		ev.Event != "message" || ev.Topic != "msgt_alice" || !strings.Contains(ev.Message, "for alice only") || ev.Priority != 3 {
		t.Fatalf("alice's poll: %d %q", status, body)
	}
	// ntfy's "-u :TOKEN" form too.
	if status, body := curlGet("/MSGT_ALICE/raw?poll=1", "-u", ":"+token); status != 200 || !strings.Contains(body, "for alice only") {
		t.Errorf("poll with basic auth: %d %q", status, body)
	}
	if status, body := curlGet("/MSGT_BOB/json?poll=1", "-H", "Authorization: Bearer "+token); status != 403 || strings.Contains(body, "bob only") {
		t.Errorf("alice's token for bob's name: %d %q, want 403 without his message", status, body)
	}
	if status, _ := curlGet("/MSGT_ALICE/json?poll=1"); status != 401 {
		t.Errorf("no token: %d, want 401", status)
	}

	// A live stream: open, then only what is sent after it opened.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, curl, "-sSN", base+"/MSGT_ALICE/json", "-H", "Authorization: Bearer "+token)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cancel()
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() || !strings.Contains(lines.Text(), `"event":"open"`) {
		t.Fatalf("stream's first line %q, want open", lines.Text())
	}
	smbclientSend(t, d, "MSGT_ALICE", "carol", []byte("sent while streaming\n"))
	for lines.Scan() {
		if strings.Contains(lines.Text(), `"event":"message"`) {
			if !strings.Contains(lines.Text(), "sent while streaming") {
				t.Fatalf("stream sent %q, want only the new message", lines.Text())
			}
			return
		}
	}
	t.Fatalf("stream ended without the message: %v", lines.Err())
}
