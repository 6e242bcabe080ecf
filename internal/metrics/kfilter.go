package metrics

import "github.com/prometheus/client_golang/prometheus"

// AddKernelFilter registers the figures of the kernel filter
// (internal/transport/kfilter), read when scraped: the datagrams it
// dropped for the policy, which the policy never saw, and the sources it
// holds now.
func (m *Metrics) AddKernelFilter(dropped, sources func() float64) {
	m.Registry.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "messenger_kernel_dropped_total",
			Help: "Datagrams the kernel filter dropped, unread, from sources the policy found flooding or blocked.",
		}, dropped),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "messenger_kernel_filter_sources",
			Help: "Sources whose datagrams the kernel filter drops now.",
		}, sources),
	)
}
