// Package pipeline is the one path every received message takes:
// transport → Message → policy → store → sinks. Transports hand it a
// Message and learn, once it returns, whether they may acknowledge.
package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/netsend/messenger/internal/message"
	"github.com/netsend/messenger/internal/metrics"
)

// Store is where accepted messages are kept. Add returns only after the
// message is durable.
type Store interface {
	Add(ctx context.Context, m *message.Message) error
}

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
	metrics *metrics.Metrics
	log     *slog.Logger
	now     func() time.Time

	queues []sinkQueue
	wg     sync.WaitGroup
}

type sinkQueue struct {
	sink Sink
	ch   chan message.Message
}

// New returns a pipeline storing into store and showing on sinks. Close
// stops the sinks.
func New(store Store, m *metrics.Metrics, log *slog.Logger, sinks ...Sink) *Pipeline {
	p := &Pipeline{store: store, metrics: m, log: log, now: time.Now}
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
	if m.State == "" {
		m.State = message.StateUnread
	}
	if err := p.store.Add(ctx, m); err != nil {
		p.metrics.Rejected.WithLabelValues(string(m.Transport), "store").Inc()
		return fmt.Errorf("pipeline: storing message from %q: %w", m.From, err)
	}
	p.metrics.Received.WithLabelValues(string(m.Transport)).Inc()
	p.log.Debug("message received",
		slog.Int64("id", m.ID), slog.String("transport", string(m.Transport)),
		slog.String("from", m.From), slog.String("to", m.To), slog.String("source", m.Source))
	for _, q := range p.queues {
		select {
		case q.ch <- *m:
		default:
			p.metrics.SinkDropped.WithLabelValues(q.sink.Name()).Inc()
		}
	}
	return nil
}

// Close stops the sinks after they have shown what is queued. No Deliver
// may run during or after Close.
func (p *Pipeline) Close() {
	for _, q := range p.queues {
		close(q.ch)
	}
	p.wg.Wait()
}
