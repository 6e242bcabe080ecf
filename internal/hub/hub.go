// Package hub links Messenger daemons through NATS: an embedded or
// external NATS server with JetStream carries messages between hosts,
// keeps them while a host is offline, returns delivered/read receipts,
// and holds the name registry; the server's subject permissions prove
// who sent what. This package is a daemon's runtime on the hub: send,
// receive, registry, outbox, status. Package hubwire has the wire
// format and topology, hubreg the registry's ownership rule, hubauth
// the credentials and provisioning, hubserver the embedded server.
package hub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/netsend/messenger/internal/apitype"
	"github.com/netsend/messenger/internal/hubreg"
	"github.com/netsend/messenger/internal/hubwire"
	"github.com/netsend/messenger/internal/message"
	"github.com/netsend/messenger/internal/store"
)

// Timings of the protocol (docs/protocols/hub.md, "Timings"); the
// registry's, hubreg.OnlineWindow and hubreg.ClaimLifetime, are with its
// rule.
const (
	heartbeat = 20 * time.Second
	// retryDelay is how long a message this host could not store waits
	// before the hub redelivers it.
	retryDelay = 5 * time.Second
	// outboxTick is how often the outbox is retried even when nothing
	// announced that the hub came back.
	outboxTick = 5 * time.Second
	// publishTimeout bounds the wait for the hub's answer to a batch of
	// Sends; what it has not answered by then is recorded queued, for
	// the outbox loop (a stream leader failing over takes seconds).
	publishTimeout = 5 * time.Second
	// lookupFresh is how long a lookup's answer is used without asking
	// the registry again: a send costs one publish, not three requests.
	lookupFresh = 5 * time.Second
	// stopTimeout bounds the goodbye (presence offline, drain) on a stop.
	stopTimeout = 5 * time.Second
)

// Errors callers tell apart.
var (
	// ErrUnknownName: the registry has no host for the name
	// (hubreg.ErrUnknownName, which ReleaseName returns too).
	ErrUnknownName = hubreg.ErrUnknownName
	// ErrOutboxFull: OutboxMax messages already wait for the hub.
	ErrOutboxFull = errors.New("hub: the outbox is full")
	// ErrNotConnected: the hub cannot be reached now (or its registry has
	// not been read since this daemon started).
	ErrNotConnected = errors.New("hub: not connected")
	// ErrRefused: the hub refused this host's credentials (revoked, or
	// not this host's); nothing is queued for a hub that will not take it.
	ErrRefused = errors.New("hub: the hub refused this host's credentials")
)

// Local is where messages that arrive through the hub go: the pipeline.
// Deliver returns nil once the message is durably stored; an error
// wrapping store.ErrDuplicate when a message with its HubID was already
// stored; pipeline.ErrDropped when the policy refused it;
// message.ErrInvalid when it breaks a limit. Any other error means "not
// now", and the hub redelivers the message later.
type Local interface {
	Deliver(ctx context.Context, m *message.Message) error
}

// BatchLocal is a Local that also delivers several messages in their
// order, sharing commits (the pipeline). DeliverBatch returns one error
// per message, as Deliver would; a "not now" failure leaves every later
// message of the batch unstored, so that delivering again from the
// failed one keeps the order. A Local without it gets one Deliver at a
// time.
type BatchLocal interface {
	Local
	DeliverBatch(ctx context.Context, ms []*message.Message) []error
}

// Outbox keeps what this host sent through the hub (the store's sent
// table): queued rows are the outbox, the rest carry receipts. It also
// keeps the receipts this host owes other hosts until the hub takes them.
type Outbox interface {
	// AddSentBatch records rows, in order, and sets their IDs; an
	// error for each.
	AddSentBatch(ctx context.Context, rows []*apitype.Sent) []error
	// QueuedSent returns up to limit queued rows, oldest first.
	QueuedSent(ctx context.Context, limit int) ([]apitype.Sent, error)
	// UpdateSent moves the row hubID to state; a move backwards changes
	// nothing and returns nil; an unknown id returns an error wrapping
	// store.ErrNotFound.
	UpdateSent(ctx context.Context, hubID string, state apitype.SentState, at time.Time, detail string) error
	// UpdateSentBatch makes several such moves in shared commits, with
	// an error for each.
	UpdateSentBatch(ctx context.Context, ups []store.SentUpdate) []error
	// CountSent counts the rows in state.
	CountSent(ctx context.Context, state apitype.SentState) (int, error)
	// SentByHubID returns the row hubID, or an error wrapping
	// store.ErrNotFound.
	SentByHubID(ctx context.Context, hubID string) (apitype.Sent, error)
	// SentHost returns the host of the newest row sent to a name, or an
	// error wrapping store.ErrNotFound.
	SentHost(ctx context.Context, recipient string) (string, error)
	// OweReceipt records a receipt owed, once per hub id and state.
	OweReceipt(ctx context.Context, r store.OwedReceipt) error
	// OwedReceipts returns up to limit owed receipts, oldest first.
	OwedReceipts(ctx context.Context, limit int) ([]store.OwedReceipt, error)
	// PaidReceipts deletes the owed receipts keys name.
	PaidReceipts(ctx context.Context, keys []store.ReceiptKey) error
	// CountOwedReceipts counts the owed receipts.
	CountOwedReceipts(ctx context.Context) (int, error)
}

