package resolve

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/netsend/messenger/internal/names"
	"github.com/netsend/messenger/internal/netbios"
)

// testLogger collects debug logs and prints them only when the test
// fails. It writes to a buffer, not to t, because a lookup abandoned by a
// cancelled caller may still log after the test has returned.
func testLogger(t testing.TB) *slog.Logger {
	t.Helper()
	w := &lockedBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log:\n%s", w.String())
		}
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *lockedBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *lockedBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// waitFor awaits a condition another goroutine brings about.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// fakeNBNS is a name server on loopback: it answers each query with
// whatever reply returns, from its own socket, and counts the queries.
type fakeNBNS struct {
	conn    *net.UDPConn
	addr    netip.AddrPort
	queries atomic.Int32
	got     chan netbios.NameServicePacket // every query, if there is room
	reply   func(q netbios.NameServicePacket, n int, from netip.AddrPort) [][]byte
}

// startFake listens on laddr ("127.0.0.1:0" for any port); reply is given
// each query, its 1-based number and its sender.
func startFake(t *testing.T, laddr string, reply func(q netbios.NameServicePacket, n int, from netip.AddrPort) [][]byte) *fakeNBNS {
	t.Helper()
	conn, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(laddr)))
	if err != nil {
		t.Fatalf("fake NBNS: %v", err)
	}
	f := &fakeNBNS{conn: conn, addr: conn.LocalAddr().(*net.UDPAddr).AddrPort(), got: make(chan netbios.NameServicePacket, 64), reply: reply}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			n, from, err := conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				return // closed by the cleanup
			}
			q, err := netbios.ParseNameServicePacket(buf[:n])
			if err != nil || q.Response || len(q.Questions) != 1 {
				continue
			}
			num := int(f.queries.Add(1))
			select {
			case f.got <- q:
			default:
			}
			if f.reply == nil {
				continue
			}
			for _, b := range f.reply(q, num, from) {
				conn.WriteToUDPAddrPort(b, from)
			}
		}
	}()
	t.Cleanup(func() {
		conn.Close()
		<-done
	})
	return f
}

// The packet builders run in the fake's goroutine, so they report with
// Error, not Fatal; the resolver ignores the empty packet they then send.

func encode(t testing.TB, p netbios.NameServicePacket) []byte {
	t.Helper()
	b, err := netbios.AppendNameServicePacket(nil, p)
	if err != nil {
		t.Error(err)
	}
	return b
}

// positive answers q with addrs, as a WINS server (group false) or as the
// members of a group.
func positive(t testing.TB, q netbios.NameServicePacket, group bool, addrs ...string) []byte {
	t.Helper()
	var entries []netbios.NBEntry
	for _, a := range addrs {
		e := netbios.NBEntry{Flags: netbios.NBFlags(netbios.ONTH), Addr: netip.MustParseAddr(a)}
		if group {
			e.Flags |= netbios.NBGroup
		}
		entries = append(entries, e)
	}
	p, err := netbios.PositiveNameQueryResponse(q.TransactionID, q.Questions[0].Name, q.Questions[0].Scope, 300000, entries, !group)
	if err != nil {
		t.Error(err)
		return nil
	}
	return encode(t, p)
}

func negative(t testing.TB, q netbios.NameServicePacket, rcode netbios.RCode) []byte {
	t.Helper()
	return encode(t, netbios.NegativeNameQueryResponse(q.TransactionID, q.Questions[0].Name, q.Questions[0].Scope, rcode))
}

