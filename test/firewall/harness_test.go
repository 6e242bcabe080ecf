// Package firewall tests `messenger firewall` and `messenger audit` for
// real: two network namespaces joined by a veth pair, listeners in one,
// probes from the other, the messenger binary applying its table inside
// the first. Nothing leaves the namespaces the test creates.
package firewall

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/nftables"
)

// The helper roles the test binary plays when re-executed inside a
// namespace (see TestHelperProcess).
const (
	envRole    = "MSGFW_HELPER"
	envTargets = "MSGFW_TARGETS"
)

const (
	addrA, addrB   = "10.99.5.1", "10.99.5.2"
	addr6A, addr6B = "fd00:99:5::1", "fd00:99:5::2"
	// probeTimeout bounds each probe; a dropped packet costs this long.
	probeTimeout = 800 * time.Millisecond
	// cmdTimeout bounds every program the test runs.
	cmdTimeout = 2 * time.Minute
)

// listenTCP and listenUDP are the ports the listener helper holds in
// namespace A: some of the advice's ports, 135 deliberately not.
var (
	listenTCP = []int{139, 445}
	listenUDP = []int{137, 138}
)

func interop() bool { return os.Getenv("MESSENGER_INTEROP") != "" }

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		if interop() {
			t.Fatal("must run as root: it creates network namespaces and nftables tables")
		}
		t.Skip("not root (set MESSENGER_INTEROP=1 to make this a failure)")
	}
}

func requireTool(t *testing.T, prog string) string {
	t.Helper()
	path, err := exec.LookPath(prog)
	if err != nil {
		if interop() {
			t.Fatalf("%s is not installed; scripts/test.sh installs it", prog)
		}
		t.Skipf("%s is not installed (set MESSENGER_INTEROP=1 to make this a failure)", prog)
	}
	return path
}

var (
	buildOnce sync.Once
	binDir    string
	binPath   string
	buildErr  error
)

// TestMain removes the binary the tests built.
func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// buildMessenger builds the real binary once, into a directory anyone may
// read, so it can also be run as an unprivileged user.
func buildMessenger(t *testing.T) string {
	t.Helper()
	goBin := requireTool(t, "go")
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "msgfw-bin-")
		if buildErr != nil {
			return
		}
		if buildErr = os.Chmod(binDir, 0o755); buildErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "messenger")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, goBin, "build", "-o", binPath, "github.com/netsend/messenger/cmd/messenger").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// testNet is two namespaces, A (10.99.5.1, fd00:99:5::1) and B
// (10.99.5.2, fd00:99:5::2), joined by a veth pair, routed nowhere else.
type testNet struct {
	A, B string
}

func newTestNet(t *testing.T) *testNet {
	t.Helper()
	requireTool(t, "ip")
	id := strconv.Itoa(os.Getpid() % 100000)
	n := &testNet{A: "msgfw-a-" + id, B: "msgfw-b-" + id}
	ifA, ifB := "mfa"+id, "mfb"+id
	ip := func(args ...string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
		defer cancel()
		if out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	for _, ns := range []string{n.A, n.B} {
		exec.Command("ip", "netns", "del", ns).Run()
		ip("netns", "add", ns)
		t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	}
	ip("link", "add", ifA, "type", "veth", "peer", "name", ifB)
	ip("link", "set", ifA, "netns", n.A)
	ip("link", "set", ifB, "netns", n.B)
	ip("-n", n.A, "addr", "add", addrA+"/24", "dev", ifA)
	ip("-n", n.B, "addr", "add", addrB+"/24", "dev", ifB)
	ip("-n", n.A, "addr", "add", addr6A+"/64", "dev", ifA, "nodad")
	ip("-n", n.B, "addr", "add", addr6B+"/64", "dev", ifB, "nodad")
	for _, ns := range []string{n.A, n.B} {
		ip("-n", ns, "link", "set", "lo", "up")
	}
	ip("-n", n.A, "link", "set", ifA, "up")
	ip("-n", n.B, "link", "set", ifB, "up")
	return n
}

// run runs prog with args inside namespace ns and returns its stdout,
// stderr and error.
func run(t *testing.T, ns, prog string, args ...string) (string, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns, prog}, args...)...)
	// The daemon's configuration must not come from the host running the
	// test.
	cmd.Env = append(os.Environ(), "MESSENGER_CONFIG=/dev/null")
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// mustRun is run that fails the test on a non-zero exit.
func mustRun(t *testing.T, ns, prog string, args ...string) string {
	t.Helper()
	out, errOut, err := run(t, ns, prog, args...)
	if err != nil {
		t.Fatalf("%s %s in %s: %v\nstdout:\n%s\nstderr:\n%s", filepath.Base(prog), strings.Join(args, " "), ns, err, out, errOut)
	}
	return out
}

// startListener re-executes this test binary in ns as the listener
// helper and waits until it holds every port.
func startListener(t *testing.T, ns string) {
	t.Helper()
	cmd := exec.Command("ip", "netns", "exec", ns, os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), envRole+"=listen")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Closing stdin is the helper's signal to stop; kill bounds it.
		stdin.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	ready := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		ready <- line
		io.Copy(io.Discard, stdout)
	}()
	select {
	case line := <-ready:
		if strings.TrimSpace(line) != "ready" {
			t.Fatalf("listener helper said %q", line)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("listener helper did not start")
	}
}

