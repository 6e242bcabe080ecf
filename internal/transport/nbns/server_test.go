package nbns

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/netsend/messenger/internal/lograte"
	"github.com/netsend/messenger/internal/message"
	"github.com/netsend/messenger/internal/metrics"
	"github.com/netsend/messenger/internal/names"
	"github.com/netsend/messenger/internal/netbios"
	"github.com/netsend/messenger/internal/policy"
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
	return s.handle(b, nil, netip.MustParseAddrPort(src), nil)
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
	var buf syncBuffer
	s.cfg.PacketLog = slog.New(lograte.NewLevel(slog.NewTextHandler(&buf, nil), slog.LevelInfo, 5, time.Hour))
	for i := range 500 {
		handleFrom(t, s, "203.0.113.9:137", netbios.NodeStatusRequest(uint16(i), ""))
	}
	if n := strings.Count(buf.String(), "node status refused"); n != 5 {
		t.Errorf("%d log lines for 500 refused node status requests, want 5", n)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
