package interop

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/netsend/messenger/internal/syncbuf"
)

// testNet is two network namespaces joined by a veth pair, 10.99.0.1/24
// (A) and 10.99.0.2/24 (B), with no route anywhere else. The test that
// makes it removes it.
type testNet struct {
	A, B         string // namespace names
	IfA, IfB     string // interface names inside them
	AddrA, AddrB string
	Broadcast    string
}

func newTestNet(t *testing.T) *testNet {
	t.Helper()
	requireRoot(t, "creating network namespaces")
	requirePeer(t, "ip")
	id := fmt.Sprintf("%d", os.Getpid()%100000)
	n := &testNet{A: "msgt-a-" + id, B: "msgt-b-" + id, IfA: "mva" + id, IfB: "mvb" + id,
		AddrA: "10.99.0.1", AddrB: "10.99.0.2", Broadcast: "10.99.0.255"}
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	exec.Command("ip", "netns", "del", n.A).Run()
	exec.Command("ip", "netns", "del", n.B).Run()
	ip("netns", "add", n.A)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", n.A).Run() })
	ip("netns", "add", n.B)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", n.B).Run() })
	ip("link", "add", n.IfA, "type", "veth", "peer", "name", n.IfB)
	ip("link", "set", n.IfA, "netns", n.A)
	ip("link", "set", n.IfB, "netns", n.B)
	ip("-n", n.A, "addr", "add", n.AddrA+"/24", "brd", n.Broadcast, "dev", n.IfA)
	ip("-n", n.B, "addr", "add", n.AddrB+"/24", "brd", n.Broadcast, "dev", n.IfB)
	for _, ns := range []string{n.A, n.B} {
		ip("-n", ns, "link", "set", "lo", "up")
	}
	ip("-n", n.A, "link", "set", n.IfA, "up")
	ip("-n", n.B, "link", "set", n.IfB, "up")
	return n
}

// in runs a program inside namespace ns.
func (n *testNet) in(ns string, prog string, args ...string) (string, error) {
	out, err := exec.Command("ip", append([]string{"netns", "exec", ns, prog}, args...)...).CombinedOutput()
	return string(out), err
}

// sambaPeer is a Samba nmbd (and optionally smbd) with its own private
// configuration, running in a namespace.
type sambaPeer struct {
	dir, conf string
	procs     []*exec.Cmd
	logs      []*syncbuf.Buffer
}

