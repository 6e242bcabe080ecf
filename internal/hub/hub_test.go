package hub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/netsend/messenger/internal/apitype"
	"github.com/netsend/messenger/internal/hubauth"
	"github.com/netsend/messenger/internal/hubserver"
	"github.com/netsend/messenger/internal/hubwire"
	"github.com/netsend/messenger/internal/message"
	"github.com/netsend/messenger/internal/metrics"
	"github.com/netsend/messenger/internal/pipeline"
	"github.com/netsend/messenger/internal/store"
)

// The daemon's parts are what the Hub is written against.
var (
	_ Outbox     = (*store.Store)(nil)
	_ Local      = (*pipeline.Pipeline)(nil)
	_ BatchLocal = (*pipeline.Pipeline)(nil)
)

// waitTimeout bounds every wait for a condition; nothing in these tests
// takes that long unless it is broken.
const waitTimeout = 30 * time.Second

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func testLog(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("test", t.Name())
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// testServer is a plain nats-server with JetStream on loopback, without
// authorization, provisioned for the hosts the test names.
type testServer struct {
	t    *testing.T
	dir  string
	port int
	srv  *server.Server
}

func startTestServer(t *testing.T, hosts ...string) *testServer {
	t.Helper()
	ts := &testServer{t: t, dir: t.TempDir(), port: server.RANDOM_PORT}
	ts.start()
	t.Cleanup(ts.stop)
	_, js := ts.raw()
	if err := hubauth.Provision(ctxT(t), js, hubauth.ProvisionOptions{Replicas: 1, Hosts: hosts}); err != nil {
		t.Fatal(err)
	}
	return ts
}

// start starts the server, on the port it had before after a stop, with
// the same store.
func (ts *testServer) start() {
	ts.t.Helper()
	srv, err := server.NewServer(&server.Options{
		ServerName: "hub-test", Host: "127.0.0.1", Port: ts.port,
		JetStream: true, StoreDir: ts.dir, NoLog: true, NoSigs: true,
	})
	if err != nil {
		ts.t.Fatal(err)
	}
	srv.Start()
	if !srv.ReadyForConnections(waitTimeout) {
		ts.t.Fatal("nats-server did not start")
	}
	ts.srv = srv
	ts.port = srv.Addr().(*net.TCPAddr).Port
}

func (ts *testServer) stop() {
	if ts.srv != nil {
		ts.srv.Shutdown()
		ts.srv.WaitForShutdown()
		ts.srv = nil
	}
}

func (ts *testServer) url() string { return fmt.Sprintf("nats://127.0.0.1:%d", ts.port) }

// raw is a plain connection for what a test does by hand: forged
// receipts, duplicate publishes, registry keys.
func (ts *testServer) raw() (*nats.Conn, jetstream.JetStream) {
	ts.t.Helper()
	nc, err := nats.Connect(ts.url())
	if err != nil {
		ts.t.Fatal(err)
	}
	ts.t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		ts.t.Fatal(err)
	}
	return nc, js
}

// memLocal is the pipeline: it stores each hub id once.
type memLocal struct {
	mu         sync.Mutex
	msgs       []message.Message
	deliveries int
	refuse     bool
	gate       chan struct{} // when set, Deliver waits until it is closed
}

func (l *memLocal) Deliver(ctx context.Context, m *message.Message) error {
	if l.gate != nil {
		select {
		case <-l.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.deliveries++
	if l.refuse {
		return pipeline.ErrDropped
	}
	for _, old := range l.msgs {
		if old.HubID == m.HubID {
			return fmt.Errorf("store: adding message: %w", store.ErrDuplicate)
		}
	}
	l.msgs = append(l.msgs, *m)
	return nil
}

func (l *memLocal) messages() []message.Message {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.msgs)
}

func (l *memLocal) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.msgs)
}

// memOutbox is the store's sent table, moving states forward only as the
// store does, and its owed receipts.
type memOutbox struct {
	mu   sync.Mutex
	rows []apitype.Sent
	// holdReceipts, when set, keeps receipts from being recorded until
	// it is closed, as a slow commit would.
	holdReceipts chan struct{}
	// holdAdds, when set, keeps new rows from being recorded until it is
	// closed.
	holdAdds chan struct{}
	owed     []store.OwedReceipt // oldest first
	// reads and counts are how often the hub called SentByHubID and
	// CountSent: what a round trip costs the store beside its commits.
	reads, counts atomic.Int64
}

var forwardFrom = map[apitype.SentState][]apitype.SentState{
	apitype.SentSent:      {apitype.SentQueued},
	apitype.SentDelivered: {apitype.SentQueued, apitype.SentSent},
	apitype.SentRead:      {apitype.SentQueued, apitype.SentSent, apitype.SentDelivered},
	apitype.SentExpired:   {apitype.SentQueued, apitype.SentSent},
	apitype.SentFailed:    {apitype.SentQueued, apitype.SentSent},
}