// target is one probe: "tcp" or "udp" to host:port.
type target struct {
	proto string
	addr  string
}

func (tg target) String() string { return tg.proto + ":" + tg.addr }

func targetsOn(host string) []target {
	var out []target
	for _, p := range listenTCP {
		out = append(out, target{"tcp", net.JoinHostPort(host, strconv.Itoa(p))})
	}
	for _, p := range listenUDP {
		out = append(out, target{"udp", net.JoinHostPort(host, strconv.Itoa(p))})
	}
	return out
}

// probe re-executes this test binary in ns to try every target, and
// returns which answered.
func probe(t *testing.T, ns string, targets []target) map[string]bool {
	t.Helper()
	var list []string
	for _, tg := range targets {
		list = append(list, tg.String())
	}
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", ns, os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), envRole+"=probe", envTargets+"="+strings.Join(list, ","))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("probe helper: %v\n%s", err, stderr.String())
	}
	got := map[string]bool{}
	if err := json.Unmarshal(lastLine(out), &got); err != nil {
		t.Fatalf("probe helper output %q: %v", out, err)
	}
	return got
}

func lastLine(b []byte) []byte {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return []byte(lines[len(lines)-1])
}

// expectReach probes targets from ns and fails for each whose
// reachability is not want.
func expectReach(t *testing.T, ns string, targets []target, want bool, why string) {
	t.Helper()
	got := probe(t, ns, targets)
	for _, tg := range targets {
		if got[tg.String()] != want {
			state := "unreachable"
			if got[tg.String()] {
				state = "reachable"
			}
			t.Errorf("%s: %s from %s is %s", why, tg, ns, state)
		}
	}
}

// TestHelperProcess is not a test: it is the listener or the prober when
// the test binary is re-executed inside a namespace.
func TestHelperProcess(t *testing.T) {
	switch os.Getenv(envRole) {
	case "listen":
		helperListen()
	case "probe":
		helperProbe()
	default:
		t.Skip("helper process for the namespace tests")
	}
	os.Exit(0)
}

// helperListen holds the listeners until its stdin closes: TCP accepts
// and closes; UDP echoes.
func helperListen() {
	var closers []io.Closer
	for _, p := range listenTCP {
		ln, err := net.Listen("tcp", ":"+strconv.Itoa(p))
		if err != nil {
			fmt.Fprintln(os.Stderr, "listen:", err)
			os.Exit(1)
		}
		closers = append(closers, ln)
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
	}
	for _, p := range listenUDP {
		pc, err := net.ListenPacket("udp", ":"+strconv.Itoa(p))
		if err != nil {
			fmt.Fprintln(os.Stderr, "listen:", err)
			os.Exit(1)
		}
		closers = append(closers, pc)
		go func() {
			buf := make([]byte, 512)
			for {
				n, from, err := pc.ReadFrom(buf)
				if err != nil {
					return
				}
				pc.WriteTo(buf[:n], from)
			}
		}()
	}
	fmt.Println("ready")
	io.Copy(io.Discard, os.Stdin)
	for _, c := range closers {
		c.Close()
	}
}

// helperProbe tries every target at once, each bounded by probeTimeout,
// and prints a JSON object target -> answered.
func helperProbe() {
	targets := strings.Split(os.Getenv(envTargets), ",")
	result := make(map[string]bool, len(targets))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, tg := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			proto, addr, _ := strings.Cut(tg, ":")
			ok := false
			switch proto {
			case "tcp":
				if c, err := net.DialTimeout("tcp", addr, probeTimeout); err == nil {
					c.Close()
					ok = true
				}
			case "udp":
				ok = udpEcho(addr)
			}
			mu.Lock()
			result[tg] = ok
			mu.Unlock()
		}()
	}
	wg.Wait()
	json.NewEncoder(os.Stdout).Encode(result)
}

func udpEcho(addr string) bool {
	c, err := net.DialTimeout("udp", addr, probeTimeout)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(probeTimeout))
	if _, err := c.Write([]byte("msgfw-probe")); err != nil {
		return false
	}
	buf := make([]byte, 64)
	n, err := c.Read(buf)
	return err == nil && string(buf[:n]) == "msgfw-probe"
}

// nftIn opens nftables inside namespace ns from this process, to read
// and plant tables there without trusting the binary under test.
func nftIn(t *testing.T, ns string) *nftables.Conn {
	t.Helper()
	f, err := os.Open(filepath.Join("/run/netns", ns))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	c, err := nftables.New(nftables.WithNetNSFd(int(f.Fd())))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// tablesIn lists the tables in ns as "family name".
func tablesIn(t *testing.T, ns string) []string {
	t.Helper()
	tables, err := nftIn(t, ns).ListTables()
	if err != nil {
		t.Fatalf("listing tables in %s: %v", ns, err)
	}
	var out []string
	for _, tb := range tables {
		out = append(out, fmt.Sprintf("%d %s", tb.Family, tb.Name))
	}
	return out
}
