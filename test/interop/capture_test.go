package interop

import (
	"bytes"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/netsend/messenger/internal/syncbuf"
)

// capture is a running dumpcap on the loopback interface.
type capture struct {
	t    *testing.T
	cmd  *exec.Cmd
	file string
	port int
}

// startCapture records TCP traffic to and from port on lo.
func startCapture(t *testing.T, port int) *capture {
	t.Helper()
	dumpcap := requirePeer(t, "dumpcap")
	requirePeer(t, "tshark")
	requireRoot(t, "capturing on lo")
	c := &capture{t: t, file: filepath.Join(t.TempDir(), "capture.pcapng"), port: port}
	var stderr syncbuf.Buffer
	c.cmd = exec.Command(dumpcap, "-q", "-i", "lo", "-f", "tcp port "+strconv.Itoa(port), "-w", c.file)
	c.cmd.Stderr = &stderr
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(stderr.String(), "Capturing on") {
		if time.Now().After(deadline) {
			c.cmd.Process.Kill()
			t.Fatalf("dumpcap did not start: %s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Cleanup(func() { c.cmd.Process.Kill(); c.cmd.Wait() })
	// dumpcap announces itself a little before its filter is in place:
	// knock on the port until a knock shows up in the file.
	for {
		if conn, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second); err == nil {
			conn.Close()
		}
		out, _ := c.tshark("-T", "fields", "-e", "frame.number")
		if strings.TrimSpace(out) != "" {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatal("dumpcap captured nothing on lo")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop waits until the capture holds at least wantFrames frames from our
// port (dumpcap writes as it goes), then ends it.
func (c *capture) stop(wantFrames int) {
	c.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		out, _ := c.tshark("-Y", "tcp.srcport == "+strconv.Itoa(c.port)+" && nbss", "-T", "fields", "-e", "frame.number")
		if strings.Count(out, "\n") >= wantFrames {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.cmd.Process.Signal(syscall.SIGINT)
	c.cmd.Wait()
}

// tshark decodes the capture, the daemon's port dissected as NetBIOS
// session service.
func (c *capture) tshark(args ...string) (string, error) {
	all := append([]string{"-r", c.file, "-d", "tcp.port==" + strconv.Itoa(c.port) + ",nbss"}, args...)
	cmd := exec.Command("tshark", all...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		return stdout.String(), err
	}
	return stdout.String(), nil
}

func (c *capture) mustTshark(args ...string) string {
	c.t.Helper()
	out, err := c.tshark(args...)
	if err != nil {
		c.t.Fatalf("tshark %v: %v", args, err)
	}
	return out
}

// assertCleanDecode fails on any frame the daemon sent that tshark marks
// malformed or with an expert note of warning or error severity, and
// returns how many of our frames it checked.
func (c *capture) assertCleanDecode() int {
	c.t.Helper()
	ours := "tcp.srcport == " + strconv.Itoa(c.port)
	// 0x00600000 is Wireshark's PI_WARN; errors are above it.
	bad := c.mustTshark("-Y", ours+" && (_ws.malformed || _ws.expert.severity >= 0x00600000)", "-V")
	if strings.TrimSpace(bad) != "" {
		c.t.Errorf("tshark flags frames the daemon sent:\n%s", bad)
	}
	frames := c.mustTshark("-Y", ours+" && nbss", "-T", "fields", "-e", "frame.number")
	if n := strings.Count(frames, "\n"); n > 0 {
		return n
	}
	c.t.Fatalf("the capture holds no NBSS frame from the daemon; nothing was checked")
	return 0
}
