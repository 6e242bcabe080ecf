package mailslot

import (
	"context"
	"io"
	"log/slog"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/netsend/messenger/internal/message"
	"github.com/netsend/messenger/internal/metrics"
	"github.com/netsend/messenger/internal/names"
	"github.com/netsend/messenger/internal/netbios"
	"github.com/netsend/messenger/internal/pipeline"
	"github.com/netsend/messenger/internal/policy"
	"github.com/netsend/messenger/internal/smb"
)

// countingPolicy counts decisions, so the benchmark can pace its sender
// by what has been judged.
type countingPolicy struct {
	p *policy.Policy
	n atomic.Int64
}

func (c *countingPolicy) Decide(m *message.Message) policy.Verdict {
	v := c.p.Decide(m)
	c.n.Add(1)
	return v
}

// nullStore stores nothing; in a flood nothing reaches it anyway.
type nullStore struct{ n atomic.Int64 }

func (s *nullStore) Add(_ context.Context, m *message.Message) error {
	m.ID = s.n.Add(1)
	return nil
}

// BenchmarkServeWithPolicy measures MESSNGR datagrams decoded, judged by
// the real policy and pipeline per second during a spam flood: one text
// to many recipients from several sources, past every limit, so flood
// mode drops them without storing. Paced by the decisions made so the
// socket buffer does not overflow.
func BenchmarkServeWithPolicy(b *testing.B) {
	spec := policy.DefaultSpec()
	if _, err := toml.Decode(`
[rate]
per_source = { rate = "10/1m" }
global = { rate = "1000/1s" }
[flood]
threshold = 100
hold = "1m"
[spam_run]
window = "10m"
recipients = 4
sources = 4
[[rule]]
name = "pills"
text = "(?i)viagra"
action = "drop"
`, &spec); err != nil {
		b.Fatal(err)
	}
	p, err := policy.Compile(spec, policy.Options{})
	if err != nil {
		b.Fatal(err)
	}
	pol := &countingPolicy{p: p}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	pl := pipeline.New(pol, &nullStore{}, metrics.New(), log)
	defer pl.Close()

	cp, _ := message.LookupCodePage("CP850")
	tab, err := names.New(names.Config{CodePage: cp, Host: "HOST1", Workgroup: "WORKGROUP"})
	if err != nil {
		b.Fatal(err)
	}
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	s, err := New(Config{Conns: []*net.UDPConn{conn}, Table: tab, Pipeline: pl, CodePage: cp, Metrics: metrics.New(), Log: log})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Serve(ctx); close(done) }()
	defer func() { cancel(); <-done; conn.Close() }()

	var pkts [][]byte
	for _, to := range []string{"ALICE", "BOB", "CAROL", "DAVE", "ERIN", "FRANK", "GRACE", "HEIDI"} {
		pkts = append(pkts, datagram(b, netbios.BroadcastDatagram, netbios.WildcardName(), smb.MessengerMailslot,
			smb.MessengerPayload{From: []byte("SPAMMER"), To: []byte(to), Text: []byte("Buy cheap software now at http://spam.example")}))
	}
	var senders []*net.UDPConn
	for i := range 16 {
		c, err := net.DialUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 9, byte(1+i))}, conn.LocalAddr().(*net.UDPAddr))
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		senders = append(senders, c)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		senders[i%len(senders)].Write(pkts[i%len(pkts)])
		for int64(i)-pol.n.Load() > 2048 {
			time.Sleep(5 * time.Microsecond)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for pol.n.Load() < int64(b.N) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(pol.n.Load())/b.Elapsed().Seconds(), "datagrams/s")
	b.ReportMetric(100*float64(pol.n.Load())/float64(b.N), "%judged")
}
