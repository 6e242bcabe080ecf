package interop

import (
	"net"
	"net/netip"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/netsend/messenger/internal/netbios"
)

// requireNBNSPort starts a daemon whose name service owns UDP 137 on
// 127.0.0.1: nmblookup and nbtscan have no port option. Broadcasts are
// confined to lo, which has none, so nothing leaves the host.
func startNameDaemon(t *testing.T, extra ...string) *daemon {
	t.Helper()
	requireRoot(t, "binding UDP 137")
	if c, err := net.ListenPacket("udp4", "127.0.0.1:137"); err != nil {
		t.Skipf("UDP 137 on 127.0.0.1 is taken: %v", err)
	} else {
		c.Close()
	}
	args := append([]string{"--nbns-port", "137", "--nbns-interface", "lo", "--workgroup", "TESTGRP"}, extra...)
	d := startDaemon(t, "", args...)
	waitRegistered(t, d, "MSGHOST")
	return d
}

// waitRegistered waits until `messenger name` shows name registered.
func waitRegistered(t *testing.T, d *daemon, name string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, err := d.cli("name")
		if err == nil && regexp.MustCompile(`(?m)^`+name+`\s+<03> unique\s+registered`).MatchString(out) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not registered after 10s: %v\n%s", name, err, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Logf("%s %v: %v", name, args, err)
	}
	return string(out)
}

func TestNmblookupAndNbtscan(t *testing.T) {
	nmblookup := requirePeer(t, "nmblookup")
	nbtscan := requirePeer(t, "nbtscan")
	d := startNameDaemon(t, "--name", "HELPDESK")

	out := run(t, nmblookup, "-U", "127.0.0.1", "--recursion", "MSGHOST#03")
	if !strings.Contains(out, "127.0.0.1 MSGHOST<03>") {
		t.Errorf("nmblookup MSGHOST#03:\n%s", out)
	}
	out = run(t, nmblookup, "-U", "127.0.0.1", "--recursion", "NOSUCHNAME#03")
	if !strings.Contains(out, "name_query failed to find name NOSUCHNAME#03") {
		t.Errorf("nmblookup for a name we do not have:\n%s", out)
	}

	if o, err := d.cli("name", "add", "Nightshift"); err != nil || !strings.Contains(o, "NIGHTSHIFT was added") {
		t.Fatalf("name add: %v %s", err, o)
	}
	waitRegistered(t, d, "NIGHTSHIFT")
	if out := run(t, nmblookup, "-U", "127.0.0.1", "--recursion", "NIGHTSHIFT#03"); !strings.Contains(out, "127.0.0.1 NIGHTSHIFT<03>") {
		t.Errorf("nmblookup of an added alias:\n%s", out)
	}
	out = run(t, nmblookup, "-A", "127.0.0.1")
	for _, re := range []string{
		`MSGHOST\s+<00> -\s+B <ACTIVE>`,
		`MSGHOST\s+<03> -\s+B <ACTIVE>`,
		`HELPDESK\s+<03> -\s+B <ACTIVE>`,
		`NIGHTSHIFT\s+<03> -\s+B <ACTIVE>`,
		`TESTGRP\s+<00> - <GROUP> B <ACTIVE>`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("nmblookup -A lacks %q:\n%s", re, out)
		}
	}
	out = run(t, nbtscan, "-v", "-s", ":", "127.0.0.1")
	for _, want := range []string{`127.0.0.1:MSGHOST\s*:00U`, `127.0.0.1:MSGHOST\s*:03U`, `127.0.0.1:NIGHTSHIFT\s*:03U`, `127.0.0.1:TESTGRP\s*:00G`} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("nbtscan -v lacks %q:\n%s", want, out)
		}
	}
	if out := run(t, nbtscan, "127.0.0.1"); !strings.Contains(out, "MSGHOST") {
		t.Errorf("nbtscan 127.0.0.1:\n%s", out)
	}

	if o, err := d.cli("name", "del", "nightshift"); err != nil {
		t.Fatalf("name del: %v %s", err, o)
	}
	if out := run(t, nmblookup, "-A", "127.0.0.1"); strings.Contains(out, "NIGHTSHIFT") || !strings.Contains(out, "HELPDESK") {
		t.Errorf("after name del, nmblookup -A still lists NIGHTSHIFT (or lost the rest):\n%s", out)
	}
	if out := run(t, nmblookup, "-U", "127.0.0.1", "--recursion", "NIGHTSHIFT#03"); !strings.Contains(out, "failed to find name") {
		t.Errorf("a deleted alias still resolves:\n%s", out)
	}
	// The computer name stays; bad names are refused with a reason.
	for _, bad := range []struct{ name, want string }{
		{"MSGHOST", "cannot be deleted"},
		{"HELPDESK", "configuration"},
	} {
		if o, err := d.cli("name", "del", bad.name); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("name del %s: %v %s; want an error about %q", bad.name, err, o, bad.want)
		}
	}
	for _, bad := range []string{"sixteen-letters-x", "bad*name", ""} {
		if o, err := d.cli("name", "add", bad); err == nil {
			t.Errorf("name add %q succeeded: %s", bad, o)
		}
	}
	// Added aliases survive a restart.
	if _, err := d.cli("name", "add", "keeper"); err != nil {
		t.Fatal(err)
	}
	d.stop()
	d.start()
	waitRegistered(t, d, "KEEPER")
}

