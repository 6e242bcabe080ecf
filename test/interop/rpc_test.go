package interop

import (
	"encoding/hex"
	"encoding/json"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/netsend/messenger/internal/message"
	"github.com/netsend/messenger/internal/syncbuf"
)

// netrsend runs the independent request builder (Impacket NDR, hand-built
// v4 header) against 127.0.0.1:port.
func netrsend(t *testing.T, port int, shape, from, to string, text []byte) string {
	t.Helper()
	return netrsendWait(t, port, "3", shape, from, to, text)
}

// netrsendWait is netrsend waiting wait seconds for an answer.
func netrsendWait(t *testing.T, port int, wait, shape, from, to string, text []byte) string {
	t.Helper()
	if err := exec.Command("/usr/bin/python3", "-c", "import impacket").Run(); err != nil {
		requirePeer(t, "impacket (python3-impacket for /usr/bin/python3)")
	}
	out, err := exec.Command("/usr/bin/python3", filepath.Join("testdata", "netrsend.py"), "127.0.0.1", strconv.Itoa(port),
		shape, from, to, hex.EncodeToString(text), wait).CombinedOutput()
	if err != nil {
		t.Fatalf("netrsend.py %s: %v\n%s", shape, err, out)
	}
	return strings.TrimSpace(string(out))
}

func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

func TestNetrSendMessageShapes(t *testing.T) {
	rpcPort := freeUDPPort(t)
	d := startDaemon(t, "", "--rpc-port", strconv.Itoa(rpcPort), "--rpc-trust", "--name", "BOB")
	cp850, _ := message.LookupCodePage("CP850")
	for _, shape := range []string{"oneway", "ack", "frag", "bigend"} {
		text := "Grüße über RPC, " + shape + " — ½ × ±"
		text = strings.ReplaceAll(text, "—", "-")
		out := netrsend(t, rpcPort, shape, "SPAMMER", "BOB", cp850.Encode(text))
		if shape != "oneway" && out != "ptype 2 status 0x00000000" {
			t.Errorf("%s: answer %q, want a response with status 0", shape, out)
		}
		waitFor(t, 5*time.Second, func() string {
			for _, m := range d.inbox() {
				if m.Text == text && m.From == "SPAMMER" && m.To == "BOB" && m.Transport == message.TransportRPC {
					return ""
				}
			}
			return shape + ": message not in the inbox"
		})
	}
	// MS03-043's shape: declared lengths beyond the data. Refused with a
	// fault, nothing stored, and the daemon goes on serving.
	before := len(d.inbox())
	if out := netrsend(t, rpcPort, "ms03043", "X", "BOB", []byte("overflow?")); out != "ptype 3 status 0x000006f7" {
		t.Errorf("ms03043 shape answered %q, want a fault with RPC_X_BAD_STUB_DATA", out)
	}
	if out := netrsend(t, rpcPort, "ack", "X", "NOBODY", []byte("who?")); out != "ptype 2 status 0x000008e1" {
		t.Errorf("to a name we lack: %q, want NERR_NameNotFound", out)
	}
	if out := netrsend(t, rpcPort, "wrongif", "X", "BOB", []byte("hello?")); !strings.HasPrefix(out, "ptype 6 ") {
		t.Errorf("another interface answered %q, want a reject", out)
	}
	// A header without a stub (80 bytes) would draw an 84-byte fault: no
	// answer may be larger than its request.
	if out := netrsendWait(t, rpcPort, "1", "bare", "X", "BOB", nil); out != "no answer" {
		t.Errorf("a request without a stub answered %q, want no answer", out)
	}
	if out := netrsend(t, rpcPort, "ack", "X", "BOB", []byte("still serving")); out != "ptype 2 status 0x00000000" {
		t.Errorf("after the attack: %q", out)
	}
	if got := len(d.inbox()); got != before+1 {
		t.Errorf("inbox grew by %d, want 1 (only the last message)", got-before)
	}
	if !strings.Contains(d.stderr.String(), "bad_stub") {
		t.Errorf("no log line says why the MS03-043 shape was refused:\n%s", d.stderr)
	}
}

