package store

import (
	"context"
	"testing"
)

// Both benchmarks pay a full fsync per commit; the difference between them
// is what group commit buys when Adds arrive concurrently.

func BenchmarkAddSerial(b *testing.B) {
	s := openStore(b, b.TempDir(), Options{})
	ctx := context.Background()
	m := sample("benchmark message, serial")
	for b.Loop() {
		m.ID = 0
		if err := s.Add(ctx, &m); err != nil {
			b.Fatal(err)
		}
	}
	reportRates(b, s)
}

func BenchmarkAddParallel(b *testing.B) {
	s := openStore(b, b.TempDir(), Options{})
	ctx := context.Background()
	// Many connections per CPU, as a daemon with many peers has: Adds
	// spend their time waiting for fsync, not on a CPU.
	b.SetParallelism(32)
	b.RunParallel(func(pb *testing.PB) {
		m := sample("benchmark message, parallel")
		for pb.Next() {
			m.ID = 0
			if err := s.Add(ctx, &m); err != nil {
				b.Error(err)
				return
			}
		}
	})
	reportRates(b, s)
}

func reportRates(b *testing.B, s *Store) {
	b.Helper()
	st := s.Stats()
	if st.Commits == 0 {
		return
	}
	b.ReportMetric(float64(st.Messages)/b.Elapsed().Seconds(), "msgs/s")
	b.ReportMetric(float64(st.Messages)/float64(st.Commits), "msgs/commit")
}
