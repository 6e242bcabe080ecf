// Package pipeline is the one path every received message takes:
// transport → Message → policy → store → sinks. Transports hand it a
// Message and learn, once it returns, whether they may acknowledge.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/netsend/messenger/internal/message"
	"github.com/netsend/messenger/internal/metrics"
	"github.com/netsend/messenger/internal/policy"
	"github.com/netsend/messenger/internal/store"
)

// Store is where accepted messages are kept. Add returns only after the
// message is durable.
type Store interface {
	Add(ctx context.Context, m *message.Message) error
}

// BatchStore is a Store that can also store messages in order with shared
// commits: AddBatch returns one error per message, and a failure other
// than a duplicate or an invalid message leaves every later message of
// the batch unstored.
type BatchStore interface {
	Store
	AddBatch(ctx context.Context, ms []*message.Message) []error
}

// Policy judges each message before it is stored.
type Policy interface {
	Decide(m *message.Message) policy.Verdict
}

// ErrDropped is returned for a message the policy refused; the sender must
// not be told it was delivered.
var ErrDropped = errors.New("refused by policy")

// Sink shows a stored message somewhere a person will see it. Show is
// called from the sink's own goroutine, one message at a time.
type Sink interface {
	Name() string
	Show(m message.Message)
}

// sinkQueueLen bounds how far a slow sink may lag before messages are
// skipped for it; they remain in the store either way.
const sinkQueueLen = 1024

// Pipeline delivers messages. It is safe for concurrent use by every
// transport's connections.
type Pipeline struct {
	store   Store
	policy  Policy
	metrics *metrics.Metrics
	log     *slog.Logger
	now     func() time.Time

	queues []sinkQueue
	wg     sync.WaitGroup

	// Counters per transport and verdict, resolved once: label lookups
	// and the "policy:" reason cost allocations a flood should not pay.
	countersMu sync.RWMutex
	countersBy map[counterKey]verdictCounters
}

type counterKey struct {
	transport message.Transport
	action    policy.Action
	rule      string
}

type verdictCounters struct {
	decided, rejected prometheus.Counter
}

func (p *Pipeline) counters(t message.Transport, v policy.Verdict) verdictCounters {
	k := counterKey{t, v.Action, v.Rule}
	p.countersMu.RLock()
	c, ok := p.countersBy[k]
	p.countersMu.RUnlock()
	if ok {
		return c
	}
	rule := v.Rule
	if rule == "" {
		rule = "default"
	}
	c = verdictCounters{decided: p.metrics.PolicyDecisions.WithLabelValues(v.Action.String(), rule)}
	if v.Action == policy.Drop {
		c.rejected = p.metrics.Rejected.WithLabelValues(string(t), "policy:"+v.Rule)
	}
	p.countersMu.Lock()
	if p.countersBy == nil {
		p.countersBy = map[counterKey]verdictCounters{}
	}
	// Rule names come from the configuration, so the map stays small.
	p.countersBy[k] = c
	p.countersMu.Unlock()
	return c
}

type sinkQueue struct {
	sink Sink
	ch   chan message.Message
}

// New returns a pipeline judging with pol (nil delivers everything),
// storing into store and showing on sinks. Close stops the sinks.
func New(pol Policy, store Store, m *metrics.Metrics, log *slog.Logger, sinks ...Sink) *Pipeline {
	if pol == nil {
		pol = &policy.Policy{}
	}
	p := &Pipeline{policy: pol, store: store, metrics: m, log: log, now: time.Now}
	for _, s := range sinks {
		q := sinkQueue{sink: s, ch: make(chan message.Message, sinkQueueLen)}
		p.queues = append(p.queues, q)
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			for msg := range q.ch {
				q.sink.Show(msg)
			}
		}()
	}
	return p
}

// Deliver runs m through policy and store, then hands it to the sinks. A
// nil error means m is durably stored and the sender may be told so.
func (p *Pipeline) Deliver(ctx context.Context, m *message.Message) error {
	if err := p.judge(ctx, m); err != nil {
		return err
	}
	return p.Keep(ctx, m)
}

// Judge is the first half of Deliver: the policy's verdict on m,
// ErrDropped or nil with m ready for Keep. The datagram transports judge
// as they read, so that what the policy drops never waits in their
// bounded queue for the store, and a flood cannot crowd out the messages
// to keep.
func (p *Pipeline) Judge(ctx context.Context, m *message.Message) error { return p.judge(ctx, m) }