// From outside rpc.allow every probe meets silence: no reject, no
// fault, no NERR_NameNotFound to say which names are ours, and a message
// for us is neither answered nor stored.
func TestRPCOutsiderGetsSilence(t *testing.T) {
	rpcPort := freeUDPPort(t)
	d := startDaemon(t, "", "--rpc-port", strconv.Itoa(rpcPort), "--rpc-trust", "--rpc-allow", "10.0.0.0/8", "--name", "BOB")
	for _, p := range []struct{ shape, to string }{
		{"bare", "BOB"},    // a request with no stub
		{"ms03043", "BOB"}, // a bad stub
		{"wrongif", "BOB"}, // an unknown interface
		{"ack", "NOBODY"},  // a name not ours
		{"ack", "BOB"},     // a message for us
	} {
		if out := netrsendWait(t, rpcPort, "1", p.shape, "X", p.to, []byte("probe")); out != "no answer" {
			t.Errorf("%s to %s from 127.0.0.1, outside rpc.allow: answered %q", p.shape, p.to, out)
		}
	}
	if msgs := d.inbox(); len(msgs) != 0 {
		t.Errorf("stored from outside rpc.allow: %+v", msgs)
	}
	if out, err := d.cli("inbox", "--quarantined", "--json"); err != nil || strings.TrimSpace(out) != "" {
		t.Errorf("quarantined from outside rpc.allow: %q %v", out, err)
	}
	if strings.Contains(d.stderr.String(), "rpc: rejected") {
		t.Errorf("a refused source's packets were logged:\n%s", d.stderr)
	}
}

// By default the RPC path is quarantined: stored, listed in the
// quarantine with its rule, not shown.
func TestNetrSendMessageQuarantinedByDefault(t *testing.T) {
	rpcPort := freeUDPPort(t)
	d := startDaemon(t, "", "--rpc-port", strconv.Itoa(rpcPort))
	if out := netrsend(t, rpcPort, "ack", "SPAMMER", "MSGHOST", []byte("BUY NOW")); out != "ptype 2 status 0x00000000" {
		t.Fatalf("answer %q", out)
	}
	if msgs := d.inbox(); len(msgs) != 0 {
		t.Fatalf("a quarantined message is in the inbox: %+v", msgs)
	}
	out, err := d.cli("inbox", "--quarantined", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var m message.Message
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &m); err != nil || m.Text != "BUY NOW" || m.Rule != "rpc.quarantine" || m.State != message.StateQuarantined {
		t.Fatalf("quarantine lists %q (%v); want the message with rule rpc.quarantine", out, err)
	}
	if strings.Contains(d.stdout.String(), "BUY NOW") {
		t.Error("a quarantined message was shown as a pop-up")
	}
}

