package hub

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/netsend/messenger/internal/apitype"
	"github.com/netsend/messenger/internal/hubauth"
	"github.com/netsend/messenger/internal/hubreg"
	"github.com/netsend/messenger/internal/hubserver"
	"github.com/netsend/messenger/internal/hubwire"
	"github.com/netsend/messenger/internal/message"
)

// Claim timings for these tests: a live host refreshes its claim thirty
// times within its lifetime, so only a stopped one lets it lapse.
const (
	testHeartbeat = 100 * time.Millisecond
	testLifetime  = 3 * time.Second
)

func withClaimTimings(o *Options) { o.heartbeat, o.claimLifetime = testHeartbeat, testLifetime }

// nameStates records what a host's Options.NameState heard.
type nameStates struct {
	mu    sync.Mutex
	state map[string]bool // name to conflict
}

func (n *nameStates) option(o *Options) {
	o.NameState = func(name string, conflict bool) {
		n.mu.Lock()
		defer n.mu.Unlock()
		if n.state == nil {
			n.state = map[string]bool{}
		}
		n.state[name] = conflict
	}
}

func (n *nameStates) conflict(name string) (conflict, told bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	conflict, told = n.state[name]
	return conflict, told
}

// owner asks the registry, not the memo, who holds name.
func owner(t *testing.T, h *testHost, name string) string {
	t.Helper()
	h.memo.forget(hubwire.SubjectToken(name))
	host, _, err := h.Lookup(ctxT(t), name)
	if err != nil {
		t.Fatalf("Lookup(%s): %v", name, err)
	}
	return host
}

func waitOwner(t *testing.T, h *testHost, name, host string) {
	t.Helper()
	eventually(t, name+" on "+host, func() bool {
		h.memo.forget(hubwire.SubjectToken(name))
		got, _, err := h.Lookup(context.Background(), name)
		return err == nil && got == host
	})
}

// sendTo sends to name from h, fresh from the registry, and waits until
// it is delivered to want.
func sendTo(t *testing.T, from *testHost, name, text string, want *testHost) {
	t.Helper()
	from.memo.forget(hubwire.SubjectToken(name))
	res := send(t, from, name, text)
	if res.Sent.Host != want.opts.HostName {
		t.Fatalf("%q to %s went to %s, want %s", text, name, res.Sent.Host, want.opts.HostName)
	}
	waitState(t, from, res.Sent.HubID, apitype.SentDelivered)
	if !slices.ContainsFunc(want.local.messages(), func(m message.Message) bool { return m.Text == text }) {
		t.Fatalf("%s did not store %q", want.opts.HostName, text)
	}
}