func newResolver(t testing.TB, cfg Config) *Resolver {
	t.Helper()
	if cfg.Log == nil {
		cfg.Log = testLogger(t)
	}
	if cfg.LMHostsPath == "" {
		cfg.LMHostsPath = filepath.Join(t.TempDir(), "no-lmhosts")
	}
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func writeLMHosts(t testing.TB, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "lmhosts")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func addrs(s ...string) []netip.Addr {
	var a []netip.Addr
	for _, x := range s {
		a = append(a, netip.MustParseAddr(x))
	}
	return a
}

func loopbackIfs(bcast ...string) func() []names.Interface {
	return func() []names.Interface {
		var ifs []names.Interface
		for _, b := range bcast {
			ifs = append(ifs, names.Interface{Name: "lo", Addr: netip.MustParseAddr("127.0.0.1"), Bits: 8, Broadcast: netip.MustParseAddr(b)})
		}
		return ifs
	}
}

func TestWINS(t *testing.T) {
	bob := mustName(t, "BOB", 0x03)
	tests := []struct {
		name        string
		order       []Method
		lmhosts     string
		reply       func(t *testing.T, q netbios.NameServicePacket, n int) [][]byte
		wantAddrs   []netip.Addr
		wantMethod  Method
		wantErr     error
		wantQueries int32
	}{
		{
			name:  "positive",
			order: []Method{WINS},
			reply: func(t *testing.T, q netbios.NameServicePacket, _ int) [][]byte {
				return [][]byte{positive(t, q, false, "192.0.2.20")}
			},
			wantAddrs: addrs("192.0.2.20"), wantMethod: WINS, wantQueries: 1,
		},
		{
			name:  "negative stops retries",
			order: []Method{WINS},
			reply: func(t *testing.T, q netbios.NameServicePacket, _ int) [][]byte {
				return [][]byte{negative(t, q, netbios.RCodeNameErr)}
			},
			wantErr: ErrNotFound, wantQueries: 1,
		},
		{
			name:    "negative then lmhosts",
			order:   []Method{WINS, LMHosts},
			lmhosts: "192.0.2.30 bob\n",
			reply: func(t *testing.T, q netbios.NameServicePacket, _ int) [][]byte {
				return [][]byte{negative(t, q, netbios.RCodeNameErr)}
			},
			wantAddrs: addrs("192.0.2.30"), wantMethod: LMHosts, wantQueries: 1,
		},
		{
			name:    "server failure then lmhosts",
			order:   []Method{WINS, LMHosts},
			lmhosts: "192.0.2.30 bob\n",
			reply: func(t *testing.T, q netbios.NameServicePacket, _ int) [][]byte {
				return [][]byte{negative(t, q, netbios.RCodeServFail)}
			},
			wantAddrs: addrs("192.0.2.30"), wantMethod: LMHosts, wantQueries: 1,
		},
		{
			name:        "silence then lmhosts",
			order:       []Method{WINS, LMHosts},
			lmhosts:     "192.0.2.30 bob\n",
			wantAddrs:   addrs("192.0.2.30"),
			wantMethod:  LMHosts,
			wantQueries: 3,
		},
		{
			name:        "silence",
			order:       []Method{WINS},
			wantErr:     ErrNotFound,
			wantQueries: 3,
		},
		{
			name:  "answer on the second try",
			order: []Method{WINS},
			reply: func(t *testing.T, q netbios.NameServicePacket, n int) [][]byte {
				if n < 2 {
					return nil
				}
				return [][]byte{positive(t, q, false, "192.0.2.20")}
			},
			wantAddrs: addrs("192.0.2.20"), wantMethod: WINS, wantQueries: 2,
		},
		{
			name:  "junk and strangers ignored",
			order: []Method{WINS},
			reply: func(t *testing.T, q netbios.NameServicePacket, _ int) [][]byte {
				wrongID := q
				wrongID.TransactionID++
				other := q
				other.Questions = []netbios.Question{{Name: mustName(t, "ALICE", 3), Type: netbios.TypeNB, Class: netbios.ClassIN}}
				request := encode(t, q) // our own query echoed: not a response
				truncated := positive(t, q, false, "192.0.2.99")
				return [][]byte{
					{0xde, 0xad},
					positive(t, wrongID, false, "192.0.2.99"),
					negative(t, wrongID, netbios.RCodeNameErr),
					positive(t, other, false, "192.0.2.98"),
					request,
					truncated[:len(truncated)-3],
					encode(t, netbios.WACKResponse(q.TransactionID, q.Questions[0].Name, "", 2, 0x0100)),
					positive(t, q, false, "192.0.2.20", "192.0.2.21"),
				}
			},
			wantAddrs: addrs("192.0.2.20", "192.0.2.21"), wantMethod: WINS, wantQueries: 1,
		},
		{
			name:    "lmhosts first",
			order:   []Method{LMHosts, WINS},
			lmhosts: "192.0.2.30 bob\n",
			reply: func(t *testing.T, q netbios.NameServicePacket, _ int) [][]byte {
				return [][]byte{positive(t, q, false, "192.0.2.20")}
			},
			wantAddrs: addrs("192.0.2.30"), wantMethod: LMHosts, wantQueries: 0,
		},
		{
			name:    "WINS before lmhosts",
			order:   []Method{WINS, LMHosts},
			lmhosts: "192.0.2.30 bob\n",
			reply: func(t *testing.T, q netbios.NameServicePacket, _ int) [][]byte {
				return [][]byte{positive(t, q, false, "192.0.2.20")}
			},
			wantAddrs: addrs("192.0.2.20"), wantMethod: WINS, wantQueries: 1,
		},
		{
			name:    "#PRE before WINS",
			order:   []Method{WINS, LMHosts},
			lmhosts: "192.0.2.31 bob #PRE\n",
			reply: func(t *testing.T, q netbios.NameServicePacket, _ int) [][]byte {
				return [][]byte{positive(t, q, false, "192.0.2.20")}
			},
			wantAddrs: addrs("192.0.2.31"), wantMethod: LMHosts, wantQueries: 0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var reply func(netbios.NameServicePacket, int, netip.AddrPort) [][]byte
			if tt.reply != nil {
				reply = func(q netbios.NameServicePacket, n int, _ netip.AddrPort) [][]byte { return tt.reply(t, q, n) }
			}
			fake := startFake(t, "127.0.0.1:0", reply)
			cfg := Config{Order: tt.order, WINS: fake.addr, Timeout: 30 * time.Millisecond}
			if tt.lmhosts != "" {
				cfg.LMHostsPath = writeLMHosts(t, tt.lmhosts)
			}
			r := newResolver(t, cfg)
			res, err := r.Resolve(t.Context(), bob)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(res.Addrs, tt.wantAddrs) || res.Method != tt.wantMethod || res.Cached {
				t.Errorf("result = %+v, want %v by %q", res, tt.wantAddrs, tt.wantMethod)
			}
			if tt.wantQueries > 0 {
				// The last of several unanswered queries may still be
				// on its way into the fake.
				waitFor(t, "the queries to arrive", func() bool { return fake.queries.Load() >= tt.wantQueries })
			}
			if got := fake.queries.Load(); got != tt.wantQueries {
				t.Errorf("%d queries, want %d", got, tt.wantQueries)
			}
			if tt.wantQueries > 0 {
				q := <-fake.got
				if q.Flags != netbios.FlagRD || q.Questions[0].Name != bob || q.Questions[0].Type != netbios.TypeNB {
					t.Errorf("query %v, want a unicast RD query for %v", q, bob)
				}
			}
		})
	}
}

