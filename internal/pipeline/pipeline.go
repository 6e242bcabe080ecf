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
)

// Store is where accepted messages are kept. Add returns only after the
// message is durable.
type Store interface {
	Add(ctx context.Context, m *message.Message) error
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
	if err := p.store.Add(ctx, m); err != nil {
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
