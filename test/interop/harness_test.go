// Package interop starts the real `messenger` binary and talks to it with
// the real peers (Samba's smbclient, tshark) and with raw clients built from
// the protocol documents. Everything runs on loopback.
package interop

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/netsend/messenger/internal/api"
	"github.com/netsend/messenger/internal/message"
	"github.com/netsend/messenger/internal/syncbuf"
)

// binary is the messenger binary built once for the whole package.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "messenger-interop-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// Tests run the CLI as local accounts they create, who must reach it.
	if err := os.Chmod(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "messenger")
	build := exec.Command("go", "build", "-o", binary, "github.com/netsend/messenger/cmd/messenger")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building messenger:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// requirePeer skips when a peer program is missing, unless the test
// command demands every peer (MESSENGER_INTEROP=1), where that is a failure.
func requirePeer(t *testing.T, prog string) string {
	t.Helper()
	path, err := exec.LookPath(prog)
	if err != nil {
		if os.Getenv("MESSENGER_INTEROP") != "" {
			t.Fatalf("%s is not installed; scripts/test.sh installs it", prog)
		}
		t.Skipf("%s is not installed (set MESSENGER_INTEROP=1 to make this a failure)", prog)
	}
	return path
}

func requireRoot(t *testing.T, why string) {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("MESSENGER_INTEROP") != "" {
			t.Fatalf("must run as root: %s", why)
		}
		t.Skipf("not root: %s", why)
	}
}

// freePort returns a TCP port that was free a moment ago on 127.0.0.1.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// daemon is one running `messenger serve`.
type daemon struct {
	t       *testing.T
	netns   string // network namespace the daemon runs in; "" for the host's
	dataDir string
	smbPort int
	args    []string
	// as, when set, makes the command that runs the daemon (as another
	// account, say); the binary runs directly otherwise.
	as     func(prog string, args ...string) *exec.Cmd
	cmd    *exec.Cmd
	stdout *syncbuf.Buffer
	stderr *syncbuf.Buffer
	done   chan struct{}
}

// startDaemon runs messenger serve on loopback high ports with a fresh data
// directory (or the one given) and waits until its API answers.
func startDaemon(t *testing.T, dataDir string, extra ...string) *daemon {
	t.Helper()
	return startDaemonAt(t, dataDir, freePort(t), extra...)
}

// tryDaemon starts a daemon like startDaemon but returns, instead of
// failing the test, an error when it does not come up.
func tryDaemon(t *testing.T, dataDir string, extra ...string) error {
	t.Helper()
	d := newDaemon(t, "", dataDir, freePort(t), "127.0.0.1", extra...)
	if err := d.launch(); err != nil {
		return err
	}
	t.Cleanup(d.stop)
	return nil
}

func startDaemonOnPort(t *testing.T, port int) *daemon {
	t.Helper()
	return startDaemonAt(t, "", port)
}

func startDaemonAt(t *testing.T, dataDir string, port int, extra ...string) *daemon {
	t.Helper()
	return startDaemonIn(t, "", dataDir, port, "127.0.0.1", extra...)
}

// startDaemonIn runs the daemon inside network namespace ns (or the host's
// when ns is ""), its listeners bound to bind.
func startDaemonIn(t *testing.T, ns, dataDir string, port int, bind string, extra ...string) *daemon {
	t.Helper()
	d := newDaemon(t, ns, dataDir, port, bind, extra...)
	d.start()
	t.Cleanup(d.stop)
	return d
}

// newDaemon prepares, without starting, a daemon on the given session
// port and bind address with every other listener off unless extra says
// otherwise (the last of repeated flags wins).
func newDaemon(t *testing.T, ns, dataDir string, port int, bind string, extra ...string) *daemon {
	if dataDir == "" {
		dataDir = t.TempDir()
	}
	d := &daemon{t: t, netns: ns, dataDir: dataDir, smbPort: port}
	d.args = append([]string{"serve", "--data-dir", dataDir, "--bind", bind,
		"--smb-port", strconv.Itoa(d.smbPort), "--nbns-port", "0", "--dgram-port", "0", "--rpc-port", "0",
		"--http-addr", "", "--hub-listen", "", "--host-name", "MSGHOST", "--user-names=false"}, extra...)
	return d
}