// listenOrSkip binds a second loopback address; Linux routes all of
// 127/8 to lo, other systems may not.
func listenOrSkip(t *testing.T, laddr string) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(laddr)))
	if err != nil {
		t.Skipf("%s not usable: %v", laddr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestWINSAnswerFromElsewhere: an answer that does not come from the WINS
// server is ignored, even with the right id and name.
func TestWINSAnswerFromElsewhere(t *testing.T) {
	spoofer := listenOrSkip(t, "127.0.0.2:0")
	fake := startFake(t, "127.0.0.1:0", func(q netbios.NameServicePacket, _ int, from netip.AddrPort) [][]byte {
		// Loopback delivers in order: the forged answer is read first.
		if _, err := spoofer.WriteToUDPAddrPort(positive(t, q, false, "192.0.2.66"), from); err != nil {
			t.Error(err)
		}
		return [][]byte{positive(t, q, false, "192.0.2.20")}
	})
	r := newResolver(t, Config{Order: []Method{WINS}, WINS: fake.addr, Timeout: 2 * time.Second, Retries: 1})
	res, err := r.Resolve(t.Context(), mustName(t, "BOB", 3))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Addrs, addrs("192.0.2.20")) {
		t.Errorf("addrs = %v, want only the server's answer", res.Addrs)
	}
}

func TestBroadcast(t *testing.T) {
	group := mustName(t, "WORKGROUP", 0x00)
	bob := mustName(t, "BOB", 0x03)

	t.Run("unique, answered twice", func(t *testing.T) {
		fake := startFake(t, "127.0.0.1:0", func(q netbios.NameServicePacket, _ int, _ netip.AddrPort) [][]byte {
			a := positive(t, q, false, "192.0.2.20")
			return [][]byte{a, a} // as nmbd does
		})
		// A long timeout proves a unique answer ends the wait.
		r := newResolver(t, Config{Order: []Method{Broadcast}, Interfaces: loopbackIfs("127.0.0.1"), BroadcastPort: int(fake.addr.Port()), Timeout: 10 * time.Second})
		start := time.Now()
		res, err := r.Resolve(t.Context(), bob)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(res.Addrs, addrs("192.0.2.20")) || res.Method != Broadcast {
			t.Errorf("result = %+v", res)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("took %v: the first unique answer should end the step", d)
		}
		q := <-fake.got
		if q.Flags != netbios.FlagRD|netbios.FlagB {
			t.Errorf("query flags 0x%04X, want RD|B", q.Flags)
		}
	})

	t.Run("group, two responders answering twice", func(t *testing.T) {
		one := startFake(t, "127.0.0.1:0", func(q netbios.NameServicePacket, _ int, _ netip.AddrPort) [][]byte {
			a := positive(t, q, true, "192.0.2.1")
			return [][]byte{a, a}
		})
		port := one.addr.Port()
		second := listenOrSkip(t, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.2"), port).String())
		second.Close() // only proving the port is free there
		two := startFake(t, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.2"), port).String(), func(q netbios.NameServicePacket, _ int, _ netip.AddrPort) [][]byte {
			a := positive(t, q, true, "192.0.2.2", "192.0.2.1")
			return [][]byte{a, a}
		})
		r := newResolver(t, Config{
			Order:         []Method{Broadcast},
			Interfaces:    loopbackIfs("127.0.0.1", "127.0.0.2", "127.0.0.1", "0.0.0.0", "::1"),
			BroadcastPort: int(port),
			Timeout:       500 * time.Millisecond, // a group's answers are collected for the whole try
		})
		res, err := r.Resolve(t.Context(), group)
		if err != nil {
			t.Fatal(err)
		}
		got := slices.Clone(res.Addrs)
		slices.SortFunc(got, netip.Addr.Compare)
		if !slices.Equal(got, addrs("192.0.2.1", "192.0.2.2")) {
			t.Errorf("addrs = %v, want each member once", res.Addrs)
		}
		if n1, n2 := one.queries.Load(), two.queries.Load(); n1 != 1 || n2 != 1 {
			t.Errorf("queries %d and %d, want one per distinct broadcast address", n1, n2)
		}
	})

	t.Run("silence, then an answer on the second try", func(t *testing.T) {
		fake := startFake(t, "127.0.0.1:0", func(q netbios.NameServicePacket, n int, _ netip.AddrPort) [][]byte {
			if n < 2 {
				return nil
			}
			return [][]byte{positive(t, q, false, "192.0.2.20")}
		})
		r := newResolver(t, Config{Order: []Method{Broadcast}, Interfaces: loopbackIfs("127.0.0.1"), BroadcastPort: int(fake.addr.Port()), Timeout: 30 * time.Millisecond})
		res, err := r.Resolve(t.Context(), bob)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(res.Addrs, addrs("192.0.2.20")) || fake.queries.Load() != 2 {
			t.Errorf("result = %+v after %d queries", res, fake.queries.Load())
		}
	})

	t.Run("negative answers mean nothing", func(t *testing.T) {
		fake := startFake(t, "127.0.0.1:0", func(q netbios.NameServicePacket, _ int, _ netip.AddrPort) [][]byte {
			return [][]byte{negative(t, q, netbios.RCodeNameErr)}
		})
		r := newResolver(t, Config{Order: []Method{Broadcast, WINS}, Interfaces: loopbackIfs("127.0.0.1"), BroadcastPort: int(fake.addr.Port()), Timeout: 20 * time.Millisecond, Retries: 2})
		_, err := r.Resolve(t.Context(), bob)
		if !errors.Is(err, ErrNotFound) {
			t.Fatalf("err = %v, want ErrNotFound", err)
		}
		// WINS is not configured, so only bcast was tried.
		if !strings.Contains(err.Error(), "(tried bcast)") {
			t.Errorf("error %q does not list the methods tried", err)
		}
		waitFor(t, "2 queries", func() bool { return fake.queries.Load() == 2 })
	})

	t.Run("no interfaces", func(t *testing.T) {
		r := newResolver(t, Config{Order: []Method{Broadcast}, Interfaces: loopbackIfs()})
		_, err := r.Resolve(t.Context(), bob)
		if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "no method applies") {
			t.Errorf("err = %v", err)
		}
	})
}

