// Package metrics defines the daemon's Prometheus metrics in one place, so
// every part counts into the same families and /metrics shows them all.
package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics is the set of collectors of one daemon. Each daemon (and each
// test) has its own registry, so nothing is global.
type Metrics struct {
	Registry *prometheus.Registry

	// Received counts messages stored, by transport.
	Received *prometheus.CounterVec
	// Rejected counts messages or frames refused, by transport and reason.
	Rejected *prometheus.CounterVec
	// Quarantined counts messages stored but held back, by rule.
	Quarantined *prometheus.CounterVec
	// PolicyDecisions counts the policy's verdicts by the rule that made
	// them ("default" when none did).
	PolicyDecisions *prometheus.CounterVec
	// Sessions is the number of open NetBIOS sessions.
	Sessions prometheus.Gauge
	// SessionsEnded counts NetBIOS sessions we ended because a limit ran
	// out, by limit (idle, max_age); refused sessions are in Rejected.
	SessionsEnded *prometheus.CounterVec
	// CommitBatch observes how many messages each store commit carried.
	CommitBatch prometheus.Histogram
	// CommitSeconds observes how long each store commit took.
	CommitSeconds prometheus.Histogram
	// NBNS counts name service packets by what we did with them.
	NBNS *prometheus.CounterVec
	// SinkDropped counts messages a sink could not show because it lagged;
	// for the event stream (sink "events"), the events a client missed
	// live and then read from the store.
	SinkDropped *prometheus.CounterVec
	// SinkSkipped counts messages (or terminals) a sink passed over: no
	// terminal, mesg n, no session bus, a failed hook.
	SinkSkipped *prometheus.CounterVec
	// HTTPRefused counts connections an HTTP listener closed unread, by
	// listener (http, ingest) and bound (per_source, total).
	HTTPRefused *prometheus.CounterVec
}

// New creates and registers the collectors.
func New() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		Received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "messenger_messages_received_total",
			Help: "Messages received and stored, by transport.",
		}, []string{"transport"}),
		Rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "messenger_messages_rejected_total",
			Help: "Messages or frames refused, by transport and reason.",
		}, []string{"transport", "reason"}),
		Quarantined: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "messenger_messages_quarantined_total",
			Help: "Messages stored in quarantine, not shown, by transport and policy rule.",
		}, []string{"transport", "rule"}),
		PolicyDecisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "messenger_policy_decisions_total",
			Help: "Policy decisions, by verdict (deliver, quarantine, drop) and the rule that made them.",
		}, []string{"verdict", "rule"}),
		Sessions: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "messenger_smb_sessions",
			Help: "Open NetBIOS sessions.",
		}),
		SessionsEnded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "messenger_smb_sessions_ended_total",
			Help: "NetBIOS sessions the daemon ended because a limit ran out, by limit (idle, max_age).",
		}, []string{"reason"}),
		CommitBatch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "messenger_store_commit_batch_size",
			Help:    "Messages per store commit (group commit).",
			Buckets: prometheus.ExponentialBuckets(1, 2, 10),
		}),
		CommitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "messenger_store_commit_seconds",
			Help:    "Duration of store commits.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}),
		NBNS: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "messenger_nbns_packets_total",
			Help: "NetBIOS name service packets handled, by outcome (query_positive, query_negative, node_status, node_status_refused, defended, ...).",
		}, []string{"kind"}),
		SinkDropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "messenger_sink_dropped_total",
			Help: "Messages a sink skipped because it could not keep up (they are still stored); for sink events, events a lagging stream client missed live (messages it then read from the store).",
		}, []string{"sink"}),
		SinkSkipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "messenger_sink_skipped_total",
			Help: "Messages or terminals a sink passed over, by sink and reason (mesg_n, gone, busy, error, timeout, ...).",
		}, []string{"sink", "reason"}),
		HTTPRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "messenger_http_connections_refused_total",
			Help: "Connections an HTTP listener closed as soon as accepted, by listener and bound (per_source, total).",
		}, []string{"listener", "reason"}),
	}
	m.Registry.MustRegister(m.Received, m.Rejected, m.Quarantined, m.PolicyDecisions, m.Sessions, m.SessionsEnded, m.CommitBatch, m.CommitSeconds, m.NBNS, m.SinkDropped, m.SinkSkipped, m.HTTPRefused,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// ObserveCommit records one store commit.
func (m *Metrics) ObserveCommit(batch int, d time.Duration) {
	m.CommitBatch.Observe(float64(batch))
	m.CommitSeconds.Observe(d.Seconds())
}