// TestForgedClaimDoesNotTakeName is issue 15's attack: HOSTB, with its
// own valid key, writes its host record with a "seen" ten years ahead and
// claims HOSTC's name CAROL. The name stays HOSTC's while HOSTC refreshes
// it; HOSTB is told of the conflict; the name passes to HOSTB only when
// an admin releases HOSTC's claim or HOSTC stops refreshing it.
func TestForgedClaimDoesNotTakeName(t *testing.T) {
	e, h := startTestEmbeddedWith(t, func(o *hubserver.Options) { o.SelfHost = "HOSTA" }, "HOSTB", "HOSTC")
	ctx := ctxT(t)
	hostOpts := func(host string) hostOption {
		if host == "HOSTA" {
			return func(o *Options) { o.NATSOptions = append(o.NATSOptions, e.SelfOptions()...) }
		}
		creds, err := hubauth.ConnectOptions(hubauth.SeedPath(h.dir, host))
		if err != nil {
			t.Fatal(err)
		}
		return func(o *Options) {
			o.NATSOptions = append(o.NATSOptions, append(creds, nats.CustomInboxPrefix(hubwire.InboxPrefix(host)))...)
		}
	}
	url := []string{e.ClientURL()}
	a := startHost(t, nil, "HOSTA", []string{"ALICE"}, nil, nil, hostOpts("HOSTA"), withClaimTimings)
	var cStates nameStates
	c := startHost(t, url, "HOSTC", []string{"CAROL"}, nil, nil, hostOpts("HOSTC"), withClaimTimings, cStates.option)
	waitLookup(t, a, "CAROL", "HOSTC", true)

	// The attacker writes the registry by hand, under its own token: the
	// only one its permissions let it write.
	evil := connectHost(t, h, "HOSTB")
	names, err := evil.JS.KeyValue(ctx, hubwire.BucketNames)
	if err != nil {
		t.Fatal(err)
	}
	hosts, err := evil.JS.KeyValue(ctx, hubwire.BucketHosts)
	if err != nil {
		t.Fatal(err)
	}
	future, err := hubwire.EncodeHostRecord(hubwire.HostRecord{Host: "HOSTB", Online: true, Seen: time.Now().AddDate(10, 0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	claim, err := hubwire.EncodeNameRecord(hubwire.NameRecord{Host: "HOSTB", Name: "CAROL"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hosts.Put(ctx, "HOSTB", future); err != nil {
		t.Fatal(err)
	}
	if _, err := names.Put(ctx, "HOSTB.CAROL", claim); err != nil {
		t.Fatal(err)
	}
	evil.PublishRefused(t, "$KV."+hubwire.BucketHosts+".HOSTC")
	evil.PublishRefused(t, "$KV."+hubwire.BucketNames+".HOSTC.CAROL")
	// It keeps its forged presence fresh, as a running host would.
	stopForging := make(chan struct{})
	forging := make(chan struct{})
	// Stopped before the connection closes, whether the test fails or not.
	stopForge := sync.OnceFunc(func() { close(stopForging); <-forging })
	t.Cleanup(stopForge)
	go func() {
		defer close(forging)
		for {
			select {
			case <-stopForging:
				return
			case <-time.After(testHeartbeat):
			}
			if _, err := hosts.Put(context.Background(), "HOSTB", future); err != nil {
				t.Errorf("forging HOSTB's presence: %v", err)
				return
			}
		}
	}()

	// Past a whole claim lifetime, CAROL is still HOSTC's, and so is
	// what is sent to her.
	deadline := time.Now().Add(testLifetime + time.Second)
	for time.Now().Before(deadline) {
		if got := owner(t, a, "CAROL"); got != "HOSTC" {
			t.Fatalf("CAROL on %s after HOSTB's forged claim, want HOSTC", got)
		}
		time.Sleep(testHeartbeat)
	}
	sendTo(t, a, "CAROL", "for Carol, not Bob", c)
	if _, told := cStates.conflict("CAROL"); told || len(c.NameConflicts()) != 0 {
		t.Errorf("the owner was told of a conflict: %v", c.NameConflicts())
	}

	// HOSTB's daemon proper: its operator sees the conflict.
	stopForge()
	var bStates nameStates
	b := startHost(t, url, "HOSTB", []string{"BOB", "CAROL"}, nil, nil, hostOpts("HOSTB"), withClaimTimings, bStates.option)
	waitLookup(t, a, "BOB", "HOSTB", true)
	eventually(t, "HOSTB to see the conflict on CAROL", func() bool {
		conflict, _ := bStates.conflict("CAROL")
		return conflict && slices.Equal(b.NameConflicts(), []string{"CAROL"})
	})
	if st, err := b.Status(ctx); err != nil || !slices.Equal(st.NameConflicts, []string{"CAROL"}) {
		t.Errorf("HOSTB's status shows conflicts %q, %v; want CAROL", st.NameConflicts, err)
	}
	if got := owner(t, a, "CAROL"); got != "HOSTC" {
		t.Fatalf("CAROL on %s with HOSTB's daemon up, want HOSTC", got)
	}

	// HOSTC goes away; an admin releases its claim at once rather than
	// wait out the lifetime. CAROL passes to HOSTB.
	c.stop()
	released, err := hubreg.ReleaseName(ctx, h.admin, "carol", "")
	if err != nil || released != "HOSTC" {
		t.Fatalf("ReleaseName = %q, %v; want HOSTC", released, err)
	}
	if got := owner(t, a, "CAROL"); got != "HOSTB" {
		t.Fatalf("CAROL on %s after the release, want HOSTB", got)
	}
	sendTo(t, a, "CAROL", "for Carol on HOSTB", b)
	eventually(t, "HOSTB's conflict to clear", func() bool {
		conflict, told := bStates.conflict("CAROL")
		return told && !conflict && len(b.NameConflicts()) == 0
	})

	// HOSTC comes back: it registers CAROL again, behind HOSTB, and it
	// is in conflict now.
	cStates = nameStates{}
	c = startHost(t, url, "HOSTC", []string{"CAROL"}, c.local, c.outbox, hostOpts("HOSTC"), withClaimTimings, cStates.option)
	eventually(t, "HOSTC to see the conflict on CAROL", func() bool {
		conflict, _ := cStates.conflict("CAROL")
		return conflict
	})
	if got := owner(t, a, "CAROL"); got != "HOSTB" {
		t.Fatalf("CAROL on %s after HOSTC came back, want HOSTB", got)
	}

	// HOSTB stops refreshing: once its claim lapses, by the hub's clock,
	// CAROL is HOSTC's again.
	b.stop()
	stopped := time.Now()
	waitOwner(t, a, "CAROL", "HOSTC")
	if took := time.Since(stopped); took < testLifetime-time.Second {
		t.Errorf("CAROL passed to HOSTC %v after HOSTB stopped, before its claim lapsed (%v)", took, testLifetime)
	}
	sendTo(t, a, "CAROL", "for Carol on HOSTC again", c)
	eventually(t, "HOSTC's conflict to clear", func() bool {
		conflict, told := cStates.conflict("CAROL")
		return told && !conflict
	})
}

// TestReleaseNameNeedsAClaim: releasing a name nobody holds, or a host's
// claim it does not have, is an error that says so.
func TestReleaseNameNeedsAClaim(t *testing.T) {
	_, h := startTestEmbedded(t, "HOSTB")
	ctx := ctxT(t)
	if _, err := hubreg.ReleaseName(ctx, h.admin, "NOBODY", ""); !errors.Is(err, ErrUnknownName) {
		t.Errorf("hubreg.ReleaseName(NOBODY) = %v, want ErrUnknownName", err)
	}
	if _, err := hubreg.ReleaseName(ctx, h.admin, "NOBODY", "HOSTB"); !errors.Is(err, ErrUnknownName) {
		t.Errorf("hubreg.ReleaseName(NOBODY, HOSTB) = %v, want ErrUnknownName", err)
	}
	// A host may not release, not even its own claim: it has no purge.
	b := connectHost(t, h, "HOSTB")
	names, err := b.JS.KeyValue(ctx, hubwire.BucketNames)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := names.Put(ctx, "HOSTB.CAROL", []byte(`{"host":"HOSTB","name":"CAROL"}`)); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := hubreg.ReleaseName(short, b.JS, "CAROL", "HOSTB"); err == nil {
		t.Error("a host's connection released a claim")
	}
	b.Refused(t, "Publish to", "$JS.API.STREAM.PURGE.KV_"+hubwire.BucketNames)
	if _, err := names.Get(ctx, "HOSTB.CAROL"); err != nil {
		t.Errorf("the claim after the refused release: %v", err)
	}
}
