package interop

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
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

// The loopback HTTP listener serves the web page with its security
// headers, and the event stream shows a message smbclient sends, both to
// a holder of an API token (here root's).
func TestWebPageAndEventStream(t *testing.T) {
	port := freePort(t)
	d := startDaemon(t, "", "--http-addr", "127.0.0.1:"+strconv.Itoa(port))
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	token, err := d.cli("token", "create", "web-test")
	if err != nil {
		t.Fatal(err)
	}
	bearer := "Bearer " + strings.TrimSpace(token)
	req, _ := http.NewRequest("GET", base+"/", nil)
	req.Header.Set("Authorization", bearer)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), "/app.js") ||
		!strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Fatalf("GET /: %s %q\n%s", resp.Status, resp.Header, page)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ = http.NewRequestWithContext(ctx, "GET", base+"/v1/events?after=0", nil)
	req.Header.Set("Authorization", bearer)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("events content type %q", ct)
	}
	smbclientSend(t, d, "MSGHOST", "alice", []byte("<img src=x onerror=alert(1)> live\n"))
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "data: ") && strings.Contains(sc.Text(), "live") {
			if !strings.Contains(sc.Text(), `"from":"alice"`) && !strings.Contains(sc.Text(), `"from":"ALICE"`) {
				t.Errorf("event %q", sc.Text())
			}
			return
		}
	}
	t.Fatalf("no message event: %v", sc.Err())
}
