package udpsock

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/net/ipv4"
)

func listen(t *testing.T, network, addr string) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(netip.MustParseAddrPort(addr)))
	if err != nil {
		t.Skipf("no %s loopback: %v", network, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// echo sends n datagrams to srv, answers each through the batch with
// its payload reversed, and checks every answer arrives.
func echo(t *testing.T, network, addr string, size, n int) {
	srv, cli := listen(t, network, addr), listen(t, network, addr)
	b := NewBatch(srv, size, 64, 0)
	sent := map[string]bool{}
	for i := range n {
		p := fmt.Sprintf("ping %03d", i)
		sent[p] = true
		if _, err := cli.WriteTo([]byte(p), srv.LocalAddr()); err != nil {
			t.Fatal(err)
		}
	}
	srv.SetReadDeadline(time.Now().Add(2 * time.Second))
	for got := 0; got < n; {
		ms, err := b.Read()
		if err != nil {
			t.Fatalf("read after %d of %d: %v", got, n, err)
		}
		if len(ms) == 0 || len(ms) > size {
			t.Fatalf("a read returned %d datagrams, batch of %d", len(ms), size)
		}
		for _, m := range ms {
			if m.Addr.String() != cli.LocalAddr().String() {
				t.Errorf("sender %v, want %v", m.Addr, cli.LocalAddr())
			}
			r := bytes.Clone(m.Buffers[0][:m.N])
			for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
				r[i], r[j] = r[j], r[i]
			}
			if err := b.Queue(r, m.Addr); err != nil {
				t.Fatal(err)
			}
		}
		got += len(ms)
		if err := b.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	cli.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 64)
	for range n {
		k, err := cli.Read(buf)
		if err != nil {
			t.Fatalf("%d answers missing: %v", len(sent), err)
		}
		r := buf[:k]
		for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
			r[i], r[j] = r[j], r[i]
		}
		if !sent[string(r)] {
			t.Errorf("unexpected or repeated answer %q", r)
		}
		delete(sent, string(r))
	}
}

func TestBatchEcho(t *testing.T) {
	t.Run("ipv4", func(t *testing.T) { echo(t, "udp4", "127.0.0.1:0", 8, 50) })
	t.Run("ipv6", func(t *testing.T) { echo(t, "udp6", "[::1]:0", 8, 50) })
	// A batch of one still moves everything, a datagram a call.
	t.Run("size 1", func(t *testing.T) { echo(t, "udp4", "127.0.0.1:0", 1, 5) })
}

// More datagrams queued than the batch holds are sent, not dropped: the
// full queue is flushed before the next is added.
func TestBatchQueueOverflows(t *testing.T) {
	srv, cli := listen(t, "udp4", "127.0.0.1:0"), listen(t, "udp4", "127.0.0.1:0")
	b := NewBatch(srv, 4, 64, 0)
	for i := range 10 {
		if err := b.Queue([]byte{byte(i)}, cli.LocalAddr()); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	cli.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 8)
	for i := range 10 {
		if n, err := cli.Read(buf); err != nil || n != 1 || buf[0] != byte(i) {
			t.Fatalf("datagram %d: %v %v, want [%d]", i, buf[:n], err, i)
		}
	}
}

// Sending a batch allocates nothing: the answers of a busy server cost
// system calls, not garbage.
func TestBatchFlushAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	srv, cli := listen(t, "udp4", "127.0.0.1:0"), listen(t, "udp4", "127.0.0.1:0")
	cli.SetReadBuffer(4 << 20)
	b := NewBatch(srv, 8, 64, 0)
	p, to := []byte("x"), cli.LocalAddr()
	if n := testing.AllocsPerRun(100, func() {
		for range 8 {
			b.Queue(p, to)
		}
		if err := b.Flush(); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("%v allocations per batch sent, want 0", n)
	}
}

func TestPacketInfo(t *testing.T) {
	srv, cli := listen(t, "udp4", "127.0.0.1:0"), listen(t, "udp4", "127.0.0.1:0")
	if err := ipv4.NewPacketConn(srv).SetControlMessage(ipv4.FlagDst|ipv4.FlagInterface, true); err != nil {
		t.Fatal(err)
	}
	b := NewBatch(srv, 4, 64, len(ipv4.NewControlMessage(ipv4.FlagDst|ipv4.FlagInterface)))
	if _, err := cli.WriteTo([]byte("x"), srv.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	srv.SetReadDeadline(time.Now().Add(2 * time.Second))
	ms, err := b.Read()
	if err != nil {
		t.Fatal(err)
	}
	oob := ms[0].OOB[:ms[0].NN]
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		t.Skip("no interface lo")
	}
	idx, dst, ok := PacketInfo(oob)
	if !ok || idx != lo.Index || dst != netip.MustParseAddr("127.0.0.1") {
		t.Errorf("PacketInfo = %d %v %v, want %d 127.0.0.1 true", idx, dst, ok, lo.Index)
	}
	var cm ipv4.ControlMessage
	if err := cm.Parse(oob); err != nil || cm.IfIndex != idx || !cm.Dst.Equal(dst.AsSlice()) {
		t.Errorf("x/net reads %v %v, PacketInfo %d %v", cm.IfIndex, cm.Dst, idx, dst)
	}
	if n := testing.AllocsPerRun(100, func() { PacketInfo(oob) }); n != 0 && !raceEnabled {
		t.Errorf("PacketInfo allocates %v times", n)
	}
	for _, bad := range [][]byte{nil, {1, 2, 3}, oob[:20]} {
		if _, _, ok := PacketInfo(bad); ok {
			t.Errorf("PacketInfo(%x) reports a packet info", bad)
		}
	}
}

// In Go's poller, StopOnDone ends a waiting read too, and WriteTo sends
// at once.
func TestBatchStopOnDone(t *testing.T) {
	srv, cli := listen(t, "udp4", "127.0.0.1:0"), listen(t, "udp4", "127.0.0.1:0")
	b := NewBatch(srv, 4, 64, 0)
	ctx, cancel := context.WithCancel(context.Background())
	defer b.StopOnDone(ctx)()
	done := make(chan error, 1)
	go func() {
		_, err := b.Read()
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("read stopped with %v, want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the context's end did not wake the read")
	}
	if err := b.WriteTo([]byte("y"), cli.LocalAddr().(*net.UDPAddr).AddrPort()); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Errorf("Close of a batch in the poller: %v", err)
	}
	if _, err := srv.WriteTo([]byte("z"), cli.LocalAddr()); err != nil {
		t.Errorf("the caller's socket was closed: %v", err)
	}
}
