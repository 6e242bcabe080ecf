package interop

import (
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// floodPolicy holds a spam run back, limits every source and the whole
// host, and drops without storing once the limits are overrun.
const floodPolicy = `
[policy]
trust = ["127.0.0.1"]
quarantine_max = 100

[policy.rate]
per_source = { rate = "3/1m" }
global = { rate = "400/1s", burst = 400 }

[policy.flood]
threshold = 200
hold = "3s"

[policy.spam_run]
window = "10m"
recipients = 4
sources = 4
`

// A bounded spam flood — MESSNGR datagrams and SMB sessions from
// thousands of 127.x.y.z addresses to many recipients — while a trusted
// sender on 127.0.0.1 sends its own messages: all of the trusted ones
// arrive, in order; the quarantine stays within its cap; the daemon's
// memory stays bounded.
func TestSpamFlood(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "m.toml")
	writeConfig(t, conf, floodPolicy)
	dgramPort := freeUDPPortFlood(t)
	args := []string{"--config", conf, "--dgram-port", strconv.Itoa(dgramPort), "--popup=false"}
	for i := range 8 {
		args = append(args, "--name", fmt.Sprintf("USER%d", i))
	}
	d := startDaemon(t, "", args...)
	pid := d.cmd.Process.Pid
	rssBefore := rssKB(t, pid)

	const (
		dgramWorkers   = 4
		sourcesPerWkr  = 500 // distinct 127.w.x.y addresses per worker
		dgramsPerSrc   = 40
		smbWorkers     = 4
		sessionsPerWkr = 150
		trusted        = 200
		floodFor       = 20 * time.Second // bound, should the machine be slow
	)
	dst := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: dgramPort}
	deadline := time.Now().Add(floodFor)
	var sent, smbSent, smbRefused atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range dgramWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pkts := make([][]byte, 8)
			for i := range pkts {
				pkts[i] = mailslotDatagram(t, "SPAMMER", fmt.Sprintf("USER%d", i), "Buy cheap software now at http://spam.example/"+strconv.Itoa(i))
			}
			for s := range sourcesPerWkr {
				if time.Now().After(deadline) {
					return
				}
				src := net.IPv4(127, byte(10+w), byte(s/250), byte(1+s%250))
				c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: src})
				if err != nil {
					t.Errorf("binding %v: %v", src, err)
					return
				}
				for i := range dgramsPerSrc {
					if _, err := c.WriteToUDP(pkts[i%len(pkts)], dst); err == nil {
						sent.Add(1)
					}
				}
				c.Close()
			}
		}()
	}
	for w := range smbWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for s := range sessionsPerWkr {
				if time.Now().After(deadline) {
					return
				}
				src := netip.AddrFrom4([4]byte{127, byte(20 + w), byte(s / 250), byte(1 + s%250)})
				err := smbSend(d, src, "SPAMMER", fmt.Sprintf("USER%d", s%8), "Buy cheap software now at http://spam.example/")
				smbSent.Add(1)
				if err != nil {
					smbRefused.Add(1)
				}
			}
		}()
	}
	var rssPeak atomic.Int64
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
				if r := int64(rssKB(t, pid)); r > rssPeak.Load() {
					rssPeak.Store(r)
				}
			}
		}
	}()

	// The trusted sender, meanwhile, over its own sessions.
	start := time.Now()
	for i := range trusted {
		if err := smbSend(d, netip.MustParseAddr("127.0.0.1"), "UPS", "MSGHOST", fmt.Sprintf("on battery %03d", i)); err != nil {
			t.Fatalf("trusted message %d refused during the flood: %v", i, err)
		}
	}
	trustedTook := time.Since(start)
	wg.Wait()
	close(stop)
	floodTook := time.Since(start)
	time.Sleep(500 * time.Millisecond) // let queued datagrams be judged
	rssAfter := rssKB(t, pid)

	var got []string
	for _, m := range d.inbox() {
		if m.From == "UPS" {
			got = append(got, m.Text)
		}
	}
	if len(got) != trusted {
		t.Fatalf("%d of %d trusted messages delivered", len(got), trusted)
	}
	for i, text := range got {
		if want := fmt.Sprintf("on battery %03d", i); text != want {
			t.Fatalf("trusted message %d is %q, want %q: out of order", i, text, want)
		}
	}
	q := d.spamList()
	if len(q) > 100 {
		t.Errorf("quarantine holds %d messages, cap 100", len(q))
	}
	metrics := d.metrics()
	if !strings.Contains(metrics, `rule="flood",verdict="drop"`) {
		t.Errorf("no flood drops counted:\n%s", grepLines(metrics, "policy_decisions"))
	}
	t.Logf("flood: %d datagrams from %d sources and %d SMB sessions (%d refused) in %v; trusted %d delivered in order in %v",
		sent.Load(), dgramWorkers*sourcesPerWkr, smbSent.Load(), smbRefused.Load(), floodTook.Round(time.Millisecond), trusted, trustedTook.Round(time.Millisecond))
	t.Logf("quarantine: %d messages (cap 100); inbox: %d", len(q), len(d.inbox()))
	t.Logf("RSS: before %d KiB, peak during %d KiB, after %d KiB", rssBefore, rssPeak.Load(), rssAfter)
	t.Logf("decisions:\n%s", grepLines(metrics, "messenger_policy_decisions_total{"))
	// Datagrams the socket buffer or the delivery queue could not take
	// never reach the policy; say how many.
	t.Logf("rejected before or by the policy:\n%s", grepLines(metrics, "messenger_messages_rejected_total{"))
	if rssPeak.Load() > int64(rssBefore)+200*1024 {
		t.Errorf("RSS grew from %d KiB to %d KiB during the flood", rssBefore, rssPeak.Load())
	}
}