func writeSambaConf(t *testing.T, dir, netbiosName, iface string, extra ...string) string {
	t.Helper()
	for _, sub := range []string{"lock", "state", "cache", "pid", "private", "log", "ncalrpc", "msgs"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(filepath.Dir(dir), 0o755)
	os.Chmod(dir, 0o755)
	os.Chmod(filepath.Join(dir, "msgs"), 0o1777)
	conf := fmt.Sprintf(`[global]
   workgroup = TESTGRP
   netbios name = %s
   interfaces = %s
   bind interfaces only = yes
   server min protocol = NT1
   disable netbios = no
   dns proxy = no
   wins support = no
   local master = no
   domain master = no
   preferred master = no
   os level = 0
   load printers = no
   printing = bsd
   printcap name = /dev/null
   disable spoolss = yes
   server role = standalone server
   map to guest = bad user
   log level = 2
   lock directory = %[3]s/lock
   state directory = %[3]s/state
   cache directory = %[3]s/cache
   pid directory = %[3]s/pid
   private dir = %[3]s/private
   ncalrpc dir = %[3]s/ncalrpc
%s
`, netbiosName, iface, dir, strings.Join(extra, "\n"))
	path := filepath.Join(dir, "smb.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// startSamba runs the given Samba daemons (nmbd, smbd) in ns, or in the
// host's namespace when ns is "". They are
// started without --no-process-group, so they lead their own process
// groups and a signal to them reaches nothing else
// (docs/protocols/peers.md, "Starting and stopping the daemons").
func startSamba(t *testing.T, ns, conf string, daemons ...string) *sambaPeer {
	t.Helper()
	p := &sambaPeer{dir: filepath.Dir(conf), conf: conf}
	for _, d := range daemons {
		prog := requirePeer(t, d)
		log := &syncbuf.Buffer{}
		cmd := exec.Command(prog, "--foreground", "--debug-stdout", "-s", conf)
		if ns != "" {
			cmd = exec.Command("ip", "netns", "exec", ns, prog, "--foreground", "--debug-stdout", "-s", conf)
		}
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		p.procs = append(p.procs, cmd)
		p.logs = append(p.logs, log)
	}
	t.Cleanup(func() {
		for _, c := range p.procs {
			c.Process.Signal(os.Interrupt)
			c.Process.Signal(os.Kill)
			c.Wait()
		}
	})
	return p
}

func (p *sambaPeer) log() string {
	var b strings.Builder
	for _, l := range p.logs {
		b.WriteString(l.String())
	}
	return b.String()
}

// waitFor polls cond until it returns "" or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		why := cond()
		if why == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %v: %s", timeout, why)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// metrics reads the daemon's /metrics through its local socket, which
// works whatever namespace the daemon is in.
func (d *daemon) metrics() string {
	d.t.Helper()
	c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var dl net.Dialer
		return dl.DialContext(ctx, "unix", filepath.Join(d.dataDir, "messenger.sock"))
	}}, Timeout: 5 * time.Second}
	resp, err := c.Get("http://messenger/metrics")
	if err != nil {
		d.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// In two namespaces: nmbd trying to register a name we hold gets our
// defence and does not take it; our registration of a name nmbd holds is
// a conflict that `messenger name` reports.
func TestNameDefenceAndConflictWithNmbd(t *testing.T) {
	nmblookup := requirePeer(t, "nmblookup")
	n := newTestNet(t)
	d := startDaemonIn(t, n.A, "", 139, "", "--nbns-port", "137", "--nbns-interface", n.IfA,
		"--host-name", "MSGHOST", "--workgroup", "TESTGRP", "--name", "DEFENDED")
	waitRegistered(t, d, "DEFENDED")

	confB := writeSambaConf(t, t.TempDir(), "NSPEER", n.IfB, "netbios aliases = DEFENDED", "name resolve order = bcast")
	peer := startSamba(t, n.B, confB, "nmbd")
	// nmbd registers NSPEER and the alias DEFENDED by broadcast in rounds
	// (it answers unicast queries before it is done); wait until it
	// answers a broadcast query for its own name: then it holds it.
	waitFor(t, 20*time.Second, func() string {
		out, _ := n.in(n.A, nmblookup, "-B", n.Broadcast, "NSPEER#03")
		if strings.Contains(out, n.AddrB+" NSPEER<03>") {
			return ""
		}
		return "nmbd's NSPEER<03> does not resolve by broadcast yet: " + out
	})
	waitFor(t, 10*time.Second, func() string {
		if strings.Contains(d.metrics(), `messenger_nbns_packets_total{kind="defended"}`) {
			return ""
		}
		return "no defence counted yet"
	})
	// nmbd did not take the name: asked for it, it says nothing or says
	// it is not its own, and the only answer to a broadcast query is ours.
	out, _ := n.in(n.B, nmblookup, "-s", confB, "-B", n.Broadcast, "DEFENDED#03")
	if !strings.Contains(out, n.AddrA+" DEFENDED<03>") || strings.Contains(out, n.AddrB+" DEFENDED<03>") {
		t.Errorf("broadcast query for DEFENDED<03> from B:\n%s\nwant only %s answering", out, n.AddrA)
	}
	// nmbd still lists the alias in its node status, but it says it failed.
	waitFor(t, 10*time.Second, func() string {
		if strings.Contains(peer.log(), "Failed to register my name DEFENDED<03>") {
			return ""
		}
		return "nmbd does not report that it failed to register DEFENDED<03>"
	})
	if out, _ := d.cli("name"); !regexp.MustCompile(`(?m)^DEFENDED\s+<03> unique\s+registered`).MatchString(out) {
		t.Errorf("our DEFENDED<03> is no longer registered:\n%s", out)
	}

	// The other way round: NSPEER<03> is nmbd's.
	out, err := d.cli("name", "add", "nspeer")
	if err == nil || !strings.Contains(err.Error(), "in use by another computer") {
		t.Errorf("name add NSPEER: %v\n%s\nwant a conflict error", err, out)
	}
	if out, _ := d.cli("name"); !regexp.MustCompile(`(?m)^NSPEER\s+<03> unique\s+conflict`).MatchString(out) {
		t.Errorf("messenger name does not report NSPEER in conflict:\n%s", out)
	}
	if t.Failed() {
		t.Logf("nmbd log:\n%s\ndaemon log:\n%s", peer.log(), d.stderr)
	}
}

// As a P-node our names go to a WINS server (nmbd with wins support):
// the server then resolves them, forgets an alias we delete, and refuses
// a name another node registered with it first.
func TestWINSRegistrationWithNmbd(t *testing.T) {
	nmblookup := requirePeer(t, "nmblookup")
	n := newTestNet(t)
	confB := writeSambaConf(t, t.TempDir(), "WINSSRV", n.IfB)
	confB = strings.Replace(mustRead(t, confB), "wins support = no", "wins support = yes", 1)
	confPath := filepath.Join(t.TempDir(), "smb.conf")
	os.WriteFile(confPath, []byte(confB), 0o644)
	peer := startSamba(t, n.B, confPath, "nmbd")
	// The WINS server answers once it runs.
	waitFor(t, 20*time.Second, func() string {
		out, _ := n.in(n.A, nmblookup, "-U", n.AddrB, "--recursion", "WINSSRV#00")
		if strings.Contains(out, n.AddrB+" WINSSRV<00>") {
			return ""
		}
		return "WINS server not answering yet: " + out
	})

	d := startDaemonIn(t, n.A, "", 139, "", "--nbns-port", "137", "--nbns-interface", n.IfA,
		"--host-name", "MSGHOST", "--workgroup", "TESTGRP", "--node-type", "p", "--wins", n.AddrB)
	waitRegistered(t, d, "MSGHOST")
	resolves := func(name string) bool {
		out, _ := n.in(n.A, nmblookup, "-U", n.AddrB, "--recursion", name+"#03")
		return strings.Contains(out, n.AddrA+" "+name+"<03>")
	}
	if !resolves("MSGHOST") {
		t.Fatalf("the WINS server does not resolve MSGHOST<03> to us\nnmbd log:\n%s", peer.log())
	}
	if _, err := d.cli("name", "add", "winsalias"); err != nil {
		t.Fatal(err)
	}
	if !resolves("WINSALIAS") {
		t.Errorf("the WINS server does not resolve the added alias")
	}
	if _, err := d.cli("name", "del", "winsalias"); err != nil {
		t.Fatal(err)
	}
	if resolves("WINSALIAS") {
		t.Errorf("the WINS server still resolves a deleted alias: the release did not reach it")
	}
	// WINSSRV<03> belongs to the WINS server itself.
	if out, err := d.cli("name", "add", "winssrv"); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("name add WINSSRV: %v %s; want a conflict", err, out)
	}
	if t.Failed() {
		t.Logf("nmbd log:\n%s\ndaemon log:\n%s", peer.log(), d.stderr)
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Our sender in A finds NSPEER, which Samba's nmbd holds in B, by a
// broadcast name query, and delivers to smbd there.
func TestSendResolvesByBroadcastToSamba(t *testing.T) {
	requirePeer(t, "nmbd")
	n := newTestNet(t)
	smbd := startSmbdReceiver(t, n.B, n.IfB, "NSPEER", 139, true)
	nmblookup := requirePeer(t, "nmblookup")
	waitFor(t, 20*time.Second, func() string {
		out, _ := n.in(n.A, nmblookup, "-B", n.Broadcast, "NSPEER#03")
		if strings.Contains(out, n.AddrB+" NSPEER<03>") {
			return ""
		}
		return "nmbd's NSPEER<03> not registered yet: " + out
	})
	d := startDaemonIn(t, n.A, "", 139, "", "--nbns-port", "137", "--dgram-port", "138", "--nbns-interface", n.IfA,
		"--host-name", "MSGHOST", "--workgroup", "TESTGRP", "--resolve-order", "bcast")
	out, errOut, code := d.send("", "nspeer", "--from", "gina", "found you by broadcast")
	if code != 0 {
		t.Fatalf("send NSPEER: exit %d\n%s%s\ndaemon log:\n%s", code, out, errOut, d.stderr)
	}
	if got := smbd.messages(t, 1); got[0] != "found you by broadcast" {
		t.Errorf("smbd received %q", got[0])
	}
}

// net send * and net send /domain: a MESSNGR mailslot datagram to the
// workgroup reaches our daemon in the other namespace, and tshark decodes
// it as such.
func TestBroadcastBetweenNamespaces(t *testing.T) {
	n := newTestNet(t)
	common := []string{"--nbns-port", "137", "--dgram-port", "138", "--workgroup", "TESTGRP"}
	a := startDaemonIn(t, n.A, "", 139, "", append(common, "--nbns-interface", n.IfA, "--host-name", "HOSTA")...)
	b := startDaemonIn(t, n.B, "", 139, "", append(common, "--nbns-interface", n.IfB, "--host-name", "HOSTB")...)
	waitRegistered(t, b, "HOSTB")

	capFile := filepath.Join(t.TempDir(), "dgram.pcapng")
	dumpcap := requirePeer(t, "dumpcap")
	var capErr syncbuf.Buffer
	capture := exec.Command("ip", "netns", "exec", n.B, dumpcap, "-q", "-i", n.IfB, "-f", "udp port 137 or udp port 138", "-w", capFile)
	capture.Stderr = &capErr
	if err := capture.Start(); err != nil {
		t.Fatal(err)
	}
	// dumpcap says it captures a little before it does: knock (a name
	// query to B) until a knock is in the file.
	nmblookup := requirePeer(t, "nmblookup")
	waitFor(t, 15*time.Second, func() string {
		if !strings.Contains(capErr.String(), "Capturing on") {
			return "dumpcap not started: " + capErr.String()
		}
		n.in(n.A, nmblookup, "-U", n.AddrB, "--recursion", "HOSTB#03")
		if out, _ := exec.Command("tshark", "-r", capFile, "-c", "1").Output(); len(out) > 0 {
			return ""
		}
		return "dumpcap has captured nothing yet"
	})

	for _, args := range [][]string{{"*", "to everyone in the workgroup"}, {"--domain", "testgrp", "to the whole domain"}} {
		out, errOut, code := a.send("", append([]string{"--from", "admin"}, args...)...)
		if code != 0 || !strings.Contains(out, "sent to all messenger names of TESTGRP") {
			t.Fatalf("send %v: exit %d\n%s%s", args, code, out, errOut)
		}
	}
	waitFor(t, 10*time.Second, func() string {
		if msgs := b.inbox(); len(msgs) == 2 {
			return ""
		}
		return "B's inbox does not hold both broadcasts yet"
	})
	for _, m := range b.inbox() {
		if m.Transport != "mailslot" || m.From != "admin" || m.To != "TESTGRP" || !strings.HasPrefix(m.Source, n.AddrA+":") {
			t.Errorf("broadcast stored as %+v", m)
		}
	}
	// A datagram for a workgroup we are not in is not ours.
	if _, _, code := a.send("", "--domain", "OTHERGRP", "not for B"); code != 0 {
		t.Errorf("send --domain OTHERGRP: exit %d", code)
	}

	// dumpcap writes as it goes: wait for the three datagrams, then stop.
	waitFor(t, 10*time.Second, func() string {
		out, _ := exec.Command("tshark", "-r", capFile, "-Y", "mailslot.name").Output()
		if c := strings.Count(string(out), "\n"); c < 3 {
			return "capture holds " + strconv.Itoa(c) + " of 3 datagrams"
		}
		return ""
	})
	capture.Process.Signal(os.Interrupt)
	capture.Wait()
	out, err := exec.Command("tshark", "-r", capFile, "-Y", "mailslot.name", "-T", "fields",
		"-e", "nbdgm.type", "-e", "mailslot.name", "-e", "nbdgm.destination_name").Output()
	if err != nil {
		t.Fatalf("tshark: %v\n%s", err, out)
	}
	if c := strings.Count(string(out), `\MAILSLOT\MESSNGR`); c < 3 {
		all, _ := exec.Command("tshark", "-r", capFile).CombinedOutput()
		t.Errorf("tshark decodes %d MESSNGR datagrams, want 3:\n%s\nwhole capture:\n%s\ndumpcap: %s", c, out, all, capErr.String())
	}
	if !strings.Contains(string(out), "TESTGRP<00>") {
		t.Errorf("tshark shows no datagram to TESTGRP<00>:\n%s", out)
	}
	bad, _ := exec.Command("tshark", "-r", capFile, "-Y", "_ws.malformed || _ws.expert.severity >= 0x00600000", "-V").Output()
	if strings.TrimSpace(string(bad)) != "" {
		t.Errorf("tshark flags our datagrams:\n%s", bad)
	}
	if msgs := b.inbox(); len(msgs) != 2 {
		t.Errorf("B stored %d messages, want 2 (OTHERGRP is not its workgroup)", len(msgs))
	}
}
