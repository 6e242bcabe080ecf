package udpsock

import (
	"fmt"
	"net"

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
	conn batchConn
	in   []Message
	out  []Message
}

// NewBatch prepares batches of up to size datagrams of at most bufLen
// bytes on c, with oobLen bytes for each datagram's control messages (0
// when the socket asks for none).
func NewBatch(c *net.UDPConn, size, bufLen, oobLen int) *Batch {
	var conn batchConn = ipv4.NewPacketConn(c)
	if a, ok := c.LocalAddr().(*net.UDPAddr); ok && a.IP.To4() == nil && a.IP.To16() != nil {
		conn = ipv6.NewPacketConn(c)
	}
	b := &Batch{conn: conn, in: make([]Message, size), out: make([]Message, 0, size)}
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

// Read waits for datagrams and returns those that came, at least one:
// m.Buffers[0][:m.N] is the payload, m.OOB[:m.NN] the control messages
// and m.Addr the sender. They are valid until the next Read.
func (b *Batch) Read() ([]Message, error) {
	n, err := b.conn.ReadBatch(b.in, 0)
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
