package names

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/netsend/messenger/internal/netbios"
)

// fakeWire records what the registrar sends and answers with whatever
// respond returns.
type fakeWire struct {
	mu      sync.Mutex
	id      uint16
	sent    []sentPacket
	ifs     []Interface
	respond func(p netbios.NameServicePacket, dst netip.AddrPort) []Reply
	// fail, when set, is the error of every send to these addresses, as
	// a socket bound to loopback gets for another network.
	fail map[netip.Addr]error
}

type sentPacket struct {
	p   netbios.NameServicePacket
	dst netip.AddrPort
}

func (w *fakeWire) NewTransactionID() uint16 { w.mu.Lock(); defer w.mu.Unlock(); w.id++; return w.id }
func (w *fakeWire) Interfaces() []Interface  { return w.ifs }
func (w *fakeWire) Send(p netbios.NameServicePacket, dst netip.AddrPort) (<-chan Reply, func(), error) {
	w.mu.Lock()
	w.sent = append(w.sent, sentPacket{p, dst})
	err := w.fail[dst.Addr()]
	w.mu.Unlock()
	if err != nil {
		return nil, nil, err
	}
	ch := make(chan Reply, 8)
	if w.respond != nil {
		for _, r := range w.respond(p, dst) {
			r.Packet.TransactionID = p.TransactionID
			ch <- r
		}
	}
	return ch, func() {}, nil
}

func (w *fakeWire) opcodes() (out []netbios.Opcode) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, s := range w.sent {
		out = append(out, s.p.Opcode)
	}
	return out
}

var (
	lan  = Interface{Name: "eth0", Addr: netip.MustParseAddr("10.1.2.3"), Bits: 24, Broadcast: netip.MustParseAddr("10.1.2.255")}
	wins = netip.MustParseAddrPort("10.1.2.1:137")
	peer = netip.MustParseAddrPort("10.1.2.9:137")
)

func newRegistrar(t *testing.T, nt NodeType, w *fakeWire) (*Registrar, *Table) {
	t.Helper()
	tab := newTable(t, "alias")
	r := &Registrar{Table: tab, Wire: w, NodeType: nt, WINS: wins, TTL: time.Hour,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), bcastWait: 5 * time.Millisecond, winsWait: 20 * time.Millisecond}
	t.Cleanup(r.Close)
	return r, tab
}

func entry(t *testing.T, tab *Table, name string, sfx byte) Entry {
	t.Helper()
	e, ok := tab.Lookup(mustName(t, name, sfx))
	if !ok {
		t.Fatalf("%s<%02x> not in table", name, sfx)
	}
	return e
}

func negative(rcode netbios.RCode) []Reply {
	return []Reply{{From: peer, Packet: netbios.NameServicePacket{Response: true, Opcode: netbios.OpcodeRegistration, RCode: rcode}}}
}

func TestBroadcastRegistration(t *testing.T) {
	w := &fakeWire{ifs: []Interface{lan}}
	r, tab := newRegistrar(t, BNode, w)
	e := entry(t, tab, "ALIAS", 3)
	if err := r.Register(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	if st := entry(t, tab, "ALIAS", 3).State; st != StateRegistered {
		t.Fatalf("state %s, want registered", st)
	}
	ops := w.opcodes()
	if len(ops) != 4 {
		t.Fatalf("sent %v; want three registration requests and an overwrite demand", ops)
	}
	for _, s := range w.sent {
		if s.dst != netip.MustParseAddrPort("10.1.2.255:137") || s.p.Flags&netbios.FlagB == 0 {
			t.Errorf("sent %v to %v; want a broadcast to 10.1.2.255:137", s.p, s.dst)
		}
		entries, err := netbios.ParseNBData(s.p.Additional[0].Data)
		if err != nil || entries[0].Addr != lan.Addr {
			t.Errorf("registered address %v, %v; want %v", entries, err, lan.Addr)
		}
	}
	if w.sent[3].p.Flags&netbios.FlagRD != 0 {
		t.Errorf("the overwrite demand has RD set: %v", w.sent[3].p)
	}

	// Release broadcasts a release request.
	w.sent = nil
	r.Release(context.Background(), entry(t, tab, "ALIAS", 3))
	if ops := w.opcodes(); len(ops) != 1 || ops[0] != netbios.OpcodeRelease {
		t.Errorf("release sent %v, want one release request", ops)
	}
}

func TestBroadcastConflict(t *testing.T) {
	w := &fakeWire{ifs: []Interface{lan}, respond: func(p netbios.NameServicePacket, _ netip.AddrPort) []Reply {
		return negative(netbios.RCodeActive)
	}}
	r, tab := newRegistrar(t, BNode, w)
	err := r.Register(context.Background(), entry(t, tab, "ALIAS", 3))
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("Register = %v, want ErrConflict", err)
	}
	if st := entry(t, tab, "ALIAS", 3).State; st != StateConflict {
		t.Errorf("state %s, want conflict", st)
	}
	if n := len(w.sent); n != 1 {
		t.Errorf("sent %d packets; a defended name needs no more tries and no overwrite demand", n)
	}
	// Group names are never defended, so an answer does not matter.
	if err := r.Register(context.Background(), entry(t, tab, "WORKGROUP", 0)); err != nil {
		t.Errorf("group registration: %v", err)
	}
}

func TestNoInterfacesRegistersLocally(t *testing.T) {
	w := &fakeWire{}
	r, tab := newRegistrar(t, BNode, w)
	if err := r.Register(context.Background(), entry(t, tab, "ALIAS", 3)); err != nil || len(w.sent) != 0 {
		t.Fatalf("Register = %v, sent %d; want registered without packets", err, len(w.sent))
	}
}

