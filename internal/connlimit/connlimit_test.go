package connlimit

import (
	"errors"
	"net"
	"os"
	"sync/atomic"
	"testing"
	"time"
)

func dialFrom(t *testing.T, local, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closedByPeer reports whether the server closed c without a word; a
// read that only times out means the connection was kept.
func closedByPeer(c net.Conn) bool {
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := c.Read(make([]byte, 1))
	return err != nil && !errors.Is(err, os.ErrDeadlineExceeded)
}

func TestBounds(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var perSource, total atomic.Int32
	ln := New(inner, 2, 3, func(reason string) {
		switch reason {
		case "per_source":
			perSource.Add(1)
		case "total":
			total.Add(1)
		}
	})
	defer ln.Close()
	accepted := make(chan net.Conn, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	addr := inner.Addr().String()
	a1, a2 := dialFrom(t, "127.0.0.1", addr), dialFrom(t, "127.0.0.1", addr)
	<-accepted
	<-accepted
	// A third from the same source is closed; another source still gets in.
	a3 := dialFrom(t, "127.0.0.1", addr)
	if !closedByPeer(a3) {
		t.Fatal("a third connection from one source was kept")
	}
	b1 := dialFrom(t, "127.0.0.2", addr)
	held := <-accepted
	// The total is reached: a fourth source is closed too.
	c1 := dialFrom(t, "127.0.0.3", addr)
	if !closedByPeer(c1) {
		t.Fatal("a connection past the total was kept")
	}
	if perSource.Load() != 1 || total.Load() != 1 || ln.Open() != 3 {
		t.Fatalf("refused per source %d, total %d, open %d; want 1, 1, 3", perSource.Load(), total.Load(), ln.Open())
	}
	// Closing gives the slot back, once, however often it is closed.
	held.Close()
	held.Close()
	if ln.Open() != 2 {
		t.Fatalf("open %d after a close, want 2", ln.Open())
	}
	dialFrom(t, "127.0.0.3", addr)
	<-accepted
	_, _, _ = a1, a2, b1
}
