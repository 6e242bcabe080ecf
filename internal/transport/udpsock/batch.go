package udpsock

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// Message is one datagram of a batch: ipv4.Message and ipv6.Message are
// the same type, so one batch serves either family.
type Message = ipv4.Message

// batchConn is what ipv4.PacketConn and ipv6.PacketConn have in common.
type batchConn interface {
	ReadBatch(ms []Message, flags int) (int, error)
	WriteBatch(ms []Message, flags int) (int, error)
}

// Batch reads and writes one socket's datagrams many at a time: one
// recvmmsg and one sendmmsg per batch on Linux (x/net falls back to one
// datagram per call elsewhere). Under load the system calls, not the
// packets, are what a UDP server spends its time on. Its buffers are
// allocated once; one goroutine uses a Batch at a time.
type Batch struct {
	udp       *net.UDPConn
	conn      batchConn
	in        []Message
	out       []Message
	readFlags int         // MSG_WAITFORONE once reads wait in the kernel
	shut      atomic.Bool // the socket was shut down for reading
	// kernel is the socket outside Go's poller (WaitInKernel); nil
	// while udp is used.
	kernel *os.File
}

// NewBatch prepares batches of up to size datagrams of at most bufLen
// bytes on c, with oobLen bytes for each datagram's control messages (0
// when the socket asks for none).
func NewBatch(c *net.UDPConn, size, bufLen, oobLen int) *Batch {
	b := &Batch{udp: c, conn: packetConn(c), in: make([]Message, size), out: make([]Message, 0, size)}
	for i := range b.in {
		b.in[i].Buffers = [][]byte{make([]byte, bufLen)}
		if oobLen > 0 {
			b.in[i].OOB = make([]byte, oobLen)
		}
	}
	for i := range b.out[:size] {
		b.out[:size][i].Buffers = make([][]byte, 1)
	}
	return b
}

// packetConn wraps c for x/net, by the family of its address.
func packetConn(c interface {
	net.PacketConn
	LocalAddr() net.Addr
}) batchConn {
	if a, ok := c.LocalAddr().(*net.UDPAddr); ok && a.IP.To4() == nil && a.IP.To16() != nil {
		return ipv6.NewPacketConn(c)
	}
	return ipv4.NewPacketConn(c)
}

// StopOnDone ends Read when ctx ends: a read deadline wakes a read in
// Go's poller; a socket read in the kernel is shut down for reading,
// which wakes the read and fails every later one (sending still works).
// Read then returns an error. stop undoes the arrangement.
func (b *Batch) StopOnDone(ctx context.Context) (stop func() bool) {
	return context.AfterFunc(ctx, func() {
		b.shut.Store(true)
		if b.kernel == nil {
			b.udp.SetReadDeadline(time.Now())
			return
		}
		shutdownRead(b.kernel)
	})
}

// WriteTo sends one datagram at once. Unlike Queue and Flush it may be
// called from any goroutine, while another reads.
func (b *Batch) WriteTo(p []byte, to netip.AddrPort) error {
	if b.kernel == nil {
		_, err := b.udp.WriteToUDPAddrPort(p, to)
		return err
	}
	a, _ := b.udp.LocalAddr().(*net.UDPAddr)
	return sendTo(b.kernel, a != nil && a.IP.To4() == nil, p, to)
}

// Close closes the socket if WaitInKernel took it over; a socket read
// in Go's poller stays the caller's to close.
func (b *Batch) Close() error {
	if b.kernel == nil {
		return nil
	}
	return b.kernel.Close()
}

// Read waits for datagrams and returns those that came, at least one:
// m.Buffers[0][:m.N] is the payload, m.OOB[:m.NN] the control messages
// and m.Addr the sender. They are valid until the next Read.
func (b *Batch) Read() ([]Message, error) {
	n, err := b.conn.ReadBatch(b.in, b.readFlags)
	for errors.Is(err, syscall.EINTR) {
		// A signal during a read waiting in the kernel; Go's poller
		// retries these itself.
		n, err = b.conn.ReadBatch(b.in, b.readFlags)
	}
	if b.shut.Load() && (err != nil || b.kernel != nil) {
		// Stopped (StopOnDone): a socket shut down for reading reports
		// an empty datagram from nowhere, which x/net cannot parse.
		return nil, net.ErrClosed
	}
	if err != nil {
		return nil, err
	}
	return b.in[:n], nil
}

// Queue adds p, for to, to the datagrams the next Flush sends; p must
// not change until then. A full queue is flushed first.
func (b *Batch) Queue(p []byte, to net.Addr) error {
	var err error
	if len(b.out) == cap(b.out) {
		err = b.Flush()
	}
	m := b.out[: len(b.out)+1 : cap(b.out)]
	last := &m[len(m)-1]
	last.Buffers[0], last.Addr = p, to
	b.out = m
	return err
}

// Flush sends the queued datagrams, in as few system calls as the kernel
// allows. On an error the datagrams not yet sent are dropped, as a full
// network drops them: the senders of a request-response protocol ask
// again.
func (b *Batch) Flush() error {
	rest := b.out
	var err error
	for len(rest) > 0 {
		var n int
		if n, err = b.conn.WriteBatch(rest, 0); err != nil {
			err = fmt.Errorf("sending %d datagrams: %w", len(rest), err)
			break
		}
		rest = rest[n:]
	}
	for i := range b.out {
		b.out[i].Buffers[0], b.out[i].Addr = nil, nil
	}
	b.out = b.out[:0]
	return err
}