func (o *memOutbox) AddSentBatch(ctx context.Context, rows []*apitype.Sent) []error {
	if o.holdAdds != nil {
		<-o.holdAdds
	}
	errs := make([]error, len(rows))
	for i, r := range rows {
		errs[i] = o.addSent(r)
	}
	return errs
}

func (o *memOutbox) addSent(s *apitype.Sent) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, r := range o.rows {
		if r.HubID == s.HubID {
			return fmt.Errorf("store: %w", store.ErrDuplicate)
		}
	}
	s.ID = int64(len(o.rows) + 1)
	o.rows = append(o.rows, *s)
	return nil
}

func (o *memOutbox) QueuedSent(_ context.Context, limit int) ([]apitype.Sent, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []apitype.Sent
	for _, r := range o.rows {
		if r.State == apitype.SentQueued && (limit == 0 || len(out) < limit) {
			out = append(out, r)
		}
	}
	return out, nil
}

func (o *memOutbox) UpdateSent(_ context.Context, hubID string, state apitype.SentState, at time.Time, detail string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	for i := range o.rows {
		r := &o.rows[i]
		if r.HubID != hubID {
			continue
		}
		if slices.Contains(forwardFrom[state], r.State) {
			r.State, r.Updated, r.Detail = state, at, detail
		}
		return nil
	}
	return fmt.Errorf("store: sent message %s: %w", hubID, store.ErrNotFound)
}

func (o *memOutbox) UpdateSentBatch(ctx context.Context, ups []store.SentUpdate) []error {
	if o.holdReceipts != nil && slices.ContainsFunc(ups, func(up store.SentUpdate) bool { return up.State != apitype.SentSent }) {
		<-o.holdReceipts
	}
	errs := make([]error, len(ups))
	for i, up := range ups {
		errs[i] = o.UpdateSent(ctx, up.HubID, up.State, up.At, up.Detail)
	}
	return errs
}

func (o *memOutbox) SentHost(_ context.Context, recipient string) (string, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for i := len(o.rows) - 1; i >= 0; i-- {
		if strings.EqualFold(o.rows[i].To, recipient) && o.rows[i].Host != "" {
			return o.rows[i].Host, nil
		}
	}
	return "", fmt.Errorf("store: nothing sent to %q: %w", recipient, store.ErrNotFound)
}

func (o *memOutbox) CountSent(_ context.Context, state apitype.SentState) (int, error) {
	o.counts.Add(1)
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for _, r := range o.rows {
		if r.State == state {
			n++
		}
	}
	return n, nil
}

func (o *memOutbox) SentByHubID(_ context.Context, hubID string) (apitype.Sent, error) {
	o.reads.Add(1)
	return o.row(hubID)
}

// row is SentByHubID for the tests, which count only the hub's reads.
func (o *memOutbox) row(hubID string) (apitype.Sent, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, r := range o.rows {
		if r.HubID == hubID {
			return r, nil
		}
	}
	return apitype.Sent{}, fmt.Errorf("store: sent message %s: %w", hubID, store.ErrNotFound)
}

func (o *memOutbox) OweReceipt(_ context.Context, r store.OwedReceipt) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if r.HubID == "" || r.State != apitype.SentRead || r.Host == "" || r.To == "" {
		return fmt.Errorf("store: owing %+v: %w", r, store.ErrInvalid)
	}
	if slices.ContainsFunc(o.owed, func(x store.OwedReceipt) bool { return x.Key() == r.Key() }) {
		return nil
	}
	o.owed = append(o.owed, r)
	return nil
}

func (o *memOutbox) OwedReceipts(_ context.Context, limit int) ([]store.OwedReceipt, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if limit == 0 || limit > len(o.owed) {
		limit = len(o.owed)
	}
	return slices.Clone(o.owed[:limit]), nil
}

func (o *memOutbox) PaidReceipts(_ context.Context, keys []store.ReceiptKey) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.owed = slices.DeleteFunc(o.owed, func(x store.OwedReceipt) bool { return slices.Contains(keys, x.Key()) })
	return nil
}

func (o *memOutbox) CountOwedReceipts(context.Context) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.owed), nil
}

func (o *memOutbox) state(t *testing.T, hubID string) apitype.SentState {
	t.Helper()
	r, err := o.row(hubID)
	if err != nil {
		t.Fatal(err)
	}
	return r.State
}

// testHost is one daemon's hub client with its pipeline and outbox.
type testHost struct {
	*Hub
	local  *memLocal
	outbox *memOutbox
	stop   func()
}

type hostOption func(*Options)

func withNow(now func() time.Time) hostOption { return func(o *Options) { o.Now = now } }
func withDomain(d string) hostOption          { return func(o *Options) { o.Domain = d } }
func withNames(f func() []string) hostOption  { return func(o *Options) { o.Names = f } }