// Options configure a Hub.
type Options struct {
	// URLs of the NATS servers to join; empty with nats.InProcessServer
	// among NATSOptions for the embedded server.
	URLs []string
	// NATSOptions add credentials, TLS or the in-process connection.
	NATSOptions []nats.Option
	// HostName is this host's identity on the hub (upper case); the
	// credentials must be this host's.
	HostName string
	// Domain is this host's workgroup or domain: broadcasts to it reach
	// this host. Empty: no hub broadcasts are received.
	Domain string
	// OutboxMax bounds the queued messages; 0 is 10000.
	OutboxMax int
	Local     Local
	Outbox    Outbox
	// Names returns the messenger names this host answers to; it is read
	// on connect and after NamesChanged. Nil: none.
	Names func() []string
	// NameState, when set, hears that one of this host's names is held
	// on the hub by another host that claimed it first (conflict true),
	// and that it is this host's again (conflict false), so that the
	// names table can show the conflict as it shows a NetBIOS one.
	NameState func(name string, conflict bool)
	Log       *slog.Logger
	Now       func() time.Time

	// heartbeat and claimLifetime override heartbeat and
	// hubreg.ClaimLifetime for tests, which cannot wait days for a claim
	// to lapse; zero is the constant.
	heartbeat     time.Duration
	claimLifetime time.Duration
}

// Hub is this host's link to the NATS hub. Run keeps it connected; the
// other methods may be called from any goroutine, before, during and
// after Run.
type Hub struct {
	opts    Options
	log     *slog.Logger
	now     func() time.Time
	hostTok string

	mu  sync.Mutex
	cur *session // nil while not connected and set up

	// pubMu makes publishing the outbox one line: rows go in id order,
	// whether the outbox loop or a Send publishes them.
	pubMu sync.Mutex
	// sendMu guards pending, the Sends waiting for the publisher, and
	// publishing, whether one runs (submit).
	sendMu     sync.Mutex
	pending    []*pendingSend
	publishing bool
	// outboxEmpty, under pubMu, is set once the outbox was seen empty,
	// and cleared when a row is left queued: while it is set, a Send
	// publishes without counting the outbox first.
	outboxEmpty bool
	// flights are the messages published whose receipts have not come:
	// a receipt can come back before the row's commit is done, and needs
	// to read no row.
	flights *flights
	// rows commits the rows of published Sends (rowRecorder).
	rows rowRecorder
	// active counts the Sends and WaitDelivered calls under way: the
	// rows recorder holds a commit for companions only while some of
	// these are not in it.
	active atomic.Int64
	// noAtomic is set once the hub said its message stream takes no
	// atomic batches (provisioned by an older version): the outbox then
	// goes one message at a time.
	noAtomic atomic.Bool

	kick         chan struct{} // the outbox has something to publish
	namesChanged chan struct{}

	memo lookupMemo

	// conflicts are this host's names whose hub claim another host
	// holds: name token to that host.
	conflictMu sync.Mutex
	conflicts  map[string]string

	// msgLimit is the most bytes (headers too) MESSENGER_MSG takes, as
	// last read from the hub; 0 when unknown or unlimited.
	msgLimit atomic.Int64

	waitMu  sync.Mutex
	waiters map[string]*waiter

	// refused, when set, is why the hub refuses this host: its key is
	// not (or no longer) authorized, or it is another host's.
	refusedMu sync.Mutex
	refused   error
}

func (h *Hub) setRefused(err error) {
	h.refusedMu.Lock()
	defer h.refusedMu.Unlock()
	if err != nil && h.refused == nil {
		h.log.Error("the hub refuses this host's credentials", slog.Any("err", err))
	}
	h.refused = err
}