func TestHosts(t *testing.T) {
	r := newResolver(t, Config{Order: []Method{Hosts}})
	res, err := r.Resolve(t.Context(), mustName(t, "LOCALHOST", 0x03))
	if err != nil {
		t.Fatal(err)
	}
	if res.Method != Hosts || !slices.Contains(res.Addrs, netip.MustParseAddr("127.0.0.1")) {
		t.Errorf("result = %+v, want 127.0.0.1 by hosts", res)
	}
	for _, a := range res.Addrs {
		if !a.Is4() {
			t.Errorf("non-IPv4 address %v", a)
		}
	}
}

func TestCache(t *testing.T) {
	bob := mustName(t, "BOB", 0x03)
	answer := "192.0.2.20"
	var rcode atomic.Int32
	fake := startFake(t, "127.0.0.1:0", func(q netbios.NameServicePacket, _ int, _ netip.AddrPort) [][]byte {
		if c := netbios.RCode(rcode.Load()); c != netbios.RCodeOK {
			return [][]byte{negative(t, q, c)}
		}
		return [][]byte{positive(t, q, false, answer)}
	})
	now := time.Now()
	var clock sync.Mutex
	r := newResolver(t, Config{Order: []Method{WINS}, WINS: fake.addr, Timeout: time.Second})
	r.now = func() time.Time { clock.Lock(); defer clock.Unlock(); return now }
	advance := func(d time.Duration) { clock.Lock(); now = now.Add(d); clock.Unlock() }

	resolve := func(name netbios.Name, wantCached bool, wantQueries int32) (Result, error) {
		t.Helper()
		res, err := r.Resolve(t.Context(), name)
		if res.Cached != wantCached {
			t.Errorf("Cached = %v, want %v", res.Cached, wantCached)
		}
		if got := fake.queries.Load(); got != wantQueries {
			t.Errorf("%d queries, want %d", got, wantQueries)
		}
		return res, err
	}

	res, err := resolve(bob, false, 1)
	if err != nil || !slices.Equal(res.Addrs, addrs(answer)) {
		t.Fatalf("first: %+v, %v", res, err)
	}
	res.Addrs[0] = netip.IPv4Unspecified() // must not reach the cache
	res, err = resolve(netbios.NameFromBytes(rawName("bob", 3).Bytes()), true, 1)
	if err != nil || !slices.Equal(res.Addrs, addrs(answer)) || res.Method != WINS {
		t.Fatalf("cached: %+v, %v", res, err)
	}
	r.Forget(bob)
	resolve(bob, false, 2)
	advance(DefaultCacheTTL - time.Second)
	resolve(bob, true, 2)
	advance(2 * time.Second)
	resolve(bob, false, 3)

	alice := mustName(t, "ALICE", 3)
	rcode.Store(int32(netbios.RCodeNameErr))
	if _, err := resolve(alice, false, 4); !errors.Is(err, ErrNotFound) {
		t.Fatalf("err = %v", err)
	}
	if _, err := resolve(alice, true, 4); !errors.Is(err, ErrNotFound) {
		t.Fatalf("cached err = %v", err)
	}
	advance(DefaultNegativeCacheTTL + time.Second)
	rcode.Store(int32(netbios.RCodeOK))
	if _, err := resolve(alice, false, 5); err != nil {
		t.Fatalf("after the negative entry expired: %v", err)
	}

	// A failure that is not an answer is not remembered.
	carol := mustName(t, "CAROL", 3)
	rcode.Store(int32(netbios.RCodeServFail))
	if _, err := resolve(carol, false, 6); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "SRV_ERR") {
		t.Fatalf("err = %v, want ErrNotFound mentioning SRV_ERR", err)
	}
	resolve(carol, false, 7)
}

