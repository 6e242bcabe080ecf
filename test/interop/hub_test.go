package interop

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/netsend/messenger/internal/api"
	"github.com/netsend/messenger/internal/apitype"
	"github.com/netsend/messenger/internal/hub"
	"github.com/netsend/messenger/internal/hubwire"
	"github.com/netsend/messenger/internal/message"
)

// hubSite is a site as issue 10 describes it: hosts with their own NATS
// credentials (from `messenger hub authorize`), a three-node nats-server
// cluster whose authorization block is what `messenger hub nats-config`
// printed, and a daemon per host joined to it with --hub.
type hubSite struct {
	t       *testing.T
	creds   string
	cluster *natsCluster
}

func newHubSite(t *testing.T, hosts ...string) *hubSite {
	t.Helper()
	natsServerBinary(t)
	s := &hubSite{t: t, creds: t.TempDir()}
	out, err := exec.Command(binary, append(append([]string{"hub", "authorize", "--admin"}, hosts...), "--dir", s.creds)...).CombinedOutput()
	if err != nil {
		t.Fatalf("messenger hub authorize --admin %s: %v\n%s", strings.Join(hosts, " "), err, out)
	}
	for _, h := range hosts {
		st, err := os.Stat(filepath.Join(s.creds, h+".nk"))
		if err != nil {
			t.Fatalf("messenger hub authorize wrote no seed for %s: %v", h, err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s.nk has mode %v, want 0600: it is a secret", h, st.Mode().Perm())
		}
	}
	s.cluster = startNATSCluster(t, 3, s.natsConfig())
	// Hosts may not create streams or consumers; the admin key does.
	out, err = exec.Command(binary, "hub", "provision", "--hub", s.cluster.urls(), "--dir", s.creds, "--replicas", "3").CombinedOutput()
	if err != nil {
		t.Fatalf("messenger hub provision: %v\n%s\n%s", err, out, s.cluster.logs())
	}
	return s
}

// natsConfig is the authorization block for every DIR/*.pub now.
func (s *hubSite) natsConfig() string {
	s.t.Helper()
	cmd := exec.Command(binary, "hub", "nats-config", "--dir", s.creds)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		s.t.Fatalf("messenger hub nats-config: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(string(out), "authorization") {
		s.t.Fatalf("messenger hub nats-config printed no authorization block:\n%s", out)
	}
	return string(out)
}

// args joins a daemon to the cluster as host with seed's credentials
// (normally the host's own) and one messenger name.
func (s *hubSite) args(host, seed, name string) []string {
	return []string{"--hub", s.cluster.urls(), "--hub-creds", filepath.Join(s.creds, seed+".nk"), "--hub-replicas", "3",
		"--host-name", host, "--name", name}
}

// start runs host's daemon with its own credentials.
func (s *hubSite) start(host, name, dataDir string) *daemon {
	s.t.Helper()
	return startDaemon(s.t, dataDir, s.args(host, host, name)...)
}

// connect is a raw NATS client holding host's seed, as anything on that
// host could be.
func (s *hubSite) connect(host string, errs chan<- error) *nats.Conn {
	s.t.Helper()
	opt, err := nats.NkeyOptionFromSeed(filepath.Join(s.creds, host+".nk"))
	if err != nil {
		s.t.Fatal(err)
	}
	nc, err := nats.Connect(s.cluster.urls(), opt, nats.Name("interop-"+host), nats.CustomInboxPrefix(hubwire.InboxPrefix(host)),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			if errs != nil {
				select {
				case errs <- err:
				default:
				}
			}
		}))
	if err != nil {
		s.t.Fatalf("connecting to the cluster as %s: %v\n%s", host, err, s.cluster.logs())
	}
	s.t.Cleanup(nc.Close)
	return nc
}