// refusedErr is why the hub refuses this host, or nil.
func (h *Hub) refusedErr() error {
	h.refusedMu.Lock()
	defer h.refusedMu.Unlock()
	return h.refused
}

// refusal says whether err is the hub refusing this host's credentials,
// and why in words an operator can act on.
func (h *Hub) refusal(err error) error {
	switch {
	case errors.Is(err, nats.ErrAuthorization) || strings.Contains(strings.ToLower(err.Error()), "authorization violation"):
		return fmt.Errorf("%w: %v (revoked, or never authorized: messenger hub authorize %s)", ErrRefused, err, h.opts.HostName)
	case errors.Is(err, nats.ErrPermissionViolation) && strings.Contains(err.Error(), hubwire.InboxPrefix(h.opts.HostName)):
		// Every host may use its own inbox: a refusal there means the
		// credentials belong to another host than the one we claim.
		return fmt.Errorf("%w: %v (these credentials are not %s's)", ErrRefused, err, h.opts.HostName)
	}
	return nil
}

type waiter struct {
	ch chan struct{} // closed when the row's state changed
	n  int
	// told is a final state a receipt brought before the row has it:
	// the waiter need not wait for the commit that records it.
	told apitype.SentState
}

// New returns a Hub; Run connects it.
func New(opts Options) *Hub {
	if opts.OutboxMax <= 0 {
		opts.OutboxMax = 10000
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Names == nil {
		opts.Names = func() []string { return nil }
	}
	if opts.heartbeat <= 0 {
		opts.heartbeat = heartbeat
	}
	if opts.claimLifetime <= 0 {
		opts.claimLifetime = hubreg.ClaimLifetime
	}
	return &Hub{
		opts:         opts,
		log:          opts.Log.With(slog.String("part", "hub")),
		now:          opts.Now,
		hostTok:      hubwire.SubjectToken(opts.HostName),
		kick:         make(chan struct{}, 1),
		namesChanged: make(chan struct{}, 1),
		waiters:      map[string]*waiter{},
		flights:      newFlights(opts.Now),
		rows:         rowRecorder{wake: make(chan struct{}, 1), hold: recordHold},
	}
}

// NamesChanged tells the hub that Names returns something new; the
// registry is updated in the background.
func (h *Hub) NamesChanged() { signal(h.namesChanged) }

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

func (h *Hub) check() error {
	if err := hubwire.CheckName("options", "host name", h.opts.HostName); err != nil {
		return err
	}
	if h.opts.Domain != "" {
		if err := hubwire.CheckName("options", "domain", h.opts.Domain); err != nil {
			return err
		}
	}
	if h.opts.Local == nil || h.opts.Outbox == nil {
		return errors.New("hub: options: Local and Outbox are required")
	}
	return nil
}

// Run connects to the hub and keeps this host on it — registry,
// presence, consumers, outbox — reconnecting with backoff, until ctx
// ends; then it marks the host offline, drains and returns nil. It
// returns an error only for options it cannot work with. Call it once.
func (h *Hub) Run(ctx context.Context) error {
	if err := h.check(); err != nil {
		return err
	}
	bo := newBackoff(250*time.Millisecond, 30*time.Second)
	for ctx.Err() == nil {
		s, err := h.connect(ctx)
		if err != nil {
			if r := h.refusal(err); r != nil {
				h.setRefused(r)
			}
			h.log.Warn("cannot connect to the hub", slog.String("urls", strings.Join(h.opts.URLs, ",")), slog.Any("err", err))
			bo.wait(ctx)
			continue
		}
		bo.reset()
		if err := h.runSession(ctx, s); err != nil && ctx.Err() == nil {
			h.log.Warn("hub connection lost", slog.Any("err", err))
			bo.wait(ctx)
		}
	}
	return nil
}

// session is one connection to the hub and what runs on it.
type session struct {
	nc    *nats.Conn
	js    jetstream.JetStream
	names jetstream.KeyValue
	hosts jetstream.KeyValue
	// namesStream and hostsStream are the buckets' streams, read by
	// subject to list keys (hosts may not create the consumers a key
	// watch needs).
	namesStream jetstream.Stream
	hostsStream jetstream.Stream
	// msgs, rcpts and bcasts are this host's durable consumers.
	msgs, rcpts, bcasts jetstream.Consumer
	link                *link
	closed              chan struct{} // closed when nc is closed for good
	// recorder gathers the receipts to be recorded (recordLoop).
	recorder *recorder
}

func (h *Hub) connect(ctx context.Context) (*session, error) {
	s := &session{closed: make(chan struct{}), recorder: newRecorder()}
	// Tunables first, so that NATSOptions can override them; the
	// handlers last, so that nothing replaces them.
	opts := []nats.Option{
		nats.Name("messenger " + h.opts.HostName),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.ReconnectJitter(500*time.Millisecond, time.Second),
	}
	opts = append(opts, h.opts.NATSOptions...)
	var once sync.Once
	opts = append(opts,
		// Replies (pulled messages among them) come on this host's own
		// inbox prefix; the hub's permissions allow no other.
		nats.CustomInboxPrefix(hubwire.InboxPrefix(h.opts.HostName)),
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			s.link.refresh(nc)
			h.log.Info("disconnected from the hub", slog.Any("err", err))
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			s.link.refresh(nc)
			h.log.Info("reconnected to the hub", slog.String("url", h.connectedURL(nc)))
			signal(h.kick)
		}),
		nats.ClosedHandler(func(nc *nats.Conn) {
			s.link.refresh(nc)
			once.Do(func() { close(s.closed) })
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subject := ""
			if sub != nil {
				subject = sub.Subject
			}
			h.log.Warn("hub error", slog.String("subject", subject), slog.Any("err", err))
			if r := h.refusal(err); r != nil {
				h.setRefused(r)
			}
		}),
	)
	s.link = newLink(ctx)
	nc, err := nats.Connect(strings.Join(h.opts.URLs, ","), opts...)
	if err != nil {
		return nil, fmt.Errorf("hub: connecting: %w", err)
	}
	s.nc = nc
	s.link.refresh(nc)
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("hub: jetstream: %w", err)
	}
	s.js = js
	h.log.Info("connected to the hub", slog.String("url", h.connectedURL(nc)), slog.String("server", nc.ConnectedServerName()))
	return s, nil
}

