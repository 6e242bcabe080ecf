// Package connlimit bounds the connections a listener holds: in all, and
// from any one source address. A connection over either bound is closed
// as soon as it is accepted, before a byte of it is read, so that one
// process cannot hold every descriptor and the memory behind them.
package connlimit

import (
	"net"
	"net/netip"
	"sync"
)

// Listener wraps a net.Listener with the two bounds.
type Listener struct {
	net.Listener
	perSource, total int
	// refused is told why a connection was closed unread: "per_source"
	// or "total".
	refused func(reason string)

	mu    sync.Mutex
	open  int
	bySrc map[netip.Addr]int
}

// New bounds ln to perSource connections from one address and total in
// all (0: no bound); refused, if not nil, hears of each one closed.
func New(ln net.Listener, perSource, total int, refused func(reason string)) *Listener {
	if refused == nil {
		refused = func(string) {}
	}
	return &Listener{Listener: ln, perSource: perSource, total: total, refused: refused, bySrc: map[netip.Addr]int{}}
}

// Accept returns the next connection within the bounds, closing those
// beyond them.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		src := sourceOf(c)
		if reason := l.take(src); reason != "" {
			// Counted before the close, so that whoever sees the close
			// sees the count too.
			l.refused(reason)
			c.Close()
			continue
		}
		return &conn{Conn: c, release: func() { l.give(src) }}, nil
	}
}

func sourceOf(c net.Conn) netip.Addr {
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		if a, ok := netip.AddrFromSlice(ta.IP); ok {
			return a.Unmap()
		}
	}
	return netip.Addr{} // a Unix socket: one source, its peers told apart by credentials
}

func (l *Listener) take(src netip.Addr) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.total > 0 && l.open >= l.total:
		return "total"
	case l.perSource > 0 && l.bySrc[src] >= l.perSource:
		return "per_source"
	}
	l.open++
	l.bySrc[src]++
	return ""
}

func (l *Listener) give(src netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.open--
	if l.bySrc[src]--; l.bySrc[src] <= 0 {
		delete(l.bySrc, src)
	}
}

// Open reports how many connections are held now.
func (l *Listener) Open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open
}

// conn gives its slot back once, however often it is closed.
type conn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