// Keep is the second half of Deliver: it stores m, which Judge accepted,
// and shows it.
func (p *Pipeline) Keep(ctx context.Context, m *message.Message) error {
	return p.stored(m, p.store.Add(ctx, m))
}

// DeliverBatch is Deliver for ms in their order, with one error per
// message: the policy judges each, the accepted ones are stored together
// (sharing commits, ids in the order of ms, when the store is a
// BatchStore) and shown in that order. A store failure other than a
// duplicate or an invalid message also fails every later accepted
// message, none of which is then stored, so that a caller retrying from
// the first failure keeps the order.
func (p *Pipeline) DeliverBatch(ctx context.Context, ms []*message.Message) []error {
	errs := make([]error, len(ms))
	accepted := make([]*message.Message, 0, len(ms))
	at := make([]int, 0, len(ms)) // index in ms of each accepted message
	for i, m := range ms {
		if errs[i] = p.judge(ctx, m); errs[i] == nil {
			accepted = append(accepted, m)
			at = append(at, i)
		}
	}
	if len(accepted) == 0 {
		return errs
	}
	var addErrs []error
	if bs, ok := p.store.(BatchStore); ok {
		addErrs = bs.AddBatch(ctx, accepted)
	} else {
		addErrs = make([]error, len(accepted))
		var stop error
		for i, m := range accepted {
			if stop != nil {
				addErrs[i] = stop
				continue
			}
			addErrs[i] = p.store.Add(ctx, m)
			if err := addErrs[i]; err != nil && !errors.Is(err, store.ErrDuplicate) && !errors.Is(err, store.ErrInvalid) {
				stop = fmt.Errorf("%w: %w", store.ErrBatchAborted, err)
			}
		}
	}
	for j, m := range accepted {
		errs[at[j]] = p.stored(m, addErrs[j])
	}
	return errs
}

// judge applies the policy to m: ErrDropped, or m ready to store.
func (p *Pipeline) judge(ctx context.Context, m *message.Message) error {
	if m.Time.IsZero() {
		m.Time = p.now()
	}
	v := p.policy.Decide(m)
	c := p.counters(m.Transport, v)
	c.decided.Inc()
	switch v.Action {
	case policy.Drop:
		c.rejected.Inc()
		// Debug, not info: in a flood, one line per dropped message
		// would cost more than the drop saves. The metrics count them.
		if p.log.Enabled(ctx, slog.LevelDebug) {
			p.log.Debug("message dropped by policy", slog.String("rule", v.Rule), slog.String("transport", string(m.Transport)),
				slog.String("source", m.Source), slog.String("why", v.Explain()))
		}
		// The sentinel itself, not wrapped: in a flood every drop is one
		// of these, and a wrapped error is an allocation each.
		return ErrDropped
	case policy.Quarantine:
		m.State, m.Rule, m.Explanation = message.StateQuarantined, v.Rule, v.Explain()
	default:
		if m.State == "" {
			m.State = message.StateUnread
		}
	}
	return nil
}

// stored counts the store's answer err for m and shows m if it was
// stored and not quarantined.
func (p *Pipeline) stored(m *message.Message, err error) error {
	if err != nil {
		p.metrics.Rejected.WithLabelValues(string(m.Transport), "store").Inc()
		return fmt.Errorf("pipeline: storing message from %q: %w", m.From, err)
	}
	p.metrics.Received.WithLabelValues(string(m.Transport)).Inc()
	if m.State == message.StateQuarantined {
		// Stored, not shown: that is what quarantine means.
		p.metrics.Quarantined.WithLabelValues(string(m.Transport), m.Rule).Inc()
		return nil
	}
	p.log.Debug("message received",
		slog.Int64("id", m.ID), slog.String("transport", string(m.Transport)),
		slog.String("from", m.From), slog.String("to", m.To), slog.String("source", m.Source))
	p.Show(*m)
	return nil
}

// Show hands a stored message to the sinks: what Deliver does after
// storing, and what releasing a message from the quarantine does.
func (p *Pipeline) Show(m message.Message) {
	for _, q := range p.queues {
		select {
		case q.ch <- m:
		default:
			p.metrics.SinkDropped.WithLabelValues(q.sink.Name()).Inc()
		}
	}
}

// Close stops the sinks after they have shown what is queued. No Deliver
// may run during or after Close.
func (p *Pipeline) Close() {
	for _, q := range p.queues {
		close(q.ch)
	}
	p.wg.Wait()
}