// waitRegistered waits until the registry (the messenger_names and
// messenger_hosts buckets, read as another host may) has name on host and
// says whether host is online.
func (s *hubSite) waitRegistered(reader, host, name string, online bool, logs func() string) {
	s.t.Helper()
	js, err := jetstream.New(s.connect(reader, nil))
	if err != nil {
		s.t.Fatal(err)
	}
	waitFor(s.t, 20*time.Second, func() string {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		names, err := js.KeyValue(ctx, "messenger_names")
		if err != nil {
			return "the messenger_names bucket: " + err.Error() + "\n" + logs()
		}
		if _, err := names.Get(ctx, hubwire.SubjectToken(host)+"."+hubwire.SubjectToken(name)); err != nil {
			return fmt.Sprintf("the registry has no %s on %s: %v\n%s", name, host, err, logs())
		}
		hosts, err := js.KeyValue(ctx, "messenger_hosts")
		if err != nil {
			return "the messenger_hosts bucket: " + err.Error() + "\n" + logs()
		}
		e, err := hosts.Get(ctx, hubwire.SubjectToken(host))
		if err != nil {
			return fmt.Sprintf("the registry has no host %s: %v\n%s", host, err, logs())
		}
		rec, err := hubwire.DecodeHostRecord(e.Value())
		if err != nil {
			return fmt.Sprintf("host %s's record %q: %v", host, e.Value(), err)
		}
		if rec.Online != online {
			return fmt.Sprintf("host %s's record says online=%v, want %v\n%s", host, rec.Online, online, logs())
		}
		return ""
	})
}

// hubStatus is `messenger hub status --json` of d.
func hubStatus(d *daemon) (hub.Status, error) {
	var st hub.Status
	out, err := d.cli("hub", "status", "--json")
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		return st, fmt.Errorf("hub status --json %q: %w", out, err)
	}
	return st, nil
}

// sentRows is `messenger sent --json` of d.
func sentRows(d *daemon) ([]apitype.Sent, error) {
	out, err := d.cli("sent", "--json")
	if err != nil {
		return nil, err
	}
	return decodeLines[apitype.Sent]("sent --json", out)
}

// waitSentState waits until d's sent row with text reaches state.
func waitSentState(t *testing.T, d *daemon, text string, state apitype.SentState, logs func() string) apitype.Sent {
	t.Helper()
	var row apitype.Sent
	waitFor(t, 20*time.Second, func() string {
		rows, err := sentRows(d)
		if err != nil {
			return err.Error()
		}
		for _, r := range rows {
			if r.Text == text {
				row = r
				if r.State == state {
					return ""
				}
				return fmt.Sprintf("sent row %q is %s, want %s\n%s", text, r.State, state, logs())
			}
		}
		return fmt.Sprintf("no sent row %q in %+v\n%s", text, rows, logs())
	})
	return row
}

// waitInbox waits until d's inbox holds a message with text and returns it.
func waitInbox(t *testing.T, d *daemon, text string, logs func() string) message.Message {
	t.Helper()
	var found message.Message
	waitFor(t, 20*time.Second, func() string {
		for _, m := range d.inbox() {
			if m.Text == text {
				found = m
				return ""
			}
		}
		return fmt.Sprintf("no message %q in the inbox\n%s", text, logs())
	})
	return found
}

func inboxHas(d *daemon, text string) bool {
	return slices.ContainsFunc(d.inbox(), func(m message.Message) bool { return m.Text == text })
}

// logsOf gathers what the daemons and the cluster said, for failures.
func logsOf(s *hubSite, ds map[string]**daemon) func() string {
	return func() string {
		var b strings.Builder
		for _, name := range slices.Sorted(maps.Keys(ds)) {
			if d := *ds[name]; d != nil && d.stderr != nil {
				fmt.Fprintf(&b, "--- daemon %s stderr:\n%s\n", name, tail(d.stderr.String(), 3000))
			}
		}
		b.WriteString(s.cluster.logs())
		return b.String()
	}
}

