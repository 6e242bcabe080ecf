package interop

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// waitUntil polls cond until it holds or the deadline passes.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The hook sink, switched on in the configuration file, runs its program
// with the message in argv and stdin, only for the names it is set for.
func TestHookSinkFromConfig(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	if err := os.Mkdir(out, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "messenger.toml")
	if err := os.WriteFile(conf, []byte(`names = ["HELPDESK"]
[sinks.hook]
enabled = true
command = ["/usr/bin/tee", "`+out+`/{to}-{id}.txt"]
timeout = "5s"
names = ["helpdesk"]
`), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, "", "--config", conf)
	smbclientSend(t, d, "MSGHOST", "alice", []byte("not for the hook\n"))
	smbclientSend(t, d, "HELPDESK", "alice", []byte("$(touch /tmp/pwned) <b>hi</b>\n"))
	var got []byte
	waitUntil(t, "the hook's output", func() bool {
		var err error
		got, err = os.ReadFile(filepath.Join(out, "HELPDESK-2.txt"))
		return err == nil && len(got) > 0
	})
	if !strings.Contains(string(got), "$(touch /tmp/pwned) <b>hi</b>") {
		t.Errorf("hook stdin = %q", got)
	}
	entries, _ := os.ReadDir(out)
	if len(entries) != 1 {
		t.Errorf("hook ran %d times; want once (only for HELPDESK)", len(entries))
	}
}
