package interop

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Bits of the capability masks in /proc/PID/status.
const (
	capNetBindService = 10
	capBPF            = 39
)

// procCaps is the capability sets of a thread's status file
// (/proc/PID/task/TID/status) by name: CapEff, CapPrm, CapInh, CapAmb,
// CapBnd.
func procCaps(t *testing.T, status string) map[string]uint64 {
	t.Helper()
	b, err := os.ReadFile(status)
	if err != nil {
		t.Fatal(err)
	}
	sets := map[string]uint64{}
	for _, line := range strings.Split(string(b), "\n") {
		name, hex, ok := strings.Cut(line, ":\t")
		if !ok || !strings.HasPrefix(name, "Cap") {
			continue
		}
		v, err := strconv.ParseUint(hex, 16, 64)
		if err != nil {
			t.Fatalf("%s: %q", status, line)
		}
		sets[name] = v
	}
	return sets
}

// freePrivilegedUDPPort is a UDP port below 1024 free on 127.0.0.1 a
// moment ago, other than the NetBIOS ones that Samba may hold.
func freePrivilegedUDPPort(t *testing.T) int {
	t.Helper()
	for port := 900; port < 1024; port++ {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
		if err == nil {
			c.Close()
			return port
		}
	}
	t.Skip("no free UDP port between 900 and 1023 on 127.0.0.1")
	return 0
}

// The daemon as the packaged unit runs it, without root's powers but
// CAP_BPF and CAP_NET_BIND_SERVICE (here a real account given them by
// setpriv, as systemd's AmbientCapabilities does): it loads the kernel
// filter and binds a port below 1024, then holds neither capability in
// any set but the bounding one, and the filter still drops a flooding
// source in the kernel with the descriptors the daemon kept.
func TestCapabilitiesDroppedOnceStarted(t *testing.T) {
	requireRoot(t, "creating a local account and handing it CAP_BPF and CAP_NET_BIND_SERVICE")
	requirePeer(t, "setpriv")
	a := addAccount(t, "msgcaps")
	data := sharedDir(t)
	conf := filepath.Join(filepath.Dir(data), "m.toml")
	writeConfig(t, conf, kernelFloodPolicy)
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{data, conf} {
		if err := os.Chown(p, a.uid, a.gid); err != nil {
			t.Fatal(err)
		}
	}
	port := freePrivilegedUDPPort(t)
	d := newDaemon(t, "", data, freePort(t), "127.0.0.1", "--config", conf, "--dgram-port", strconv.Itoa(port), "--popup=false")
	d.as = func(prog string, args ...string) *exec.Cmd {
		return a.commandWith([]string{"--inh-caps=-all,+bpf,+net_bind_service", "--ambient-caps=+bpf,+net_bind_service",
			"--bounding-set=-all,+bpf,+net_bind_service", "--no-new-privs"}, prog, args...)
	}
	d.start()
	t.Cleanup(d.stop)

	log := d.stderr.String()
	if !strings.Contains(log, "kernel filter in force") {
		t.Fatalf("the start log does not say the kernel filter is in force:\n%s", log)
	}
	if !strings.Contains(log, `msg="capabilities dropped`) || !strings.Contains(log, "cap_bpf cap_net_bind_service") {
		t.Errorf("the start log does not say CAP_BPF and CAP_NET_BIND_SERVICE were dropped:\n%s", log)
	}
	// Every thread: each has its own sets, and the Go runtime runs the
	// daemon on several.
	threads, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", d.cmd.Process.Pid))
	if err != nil || len(threads) == 0 {
		t.Fatalf("no threads of the daemon in /proc: %v", err)
	}
	for _, status := range threads {
		sets := procCaps(t, status)
		if sets["CapBnd"]&(1<<capBPF) == 0 {
			t.Fatalf("setpriv did not hand on CAP_BPF (%s CapBnd %x): the test proves nothing", status, sets["CapBnd"])
		}
		for _, set := range []string{"CapEff", "CapPrm", "CapInh", "CapAmb"} {
			v, ok := sets[set]
			if !ok {
				t.Fatalf("no %s in %s", set, status)
			}
			if v&(1<<capBPF) != 0 {
				t.Errorf("%s %s still has CAP_BPF after the start: %016x", status, set, v)
			}
			if v&(1<<capNetBindService) != 0 {
				t.Errorf("%s %s still has CAP_NET_BIND_SERVICE after the start: %016x", status, set, v)
			}
		}
	}
	spammer, dst := net.IPv4(127, 0, 6, 2), &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}
	expectKernelDrops(t, d, spammer, dst)

	// A policy change empties the map, through the descriptor alone too.
	if out, err := d.cli("spam", "trust", spammer.String()); err != nil {
		t.Fatalf("spam trust: %v\n%s", err, out)
	}
	if v := metricValue(d.metrics(), "messenger_kernel_filter_sources"); v != 0 {
		t.Errorf("after spam trust the kernel filter holds %v sources", v)
	}
	sendDatagrams(t, spammer, dst, 1, "trusted now")
	waitFor(t, 10*time.Second, func() string {
		for _, m := range d.inbox() {
			if m.Text == "trusted now" {
				return ""
			}
		}
		return "the trusted source's message is not in the inbox"
	})
}