// startHost runs a Hub for host, answering to names. local and outbox
// may be nil for new ones; passing a stopped host's keeps its state, as
// a restarted daemon keeps its store.
func startHost(t *testing.T, urls []string, host string, names []string, local *memLocal, outbox *memOutbox, opts ...hostOption) *testHost {
	t.Helper()
	if local == nil {
		local = &memLocal{}
	}
	if outbox == nil {
		outbox = &memOutbox{}
	}
	o := Options{
		URLs:        urls,
		NATSOptions: []nats.Option{nats.ReconnectWait(20 * time.Millisecond), nats.ReconnectJitter(0, 0)},
		HostName:    host,
		Local:       local,
		Outbox:      outbox,
		Names:       func() []string { return names },
		Log:         testLog(t),
	}
	for _, f := range opts {
		f(&o)
	}
	h, stop := runHub(t, o)
	return &testHost{Hub: h, local: local, outbox: outbox, stop: stop}
}

// startPair starts HOSTA (ALICE) and HOSTB (BOB) on ts, A knowing BOB.
func startPair(t *testing.T, ts *testServer) (a, b *testHost) {
	t.Helper()
	urls := []string{ts.url()}
	a = startHost(t, urls, "HOSTA", []string{"ALICE"}, nil, nil)
	b = startHost(t, urls, "HOSTB", []string{"BOB"}, nil, nil)
	waitLookup(t, a, "BOB", "HOSTB", true)
	return a, b
}

// runHub runs a Hub until the test ends or stop is called.
func runHub(t *testing.T, o Options) (h *Hub, stop func()) {
	t.Helper()
	h = New(o)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run(%s) = %v", o.HostName, err)
			}
		})
	}
	t.Cleanup(stop)
	return h, stop
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	t.Cleanup(cancel)
	return ctx
}

// waitLookup waits until h's registry has name on host, online or not.
func waitLookup(t *testing.T, h *testHost, name, host string, online bool) {
	t.Helper()
	eventually(t, fmt.Sprintf("%s on %s (online %v)", name, host, online), func() bool {
		got, on, err := h.Lookup(context.Background(), name)
		return err == nil && got == host && on == online
	})
}

func send(t *testing.T, h *testHost, to, text string) SendResult {
	t.Helper()
	res, err := h.Send(ctxT(t), SendRequest{To: to, From: "alice", Text: text})
	if err != nil {
		t.Fatalf("Send(%s, %q): %v", to, text, err)
	}
	return res
}

func waitState(t *testing.T, h *testHost, hubID string, want apitype.SentState) {
	t.Helper()
	got, err := h.WaitDelivered(ctxT(t), hubID)
	if err != nil || got != want {
		t.Fatalf("WaitDelivered(%s) = %s, %v; want %s", hubID, got, err, want)
	}
}

func TestSendDelivered(t *testing.T) {
	ts := startTestServer(t, "HOSTA", "HOSTB")
	urls := []string{ts.url()}
	a := startHost(t, urls, "HOSTA", []string{"ALICE"}, nil, nil)
	b := startHost(t, urls, "HOSTB", []string{"BOB"}, nil, nil)
	waitLookup(t, a, "bob", "HOSTB", true)

	res := send(t, a, "BOB", "hello Bob ✓")
	if res.Sent.Host != "HOSTB" || !res.Online || res.Sent.HubID == "" || res.Sent.ID == 0 {
		t.Errorf("Send = %+v", res)
	}
	if res.Sent.State != apitype.SentSent {
		t.Errorf("state after Send with the hub up = %s, want sent", res.Sent.State)
	}
	waitState(t, a, res.Sent.HubID, apitype.SentDelivered)
	msgs := b.local.messages()
	if len(msgs) != 1 {
		t.Fatalf("B stored %d messages, want 1", len(msgs))
	}
	m := msgs[0]
	want := message.Message{From: "alice", To: "BOB", Text: "hello Bob ✓", Transport: message.TransportHub,
		Source: "hub:HOSTA", HubID: res.Sent.HubID, Verified: "HOSTA"}
	// The sender's time travels with the message (issue 20, item 13).
	if m.SentAt == nil || m.SentAt.After(m.Time) || m.Time.Sub(*m.SentAt) > time.Minute {
		t.Errorf("SentAt = %v, arrived %v", m.SentAt, m.Time)
	}
	m.Time, m.SentAt = time.Time{}, nil
	if m != want {
		t.Errorf("B stored %+v\nwant %+v", m, want)
	}
	if a.local.count() != 0 {
		t.Errorf("A stored its own message")
	}
}