// TestSharedLookup: concurrent Resolves of one name put one query on the
// wire and all get its answer.
func TestSharedLookup(t *testing.T) {
	release := make(chan struct{})
	fake := startFake(t, "127.0.0.1:0", func(q netbios.NameServicePacket, _ int, _ netip.AddrPort) [][]byte {
		<-release
		return [][]byte{positive(t, q, false, "192.0.2.20")}
	})
	r := newResolver(t, Config{Order: []Method{WINS}, WINS: fake.addr, Timeout: 10 * time.Second})
	const n = 20
	var wg sync.WaitGroup
	results := make([]Result, n)
	errs := make([]error, n)
	// Different spellings of one name share the lookup.
	spellings := []netbios.Name{mustName(t, "BOB", 3), rawName("bob", 3), rawName("Bob", 3)}
	for i := range n {
		wg.Go(func() {
			results[i], errs[i] = r.Resolve(t.Context(), spellings[i%len(spellings)])
		})
	}
	waitFor(t, "every caller to join", func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		c := r.calls[cacheKey(mustName(t, "BOB", 3))]
		return c != nil && c.waiters == n
	})
	close(release)
	wg.Wait()
	for i := range n {
		if errs[i] != nil || !slices.Equal(results[i].Addrs, addrs("192.0.2.20")) {
			t.Errorf("caller %d: %+v, %v", i, results[i], errs[i])
		}
	}
	if got := fake.queries.Load(); got != 1 {
		t.Errorf("%d queries, want 1", got)
	}
}