func TestWINSRegistration(t *testing.T) {
	for _, tc := range []struct {
		name    string
		node    NodeType
		respond func(p netbios.NameServicePacket, dst netip.AddrPort) []Reply
		want    State
		wantErr error
		wantOps []netbios.Opcode
	}{
		{"positive", PNode, func(p netbios.NameServicePacket, _ netip.AddrPort) []Reply {
			return []Reply{{From: wins, Packet: netbios.NameServicePacket{Response: true, Opcode: netbios.OpcodeRegistration,
				Answers: []netbios.Resource{{TTL: 600}}}}}
		}, StateRegistered, nil, []netbios.Opcode{netbios.OpcodeRegistration}},
		{"WACK then positive", PNode, func(p netbios.NameServicePacket, _ netip.AddrPort) []Reply {
			return []Reply{
				{From: wins, Packet: netbios.NameServicePacket{Response: true, Opcode: netbios.OpcodeWACK, Answers: []netbios.Resource{{TTL: 1}}}},
				{From: wins, Packet: netbios.NameServicePacket{Response: true, Opcode: netbios.OpcodeRegistration}},
			}
		}, StateRegistered, nil, []netbios.Opcode{netbios.OpcodeRegistration}},
		{"refused", PNode, func(p netbios.NameServicePacket, _ netip.AddrPort) []Reply {
			return negative(netbios.RCodeActive)
		}, StateConflict, ErrConflict, []netbios.Opcode{netbios.OpcodeRegistration}},
		{"silent server, P-node", PNode, nil, StateRegistered, nil,
			[]netbios.Opcode{netbios.OpcodeRegistration, netbios.OpcodeRegistration, netbios.OpcodeRegistration}},
		{"silent server, H-node falls back to broadcast", HNode, nil, StateRegistered, nil,
			[]netbios.Opcode{5, 5, 5, 5, 5, 5, 5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := &fakeWire{ifs: []Interface{lan}, respond: tc.respond}
			r, tab := newRegistrar(t, tc.node, w)
			err := r.Register(context.Background(), entry(t, tab, "ALIAS", 3))
			if !errors.Is(err, tc.wantErr) && !(tc.wantErr == nil && err == nil) {
				t.Fatalf("Register = %v, want %v", err, tc.wantErr)
			}
			if st := entry(t, tab, "ALIAS", 3).State; st != tc.want {
				t.Errorf("state %s, want %s", st, tc.want)
			}
			if ops := w.opcodes(); len(ops) != len(tc.wantOps) {
				t.Errorf("sent %v, want %v", ops, tc.wantOps)
			}
			if w.sent[0].dst != wins || w.sent[0].p.Flags&netbios.FlagB != 0 {
				t.Errorf("first request went to %v flags %#x; want unicast to the WINS server", w.sent[0].dst, w.sent[0].p.Flags)
			}
		})
	}
}

// A broadcast that cannot leave (a socket bound to loopback, no route)
// is a warning, never the caller's error: the name is registered on the
// networks that could be reached, and a WINS server that cannot be
// reached counts as one that does not answer.
func TestUnreachableNetworkIsAWarning(t *testing.T) {
	other := Interface{Name: "eth1", Addr: netip.MustParseAddr("10.9.0.3"), Bits: 24, Broadcast: netip.MustParseAddr("10.9.0.255")}
	unreachable := errors.New("sendto: invalid argument")
	for _, tc := range []struct {
		name string
		node NodeType
		fail []netip.Addr
		sent int // packets that went out
	}{
		{"one of two networks", BNode, []netip.Addr{other.Broadcast}, 4},
		{"every network", BNode, []netip.Addr{lan.Broadcast, other.Broadcast}, 0},
		{"WINS, P-node", PNode, []netip.Addr{wins.Addr()}, 0},
		{"WINS then broadcast, H-node", HNode, []netip.Addr{wins.Addr(), other.Broadcast}, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := &fakeWire{ifs: []Interface{lan, other}, fail: map[netip.Addr]error{}}
			for _, a := range tc.fail {
				w.fail[a] = unreachable
			}
			r, tab := newRegistrar(t, tc.node, w)
			var logged strings.Builder
			r.Log = slog.New(slog.NewTextHandler(&logged, nil))
			if err := r.Register(context.Background(), entry(t, tab, "ALIAS", 3)); err != nil {
				t.Fatalf("Register = %v, want nil: an unreachable network is not the caller's error", err)
			}
			if st := entry(t, tab, "ALIAS", 3).State; st != StateRegistered {
				t.Errorf("state %s, want registered", st)
			}
			went := 0
			for _, s := range w.sent {
				if w.fail[s.dst.Addr()] == nil {
					went++
				}
			}
			if went != tc.sent {
				t.Errorf("%d packets went out, want %d", went, tc.sent)
			}
			if !strings.Contains(logged.String(), "level=WARN") || !strings.Contains(logged.String(), "invalid argument") {
				t.Errorf("the failed send is not a warning in the log:\n%s", logged.String())
			}
		})
	}
}

func TestReachable(t *testing.T) {
	other := Interface{Name: "eth1", Addr: netip.MustParseAddr("10.9.0.3"), Bits: 24, Broadcast: netip.MustParseAddr("10.9.0.255")}
	ifs := []Interface{lan, other}
	for _, tc := range []struct {
		bound string
		want  int
	}{
		{"0.0.0.0", 2},
		{"", 2},
		{"127.0.0.1", 0},
		{"10.9.0.3", 1},
		{"::ffff:10.1.2.3", 1},
	} {
		var b netip.Addr
		if tc.bound != "" {
			b = netip.MustParseAddr(tc.bound)
		}
		if got := Reachable(ifs, b); len(got) != tc.want {
			t.Errorf("Reachable(bound %q) = %v, want %d interfaces", tc.bound, got, tc.want)
		}
	}
}