func TestSendErrors(t *testing.T) {
	ts := startTestServer(t, "HOSTA")
	a := startHost(t, []string{ts.url()}, "HOSTA", []string{"ALICE"}, nil, nil)
	waitLookup(t, a, "ALICE", "HOSTA", true)
	ctx := ctxT(t)
	for _, tc := range []struct {
		req  SendRequest
		want error
	}{
		{SendRequest{To: "NOBODY", Text: "hi"}, ErrUnknownName},
		{SendRequest{To: "ALICE", Text: strings.Repeat("x", message.MaxTextLen+1)}, message.ErrInvalid},
		{SendRequest{To: "ALICE", Text: "\xff"}, message.ErrInvalid},
		{SendRequest{To: "", Text: "hi"}, message.ErrInvalid},
		{SendRequest{To: "ALICE", From: "a\nb", Text: "hi"}, message.ErrInvalid},
	} {
		if _, err := a.Send(ctx, tc.req); !errors.Is(err, tc.want) {
			t.Errorf("Send(%+.40v) = %v, want %v", tc.req, err, tc.want)
		}
	}
	if n, _ := a.outbox.CountSent(ctx, apitype.SentQueued); n != 0 || len(a.outbox.rows) != 0 {
		t.Errorf("refused sends left %d rows", len(a.outbox.rows))
	}
}

func TestOfflineHostGetsMessagesInOrder(t *testing.T) {
	ts := startTestServer(t, "HOSTA", "HOSTB")
	a, b := startPair(t, ts)
	b.stop() // a clean stop: HOSTB says it is offline
	waitLookup(t, a, "BOB", "HOSTB", false)

	var ids []string
	for i := range 20 {
		res := send(t, a, "BOB", fmt.Sprintf("message %02d", i))
		if res.Online {
			t.Errorf("message %d: Online = true with HOSTB stopped", i)
		}
		if res.Sent.State != apitype.SentSent && res.Sent.State != apitype.SentQueued {
			t.Errorf("message %d: state %s", i, res.Sent.State)
		}
		ids = append(ids, res.Sent.HubID)
	}
	if b.local.count() != 0 {
		t.Fatalf("stopped host stored %d messages", b.local.count())
	}
	b = startHost(t, []string{ts.url()}, "HOSTB", []string{"BOB"}, b.local, b.outbox)
	for _, id := range ids {
		waitState(t, a, id, apitype.SentDelivered)
	}
	msgs := b.local.messages()
	if len(msgs) != 20 {
		t.Fatalf("B stored %d messages, want 20", len(msgs))
	}
	for i, m := range msgs {
		if want := fmt.Sprintf("message %02d", i); m.Text != want || m.HubID != ids[i] {
			t.Errorf("message %d is %q (%s), want %q (%s)", i, m.Text, m.HubID, want, ids[i])
		}
	}
}