// Our sender speaks NetrSendMessage too (--via rpc, and as the fallback
// when the NetBIOS session fails); tshark dissects its request and our
// receiver's response as the Messenger service.
func TestSendViaRPC(t *testing.T) {
	rpcPort := freeUDPPort(t)
	recv := startDaemon(t, "", "--host-name", "RECEIVER", "--rpc-port", strconv.Itoa(rpcPort), "--rpc-trust")
	snd := startDaemon(t, "", "--host-name", "SENDER", "--rpc-send-port", strconv.Itoa(rpcPort))
	capt := startUDPCapture(t, rpcPort)

	if out, errOut, code := snd.send("", "RECEIVER", "--via", "rpc", "--address", "127.0.0.1", "--from", "ops", "über RPC\nzweite Zeile"); code != 0 {
		t.Fatalf("send --via rpc: exit %d\n%s%s", code, out, errOut)
	}
	// The session port is closed: the daemon falls back to RPC, since
	// 127.0.0.1 is in rpc.allow ("local").
	closed := freePort(t)
	out, errOut, code := snd.send("", "RECEIVER", "--address", "127.0.0.1:"+strconv.Itoa(closed), "--json", "--from", "ops", "fallback")
	if code != 0 || !strings.Contains(out, `"via":"rpc"`) {
		t.Fatalf("fallback: exit %d\n%s%s", code, out, errOut)
	}
	if _, errOut, code := snd.send("", "NOBODY", "--via", "rpc", "--address", "127.0.0.1", "x"); code != 3 || !strings.Contains(errOut, "could not be found") {
		t.Errorf("send --via rpc to a name the receiver lacks: exit %d %s", code, errOut)
	}
	msgs := recv.inbox()
	if len(msgs) != 2 || msgs[0].Text != "über RPC\nzweite Zeile" || msgs[1].Text != "fallback" || msgs[0].Transport != message.TransportRPC {
		t.Fatalf("receiver inbox %+v", msgs)
	}

	// dumpcap writes as it goes: wait for the three calls and their
	// answers, then stop it.
	waitFor(t, 10*time.Second, func() string {
		out, _ := exec.Command("tshark", "-r", capt.file, "-Y", "messenger").Output()
		if n := strings.Count(string(out), "\n"); n < 6 {
			return strconv.Itoa(n) + " of 6 Messenger packets captured"
		}
		return ""
	})
	capt.stop()
	fields := capt.mustTshark("-Y", "messenger", "-T", "fields", "-e", "dcerpc.pkt_type", "-e", "messenger.server", "-e", "messenger.client")
	if !strings.Contains(fields, "0\tops\tRECEIVER") || !strings.Contains(fields, "\n2") && !strings.HasPrefix(fields, "2") {
		all := capt.mustTshark("-V")
		t.Errorf("tshark does not show our NetrSendMessage request and its response:\n%s\nwhole capture:\n%s", fields, all)
	}
	bad := capt.mustTshark("-Y", "_ws.malformed || _ws.expert.severity >= 0x00600000", "-V")
	if strings.TrimSpace(bad) != "" {
		t.Errorf("tshark flags our RPC packets:\n%s", bad)
	}
}

// udpCapture is dumpcap on lo for one UDP port.
type udpCapture struct {
	t    *testing.T
	cmd  *exec.Cmd
	file string
}

func startUDPCapture(t *testing.T, port int) *udpCapture {
	t.Helper()
	requireRoot(t, "capturing on lo")
	dumpcap := requirePeer(t, "dumpcap")
	requirePeer(t, "tshark")
	c := &udpCapture{t: t, file: filepath.Join(t.TempDir(), "rpc.pcapng")}
	var stderr syncbuf.Buffer
	c.cmd = exec.Command(dumpcap, "-q", "-i", "lo", "-f", "udp port "+strconv.Itoa(port), "-w", c.file)
	c.cmd.Stderr = &stderr
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.cmd.Process.Kill(); c.cmd.Wait() })
	// Knock until a knock is captured: dumpcap says it captures a little
	// before it does.
	waitFor(t, 15*time.Second, func() string {
		if conn, err := net.Dial("udp", "127.0.0.1:"+strconv.Itoa(port)); err == nil {
			conn.Write([]byte("knock"))
			conn.Close()
		}
		if out, _ := exec.Command("tshark", "-r", c.file, "-c", "1").Output(); len(out) > 0 {
			return ""
		}
		return "dumpcap has captured nothing yet: " + stderr.String()
	})
	return c
}

func (c *udpCapture) stop() {
	c.cmd.Process.Signal(syscall.SIGINT)
	c.cmd.Wait()
}

func (c *udpCapture) mustTshark(args ...string) string {
	c.t.Helper()
	out, err := exec.Command("tshark", append([]string{"-r", c.file}, args...)...).Output()
	if err != nil {
		c.t.Fatalf("tshark %v: %v", args, err)
	}
	return string(out)
}