func (d *daemon) start() {
	d.t.Helper()
	if err := d.launch(); err != nil {
		d.t.Fatal(err)
	}
}

// launch runs the daemon and waits until its API answers; an error says
// why it did not come up (it is no longer running then).
func (d *daemon) launch() error {
	d.stdout, d.stderr = &syncbuf.Buffer{}, &syncbuf.Buffer{}
	switch {
	case d.as != nil:
		d.cmd = d.as(binary, d.args...)
	case d.netns != "":
		d.cmd = exec.Command("ip", append([]string{"netns", "exec", d.netns, binary}, d.args...)...)
	default:
		d.cmd = exec.Command(binary, d.args...)
	}
	d.cmd.Stdout, d.cmd.Stderr = d.stdout, d.stderr
	if err := d.cmd.Start(); err != nil {
		return err
	}
	d.done = make(chan struct{})
	go func() { d.cmd.Wait(); close(d.done) }()
	client := api.NewClient(filepath.Join(d.dataDir, "messenger.sock"))
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := client.Status(ctx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-d.done:
			return fmt.Errorf("messenger serve exited during start-up: %v\nstderr:\n%s", d.cmd.ProcessState, d.stderr)
		default:
		}
		if time.Now().After(deadline) {
			d.cmd.Process.Kill()
			<-d.done
			return fmt.Errorf("messenger serve not ready after 20s: %v\nstderr:\n%s", err, d.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill ends the daemon with SIGKILL, as a crash would.
func (d *daemon) kill() {
	d.cmd.Process.Signal(syscall.SIGKILL)
	<-d.done
}

// stop ends the daemon cleanly and checks that it exited 0.
func (d *daemon) stop() {
	select {
	case <-d.done:
		return
	default:
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
		if !d.cmd.ProcessState.Success() {
			d.t.Errorf("messenger serve exited with %v on SIGTERM\nstderr:\n%s", d.cmd.ProcessState, d.stderr)
		}
	case <-time.After(15 * time.Second):
		d.cmd.Process.Kill()
		d.t.Errorf("messenger serve did not stop within 15s of SIGTERM")
	}
}

func (d *daemon) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(d.smbPort)) }

// cli runs a messenger verb against this daemon and returns its stdout.
func (d *daemon) cli(args ...string) (string, error) {
	cmd := exec.Command(binary, append([]string{"--data-dir", d.dataDir}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		return stdout.String(), fmt.Errorf("messenger %s: %w\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// inbox reads every stored message through `messenger inbox --json`, the
// way a script would.
func (d *daemon) inbox() []message.Message {
	d.t.Helper()
	out, err := d.cli("inbox", "--json")
	if err != nil {
		d.t.Fatal(err)
	}
	return jsonMessages(d.t, "inbox --json", out)
}

// runExit runs cmd and returns its output and exit status (0 when it
// succeeded); a command that cannot run at all fails the test.
func runExit(t testing.TB, cmd *exec.Cmd) (stdout, stderr string, code int) {
	t.Helper()
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("running %s: %v", strings.Join(cmd.Args, " "), err)
	}
	return o.String(), e.String(), code
}

// decodeLines decodes the lines of a --json listing as the CLI prints
// them, one JSON value a line; what names the listing in the error.
func decodeLines[T any](what, out string) ([]T, error) {
	var rows []T
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var r T
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			return nil, fmt.Errorf("%s line %q: %w", what, line, err)
		}
		rows = append(rows, r)
	}
	return rows, nil
}

// jsonMessages decodes the messages of a --json listing (inbox, spam
// list) as printed; what names the listing.
func jsonMessages(t testing.TB, what, out string) []message.Message {
	t.Helper()
	msgs, err := decodeLines[message.Message](what, out)
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

func netDial(addr string) (net.Conn, error) { return net.DialTimeout("tcp", addr, time.Second) }