func TestExpiredMessageIsNotDelivered(t *testing.T) {
	ts := startTestServer(t, "HOSTA", "HOSTB")
	a, b := startPair(t, ts)
	b.stop()

	res, err := a.Send(ctxT(t), SendRequest{To: "BOB", From: "alice", Text: "stale soon", Expires: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Sent.Expires.Equal(res.Sent.Created.Add(time.Minute)) {
		t.Errorf("Expires = %v, want Created+1m (%v)", res.Sent.Expires, res.Sent.Created)
	}
	keep := send(t, a, "BOB", "no expiry")
	// HOSTB comes back an hour later, by its clock.
	later := func() time.Time { return time.Now().Add(time.Hour) }
	b = startHost(t, []string{ts.url()}, "HOSTB", []string{"BOB"}, b.local, b.outbox, withNow(later))
	waitState(t, a, res.Sent.HubID, apitype.SentExpired)
	waitState(t, a, keep.Sent.HubID, apitype.SentDelivered)
	msgs := b.local.messages()
	if len(msgs) != 1 || msgs[0].Text != "no expiry" {
		t.Errorf("B stored %+v, want only the message without expiry", msgs)
	}
}

func TestReadReceipt(t *testing.T) {
	ts := startTestServer(t, "HOSTA", "HOSTB")
	a, b := startPair(t, ts)
	res := send(t, a, "BOB", "read me")
	waitState(t, a, res.Sent.HubID, apitype.SentDelivered)

	// Not a hub message: nothing to do.
	if err := b.MarkRead(ctxT(t), message.Message{Transport: message.TransportSMB, From: "x", To: "BOB"}); err != nil {
		t.Errorf("MarkRead(smb message) = %v", err)
	}
	if err := b.MarkRead(ctxT(t), b.local.messages()[0]); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the read receipt", func() bool { return a.outbox.state(t, res.Sent.HubID) == apitype.SentRead })
}

func TestRefusedMessageFails(t *testing.T) {
	ts := startTestServer(t, "HOSTA", "HOSTB")
	urls := []string{ts.url()}
	a := startHost(t, urls, "HOSTA", []string{"ALICE"}, nil, nil)
	b := startHost(t, urls, "HOSTB", []string{"BOB"}, &memLocal{refuse: true}, nil)
	waitLookup(t, a, "BOB", "HOSTB", true)
	res := send(t, a, "BOB", "spam")
	waitState(t, a, res.Sent.HubID, apitype.SentFailed)
	// WaitDelivered answers on the receipt, before its commit.
	eventually(t, "the refusal recorded", func() bool { return a.outbox.state(t, res.Sent.HubID) == apitype.SentFailed })
	row, _ := a.outbox.row(res.Sent.HubID)
	if !strings.Contains(row.Detail, "policy") {
		t.Errorf("detail = %q, want the refusal's reason", row.Detail)
	}
	if b.local.count() != 0 {
		t.Errorf("refusing host stored the message")
	}
}

func TestOutboxWhileServerDown(t *testing.T) {
	ts := startTestServer(t, "HOSTA", "HOSTB")
	urls := []string{ts.url()}
	a := startHost(t, urls, "HOSTA", []string{"ALICE"}, nil, nil, func(o *Options) { o.OutboxMax = 2 })
	b := startHost(t, urls, "HOSTB", []string{"BOB"}, nil, nil)
	waitLookup(t, a, "BOB", "HOSTB", true)
	first := send(t, a, "BOB", "before")
	waitState(t, a, first.Sent.HubID, apitype.SentDelivered)

	ts.stop()
	eventually(t, "A to notice", func() bool {
		st, err := a.Status(ctxT(t))
		return err == nil && !st.Connected
	})
	var queued []string
	for _, text := range []string{"while down 1", "while down 2"} {
		res := send(t, a, "BOB", text)
		if res.Sent.State != apitype.SentQueued || res.Sent.Host != "HOSTB" {
			t.Fatalf("Send with the hub down = %+v, want queued for HOSTB", res.Sent)
		}
		queued = append(queued, res.Sent.HubID)
	}
	if _, err := a.Send(ctxT(t), SendRequest{To: "BOB", Text: "one too many"}); !errors.Is(err, ErrOutboxFull) {
		t.Errorf("Send past OutboxMax = %v, want ErrOutboxFull", err)
	}
	if st, err := a.Status(ctxT(t)); err != nil || st.Outbox != 2 || st.Connected {
		t.Errorf("Status while down = %+v, %v; want 2 in the outbox, not connected", st, err)
	}

	ts.start()
	for _, id := range queued {
		waitState(t, a, id, apitype.SentDelivered)
	}
	var texts []string
	for _, m := range b.local.messages() {
		texts = append(texts, m.Text)
	}
	if want := []string{"before", "while down 1", "while down 2"}; !slices.Equal(texts, want) {
		t.Errorf("B stored %q, want %q", texts, want)
	}
}

func TestRedeliveryStoresOnceAndReceiptsTwice(t *testing.T) {
	ts := startTestServer(t, "HOSTA", "HOSTB")
	b := startHost(t, []string{ts.url()}, "HOSTB", []string{"BOB"}, nil, nil)
	nc, js := ts.raw()
	receipts := make(chan *nats.Msg, 8)
	sub, err := nc.ChanSubscribe(hubwire.PrefixRcpt+"HOSTA.HOSTB", receipts)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}

	id := hubwire.NewID()
	env, err := hubwire.EncodeEnvelope(hubwire.Envelope{ID: id, To: "BOB", From: "alice", Text: "twice", Sent: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	// As if HOSTA published it again after the duplicate window: the
	// hub keeps and delivers both.
	for _, msgID := range []string{id, id + "-again"} {
		if _, err := js.Publish(ctxT(t), hubwire.PrefixMsg+"HOSTB.HOSTA", env, jetstream.WithMsgID(msgID)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 2 {
		select {
		case m := <-receipts:
			r, err := hubwire.DecodeReceipt(m.Data)
			if err != nil || r.ID != id || r.State != hubwire.ReceiptDelivered || r.To != "BOB" {
				t.Errorf("receipt %d = %+v, %v; want delivered for %s", i, r, err, id)
			}
		case <-time.After(waitTimeout):
			t.Fatalf("receipt %d did not come", i)
		}
	}
	if n := b.local.count(); n != 1 {
		t.Errorf("B stored %d messages, want 1", n)
	}
	b.local.mu.Lock()
	deliveries := b.local.deliveries
	b.local.mu.Unlock()
	if deliveries != 2 {
		t.Errorf("B's pipeline saw %d deliveries, want 2", deliveries)
	}
}

func TestReceiptFromAnotherHostIsIgnored(t *testing.T) {
	ts := startTestServer(t, "HOSTA", "HOSTB")
	_, js := ts.raw()
	// BOB lives on HOSTB, which is not running: no real receipt comes.
	names, err := js.KeyValue(ctxT(t), hubwire.BucketNames)
	if err != nil {
		t.Fatal(err)
	}
	rec, _ := hubwire.EncodeNameRecord(hubwire.NameRecord{Host: "HOSTB", Name: "BOB"})
	if _, err := names.Put(ctxT(t), "HOSTB.BOB", rec); err != nil {
		t.Fatal(err)
	}
	a := startHost(t, []string{ts.url()}, "HOSTA", []string{"ALICE"}, nil, nil)
	waitLookup(t, a, "BOB", "HOSTB", false)
	forged := send(t, a, "BOB", "one")
	genuine := send(t, a, "BOB", "two")

	publishReceipt := func(fromHost, id string) {
		t.Helper()
		b, err := hubwire.EncodeReceipt(hubwire.Receipt{ID: id, State: hubwire.ReceiptDelivered, To: "BOB", At: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := js.Publish(ctxT(t), hubwire.PrefixRcpt+"HOSTA."+fromHost, b); err != nil {
			t.Fatal(err)
		}
	}
	publishReceipt("HOSTC", forged.Sent.HubID)
	publishReceipt("HOSTB", genuine.Sent.HubID)
	// Receipts are handled in order: once the second counted, the first
	// was looked at and must have changed nothing.
	waitState(t, a, genuine.Sent.HubID, apitype.SentDelivered)
	if st := a.outbox.state(t, forged.Sent.HubID); st != apitype.SentSent {
		t.Errorf("a receipt from HOSTC moved a message to HOSTB to %s", st)
	}
}

func TestBroadcast(t *testing.T) {
	ts := startTestServer(t, "HOSTA", "HOSTB", "HOSTC")
	urls := []string{ts.url()}
	a := startHost(t, urls, "HOSTA", []string{"ALICE"}, nil, nil, withDomain("WORKGROUP"))
	b := startHost(t, urls, "HOSTB", []string{"BOB"}, nil, nil, withDomain("workgroup"))
	c := startHost(t, urls, "HOSTC", []string{"CAROL"}, nil, nil, withDomain("OTHER"))
	for _, name := range []string{"ALICE", "BOB", "CAROL"} {
		eventually(t, name+" registered", func() bool { _, _, err := a.Lookup(context.Background(), name); return err == nil })
	}
	ctx := ctxT(t)
	if err := a.Broadcast(ctx, "WORKGROUP", "alice", "to the workgroup"); err != nil {
		t.Fatal(err)
	}
	if err := b.Broadcast(ctx, "WORKGROUP", "bob", "back to the workgroup"); err != nil {
		t.Fatal(err)
	}
	if err := a.Broadcast(ctx, "OTHER", "alice", "to the other domain"); err != nil {
		t.Fatal(err)
	}
	// Each consumer takes the stream in order: once a host has the last
	// broadcast it should get, it has passed over all earlier ones.
	eventually(t, "A to get B's broadcast", func() bool { return a.local.count() == 1 })
	eventually(t, "B to get A's broadcast", func() bool { return b.local.count() == 1 })
	eventually(t, "C to get the OTHER broadcast", func() bool { return c.local.count() == 1 })
	for _, tc := range []struct {
		h          *testHost
		text, from string
	}{
		{a, "back to the workgroup", "HOSTB"},
		{b, "to the workgroup", "HOSTA"},
		{c, "to the other domain", "HOSTA"},
	} {
		m := tc.h.local.messages()[0]
		if m.Text != tc.text || m.Verified != tc.from || m.To != "*" || m.Transport != message.TransportHub {
			t.Errorf("%s got %+v, want %q from %s", tc.h.opts.HostName, m, tc.text, tc.from)
		}
	}
	if len(a.outbox.rows) != 0 {
		t.Errorf("a broadcast was kept in the sent table")
	}
}

func TestNamesChanged(t *testing.T) {
	ts := startTestServer(t, "HOSTA", "HOSTB")
	urls := []string{ts.url()}
	var mu sync.Mutex
	names := []string{"ALICE"}
	a := startHost(t, urls, "HOSTA", nil, nil, nil, withNames(func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(names)
	}))
	b := startHost(t, urls, "HOSTB", []string{"BOB"}, nil, nil)
	waitLookup(t, b, "ALICE", "HOSTA", true)

	mu.Lock()
	names = []string{"ADMIN", "Zoë"}
	mu.Unlock()
	a.NamesChanged()
	waitLookup(t, b, "ADMIN", "HOSTA", true)
	waitLookup(t, b, "zoë", "HOSTA", true)
	eventually(t, "ALICE to be dropped", func() bool {
		_, _, err := b.Lookup(context.Background(), "ALICE")
		return errors.Is(err, ErrUnknownName)
	})
}

func TestStatus(t *testing.T) {
	ts := startTestServer(t, "HOSTA", "HOSTB")
	a, b := startPair(t, ts)
	waitLookup(t, b, "ALICE", "HOSTA", true)
	b.stop()
	waitLookup(t, a, "BOB", "HOSTB", false)
	send(t, a, "BOB", "one")
	send(t, a, "BOB", "two")

	st, err := a.Status(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if !st.Connected || st.URL == "" || st.ServerName != "hub-test" || st.Host != "HOSTA" || len(st.Errors) != 0 {
		t.Errorf("Status = %+v", st)
	}
	if !slices.Equal(st.HostsOnline, []string{"HOSTA"}) {
		t.Errorf("HostsOnline = %q, want only HOSTA", st.HostsOnline)
	}
	var streams []string
	for _, s := range st.Streams {
		streams = append(streams, s.Name)
		if s.Name == hubwire.StreamMsg && (s.Messages != 2 || s.Bytes == 0) {
			t.Errorf("%s: %+v, want 2 messages", s.Name, s)
		}
	}
	if want := []string{hubwire.StreamMsg, hubwire.StreamRcpt, hubwire.StreamBcast, "KV_" + hubwire.BucketNames, "KV_" + hubwire.BucketHosts}; !slices.Equal(streams, want) {
		t.Errorf("streams %q, want %q", streams, want)
	}
	if !slices.Equal(st.ClusterPeers, []string{"hub-test"}) {
		t.Errorf("ClusterPeers = %q", st.ClusterPeers)
	}
	if st.Pending != 0 || st.Outbox != 0 {
		t.Errorf("A pending %d, outbox %d; want 0, 0", st.Pending, st.Outbox)
	}

	// HOSTB comes back and gets stuck storing the first of its two
	// messages: one delivered and not acknowledged, one waiting.
	gate := make(chan struct{})
	b = startHost(t, []string{ts.url()}, "HOSTB", []string{"BOB"}, &memLocal{gate: gate}, b.outbox)
	eventually(t, "HOSTB's status to count 2 pending", func() bool {
		st, err := b.Status(ctxT(t))
		return err == nil && st.Connected && st.Pending == 2
	})
	close(gate)
	eventually(t, "HOSTB to store both", func() bool { return b.local.count() == 2 })
	eventually(t, "HOSTB's status to count none pending", func() bool {
		st, err := b.Status(ctxT(t))
		return err == nil && st.Pending == 0
	})
}

func TestRunRefusesBadOptions(t *testing.T) {
	for _, o := range []Options{
		{HostName: "", Local: &memLocal{}, Outbox: &memOutbox{}},
		{HostName: "HOSTA"},
		{HostName: "HOST\nA", Local: &memLocal{}, Outbox: &memOutbox{}},
	} {
		if err := New(o).Run(context.Background()); err == nil {
			t.Errorf("Run(%+v) = nil, want an error", o)
		}
	}
}

// warnLog collects every warning a Hub logs: under the hub's real
// permissions, a violation surfaces as one ("hub error").
type warnLog struct {
	mu    sync.Mutex
	warns []string
}

func (w *warnLog) Enabled(context.Context, slog.Level) bool { return true }
func (w *warnLog) WithAttrs([]slog.Attr) slog.Handler       { return w }
func (w *warnLog) WithGroup(string) slog.Handler            { return w }
func (w *warnLog) Handle(_ context.Context, r slog.Record) error {
	if r.Level < slog.LevelWarn {
		return nil
	}
	line := r.Message
	r.Attrs(func(a slog.Attr) bool {
		line += " " + a.String()
		return true
	})
	w.mu.Lock()
	w.warns = append(w.warns, line)
	w.mu.Unlock()
	return nil
}

func (w *warnLog) all() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.warns)
}

// TestFlowsUnderHostPermissions runs every flow against the embedded
// server with its real authorization: HOSTA is the daemon's own host
// (in process), HOSTB a remote host with its seed over loopback TCP.
func TestFlowsUnderHostPermissions(t *testing.T) {
	e, h := startTestEmbeddedWith(t, func(o *hubserver.Options) { o.SelfHost = "HOSTA" }, "HOSTB")
	creds, err := hubauth.ConnectOptions(hubauth.SeedPath(h.dir, "HOSTB"))
	if err != nil {
		t.Fatal(err)
	}
	warns := &warnLog{}
	logTo := func(o *Options) { o.Log = slog.New(warns) }
	natsOpts := func(opts ...nats.Option) hostOption {
		return func(o *Options) { o.NATSOptions = append(o.NATSOptions, opts...) }
	}
	a := startHost(t, nil, "HOSTA", []string{"ALICE"}, nil, nil, withDomain("WG"), logTo, natsOpts(e.SelfOptions()...))
	var mu sync.Mutex
	bNames := []string{"BOB", "BOBBY"}
	b := startHost(t, []string{e.ClientURL()}, "HOSTB", nil, nil, nil, withDomain("WG"), logTo, natsOpts(creds...),
		withNames(func() []string { mu.Lock(); defer mu.Unlock(); return slices.Clone(bNames) }))
	waitLookup(t, a, "BOB", "HOSTB", true)
	waitLookup(t, b, "ALICE", "HOSTA", true)

	toB := send(t, a, "BOB", "from A")
	waitState(t, a, toB.Sent.HubID, apitype.SentDelivered)
	if m := b.local.messages(); len(m) != 1 || m[0].Verified != "HOSTA" {
		t.Fatalf("B stored %+v", m)
	}
	if err := b.MarkRead(ctxT(t), b.local.messages()[0]); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the read receipt", func() bool { return a.outbox.state(t, toB.Sent.HubID) == apitype.SentRead })
	toA := send(t, b, "ALICE", "from B")
	waitState(t, b, toA.Sent.HubID, apitype.SentDelivered)
	if m := a.local.messages(); len(m) != 1 || m[0].Verified != "HOSTB" {
		t.Fatalf("A stored %+v", m)
	}

	if err := b.Broadcast(ctxT(t), "WG", "bob", "to all"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "A to get B's broadcast", func() bool { return a.local.count() == 2 })

	mu.Lock()
	bNames = []string{"BOB"}
	mu.Unlock()
	b.NamesChanged()
	eventually(t, "BOBBY to be dropped", func() bool {
		_, _, err := a.Lookup(context.Background(), "BOBBY")
		return errors.Is(err, ErrUnknownName)
	})

	for _, h := range []*testHost{a, b} {
		st, err := h.Status(ctxT(t))
		if err != nil || !st.Connected || len(st.Errors) != 0 || len(st.Streams) != 5 ||
			!slices.Equal(st.HostsOnline, []string{"HOSTA", "HOSTB"}) {
			t.Errorf("%s status = %+v, %v", h.opts.HostName, st, err)
		}
	}
	if w := warns.all(); len(w) != 0 {
		t.Errorf("warnings under the hub's permissions:\n%s", strings.Join(w, "\n"))
	}
}

// TestWithStoreAndPipeline runs a message through the real parts: HOSTA's
// sent table in its store, HOSTB's pipeline into its store, a redelivery
// the store recognises, and the read receipt back into HOSTA's table.
func TestWithStoreAndPipeline(t *testing.T) {
	ts := startTestServer(t, "HOSTA", "HOSTB")
	ctx := ctxT(t)
	openStore := func() *store.Store {
		st, err := store.Open(ctx, t.TempDir(), store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	storeA, storeB := openStore(), openStore()
	pipe := pipeline.New(nil, storeB, metrics.New(), testLog(t))
	t.Cleanup(pipe.Close)
	opts := func(host string, names []string, local Local, outbox Outbox) Options {
		return Options{URLs: []string{ts.url()}, HostName: host, Local: local, Outbox: outbox,
			Names: func() []string { return names }, Log: testLog(t)}
	}
	a, _ := runHub(t, opts("HOSTA", []string{"ALICE"}, &memLocal{}, storeA))
	b, _ := runHub(t, opts("HOSTB", []string{"BOB"}, pipe, storeB))
	eventually(t, "BOB registered", func() bool { _, on, err := a.Lookup(ctx, "BOB"); return err == nil && on })

	res, err := a.Send(ctx, SendRequest{To: "BOB", From: "alice", Text: "through the store"})
	if err != nil {
		t.Fatal(err)
	}
	if st, err := a.WaitDelivered(ctx, res.Sent.HubID); err != nil || st != apitype.SentDelivered {
		t.Fatalf("WaitDelivered = %s, %v", st, err)
	}
	// The same message again, past the hub's duplicate window.
	_, js := ts.raw()
	env, err := hubwire.EncodeEnvelope(hubwire.Envelope{ID: res.Sent.HubID, To: "BOB", From: "alice", Text: "through the store", Sent: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, hubwire.PrefixMsg+"HOSTB.HOSTA", env, jetstream.WithMsgID(res.Sent.HubID+"-again")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the redelivery to be taken", func() bool {
		st, err := b.Status(ctx)
		return err == nil && st.Pending == 0
	})
	inbox, err := storeB.List(ctx, store.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(inbox) != 1 {
		t.Fatalf("B's store holds %d messages, want 1", len(inbox))
	}
	m := inbox[0]
	if m.HubID != res.Sent.HubID || m.Verified != "HOSTA" || m.Transport != message.TransportHub || m.Text != "through the store" {
		t.Errorf("B stored %+v", m)
	}
	if err := b.MarkRead(ctx, m); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the read receipt in A's store", func() bool {
		row, err := storeA.SentByHubID(ctx, res.Sent.HubID)
		return err == nil && row.State == apitype.SentRead && !row.Read.IsZero() && !row.Delivered.IsZero()
	})
}

func TestSendRefusesWhatTheHubWouldNotTake(t *testing.T) {
	ts := startTestServer(t, "HOSTA", "HOSTB")
	_, js := ts.raw()
	ctx := ctxT(t)
	str, err := js.Stream(ctx, hubwire.StreamMsg)
	if err != nil {
		t.Fatal(err)
	}
	cfg := str.CachedInfo().Config
	cfg.MaxMsgSize = 2048 // an operator's tighter limit
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	a, b := startPair(t, ts)

	_, err = a.Send(ctx, SendRequest{To: "BOB", Text: strings.Repeat("é", 1000)})
	if !errors.Is(err, message.ErrInvalid) || !strings.Contains(err.Error(), "the hub takes at most 1792") {
		t.Errorf("Send(2000 bytes) = %v, want ErrInvalid naming the hub's limit", err)
	}
	if len(a.outbox.rows) != 0 {
		t.Errorf("a refused message was queued")
	}
	res := send(t, a, "BOB", strings.Repeat("é", 800))
	waitState(t, a, res.Sent.HubID, apitype.SentDelivered)
	if b.local.count() != 1 {
		t.Errorf("B stored %d messages, want 1", b.local.count())
	}
}