// runSession sets the streams up, runs every loop on s until ctx ends
// or the connection closes, and says goodbye on a clean stop.
func (h *Hub) runSession(ctx context.Context, s *session) error {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-s.closed:
			cancel()
		case <-sctx.Done():
		}
	}()
	bo := newBackoff(250*time.Millisecond, 30*time.Second)
	for {
		err := h.setup(sctx, s)
		if err == nil {
			h.setRefused(nil)
			break
		}
		if sctx.Err() != nil {
			return h.endSession(ctx, s, err)
		}
		h.log.Warn("the hub is not ready for this host", slog.Any("err", err))
		bo.wait(sctx)
	}

	h.mu.Lock()
	h.cur = s
	h.mu.Unlock()

	var wg sync.WaitGroup
	run := func(f func()) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f()
		}()
	}
	run(func() { h.announce(sctx, s) })
	run(func() { h.outboxLoop(sctx, s) })
	run(func() { h.consumeMsgs(sctx, s) })
	run(func() { h.consume(sctx, s, hubwire.StreamRcpt, s.rcpts, h.handleReceipts) })
	run(func() { h.recordLoop(sctx, s.recorder) })
	run(func() { h.consume(sctx, s, hubwire.StreamBcast, s.bcasts, h.handleBcasts) })
	<-sctx.Done()
	wg.Wait()

	h.mu.Lock()
	h.cur = nil
	h.mu.Unlock()
	return h.endSession(ctx, s, errors.New("connection closed"))
}

// endSession closes s: after a stop (ctx done) it first marks this host
// offline and drains, so that nothing in flight is lost; after a lost
// connection it just closes. It returns why the session ended.
func (h *Hub) endSession(ctx context.Context, s *session, why error) error {
	if ctx.Err() == nil {
		s.nc.Close()
		return why
	}
	bye, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopTimeout)
	defer cancel()
	if s.hosts != nil && s.nc.IsConnected() {
		if err := h.putPresence(bye, s, false); err != nil {
			h.log.Warn("cannot mark this host offline on the hub", slog.Any("err", err))
		}
	}
	if err := s.nc.Drain(); err != nil {
		s.nc.Close()
		return nil
	}
	select {
	case <-s.closed:
	case <-bye.Done():
		s.nc.Close()
	}
	return nil
}

// current returns the session that is connected and set up, or nil.
func (h *Hub) current() *session {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cur == nil || !h.cur.link.isUp() {
		return nil
	}
	return h.cur
}

