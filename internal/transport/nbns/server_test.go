package nbns

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/netsend/messenger/internal/lograte"
	"github.com/netsend/messenger/internal/message"
	"github.com/netsend/messenger/internal/metrics"
	"github.com/netsend/messenger/internal/names"
	"github.com/netsend/messenger/internal/netbios"
	"github.com/netsend/messenger/internal/policy"
	"github.com/netsend/messenger/internal/syncbuf"
)

// startServer runs a responder on an ephemeral loopback port with the
// table's names registered.
func startServer(t testing.TB, allow ...string) (*Server, netip.AddrPort, *names.Table) {
	t.Helper()
	cp, _ := message.LookupCodePage("CP850")
	tab, err := names.New(names.Config{CodePage: cp, Host: "HOST1", HostSuffixes: []byte{0}, Workgroup: "WG", Aliases: []string{"alias"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range tab.List() {
		tab.SetState(e.Name, names.StateRegistered)
	}
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	if len(allow) == 0 {
		allow = []string{"local"}
	}
	al, err := policy.ParseNetworks(allow)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Conn: conn, Table: tab, Metrics: metrics.New(), Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		TTL: time.Hour, NodeStatusAllow: al, Interfaces: []string{"lo"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Serve(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done; conn.Close() })
	return s, conn.LocalAddr().(*net.UDPAddr).AddrPort(), tab
}

func ask(t testing.TB, c *net.UDPConn, to netip.AddrPort, p netbios.NameServicePacket) (netbios.NameServicePacket, bool) {
	t.Helper()
	b, err := netbios.AppendNameServicePacket(nil, p)
	if err != nil {
		t.Fatal(err)
	}
	c.WriteToUDPAddrPort(b, to)
	c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	buf := make([]byte, 1500)
	n, err := c.Read(buf)
	if err != nil {
		return netbios.NameServicePacket{}, false
	}
	r, err := netbios.ParseNameServicePacket(buf[:n])
	if err != nil {
		t.Fatalf("reply does not parse: %v", err)
	}
	return r, true
}

func client(t testing.TB) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func name(t testing.TB, s string, sfx byte) netbios.Name {
	n, err := netbios.NewName(s, sfx)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestAnswers(t *testing.T) {
	_, addr, tab := startServer(t)
	c := client(t)

	r, ok := ask(t, c, addr, netbios.NameQueryRequest(1, name(t, "alias", 3), "", false, true))
	if !ok || len(r.Answers) != 1 || r.RCode != netbios.RCodeOK || r.Flags&netbios.FlagAA == 0 {
		t.Fatalf("unicast query for ALIAS<03>: %v %v", r, ok)
	}
	entries, err := netbios.ParseNBData(r.Answers[0].Data)
	if err != nil || entries[0].Addr != netip.MustParseAddr("127.0.0.1") {
		t.Errorf("answer %v %v; want 127.0.0.1", entries, err)
	}
	if r, ok := ask(t, c, addr, netbios.NameQueryRequest(2, name(t, "NOBODY", 3), "", false, true)); !ok || r.RCode != netbios.RCodeNameErr {
		t.Errorf("unicast query for a name we lack: %v %v; want NAM_ERR", r, ok)
	}
	if _, ok := ask(t, c, addr, netbios.NameQueryRequest(3, name(t, "NOBODY", 3), "", true, false)); ok {
		t.Error("a broadcast query for a name we lack was answered")
	}
	if r, ok := ask(t, c, addr, netbios.NameQueryRequest(4, name(t, "WG", 0), "", true, false)); !ok {
		t.Error("broadcast query for our group name unanswered")
	} else if e, _ := netbios.ParseNBData(r.Answers[0].Data); !e[0].Flags.Group() {
		t.Errorf("group name answered without the G flag: %v", e)
	}
	if _, ok := ask(t, c, addr, netbios.NameQueryRequest(5, name(t, "alias", 3), "other.scope", false, true)); ok {
		t.Error("a query in another scope was answered")
	}

	r, ok = ask(t, c, addr, netbios.NodeStatusRequest(6, ""))
	if !ok {
		t.Fatal("node status unanswered")
	}
	st, err := netbios.ParseNodeStatus(r.Answers[0].Data)
	if err != nil || len(st.Names) != len(tab.List()) {
		t.Fatalf("node status %v %v; want %d names", st, err, len(tab.List()))
	}
	for _, n := range st.Names {
		if n.Flags&netbios.NameACT == 0 {
			t.Errorf("%v not active", n)
		}
		if n.Name.Base() == "HOST1" && n.Flags&netbios.NamePRM == 0 {
			t.Errorf("host name %v not permanent", n)
		}
	}

	// Defence: someone else registering ALIAS<03> gets ACT_ERR.
	req, err := netbios.NameRegistrationRequest(7, name(t, "alias", 3), "", 300, netbios.NBEntry{Addr: netip.MustParseAddr("127.0.0.9")}, true)
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := ask(t, c, addr, req); !ok || r.RCode != netbios.RCodeActive || r.Opcode != netbios.OpcodeRegistration {
		t.Errorf("registration of our name: %v %v; want a negative response ACT_ERR", r, ok)
	}
	// A group name is not defended, nor a name we lack.
	req, _ = netbios.NameRegistrationRequest(8, name(t, "FREE", 3), "", 300, netbios.NBEntry{Addr: netip.MustParseAddr("127.0.0.9")}, true)
	if _, ok := ask(t, c, addr, req); ok {
		t.Error("registration of a name we lack was answered")
	}

	// Garbage is ignored and the server keeps answering.
	for _, junk := range [][]byte{{1, 2, 3}, make([]byte, 12), append(make([]byte, 4), 0xFF, 0xFF)} {
		c.WriteToUDPAddrPort(junk, addr)
	}
	if _, ok := ask(t, c, addr, netbios.NameQueryRequest(9, name(t, "alias", 3), "", false, true)); !ok {
		t.Error("server stopped answering after garbage")
	}
}

func TestNodeStatusRefused(t *testing.T) {
	_, addr, _ := startServer(t, "192.0.2.0/24")
	if _, ok := ask(t, client(t), addr, netbios.NodeStatusRequest(1, "")); ok {
		t.Error("node status answered outside the allowed networks")
	}
}

func BenchmarkQuery(b *testing.B) {
	_, addr, _ := startServer(b)
	q, _ := netbios.AppendNameServicePacket(nil, netbios.NameQueryRequest(1, name(b, "alias", 3), "", false, true))
	b.ReportAllocs()
	b.SetParallelism(4)
	var mu sync.Mutex
	b.RunParallel(func(pb *testing.PB) {
		mu.Lock()
		c := client(b)
		mu.Unlock()
		buf := make([]byte, 1500)
		for pb.Next() {
			c.WriteToUDPAddrPort(q, addr)
			c.SetReadDeadline(time.Now().Add(time.Second))
			if _, err := c.Read(buf); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// handleFrom runs one request through the handler as if from src, which
// a socket on loopback cannot be.
func handleFrom(t *testing.T, s *Server, src string, p netbios.NameServicePacket) []byte {
	t.Helper()
	b, err := netbios.AppendNameServicePacket(nil, p)
	if err != nil {
		t.Fatal(err)
	}
	return s.handle(&worker{}, b, pktInfo{}, netip.MustParseAddrPort(src), nil)
}

// A source off our networks and outside node_status_allow gets nothing
// larger than what it sent: no query answers, no node status; our names
// are still defended against it, since that answer is the smaller one.
func TestStrangerGetsNoLargerAnswer(t *testing.T) {
	s, _, _ := startServer(t, "192.0.2.0/24")
	const stranger = "203.0.113.9:137"
	for _, tc := range []struct {
		what string
		p    netbios.NameServicePacket
	}{
		{"positive query", netbios.NameQueryRequest(1, name(t, "alias", 3), "", false, true)},
		{"negative query", netbios.NameQueryRequest(2, name(t, "NOBODY", 3), "", false, true)},
		{"broadcast query", netbios.NameQueryRequest(3, name(t, "WG", 0), "", true, false)},
		{"node status", netbios.NodeStatusRequest(4, "")},
	} {
		if out := handleFrom(t, s, stranger, tc.p); out != nil {
			t.Errorf("%s from a stranger answered with %d bytes", tc.what, len(out))
		}
	}
	req, err := netbios.NameRegistrationRequest(5, name(t, "alias", 3), "", 300, netbios.NBEntry{Addr: netip.MustParseAddr("203.0.113.9")}, true)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := netbios.AppendNameServicePacket(nil, req)
	if out := handleFrom(t, s, stranger, req); out == nil || len(out) > len(b) {
		t.Errorf("registration of our name by a stranger: %d-byte answer to %d bytes, want a defence no larger", len(out), len(b))
	}
	// Within node_status_allow (not one of our networks) node status and
	// queries are answered, amplification or not: the operator said so.
	for _, p := range []netbios.NameServicePacket{netbios.NodeStatusRequest(6, ""), netbios.NameQueryRequest(7, name(t, "alias", 3), "", false, true)} {
		if out := handleFrom(t, s, "192.0.2.7:137", p); out == nil {
			t.Errorf("%v from node_status_allow unanswered", p.Questions[0].Type)
		}
	}
}

// Refused node status requests are logged through the rate limiter:
// 500 forged requests are not 500 lines.
func TestNodeStatusRefusalsRateLimited(t *testing.T) {
	s, _, _ := startServer(t, "192.0.2.0/24")
	var buf syncbuf.Buffer
	s.cfg.PacketLog = slog.New(lograte.NewLevel(slog.NewTextHandler(&buf, nil), slog.LevelInfo, 5, time.Hour))
	for i := range 500 {
		handleFrom(t, s, "203.0.113.9:137", netbios.NodeStatusRequest(uint16(i), ""))
	}
	if n := strings.Count(buf.String(), "node status refused"); n != 5 {
		t.Errorf("%d log lines for 500 refused node status requests, want 5", n)
	}
}

// nbnsCount reads one of the name service's counters.
func nbnsCount(s *Server, kind string) float64 {
	return testutil.ToFloat64(s.cfg.Metrics.NBNS.WithLabelValues(kind))
}

// A query from a source that may not get more than it sent is refused
// before the lookup: counted once, as too large, not also as answered.
// A padded request gets what fits in it.
func TestStrangerRefusedBeforeLookup(t *testing.T) {
	s, _, _ := startServer(t, "192.0.2.0/24")
	const stranger = "203.0.113.9:137"
	for i, n := range []netbios.Name{name(t, "alias", 3), name(t, "NOBODY", 3)} {
		if out := handleFrom(t, s, stranger, netbios.NameQueryRequest(uint16(i), n, "", false, true)); out != nil {
			t.Errorf("query for %v from a stranger answered", n)
		}
	}
	if got := nbnsCount(s, "answer_larger_than_request"); got != 2 {
		t.Errorf("answer_larger_than_request = %v, want 2", got)
	}
	for _, kind := range []string{"query_positive", "query_negative", "query_not_ours"} {
		if got := nbnsCount(s, kind); got != 0 {
			t.Errorf("%s = %v for refused queries, want 0", kind, got)
		}
	}
	// Six bytes of padding make room for the negative answer, not the
	// positive one.
	padded := func(n netbios.Name) []byte {
		b, err := netbios.AppendNameServicePacket(nil, netbios.NameQueryRequest(9, n, "", false, true))
		if err != nil {
			t.Fatal(err)
		}
		return append(b, make([]byte, 6)...)
	}
	from := netip.MustParseAddrPort(stranger)
	b := padded(name(t, "NOBODY", 3))
	if out := s.handle(&worker{}, b, pktInfo{}, from, nil); len(out) == 0 || len(out) > len(b) {
		t.Errorf("padded query for a name we lack: %d-byte answer to %d bytes, want NAM_ERR no larger", len(out), len(b))
	} else if r, err := netbios.ParseNameServicePacket(out); err != nil || r.RCode != netbios.RCodeNameErr || r.TransactionID != 9 {
		t.Errorf("padded query for a name we lack: %v %v", r, err)
	}
	if out := s.handle(&worker{}, padded(name(t, "alias", 3)), pktInfo{}, from, nil); out != nil {
		t.Errorf("padded query for our name answered with %d bytes", len(out))
	}
}

// The encoded answers follow the table: a name that comes, goes or
// changes state is answered accordingly at the next query.
func TestAnswersFollowTable(t *testing.T) {
	s, _, tab := startServer(t)
	const peer = "127.0.0.5:137"
	rcode := func(n netbios.Name) (netbios.RCode, bool) {
		out := handleFrom(t, s, peer, netbios.NameQueryRequest(1, n, "", false, true))
		if out == nil {
			return 0, false
		}
		r, err := netbios.ParseNameServicePacket(out)
		if err != nil {
			t.Fatal(err)
		}
		if r.Answers[0].Name != n {
			t.Errorf("answer names %v, the question %v", r.Answers[0].Name, n)
		}
		return r.RCode, true
	}
	bob := name(t, "BOB", 3)
	if rc, ok := rcode(bob); !ok || rc != netbios.RCodeNameErr {
		t.Fatalf("BOB before it is added: %v %v", rc, ok)
	}
	if _, err := tab.AddAlias("bob", ""); err != nil {
		t.Fatal(err)
	}
	if rc, _ := rcode(bob); rc != netbios.RCodeNameErr {
		t.Errorf("BOB while registering: %v, want NAM_ERR", rc)
	}
	tab.SetState(bob, names.StateRegistered)
	// Asked in lower case, answered in the asker's spelling.
	lower := netbios.NameFromBytes([16]byte{'b', 'o', 'b', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', 3})
	if rc, ok := rcode(lower); !ok || rc != netbios.RCodeOK {
		t.Errorf("bob once registered: %v %v, want OK", rc, ok)
	}
	tab.SetState(bob, names.StateConflict)
	if rc, _ := rcode(bob); rc != netbios.RCodeNameErr {
		t.Errorf("BOB in conflict: %v, want NAM_ERR", rc)
	}
}

func queryBytes(t testing.TB, n netbios.Name) []byte {
	b, err := netbios.AppendNameServicePacket(nil, netbios.NameQueryRequest(7, n, "", false, true))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Answering a name query allocates nothing, positive or negative.
func TestQueryAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	s, _, _ := startServer(t)
	from := netip.MustParseAddrPort("127.0.0.5:137")
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		t.Skip("no interface lo")
	}
	pi := pktInfo{ifIndex: lo.Index, dst: netip.MustParseAddr("127.0.0.1"), ok: true}
	var w worker
	out := make([]byte, 0, maxPacket)
	for _, n := range []netbios.Name{name(t, "alias", 3), name(t, "NOBODY", 3)} {
		q := queryBytes(t, n)
		if len(s.handle(&w, q, pi, from, out)) == 0 {
			t.Fatalf("query for %v unanswered", n)
		}
		if a := testing.AllocsPerRun(200, func() { s.handle(&w, q, pi, from, out) }); a != 0 {
			t.Errorf("query for %v: %v allocations per answer", n, a)
		}
	}
}

// BenchmarkHandle is the handler alone, without the socket: what an
// answer costs beyond the system calls.
func BenchmarkHandle(b *testing.B) {
	s, _, _ := startServer(b)
	from := netip.MustParseAddrPort("127.0.0.5:137")
	pi := pktInfo{ifIndex: 1, dst: netip.MustParseAddr("127.0.0.1"), ok: true}
	q := queryBytes(b, name(b, "alias", 3))
	var w worker
	out := make([]byte, 0, maxPacket)
	b.ReportAllocs()
	for b.Loop() {
		s.handle(&w, q, pi, from, out)
	}
}

// A reply to our request reaches the registrar intact even after the
// datagrams read behind it have reused the read buffers.
func TestReplyOutlivesReadBuffers(t *testing.T) {
	s, addr, _ := startServer(t)
	c := client(t)
	n := name(t, "alias", 3)
	req, err := netbios.NameRegistrationRequest(s.NewTransactionID(), n, "", 300, netbios.NBEntry{Addr: netip.MustParseAddr("127.0.0.1")}, false)
	if err != nil {
		t.Fatal(err)
	}
	replies, done, err := s.Send(req, c.LocalAddr().(*net.UDPAddr).AddrPort())
	if err != nil {
		t.Fatal(err)
	}
	defer done()
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, maxPacket)
	if _, err := c.Read(buf); err != nil {
		t.Fatal(err)
	}
	want := netip.MustParseAddr("127.0.0.9")
	resp, err := netbios.PositiveRegistrationResponse(req.TransactionID, n, "", 300, netbios.NBEntry{Addr: want})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := netbios.AppendNameServicePacket(nil, resp)
	c.WriteToUDPAddrPort(b, addr)
	// Junk of the same length overwrites whatever buffer held the reply.
	junk := bytes.Repeat([]byte{0xFF}, len(b))
	for range 2 * batchSize {
		c.WriteToUDPAddrPort(junk, addr)
	}
	time.Sleep(200 * time.Millisecond)
	select {
	case r := <-replies:
		if e, err := netbios.ParseNBData(r.Packet.Answers[0].Data); err != nil || e[0].Addr != want {
			t.Errorf("reply's record reads %v %v, want %v", e, err, want)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("no reply delivered")
	}
}