// rawQuery sends one name service request to 127.0.0.1:137 and returns the
// answer, or an empty packet when none comes within a second.
func rawQuery(t *testing.T, p netbios.NameServicePacket) (netbios.NameServicePacket, bool) {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	b, err := netbios.AppendNameServicePacket(nil, p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.WriteToUDPAddrPort(b, netip.MustParseAddrPort("127.0.0.1:137")); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(time.Second))
	buf := make([]byte, 1500)
	n, err := c.Read(buf)
	if err != nil {
		return netbios.NameServicePacket{}, false
	}
	r, err := netbios.ParseNameServicePacket(buf[:n])
	if err != nil {
		t.Fatalf("answer does not parse: %v", err)
	}
	return r, true
}

func TestNodeStatusAllowlist(t *testing.T) {
	d := startNameDaemon(t, "--node-status-allow", "10.0.0.0/8")
	if _, ok := rawQuery(t, netbios.NodeStatusRequest(0x4242, "")); ok {
		t.Fatal("node status answered to 127.0.0.1, which is not in the allowed networks")
	}
	// 200 more refusals, as a forged flood would bring, are not 200 log
	// lines: the rate limiter passes its burst (20) and counts the rest.
	c, err := net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 137})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := range 200 {
		b, err := netbios.AppendNameServicePacket(nil, netbios.NodeStatusRequest(uint16(i), ""))
		if err != nil {
			t.Fatal(err)
		}
		c.Write(b)
	}
	waitFor(t, 10*time.Second, func() string {
		m := regexp.MustCompile(`messenger_nbns_packets_total\{kind="node_status_refused"\} (\d+)`).FindStringSubmatch(d.metrics())
		if m == nil || m[1] != "201" {
			return "node status refusals counted: " + strings.Join(m, " ")
		}
		return ""
	})
	if n := strings.Count(d.stderr.String(), "node status refused"); n == 0 || n > 20 {
		t.Errorf("%d log lines for 201 refused node status requests, want 1 to 20:\n%s", n, d.stderr)
	}
	// Name queries are still answered: only the listing is refused.
	q := netbios.NameQueryRequest(0x4343, mustName(t, "MSGHOST", 3), "", false, true)
	if r, ok := rawQuery(t, q); !ok || len(r.Answers) != 1 {
		t.Fatalf("name query after a refused node status: %+v %v", r, ok)
	}
}

func mustName(t *testing.T, s string, sfx byte) netbios.Name {
	t.Helper()
	n, err := netbios.NewName(s, sfx)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// With the listeners bound to loopback, `name add` succeeds: the name is
// registered where the bound address reaches (nowhere beyond this host),
// and the broadcasts it cannot send are not the caller's error. The name
// service runs on a high port with every interface allowed, so any LAN
// interface the host has is one the bound socket cannot reach.
func TestNameAddUnderLoopbackBind(t *testing.T) {
	d := startDaemon(t, "", "--nbns-port", strconv.Itoa(freeUDPPort(t)))
	waitRegistered(t, d, "MSGHOST")
	if o, err := d.cli("name", "add", "Nightowl"); err != nil || !strings.Contains(o, "NIGHTOWL was added") {
		t.Fatalf("name add under --bind 127.0.0.1: %v %s", err, o)
	}
	waitRegistered(t, d, "NIGHTOWL")
	if o, err := d.cli("name", "del", "nightowl"); err != nil {
		t.Fatalf("name del under --bind 127.0.0.1: %v %s", err, o)
	}
	if strings.Contains(d.stderr.String(), "internal error") {
		t.Errorf("the daemon logged an internal error:\n%s", d.stderr)
	}
}
