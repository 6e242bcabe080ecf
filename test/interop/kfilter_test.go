package interop

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// metricValue is the value of an unlabelled metric in a /metrics page, -1
// when it is not there.
func metricValue(page, name string) float64 {
	for _, line := range strings.Split(page, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err == nil {
				return f
			}
		}
	}
	return -1
}

// kernelFloodPolicy judges a source a flood at its third datagram in a
// minute, and holds it in the kernel filter for a minute; 127.0.0.1 is
// trusted.
const kernelFloodPolicy = `
[policy]
trust = ["127.0.0.1"]
[policy.rate]
per_source = { rate = "2/1m" }
[policy.flood]
threshold = 2
hold = "1m"
`

// A source over its own limit in flood mode is installed in the kernel
// filter: its later datagrams are dropped unread (the policy decides
// nothing more) and counted; a trusted source is still heard; trusting
// the source at run time empties the filter, and it is heard at once.
func TestKernelFilterDropsFloodingSource(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the kernel filter needs root (or CAP_BPF); run the test as root")
	}
	conf := filepath.Join(t.TempDir(), "m.toml")
	writeConfig(t, conf, kernelFloodPolicy)
	port := freeUDPPortFlood(t)
	d := startDaemon(t, "", "--config", conf, "--dgram-port", strconv.Itoa(port), "--popup=false")
	if !strings.Contains(d.stderr.String(), "kernel filter in force") {
		t.Fatalf("the start log does not say the kernel filter is in force:\n%s", d.stderr)
	}
	dst := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}
	sendFrom := func(ip net.IP, n int, text string) { sendDatagrams(t, ip, dst, n, text) }
	spammer := net.IPv4(127, 0, 6, 1)
	expectKernelDrops(t, d, spammer, dst)

	sendFrom(net.IPv4(127, 0, 0, 1), 1, "from a trusted source")
	if out, err := d.cli("spam", "trust", "127.0.6.1"); err != nil {
		t.Fatalf("spam trust: %v\n%s", err, out)
	}
	if v := metricValue(d.metrics(), "messenger_kernel_filter_sources"); v != 0 {
		t.Errorf("after spam trust the kernel filter holds %v sources", v)
	}
	sendFrom(spammer, 1, "trusted now")
	waitFor(t, 10*time.Second, func() string {
		var got []string
		for _, m := range d.inbox() {
			got = append(got, m.Text)
		}
		all := strings.Join(got, "|")
		if !strings.Contains(all, "from a trusted source") || !strings.Contains(all, "trusted now") {
			return "inbox: " + all
		}
		return ""
	})
}

// sendDatagrams sends n mailslot messages from ip to dst.
func sendDatagrams(t *testing.T, ip net.IP, dst *net.UDPAddr, n int, text string) {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: ip})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	b := mailslotDatagram(t, "SPAMMER", "MSGHOST", text)
	for range n {
		if _, err := c.WriteToUDP(b, dst); err != nil {
			t.Fatal(err)
		}
	}
}

// expectKernelDrops floods d's datagram port at dst from spammer, under a
// policy that judges 2 datagrams a flood, and checks that the source is
// installed in the kernel filter and that its later datagrams are dropped
// there: counted by the kernel, never judged by the policy.
func expectKernelDrops(t *testing.T, d *daemon, spammer net.IP, dst *net.UDPAddr) {
	t.Helper()
	sendDatagrams(t, spammer, dst, 50, "buy now")
	waitFor(t, 10*time.Second, func() string {
		if v := metricValue(d.metrics(), "messenger_kernel_filter_sources"); v != 1 {
			return "kernel filter sources: " + strconv.FormatFloat(v, 'f', -1, 64)
		}
		return ""
	})
	time.Sleep(200 * time.Millisecond) // what was queued before the install is judged
	page := d.metrics()
	decided := grepLines(page, "messenger_policy_decisions_total{")
	dropped := metricValue(page, "messenger_kernel_dropped_total")

	sendDatagrams(t, spammer, dst, 30, "buy now")
	waitFor(t, 10*time.Second, func() string {
		if v := metricValue(d.metrics(), "messenger_kernel_dropped_total"); v != dropped+30 {
			return "kernel drops: " + strconv.FormatFloat(v, 'f', -1, 64) + ", want " + strconv.FormatFloat(dropped+30, 'f', -1, 64)
		}
		return ""
	})
	if now := grepLines(d.metrics(), "messenger_policy_decisions_total{"); now != decided {
		t.Errorf("the policy judged datagrams the kernel should have dropped:\nbefore\n%s\nafter\n%s", decided, now)
	}
}
