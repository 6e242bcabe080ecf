package interop

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/netsend/messenger/internal/syncbuf"
)

// serveAsync starts cmd and returns its output once it exits.
func serveAsync(t *testing.T, cmd *exec.Cmd) (out *syncbuf.Buffer, done <-chan error) {
	t.Helper()
	out = &syncbuf.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ch := make(chan error, 1)
	go func() { ch <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
		}
	})
	return out, ch
}

// statusOf is `messenger status` (or another verb) of the daemon at dataDir.
func statusOf(dataDir string, verb ...string) string {
	out, _ := exec.Command(binary, append([]string{"--data-dir", dataDir}, verb...)...).CombinedOutput()
	return string(out)
}

// A machine whose host name is longer than NetBIOS allows runs under
// its first 15 characters, and says so. The host name is the test's own,
// in a UTS namespace it makes.
func TestLongHostNameIsCut(t *testing.T) {
	requireRoot(t, "unshare --uts")
	requirePeer(t, "unshare")
	data := t.TempDir()
	port := freePort(t)
	cmd := exec.Command("unshare", "--uts", "sh", "-c", `hostname web-server-prod-01 && exec "$@"`, "sh",
		binary, "serve", "--config", "/dev/null", "--data-dir", data, "--bind", "127.0.0.1", "--smb-port", strconv.Itoa(port),
		"--nbns-port", "0", "--dgram-port", "0", "--rpc-port", "0", "--http-addr", "", "--hub-listen", "",
		"--user-names=false", "--popup=false")
	out, _ := serveAsync(t, cmd)
	waitFor(t, 30*time.Second, func() string {
		if s := statusOf(data, "status"); !strings.Contains(s, "WEB-SERVER-PROD") {
			return "status: " + s + "\nserve: " + out.String()
		}
		return ""
	})
	if s := statusOf(data, "status"); strings.Contains(s, "WEB-SERVER-PROD-01") {
		t.Errorf("status shows the uncut name:\n%s", s)
	}
	if !strings.Contains(out.String(), "host name WEB-SERVER-PROD-01 is longer than NetBIOS allows; using WEB-SERVER-PROD") {
		t.Errorf("the start log does not say the name was cut:\n%s", out)
	}
	// An explicit name that is too long is still an error naming the flag.
	bad, err := exec.Command(binary, "serve", "--config", "/dev/null", "--data-dir", t.TempDir(), "--host-name", "web-server-prod-01").CombinedOutput()
	if err == nil || !strings.Contains(string(bad), "--host-name") {
		t.Errorf("--host-name web-server-prod-01: %v\n%s", err, bad)
	}
}

// An ordinary account runs the daemon with --user-ports alone, in a
// network namespace the test makes (the name service broadcasts); status
// and hub status show the ports it really has. A second daemon on the
// same ports fails at once, naming the flag.
func TestUserPortsAsAnAccount(t *testing.T) {
	n := newTestNet(t)
	acct := addAccount(t, "msguserports")
	data := sharedDir(t)
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(data, acct.uid, acct.gid); err != nil {
		t.Fatal(err)
	}
	inNS := func(c *exec.Cmd) *exec.Cmd {
		x := exec.Command("ip", append([]string{"netns", "exec", n.A}, c.Args...)...)
		x.Env = c.Env
		return x
	}
	out, done := serveAsync(t, inNS(acct.command(binary, "serve", "--user-ports", "--config", "/dev/null", "--data-dir", data,
		"--user-names=false", "--popup=false")))
	waitFor(t, 60*time.Second, func() string {
		select {
		case err := <-done:
			t.Fatalf("serve --user-ports as %s ended: %v\n%s", acct.login, err, out)
		default:
		}
		if s := statusOf(data, "status"); !strings.Contains(s, "14222") {
			return "status: " + s
		}
		return ""
	})
	st := statusOf(data, "status")
	for _, want := range []string{":1139", ":1137", ":1138", ":1135", "127.0.0.1:18139", "nats://127.0.0.1:14222"} {
		if !strings.Contains(st, want) {
			t.Errorf("status lacks %s:\n%s", want, st)
		}
	}
	if hs := statusOf(data, "hub", "status"); !strings.Contains(hs, "127.0.0.1:14222") || strings.Contains(hs, ":4222") {
		t.Errorf("hub status does not show the real listener:\n%s", hs)
	}
	if !strings.Contains(out.String(), "smb=tcp://") || !strings.Contains(out.String(), "hub=nats://127.0.0.1:14222") {
		t.Errorf("start log listeners:\n%s", out)
	}

	// The same ports again: the first one taken is named by its flag; the
	// hub's port alone, by --hub-listen, and never after nats-server's
	// 30-second wait (a deadline far beyond it only stops a hang).
	for _, tc := range []struct {
		args []string
		flag string
	}{
		{nil, "--smb-port"},
		{[]string{"--smb-port", "0", "--nbns-port", "0", "--dgram-port", "0", "--rpc-port", "0", "--http-addr", ""}, "--hub-listen"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		args := append([]string{"netns", "exec", n.A, binary, "serve", "--user-ports", "--config", "/dev/null",
			"--data-dir", t.TempDir(), "--user-names=false", "--popup=false"}, tc.args...)
		var buf bytes.Buffer
		c := exec.CommandContext(ctx, "ip", args...)
		c.Stdout, c.Stderr = &buf, &buf
		err := c.Run()
		cancel()
		if err == nil || !strings.Contains(buf.String(), tc.flag) {
			t.Errorf("second daemon %v: %v, want an error naming %s:\n%s", tc.args, err, tc.flag, buf.String())
		}
	}
}

// A web listener on 0.0.0.0 answers to its interface addresses without
// --http-host, and a name it does not know gets a 421 naming the flag.
func TestHTTPAnswersToInterfaceAddresses(t *testing.T) {
	requirePeer(t, "curl")
	n := newTestNet(t)
	port := strconv.Itoa(freePort(t))
	startDaemonIn(t, n.A, "", freePort(t), n.AddrA, "--http-addr", "0.0.0.0:"+port, "--popup=false")
	get := func(host string) string {
		out, err := n.in(n.B, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Host: "+host, "http://"+n.AddrA+":"+port+"/")
		if err != nil {
			t.Fatalf("curl: %v %s", err, out)
		}
		return out
	}
	if code := get(n.AddrA + ":" + port); code == "421" {
		t.Errorf("Host %s (the interface's address): 421", n.AddrA)
	}
	if code := get("rebind.example:" + port); code != "421" {
		t.Errorf("Host rebind.example: %s, want 421", code)
	}
	body, _ := n.in(n.B, "curl", "-s", "-H", "Host: rebind.example", "http://"+n.AddrA+":"+port+"/")
	if !strings.Contains(body, "--http-host") {
		t.Errorf("421 body does not name --http-host: %s", body)
	}
}
