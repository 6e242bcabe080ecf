package rpc

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/netsend/messenger/internal/dcerpc"
	"github.com/netsend/messenger/internal/message"
	"github.com/netsend/messenger/internal/metrics"
	"github.com/netsend/messenger/internal/names"
	"github.com/netsend/messenger/internal/pipeline"
)

type memPipeline struct {
	mu   sync.Mutex
	msgs []message.Message
	n    atomic.Int64
	drop atomic.Bool
}

func (p *memPipeline) Judge(context.Context, *message.Message) error {
	if p.drop.Load() {
		return pipeline.ErrDropped
	}
	return nil
}

func (p *memPipeline) Keep(_ context.Context, m *message.Message) error {
	p.mu.Lock()
	p.msgs = append(p.msgs, *m)
	p.mu.Unlock()
	p.n.Add(1)
	return nil
}

func (p *memPipeline) stored() []message.Message {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]message.Message(nil), p.msgs...)
}

func startServer(t testing.TB, opts ...func(*Config)) (*memPipeline, netip.AddrPort) {
	t.Helper()
	cp, _ := message.LookupCodePage("CP850")
	tab, err := names.New(names.Config{CodePage: cp, Host: "HOST1", Aliases: []string{"BOB"}})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	pl := &memPipeline{}
	cfg := Config{Table: tab, Pipeline: pl, CodePage: cp, Metrics: metrics.New(),
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, o := range opts {
		o(&cfg)
	}
	cfg.Conns = []*net.UDPConn{conn}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Serve(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done; conn.Close() })
	return pl, conn.LocalAddr().(*net.UDPAddr).AddrPort()
}