func TestCancel(t *testing.T) {
	bob := mustName(t, "BOB", 3)

	t.Run("before", func(t *testing.T) {
		r := newResolver(t, Config{Order: []Method{WINS}, WINS: netip.MustParseAddrPort("127.0.0.1:9")})
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, err := r.Resolve(ctx, bob); !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v", err)
		}
	})

	t.Run("while waiting", func(t *testing.T) {
		fake := startFake(t, "127.0.0.1:0", nil)
		r := newResolver(t, Config{Order: []Method{WINS, Broadcast}, WINS: fake.addr, Timeout: time.Minute})
		ctx, cancel := context.WithCancel(t.Context())
		go func() {
			<-fake.got
			cancel()
		}()
		start := time.Now()
		_, err := r.Resolve(ctx, bob)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("returned after %v", d)
		}
		// The abandoned lookup stops too, and leaves nothing behind.
		waitFor(t, "the lookup to end", func() bool {
			r.mu.Lock()
			defer r.mu.Unlock()
			return len(r.calls) == 0 && len(r.cache) == 0
		})
		if q := fake.queries.Load(); q != 1 {
			t.Errorf("%d queries, want 1", q)
		}
	})

	t.Run("deadline", func(t *testing.T) {
		fake := startFake(t, "127.0.0.1:0", nil)
		r := newResolver(t, Config{Order: []Method{WINS}, WINS: fake.addr, Timeout: time.Minute})
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		if _, err := r.Resolve(ctx, bob); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v, want context.DeadlineExceeded", err)
		}
	})

	t.Run("one of two callers leaves", func(t *testing.T) {
		release := make(chan struct{})
		fake := startFake(t, "127.0.0.1:0", func(q netbios.NameServicePacket, _ int, _ netip.AddrPort) [][]byte {
			<-release
			return [][]byte{positive(t, q, false, "192.0.2.20")}
		})
		r := newResolver(t, Config{Order: []Method{WINS}, WINS: fake.addr, Timeout: 10 * time.Second})
		ctx, cancel := context.WithCancel(t.Context())
		leaver := make(chan error, 1)
		go func() {
			_, err := r.Resolve(ctx, bob)
			leaver <- err
		}()
		<-fake.got
		stayer := make(chan error, 1)
		go func() {
			res, err := r.Resolve(t.Context(), bob)
			if err == nil && !slices.Equal(res.Addrs, addrs("192.0.2.20")) {
				err = errors.New("wrong addresses")
			}
			stayer <- err
		}()
		waitFor(t, "the second caller to join", func() bool {
			r.mu.Lock()
			defer r.mu.Unlock()
			c := r.calls[cacheKey(bob)]
			return c != nil && c.waiters == 2
		})
		cancel()
		if err := <-leaver; !errors.Is(err, context.Canceled) {
			t.Errorf("leaving caller: %v", err)
		}
		close(release)
		if err := <-stayer; err != nil {
			t.Errorf("remaining caller: %v", err)
		}
	})
}