// setup binds to the streams, buckets and this host's consumers. It
// creates none of them: hosts may not (see HostPermissions), and an
// admin provisions them (Provision; the embedded hub does it itself).
func (h *Hub) setup(ctx context.Context, s *session) error {
	var err error
	if s.names, err = s.js.KeyValue(ctx, hubwire.BucketNames); err != nil {
		return hubreg.NotProvisioned("bucket "+hubwire.BucketNames, err)
	}
	if s.hosts, err = s.js.KeyValue(ctx, hubwire.BucketHosts); err != nil {
		return hubreg.NotProvisioned("bucket "+hubwire.BucketHosts, err)
	}
	if s.namesStream, err = s.js.Stream(ctx, hubwire.KVStream(hubwire.BucketNames)); err != nil {
		return hubreg.NotProvisioned("stream "+hubwire.KVStream(hubwire.BucketNames), err)
	}
	if s.hostsStream, err = s.js.Stream(ctx, hubwire.KVStream(hubwire.BucketHosts)); err != nil {
		return hubreg.NotProvisioned("stream "+hubwire.KVStream(hubwire.BucketHosts), err)
	}
	msgs, err := s.js.Stream(ctx, hubwire.StreamMsg)
	if err != nil {
		return hubreg.NotProvisioned("stream "+hubwire.StreamMsg, err)
	}
	h.msgLimit.Store(int64(max(msgs.CachedInfo().Config.MaxMsgSize, 0)))
	host := h.opts.HostName
	for _, c := range []struct {
		into            *jetstream.Consumer
		stream, durable string
	}{
		{&s.msgs, hubwire.StreamMsg, hubwire.MsgConsumer(host)},
		{&s.rcpts, hubwire.StreamRcpt, hubwire.RcptConsumer(host)},
		{&s.bcasts, hubwire.StreamBcast, hubwire.BcastConsumer(host)},
	} {
		if *c.into, err = s.js.Consumer(ctx, c.stream, c.durable); err != nil {
			return hubreg.NotProvisioned("consumer "+c.durable+" on "+c.stream, err)
		}
	}
	return nil
}

// link follows whether the connection is up. Each time it comes up, it
// gets a context that ends when it goes down, so that a pull request
// made on a connection that has since dropped is abandoned at once
// rather than when its heartbeats stop.
type link struct {
	parent  context.Context
	mu      sync.Mutex
	up      bool
	ctx     context.Context
	cancel  context.CancelFunc
	changed chan struct{} // closed and replaced on every change
}

func newLink(parent context.Context) *link {
	return &link{parent: parent, changed: make(chan struct{})}
}

func (l *link) refresh(nc *nats.Conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	up := nc.IsConnected()
	if up == l.up {
		return
	}
	l.up = up
	if up {
		l.ctx, l.cancel = context.WithCancel(l.parent)
	} else if l.cancel != nil {
		l.cancel()
	}
	close(l.changed)
	l.changed = make(chan struct{})
}

// bind returns a context that ends with ctx or when the connection goes
// down, whichever is first, so that a request does not wait out its
// timeout on a connection that is gone (nats.go would hold it for the
// reconnect).
func (l *link) bind(ctx context.Context) (context.Context, context.CancelFunc) {
	l.mu.Lock()
	up, lctx := l.up, l.ctx
	l.mu.Unlock()
	bctx, cancel := context.WithCancel(ctx)
	if !up {
		cancel()
		return bctx, cancel
	}
	stop := context.AfterFunc(lctx, cancel)
	return bctx, func() {
		stop()
		cancel()
	}
}

// changedCh returns a channel closed at the next change.
func (l *link) changedCh() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.changed
}

func (l *link) isUp() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.up
}

// waitUp waits until the connection is up and returns the context of
// that stretch of it.
func (l *link) waitUp(ctx context.Context) (context.Context, error) {
	for {
		l.mu.Lock()
		up, lctx, changed := l.up, l.ctx, l.changed
		l.mu.Unlock()
		if up {
			return lctx, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// backoff spaces out retries: doubling from min to max, with jitter so
// that a cluster's hosts do not all come back in the same instant.
type backoff struct {
	min, max, cur time.Duration
}

func newBackoff(lo, hi time.Duration) *backoff { return &backoff{min: lo, max: hi, cur: lo} }

func (b *backoff) reset() { b.cur = b.min }

func (b *backoff) wait(ctx context.Context) {
	d := b.cur/2 + rand.N(b.cur/2+1)
	b.cur = min(2*b.cur, b.max)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// connectedURL is where nc is connected, as the log and `hub status` say
// it. An in-process connection has no URL of its own: the client reports
// its default, nats://127.0.0.1:4222, which is not where the embedded
// server listens (if it does at all).
func (h *Hub) connectedURL(nc *nats.Conn) string {
	if len(h.opts.URLs) == 0 {
		return "in-process"
	}
	return nc.ConnectedUrlRedacted()
}