func request(t testing.TB, h dcerpc.Header, r dcerpc.SendMessageRequest) []byte {
	t.Helper()
	body, err := dcerpc.AppendSendMessageRequest(nil, h.DataRep, r)
	if err != nil {
		t.Fatal(err)
	}
	b, err := dcerpc.AppendPacket(nil, h, body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// exchange sends b and returns the answer, if one comes within 300 ms.
func exchange(t *testing.T, addr netip.AddrPort, b []byte) (dcerpc.Packet, bool) {
	t.Helper()
	c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write(b)
	c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	buf := make([]byte, 2048)
	n, err := c.Read(buf)
	if err != nil {
		return dcerpc.Packet{}, false
	}
	p, err := dcerpc.Parse(buf[:n])
	if err != nil {
		t.Fatalf("answer does not parse: %v", err)
	}
	return p, true
}

func TestServer(t *testing.T) {
	pl, addr := startServer(t)
	msg := dcerpc.SendMessageRequest{From: []byte("ALICE"), To: []byte("bob"), Text: []byte("one\r\ntwo")}
	h := dcerpc.SendMessageHeader(dcerpc.UUID{1}, 0)

	p, ok := exchange(t, addr, request(t, h, msg))
	if !ok || p.Type != dcerpc.TypeResponse || p.Activity != h.Activity {
		t.Fatalf("answer %v %v; want a response on the same activity", p, ok)
	}
	if st, err := dcerpc.ParseSendMessageResponse(p.Body, p.DataRep); err != nil || st != dcerpc.StatusSuccess {
		t.Fatalf("status %v %v", st, err)
	}
	if got := pl.stored(); len(got) != 1 || got[0].Text != "one\ntwo" || got[0].From != "ALICE" || got[0].To != "bob" {
		t.Fatalf("stored %+v", got)
	}

	wrongIf := h
	wrongIf.Interface = dcerpc.UUID{9}
	if p, ok := exchange(t, addr, request(t, wrongIf, msg)); !ok || p.Type != dcerpc.TypeReject {
		t.Errorf("another interface: %v %v, want a reject", p, ok)
	} else if st, _ := p.Status(); st != dcerpc.NCAUnknownInterface {
		t.Errorf("reject status %v", st)
	}
	wrongOp := h
	wrongOp.OpNum = 7
	if p, ok := exchange(t, addr, request(t, wrongOp, msg)); !ok || p.Type != dcerpc.TypeReject {
		t.Errorf("another opnum: %v %v, want a reject", p, ok)
	}
	badStub, _ := dcerpc.AppendPacket(nil, h, []byte{0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f})
	if p, ok := exchange(t, addr, badStub); !ok || p.Type != dcerpc.TypeFault {
		t.Errorf("a stub claiming 2 GB: %v %v, want a fault", p, ok)
	}
	nobody := msg
	nobody.To = []byte("NOBODY")
	if p, ok := exchange(t, addr, request(t, h, nobody)); !ok {
		t.Error("no answer for a name we lack")
	} else if st, _ := dcerpc.ParseSendMessageResponse(p.Body, p.DataRep); st != dcerpc.StatusNameNotFound {
		t.Errorf("status %v, want NERR_NameNotFound", st)
	}
	oneway := h
	oneway.Flags1 |= dcerpc.Flags1Maybe | dcerpc.Flags1Broadcast
	if _, ok := exchange(t, addr, request(t, oneway, msg)); ok {
		t.Error("a maybe|broadcast call was answered")
	}
	if _, ok := exchange(t, addr, []byte("garbage")); ok {
		t.Error("garbage was answered")
	}
	deadline := time.Now().Add(2 * time.Second)
	for len(pl.stored()) < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := len(pl.stored()); n != 2 {
		t.Errorf("stored %d messages, want 2 (the first and the one-way call)", n)
	}
}

func TestPolicyDropIsSilent(t *testing.T) {
	pl, addr := startServer(t)
	pl.drop.Store(true)
	h := dcerpc.SendMessageHeader(dcerpc.UUID{2}, 0)
	if _, ok := exchange(t, addr, request(t, h, dcerpc.SendMessageRequest{From: []byte("x"), To: []byte("BOB"), Text: []byte("spam")})); ok {
		t.Error("a call the policy dropped was answered")
	}
}

// probes are the calls that drew an answer other than success before a
// source was checked: each one a reflector, the last a name oracle.
func probes(t *testing.T) map[string][]byte {
	t.Helper()
	h := dcerpc.SendMessageHeader(dcerpc.UUID{4}, 0)
	msg := dcerpc.SendMessageRequest{From: []byte("X"), To: []byte("BOB"), Text: []byte("hi")}
	bare, err := dcerpc.AppendPacket(nil, h, nil)
	if err != nil {
		t.Fatal(err)
	}
	badStub, _ := dcerpc.AppendPacket(nil, h, []byte{0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f})
	wrongIf := h
	wrongIf.Interface = dcerpc.UUID{9}
	nobody := msg
	nobody.To = []byte("NOBODY")
	return map[string][]byte{
		"request without a stub": bare,
		"bad stub":               badStub,
		"unknown interface":      request(t, wrongIf, msg),
		"name not ours":          request(t, h, nobody),
		"message for us":         request(t, h, msg),
	}
}

// A source outside the allowed networks hears nothing, whatever it
// sends, and nothing it sends is stored.
func TestOutsiderGetsSilence(t *testing.T) {
	var asked atomic.Int64
	pl, addr := startServer(t, func(c *Config) {
		c.Admit = func(a netip.Addr) bool { asked.Add(1); return !a.IsLoopback() }
	})
	for name, b := range probes(t) {
		if p, ok := exchange(t, addr, b); ok {
			t.Errorf("%s from outside the allowed networks: answered %v", name, p)
		}
	}
	if n := asked.Load(); n != 5 {
		t.Errorf("Admit asked %d times for 5 packets", n)
	}
	if got := pl.stored(); len(got) != 0 {
		t.Errorf("stored %+v from a refused source", got)
	}
}

// No answer is larger than the request it answers: a request with no
// stub (80 bytes) would draw an 84-byte fault.
func TestNoAnswerLargerThanRequest(t *testing.T) {
	_, addr := startServer(t)
	for name, b := range probes(t) {
		p, ok := exchange(t, addr, b)
		if name == "request without a stub" {
			if ok {
				t.Errorf("%s (%d bytes) answered with a %v", name, len(b), p.Type)
			}
			continue
		}
		if !ok {
			t.Errorf("%s from an allowed source: no answer", name)
		}
	}
}

func TestClient(t *testing.T) {
	pl, addr := startServer(t)
	c := &Client{Wait: 300 * time.Millisecond}
	ctx := context.Background()
	if err := c.SendMessage(ctx, netip.Addr{}, addr, []byte("ME"), []byte("BOB"), []byte("hi")); err != nil {
		t.Fatal(err)
	}
	var se *StatusError
	if err := c.SendMessage(ctx, netip.Addr{}, addr, []byte("ME"), []byte("NOBODY"), []byte("hi")); !errors.As(err, &se) || se.Status != dcerpc.StatusNameNotFound {
		t.Errorf("to NOBODY: %v, want NERR_NameNotFound", err)
	}
	closed, _ := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	closedAddr := closed.LocalAddr().(*net.UDPAddr).AddrPort()
	closed.Close()
	if err := c.SendMessage(ctx, netip.Addr{}, closedAddr, []byte("ME"), []byte("BOB"), []byte("hi")); err == nil {
		t.Error("a send to a closed port succeeded")
	}
	if got := pl.stored(); len(got) != 1 {
		t.Errorf("stored %+v", got)
	}
}

// BenchmarkServe measures NetrSendMessage datagrams decoded, judged and
// handed to the (in-memory) pipeline per second; one-way calls, as spam
// arrives, paced so the socket buffer does not overflow.
func BenchmarkServe(b *testing.B) {
	pl, addr := startServer(b)
	c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(addr))
	if err != nil {
		b.Fatal(err)
	}
	h := dcerpc.SendMessageHeader(dcerpc.UUID{3}, 0)
	h.Flags1 |= dcerpc.Flags1Maybe
	pkt := request(b, h, dcerpc.SendMessageRequest{From: []byte("SPAMMER"), To: []byte("BOB"), Text: []byte("Buy cheap software now")})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c.Write(pkt)
		for int64(i)-pl.n.Load() > 1024 {
			time.Sleep(10 * time.Microsecond)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for pl.n.Load() < int64(b.N) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	b.ReportMetric(float64(pl.n.Load())/b.Elapsed().Seconds(), "msgs/s")
}
