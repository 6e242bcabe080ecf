package mailslot

import (
	"context"
	"encoding/hex"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/netsend/messenger/internal/message"
	"github.com/netsend/messenger/internal/metrics"
	"github.com/netsend/messenger/internal/names"
	"github.com/netsend/messenger/internal/netbios"
	"github.com/netsend/messenger/internal/smb"
	"github.com/netsend/messenger/internal/transport/udpsock"
)

type memPipeline struct {
	mu   sync.Mutex
	msgs []message.Message
	n    atomic.Int64
}

func (p *memPipeline) Judge(context.Context, *message.Message) error { return nil }

func (p *memPipeline) Keep(_ context.Context, m *message.Message) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.msgs = append(p.msgs, *m)
	p.n.Add(1)
	return nil
}

func (p *memPipeline) stored() []message.Message {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]message.Message(nil), p.msgs...)
}

func startServer(t testing.TB, opts ...func(*Config)) (*Server, *memPipeline, netip.AddrPort) {
	t.Helper()
	cp, _ := message.LookupCodePage("CP850")
	tab, err := names.New(names.Config{CodePage: cp, Host: "HOST1", Workgroup: "WORKGROUP", Aliases: []string{"BOB"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range tab.List() {
		tab.SetState(e.Name, names.StateRegistered)
	}
	// Two sockets sharing the port, as the daemon opens one per CPU.
	conns, err := udpsock.ListenGroup("udp4", "127.0.0.1:0", 2)
	if err != nil {
		t.Fatal(err)
	}
	pl := &memPipeline{}
	cfg := Config{Table: tab, Pipeline: pl, CodePage: cp, Metrics: metrics.New(), Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, o := range opts {
		o(&cfg)
	}
	cfg.Conns = conns
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Serve(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	return s, pl, conns[0].LocalAddr().(*net.UDPAddr).AddrPort()
}

// The directed example of docs/protocols/netbios-datagrams.md ("Worked
// example: a directed mailslot message"), byte for byte: ALICE to
// BOB<03>, "Hello".
const docDatagram = `10 02 80 01 c0 a8 01 0a 00 8a 00 ac 00 00
20 45 42 45 4d 45 4a 45 44 45 46 43 41 43 41 43 41 43 41 43 41 43 41 43 41 43 41 43 41 43 41 41 41 00
20 45 43 45 50 45 43 43 41 43 41 43 41 43 41 43 41 43 41 43 41 43 41 43 41 43 41 43 41 43 41 41 44 00
ff 53 4d 42 25 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
11 00 00 10 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
10 00 58 00 03 00 01 00 00 00 02 00 23 00
5c 4d 41 49 4c 53 4c 4f 54 5c 4d 45 53 53 4e 47 52 00 00
41 4c 49 43 45 00 42 4f 42 00 48 65 6c 6c 6f 00`

func datagram(t testing.TB, typ netbios.DatagramType, dest netbios.Name, mailslotName string, payload smb.MessengerPayload) []byte {
	t.Helper()
	data, err := smb.AppendMessengerPayload(nil, payload)
	if err != nil {
		t.Fatal(err)
	}
	w, err := smb.AppendMailslotWrite(nil, smb.Header{}, smb.MailslotWrite{Name: mailslotName, Class: 2, Data: data})
	if err != nil {
		t.Fatal(err)
	}
	src, _ := netbios.NewName("SENDER", 0)
	b, err := netbios.AppendDatagram(nil, netbios.Datagram{Type: typ, Flags: netbios.DatagramFirst, ID: 7,
		SourceIP: netip.MustParseAddr("127.0.0.1"), SourcePort: 138, Source: src, Destination: dest, Data: w})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestReceive(t *testing.T) {
	_, pl, addr := startServer(t)
	c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	golden, _ := hex.DecodeString(strings.Join(strings.Fields(docDatagram), ""))
	wg, _ := netbios.NewName("WORKGROUP", 0)
	other, _ := netbios.NewName("OTHERGRP", 0)
	bob, _ := netbios.NewName("BOB", 3)
	nobody, _ := netbios.NewName("NOBODY", 3)
	sends := [][]byte{
		golden, // stored
		datagram(t, netbios.DirectGroupDatagram, wg, smb.MessengerMailslot, smb.MessengerPayload{From: []byte("admin"), To: []byte("WORKGROUP"), Text: []byte("to all\x14of us")}),        // stored
		datagram(t, netbios.DirectGroupDatagram, bob, smb.MessengerMailslot, smb.MessengerPayload{From: []byte("carol"), To: []byte("BOB"), Text: []byte("group type, our unique name")}), // stored: by name
		datagram(t, netbios.DirectGroupDatagram, other, smb.MessengerMailslot, smb.MessengerPayload{From: []byte("x"), To: []byte("OTHERGRP"), Text: []byte("not ours")}),                 // other group
		datagram(t, netbios.DirectUniqueDatagram, nobody, smb.MessengerMailslot, smb.MessengerPayload{From: []byte("x"), To: []byte("NOBODY"), Text: []byte("not ours")}),                 // other name
		datagram(t, netbios.DirectUniqueDatagram, bob, `\MAILSLOT\BROWSE`, smb.MessengerPayload{From: []byte("x"), To: []byte("BOB"), Text: []byte("browser")}),                           // other mailslot
		golden[:40], // truncated
		{0xff, 0xff},
	}
	for _, b := range sends {
		if _, err := c.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(pl.stored()) < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // let any wrongly accepted datagram land too
	got := pl.stored()
	if len(got) != 3 {
		t.Fatalf("stored %d messages, want 3: %+v", len(got), got)
	}
	byText := map[string]message.Message{}
	for _, m := range got {
		byText[m.Text] = m
	}
	if m, ok := byText["Hello"]; !ok || m.From != "ALICE" || m.To != "BOB" || m.Transport != message.TransportMailslot {
		t.Errorf("golden datagram stored as %+v", m)
	}
	if m, ok := byText["to all\nof us"]; !ok || m.To != "WORKGROUP" {
		t.Errorf("group datagram stored as %+v", m)
	}
	if m, ok := byText["group type, our unique name"]; !ok || m.To != "BOB" || m.From != "carol" {
		t.Errorf("DIRECT_GROUP datagram to BOB<03> stored as %+v", m)
	}
}

// A source the policy refuses is not even decoded: nothing stored, and
// Admit asked once per datagram.
func TestRefusedSourceIgnored(t *testing.T) {
	var asked atomic.Int64
	_, pl, addr := startServer(t, func(c *Config) {
		c.Admit = func(netip.Addr) bool { asked.Add(1); return false }
	})
	c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	golden, _ := hex.DecodeString(strings.Join(strings.Fields(docDatagram), ""))
	for _, b := range [][]byte{golden, {0xff, 0xff}} {
		c.Write(b)
	}
	deadline := time.Now().Add(5 * time.Second)
	for asked.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := asked.Load(); n != 2 {
		t.Fatalf("Admit asked %d times for 2 datagrams", n)
	}
	if got := pl.stored(); len(got) != 0 {
		t.Errorf("stored %+v from a refused source", got)
	}
}

func TestBroadcastReachesItself(t *testing.T) {
	s, pl, addr := startServer(t)
	src, _ := netbios.NewName("HOST1", 0)
	group, _ := netbios.NewName("WORKGROUP", 0)
	lo := names.Interface{Name: "lo", Addr: netip.MustParseAddr("127.0.0.1"), Bits: 8, Broadcast: addr.Addr()}
	if err := s.Broadcast([]names.Interface{lo}, int(addr.Port()), src, group, []byte("me"), []byte("hi all")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(pl.stored()) < 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := pl.stored(); len(got) != 1 || got[0].Text != "hi all" || got[0].From != "me" {
		t.Fatalf("stored %+v", got)
	}
	if err := s.Broadcast(nil, 138, src, group, nil, []byte("x")); err == nil {
		t.Error("Broadcast with no interfaces succeeded")
	}
}

// BenchmarkReceive measures datagrams decoded and handed to the pipeline
// per second; the sender paces itself so the socket buffer does not drop.
func BenchmarkReceive(b *testing.B) {
	_, pl, addr := startServer(b)
	c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(addr))
	if err != nil {
		b.Fatal(err)
	}
	golden, _ := hex.DecodeString(strings.Join(strings.Fields(docDatagram), ""))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		c.Write(golden)
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