// TestHubThreeDaemons is issue 10's "done when": three daemons (separate
// processes, data directories and ports) on a three-node nats-server
// cluster, replicas 3.
func TestHubThreeDaemons(t *testing.T) {
	s := newHubSite(t, "HOSTA", "HOSTB", "HOSTC")
	bDir := t.TempDir()
	var a, b, c *daemon
	logs := logsOf(s, map[string]**daemon{"A": &a, "B": &b, "C": &c})
	a = s.start("HOSTA", "ALICE", "")
	c = s.start("HOSTC", "CAROL", "")

	// B registers BOB once and stops cleanly: the registry keeps the name
	// and marks the host offline.
	b = s.start("HOSTB", "BOB", bDir)
	s.waitRegistered("HOSTA", "HOSTB", "BOB", true, logs)
	b.stop()
	s.waitRegistered("HOSTA", "HOSTB", "BOB", false, logs)

	const offline1 = "first, while HOSTB is off"
	const offline2 = "second, with a wait that runs out"
	t.Run("offline recipient: queued, exit 0", func(t *testing.T) {
		out, errOut, code := a.send("", "BOB", "--from", "alice", offline1)
		if code != 0 || !strings.Contains(out, "queued") || !strings.Contains(out, "HOSTB") {
			t.Fatalf("send to BOB on an offline host: exit %d, want 0 and a line saying it is queued for HOSTB\nstdout: %s\nstderr: %s\n%s", code, out, errOut, logs())
		}
	})
	t.Run("--wait to an offline host answers at once", func(t *testing.T) {
		// Issue 20, item 4: the registry has HOSTB offline, so the wait
		// is not waited: queued, said at once, exit 0 as documented.
		start := time.Now()
		out, errOut, code := a.send("", "BOB", "--from", "alice", "--wait=30s", offline2)
		if code != 0 || !strings.Contains(out, "queued") || !strings.Contains(out, "offline") || time.Since(start) > 15*time.Second {
			t.Fatalf("send --wait=30s to an offline host: exit %d after %s, want 0 at once and a line saying it is queued\nstdout: %s\nstderr: %s\n%s",
				code, time.Since(start), out, errOut, logs())
		}
		if errOut != "" {
			t.Errorf("progress or noise on a piped stderr: %q", errOut)
		}
		rows, err := sentRows(a)
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(rows, func(r apitype.Sent) bool { return r.Text == offline2 })
		if i < 0 || rows[i].State != apitype.SentSent && rows[i].State != apitype.SentQueued {
			t.Errorf("A's sent rows are %+v; want %q there, sent or queued", rows, offline2)
		}
	})

	// B returns and takes what waited for it, in the order it was sent.
	b = s.start("HOSTB", "BOB", bDir)
	t.Run("delivered when the host returns", func(t *testing.T) {
		for _, text := range []string{offline1, offline2} {
			m := waitInbox(t, b, text, logs)
			if m.Transport != message.TransportHub || m.Verified != "HOSTA" || m.From != "alice" || m.HubID == "" {
				t.Errorf("BOB's copy of %q: transport %q verified %q from %q hub id %q, want hub, HOSTA, alice and an id",
					text, m.Transport, m.Verified, m.From, m.HubID)
			}
			if !strings.EqualFold(m.To, "BOB") {
				t.Errorf("BOB's copy of %q is addressed to %q", text, m.To)
			}
			// Issue 20, item 13: when it was sent, not only when it came.
			if m.SentAt == nil || !m.SentAt.Before(m.Time) {
				t.Errorf("BOB's copy of %q: sent_at %v, arrived %v; want the earlier sending time", text, m.SentAt, m.Time)
			}
			row := waitSentState(t, a, text, apitype.SentDelivered, logs)
			if row.HubID != m.HubID || row.Host != "HOSTB" || row.Delivered.IsZero() {
				t.Errorf("A's sent row %+v does not match B's copy (hub id %q) or lacks its delivered time", row, m.HubID)
			}
		}
		var order []string
		for _, m := range b.inbox() {
			order = append(order, m.Text)
		}
		if i, j := slices.Index(order, offline1), slices.Index(order, offline2); i > j {
			t.Errorf("BOB's inbox has the two waiting messages out of order: %q", order)
		}
	})

	t.Run("hub status", func(t *testing.T) {
		var st hub.Status
		waitFor(t, 20*time.Second, func() string {
			var err error
			if st, err = hubStatus(a); err != nil {
				return err.Error()
			}
			for _, h := range []string{"HOSTA", "HOSTB", "HOSTC"} {
				if !slices.Contains(st.HostsOnline, h) {
					return fmt.Sprintf("A's hub status lists %q online, want HOSTA, HOSTB and HOSTC\n%s", st.HostsOnline, logs())
				}
			}
			return ""
		})
		if !st.Connected || st.Host != "HOSTA" || st.ClusterName != s.cluster.name || st.ServerName == "" {
			t.Errorf("A's hub status: %+v, want connected as HOSTA to a server of cluster %s", st, s.cluster.name)
		}
		if peers := slices.Compact(slices.Sorted(slices.Values(st.ClusterPeers))); len(peers) != 3 {
			t.Errorf("A's hub status names cluster peers %q, want the three nodes", st.ClusterPeers)
		}
		if !slices.ContainsFunc(st.Streams, func(ss hub.StreamStatus) bool { return ss.Name == "MESSENGER_MSG" && ss.Messages >= 2 }) {
			t.Errorf("A's hub status shows streams %+v, want MESSENGER_MSG with the two messages sent so far", st.Streams)
		}
	})

	const waited = "sent with --wait, host online"
	t.Run("--wait returns once the recipient stored it", func(t *testing.T) {
		out, errOut, code := a.send("", "BOB", "--from", "alice", "--wait=20s", waited)
		if code != 0 || !strings.Contains(out, "delivered") {
			t.Fatalf("send --wait=20s: exit %d, want 0 and a line saying it was delivered\nstdout: %s\nstderr: %s\n%s", code, out, errOut, logs())
		}
		// No waiting here: --wait promised it is stored already.
		if !inboxHas(b, waited) {
			t.Fatalf("send --wait returned before BOB's inbox had the message\n%s", logs())
		}
	})

	t.Run("read receipt", func(t *testing.T) {
		m := waitInbox(t, b, waited, logs)
		if _, err := b.cli("read", strconv.FormatInt(m.ID, 10)); err != nil {
			t.Fatal(err)
		}
		row := waitSentState(t, a, waited, apitype.SentRead, logs)
		if row.Read.IsZero() || row.Read.Before(row.Delivered) {
			t.Errorf("A's sent row after the read receipt: read %v, delivered %v", row.Read, row.Delivered)
		}
	})

	t.Run("a domain broadcast crosses the hub", func(t *testing.T) {
		// The daemons have no datagram service here (no subnet to share),
		// so the mailslot half fails; the hub half must still reach every
		// other daemon of the workgroup, verified, and not the sender.
		text := "to all of WORKGROUP through the hub"
		out, errOut, _ := a.send("", "--domain", "WORKGROUP", "--from", "alice", text)
		if !strings.Contains(out, "through the hub") {
			t.Fatalf("send --domain: stdout %q, stderr %q; want the hub's line\n%s", out, errOut, logs())
		}
		for name, d := range map[string]*daemon{"B": b, "C": c} {
			m := waitInbox(t, d, text, logs)
			if m.Transport != message.TransportHub || m.Verified != "HOSTA" || m.From != "alice" {
				t.Errorf("%s got the broadcast as %+v; want transport hub, verified HOSTA, from alice", name, m)
			}
		}
		if inboxHas(a, text) {
			t.Errorf("the sender's own inbox has its broadcast")
		}
	})

	t.Run("a host cannot publish as another", func(t *testing.T) {
		errs := make(chan error, 4)
		nc := s.connect("HOSTA", errs)
		forged := "from HOSTA's seed, under HOSTC's subject"
		env, err := hubwire.EncodeEnvelope(hubwire.Envelope{ID: hubwire.NewID(), To: "BOB", From: "carol", Text: forged, Sent: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		if err := nc.Publish("messenger.msg.HOSTB.HOSTC", env); err != nil {
			t.Fatal(err)
		}
		nc.Flush()
		select {
		case err := <-errs:
			if !errors.Is(err, nats.ErrPermissionViolation) || !strings.Contains(err.Error(), "messenger.msg.HOSTB.HOSTC") {
				t.Fatalf("publishing to messenger.msg.HOSTB.HOSTC as HOSTA: %v, want a permissions violation naming the subject", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("publishing to messenger.msg.HOSTB.HOSTC as HOSTA brought no permissions violation in 10s\n%s", s.cluster.logs())
		}
		// Through JetStream too: the publish gets no acknowledgement.
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		_, err = js.Publish(ctx, "messenger.msg.HOSTB.HOSTC", env, jetstream.WithMsgID(hubwire.NewID()))
		cancel()
		if err == nil {
			t.Fatal("a JetStream publish to messenger.msg.HOSTB.HOSTC as HOSTA was acknowledged")
		}
		ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		stream, err := js.Stream(ctx, "MESSENGER_MSG")
		if err != nil {
			t.Fatal(err)
		}
		info, err := stream.Info(ctx, jetstream.WithSubjectFilter("messenger.msg.HOSTB.HOSTC"))
		if err != nil {
			t.Fatal(err)
		}
		if n := info.State.Subjects["messenger.msg.HOSTB.HOSTC"]; n != 0 {
			t.Fatalf("MESSENGER_MSG holds %d messages under messenger.msg.HOSTB.HOSTC, published by HOSTA", n)
		}

		// Under its own subject, a body that claims another sender shows
		// that name as text, but the verified host is the publisher's.
		claim := "a body that claims to be from HOSTC"
		env, err = hubwire.EncodeEnvelope(hubwire.Envelope{ID: hubwire.NewID(), To: "BOB", From: "CAROL", Text: claim, Sent: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		var fields map[string]any
		json.Unmarshal(env, &fields)
		fields["verified"], fields["host"], fields["from_host"] = "HOSTC", "HOSTC", "HOSTC"
		env, _ = json.Marshal(fields)
		if _, err := js.Publish(ctx, "messenger.msg.HOSTB.HOSTA", env, jetstream.WithMsgID(hubwire.NewID())); err != nil {
			t.Fatalf("HOSTA publishing under its own subject: %v", err)
		}
		m := waitInbox(t, b, claim, logs)
		if m.Verified != "HOSTA" || m.From != "CAROL" {
			t.Errorf("the forged body arrived verified %q from %q, want verified HOSTA (the publisher) and CAROL only as the shown name", m.Verified, m.From)
		}
		// It came after the forged one, in the same stream: had the forged
		// one got in, it would be there by now.
		if inboxHas(b, forged) {
			t.Errorf("BOB's inbox has the message HOSTA published as HOSTC")
		}
	})

	t.Run("a daemon lying about its host name cannot send", func(t *testing.T) {
		// HOSTA's seed, HOSTC's name: the hub refuses what HOSTC may do.
		liar := newDaemon(t, "", "", freePort(t), "127.0.0.1", s.args("HOSTC", "HOSTA", "MALLORY")...)
		text := "from a daemon that says it is HOSTC with HOSTA's seed"
		if err := liar.launch(); err != nil {
			if !strings.Contains(strings.ToLower(err.Error()), "permission") {
				t.Fatalf("the lying daemon did not start, but without saying the hub refused its permissions:\n%v", err)
			}
			return
		}
		t.Cleanup(liar.stop)
		out, errOut, code := liar.send("", "BOB", "--from", "mallory", "--via", "hub", "--wait=5s", text)
		if code == 0 {
			t.Fatalf("the lying daemon's send exited 0\nstdout: %s\nstderr: %s\nits log:\n%s", out, errOut, liar.stderr)
		}
		if !strings.Contains(strings.ToLower(out+errOut), "permission") {
			t.Errorf("the lying daemon's send failed without saying the hub refused its permissions:\nstdout: %s\nstderr: %s\nits log:\n%s", out, errOut, tail(liar.stderr.String(), 3000))
		}
		marker := "after the lying daemon's attempt"
		if _, errOut, code := a.send("", "BOB", "--from", "alice", "--wait=20s", marker); code != 0 {
			t.Fatalf("A's marker: exit %d\n%s\n%s", code, errOut, logs())
		}
		if inboxHas(b, text) {
			t.Errorf("BOB's inbox has the lying daemon's message")
		}
	})

	t.Run("a NATS node killed during a stream loses and duplicates nothing", func(t *testing.T) {
		streamThroughNodeKill(t, s, map[string]*daemon{"HOSTA": a, "HOSTC": c}, b, logs)
	})

	t.Run("the outbox holds sends while the hub is down", func(t *testing.T) {
		for _, n := range s.cluster.nodes {
			n.stop()
		}
		waitFor(t, 20*time.Second, func() string {
			if st, err := hubStatus(a); err != nil || st.Connected {
				return fmt.Sprintf("A still connected to a hub whose servers all stopped (%v)\n%s", err, logs())
			}
			return ""
		})
		texts := []string{"outbox 1 while the hub is down", "outbox 2 while the hub is down"}
		for _, text := range texts {
			out, errOut, code := a.send("", "BOB", "--from", "alice", text)
			if code != 0 || !strings.Contains(out, "queued") {
				t.Fatalf("send with the hub down: exit %d, want 0 and queued\nstdout: %s\nstderr: %s\n%s", code, out, errOut, logs())
			}
		}
		for _, text := range texts {
			waitSentState(t, a, text, apitype.SentQueued, logs)
		}
		if st, err := hubStatus(a); err != nil || st.Outbox != len(texts) {
			t.Errorf("hub status with the hub down: %+v, %v; want %d in the outbox", st, err, len(texts))
		}
		// BOB reads a message meanwhile: its read receipt is kept by B
		// and reaches A once the hub is back.
		waitFor(t, 20*time.Second, func() string {
			if st, err := hubStatus(b); err != nil || st.Connected {
				return fmt.Sprintf("B still connected to a hub whose servers all stopped (%v)\n%s", err, logs())
			}
			return ""
		})
		unread := waitInbox(t, b, offline1, logs)
		if _, err := b.cli("read", strconv.FormatInt(unread.ID, 10)); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 20*time.Second, func() string {
			if st, err := hubStatus(b); err != nil || st.ReceiptsOwed != 1 {
				return fmt.Sprintf("B's hub status with the hub down: %+v, %v; want 1 receipt owed\n%s", st, err, logs())
			}
			return ""
		})
		for _, n := range s.cluster.nodes {
			n.start()
		}
		s.cluster.waitReady(30 * time.Second)
		var got []string
		waitFor(t, 60*time.Second, func() string {
			got = got[:0]
			for _, m := range b.inbox() {
				if slices.Contains(texts, m.Text) {
					got = append(got, m.Text)
				}
			}
			if len(got) < len(texts) {
				return fmt.Sprintf("BOB has %q of the outbox's %q after the hub returned\n%s", got, texts, logs())
			}
			return ""
		})
		if !slices.Equal(got, texts) {
			t.Errorf("BOB got the outbox as %q, want %q once each, in order", got, texts)
		}
		for _, text := range texts {
			waitSentState(t, a, text, apitype.SentDelivered, logs)
		}
		waitSentState(t, a, offline1, apitype.SentRead, logs)
		waitFor(t, 20*time.Second, func() string {
			if st, err := hubStatus(b); err != nil || st.ReceiptsOwed != 0 {
				return fmt.Sprintf("B's hub status once the hub is back: %+v, %v; want no receipt owed\n%s", st, err, logs())
			}
			return ""
		})
	})

	t.Run("a revoked host cannot send", func(t *testing.T) {
		pubPath := filepath.Join(s.creds, "HOSTC.pub")
		pub, err := os.ReadFile(pubPath)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(s.cluster.auth, strings.TrimSpace(string(pub))) {
			t.Fatalf("nats-config does not list HOSTC's key %s:\n%s", pub, s.cluster.auth)
		}
		if err := os.Remove(pubPath); err != nil {
			t.Fatal(err)
		}
		auth := s.natsConfig()
		if strings.Contains(auth, strings.TrimSpace(string(pub))) {
			t.Fatalf("nats-config still lists HOSTC's key after HOSTC.pub was removed:\n%s", auth)
		}
		s.cluster.reload(auth)
		waitFor(t, 20*time.Second, func() string {
			st, err := hubStatus(c)
			if err != nil {
				return err.Error()
			}
			if st.Connected {
				return "C's daemon is still connected to the hub after HOSTC.pub was removed and the servers reloaded\n" + logs()
			}
			return ""
		})
		text := "from HOSTC after it was revoked"
		out, errOut, code := c.send("", "BOB", "--from", "carol", text)
		// The hub refuses this host's key now; queuing the message for a
		// hub that will never take it would hide that.
		low := strings.ToLower(out + errOut)
		if code == 0 || !strings.Contains(low, "authoriz") && !strings.Contains(low, "revoked") {
			t.Errorf("a revoked host's send: exit %d, want non-zero and an error saying the hub refused its credentials\nstdout: %s\nstderr: %s\nits log:\n%s",
				code, out, errOut, tail(c.stderr.String(), 3000))
		}
		marker := "after HOSTC was revoked"
		if _, errOut, code := a.send("", "BOB", "--from", "alice", "--wait=20s", marker); code != 0 {
			t.Fatalf("HOSTA, still authorized, after the reload: exit %d\n%s\n%s", code, errOut, logs())
		}
		if inboxHas(b, text) {
			t.Errorf("BOB's inbox has a message HOSTC sent after it was revoked")
		}
	})
}

// streamThroughNodeKill sends numbered messages to BOB from every sender
// at once, SIGKILLs the node that leads the message stream a third of the
// way through and restarts it two thirds through, then checks that BOB's
// inbox has every number of every sender exactly once, in each sender's
// order.
func streamThroughNodeKill(t *testing.T, s *hubSite, senders map[string]*daemon, b *daemon, logs func() string) {
	const perSender = 200
	total := perSender * len(senders)
	var sent atomic.Int64
	killAt, restartAt := int64(total/3), int64(2*total/3)
	reachedKill, reachedRestart := make(chan struct{}), make(chan struct{})
	var failures sync.Map
	var wg sync.WaitGroup
	for host, d := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := api.NewClient(filepath.Join(d.dataDir, "messenger.sock"))
			for n := 1; n <= perSender; n++ {
				text := fmt.Sprintf("stream %s %03d", host, n)
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				out, err := client.Send(ctx, apitype.SendRequest{To: "BOB", From: "stream", Text: text})
				cancel()
				if err == nil && (len(out) != 1 || !out[0].OK() || out[0].Via != "hub") {
					err = fmt.Errorf("outcome %+v", out)
				}
				if err != nil {
					failures.Store(text, err)
				}
				switch sent.Add(1) {
				case killAt:
					close(reachedKill)
				case restartAt:
					close(reachedRestart)
				}
			}
		}()
	}
	start := time.Now()
	victim := s.cluster.streamLeader("MESSENGER_MSG")
	<-reachedKill
	victim.kill()
	t.Logf("%v: killed nats-server %s after %d sends", time.Since(start).Round(time.Millisecond), victim.name, killAt)
	<-reachedRestart
	victim.start()
	t.Logf("%v: restarted %s after %d sends", time.Since(start).Round(time.Millisecond), victim.name, restartAt)
	wg.Wait()
	t.Logf("%v: all %d sends answered", time.Since(start).Round(time.Millisecond), total)
	s.cluster.waitReady(30 * time.Second)
	t.Logf("%v: cluster ready", time.Since(start).Round(time.Millisecond))
	failures.Range(func(k, v any) bool {
		t.Errorf("send %q (node %s killed and restarted meanwhile): %v", k, victim.name, v)
		return true
	})

	// Bounded well past the message consumer's ack wait (hubwire.MsgAckWait,
	// plus the wait for stranded messages): an ack lost with the killed
	// node holds BOB's messages until the hub redelivers, which delays
	// but must not lose or repeat anything.
	var got []message.Message
	waitFor(t, 60*time.Second, func() string {
		got = got[:0]
		for _, m := range b.inbox() {
			if strings.HasPrefix(m.Text, "stream ") {
				got = append(got, m)
			}
		}
		if len(got) < total {
			return fmt.Sprintf("BOB's inbox has %d of the %d streamed messages\n%s", len(got), total, logs())
		}
		return ""
	})
	t.Logf("%v: BOB has all %d", time.Since(start).Round(time.Millisecond), total)
	// What a node failure costs in delay: the longest pause in BOB's
	// deliveries (with one message in flight, an ack lost with the node
	// holds the consumer until the hub redelivers).
	var pause time.Duration
	pauseAfter := ""
	for i := 1; i < len(got); i++ {
		if d := got[i].Time.Sub(got[i-1].Time); d > pause {
			pause, pauseAfter = d, got[i-1].Text
		}
	}
	t.Logf("longest pause in BOB's deliveries: %v, after %q", pause.Round(time.Millisecond), pauseAfter)
	for host := range senders {
		seen := map[int]int{}
		last := 0
		for _, m := range got {
			num, ok := strings.CutPrefix(m.Text, "stream "+host+" ")
			if !ok {
				continue
			}
			n, err := strconv.Atoi(num)
			if err != nil {
				t.Fatalf("streamed text %q", m.Text)
			}
			seen[n]++
			if m.Verified != host {
				t.Errorf("%q arrived verified %q, want %s", m.Text, m.Verified, host)
			}
			if n < last {
				t.Errorf("from %s: %d arrived after %d", host, n, last)
			}
			last = max(last, n)
		}
		for n := 1; n <= perSender; n++ {
			if seen[n] != 1 {
				t.Errorf("from %s: message %d is in BOB's inbox %d times", host, n, seen[n])
			}
		}
	}
	if len(got) != total {
		t.Errorf("BOB's inbox has %d streamed messages, want %d", len(got), total)
	}
}
