package kfilter

import (
	"net/netip"
	"testing"
	"time"
)

// fakeMap is the kernel map in memory, with a count of updates.
type fakeMap struct {
	n    map[netip.Addr]uint64
	puts int
}

func (f *fakeMap) put(a netip.Addr) error { f.n[a] = 0; f.puts++; return nil }
func (f *fakeMap) drops(a netip.Addr) (uint64, bool) {
	n, ok := f.n[a]
	return n, ok
}
func (f *fakeMap) remove(a netip.Addr) { delete(f.n, a) }

func TestTableHoldsForTheHold(t *testing.T) {
	m := &fakeMap{n: map[netip.Addr]uint64{}}
	tb := newTable(m, 2)
	t0 := time.Unix(1e9, 0)
	a, b, c := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("::ffff:192.0.2.2"), netip.MustParseAddr("2001:db8::3")
	for range 3 {
		if !tb.Block(a, 10*time.Second, t0) {
			t.Fatal("Block refused with room")
		}
	}
	if m.puts != 1 {
		t.Errorf("%d map updates for one source, want 1", m.puts)
	}
	tb.Block(b, 10*time.Second, t0)
	if _, ok := m.n[b.Unmap()]; !ok {
		t.Error("an IPv4-mapped source is not installed as IPv4")
	}
	if tb.Block(c, 10*time.Second, t0) {
		t.Error("Block accepted a source past the map's room")
	}
	// A source is held for its hold from the last verdict that
	// condemned it, whether it still sends or not.
	tb.Block(a, 10*time.Second, t0.Add(8*time.Second))
	m.n[a] = 5
	if r := tb.Sweep(t0.Add(15 * time.Second)); len(r) != 1 || r[0].Addr != b.Unmap() {
		t.Fatalf("Sweep at 15s released %+v, want only %v", r, b)
	}
	m.n[a] = 7
	if n := tb.Dropped(); n != 7 {
		t.Errorf("Dropped = %d, want 7", n)
	}
	if r := tb.Sweep(t0.Add(18 * time.Second)); len(r) != 1 || r[0].Dropped != 7 {
		t.Fatalf("Sweep at 18s released %+v, want %v with 7", r, a)
	}
	tb.Block(c, time.Second, t0)
	m.n[c] = 2
	tb.Clear()
	if len(m.n) != 0 || tb.Sources() != 0 || tb.Dropped() != 9 {
		t.Errorf("after Clear: map %v, %d sources, %d dropped; want empty and 9", m.n, tb.Sources(), tb.Dropped())
	}
}
