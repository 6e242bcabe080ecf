package udpsock

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"
)

// Reads that wait in the kernel get every datagram, and end when the
// context does, even while no datagram comes.
func TestBatchWaitInKernel(t *testing.T) {
	srv, cli := listen(t, "udp4", "127.0.0.1:0"), listen(t, "udp4", "127.0.0.1:0")
	b := NewBatch(srv, 8, 64, 0)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := b.WaitInKernel(); err != nil {
		t.Fatal(err)
	}
	defer b.StopOnDone(ctx)()
	// Go's descriptor is closed; the socket lives on.
	if _, err := srv.WriteTo([]byte("x"), cli.LocalAddr()); !errors.Is(err, net.ErrClosed) {
		t.Errorf("writing through the original after WaitInKernel: %v, want net.ErrClosed", err)
	}
	for i := range 20 {
		cli.WriteTo([]byte{byte(i)}, srv.LocalAddr())
	}
	for got := 0; got < 20; {
		ms, err := b.Read()
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			if m.N != 1 || m.Buffers[0][0] != byte(got) {
				t.Fatalf("datagram %d is %v", got, m.Buffers[0][:m.N])
			}
			got++
			b.Queue(m.Buffers[0][:1], m.Addr)
		}
		if err := b.Flush(); err != nil {
			t.Fatal(err)
		}
	}

	done := make(chan error, 1)
	go func() {
		_, err := b.Read()
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("a read with nothing to read returned: %v", err)
	default:
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("read woken by the context's end: %v, want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the context's end did not wake the read")
	}
	// The socket still sends, and closes without waiting.
	if err := b.WriteTo([]byte("x"), cli.LocalAddr().(*net.UDPAddr).AddrPort()); err != nil {
		t.Errorf("sending after the reads ended: %v", err)
	}
	cli.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 8)
	for {
		n, err := cli.Read(buf)
		if err != nil {
			t.Fatalf("the datagram sent after the reads ended is missing: %v", err)
		}
		if string(buf[:n]) == "x" {
			break
		}
	}
	closed := make(chan error, 1)
	go func() { closed <- b.Close() }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close hangs")
	}
}