func TestNew(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"zero", Config{}, true},
		{"all methods", Config{Order: []Method{Hosts, Broadcast, WINS, LMHosts}, WINS: netip.MustParseAddrPort("192.0.2.1:0")}, true},
		{"empty order", Config{Order: []Method{}}, false},
		{"unknown method", Config{Order: []Method{"nis"}}, false},
		{"duplicate", Config{Order: []Method{WINS, Hosts, WINS}}, false},
		{"scope", Config{Scope: "corp.example"}, true},
		{"bad scope", Config{Scope: "corp..example"}, false},
		{"IPv6 WINS", Config{WINS: netip.MustParseAddrPort("[2001:db8::1]:137")}, false},
		{"unspecified WINS", Config{WINS: netip.MustParseAddrPort("0.0.0.0:137")}, false},
		{"mapped WINS", Config{WINS: netip.MustParseAddrPort("[::ffff:192.0.2.1]:137")}, true},
		{"broadcast port", Config{BroadcastPort: 70000}, false},
		{"negative timeout", Config{Timeout: -time.Second}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := New(tt.cfg)
			if (err == nil) != tt.ok {
				t.Fatalf("New: %v, want ok=%v", err, tt.ok)
			}
			if err == nil && tt.cfg.WINS.IsValid() && (r.wins.Port() != DefaultPort || !r.wins.Addr().Is4()) {
				t.Errorf("WINS = %v", r.wins)
			}
		})
	}
}

func TestParseOrder(t *testing.T) {
	tests := []struct {
		in   string
		want []Method
	}{
		{"lmhosts,wins,bcast,hosts", DefaultOrder},
		{" WINS , bcast ", []Method{WINS, Broadcast}},
		{"lmhosts wins bcast host", []Method{LMHosts, WINS, Broadcast, Hosts}},
		{"broadcast,dns", []Method{Broadcast, Hosts}},
		{"", nil},
		{",", nil},
		{"wins,wins", nil},
		{"host,hosts", nil},
		{"nis", nil},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseOrder(tt.in)
			if tt.want == nil {
				if err == nil {
					t.Errorf("got %v, want an error", got)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Errorf("got %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func BenchmarkResolveCached(b *testing.B) {
	r := newResolver(b, Config{Order: []Method{LMHosts}, LMHostsPath: writeLMHosts(b, "192.0.2.1 bob\n")})
	bob := mustName(b, "BOB", 3)
	if _, err := r.Resolve(b.Context(), bob); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		res, err := r.Resolve(b.Context(), bob)
		if err != nil || !res.Cached {
			b.Fatal(res, err)
		}
	}
}
