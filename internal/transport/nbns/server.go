// Package nbns is the NetBIOS name service transport (UDP 137): it answers
// name queries and node status requests for the names in our table,
// defends our unique names against others' registrations, and carries the
// registrar's own registrations, refreshes and releases. Packets are
// decoded by internal/netbios; what a name's state is, internal/names
// decides.
package nbns

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/ipv4"

	"github.com/netsend/messenger/internal/metrics"
	"github.com/netsend/messenger/internal/names"
	"github.com/netsend/messenger/internal/netbios"
	"github.com/netsend/messenger/internal/policy"
	"github.com/netsend/messenger/internal/transport/udpsock"
)

// maxPacket is the largest name service datagram we read; RFC 1002 keeps
// them under 576 bytes, but node status responses of large tables grow.
const maxPacket = 1500

// Config is what the server needs.
type Config struct {
	// Conn is the bound UDP socket (the name service port); New takes it
	// over.
	Conn     *net.UDPConn
	Table    *names.Table
	Metrics  *metrics.Metrics
	Log      *slog.Logger
	Scope    string
	NodeType netbios.NBFlags // ONT bits of our NB and node-status flags
	// TTL is what positive query responses announce.
	TTL time.Duration
	// NodeStatusAllow decides who may list our names. With this host's
	// own networks it also makes the sources that may get an answer
	// larger than their request (see Server.handle).
	NodeStatusAllow *policy.Networks
	// PacketLog takes the lines a single packet causes: rate limited,
	// since a stranger sends packets at will. Nil means Log.
	PacketLog *slog.Logger
	// Interfaces limits broadcasts to these interface names; empty = all.
	Interfaces []string
}

// Server answers on one UDP socket and sends the registrar's packets from
// it, so that replies to our broadcasts (sent to port 137) come back here.
type Server struct {
	cfg   Config
	count counters
	conn  *net.UDPConn // closed once batch has it; kept for its address
	batch *udpsock.Batch

	nextID atomic.Uint32

	mu    sync.Mutex
	waits map[uint16]chan<- names.Reply

	ifs       atomic.Pointer[ifaces]
	answers   atomic.Pointer[answers]
	answersMu sync.Mutex // one rebuild at a time
}

// New takes over a bound UDP socket and enables broadcast on it. Its
// *net.UDPConn is closed at once (udpsock.Batch.WaitInKernel): the socket
// lives on in the server, until Serve returns.
func New(cfg Config) (*Server, error) {
	conn := cfg.Conn
	if conn == nil {
		return nil, errors.New("nbns: no socket")
	}
	if cfg.PacketLog == nil {
		cfg.PacketLog = cfg.Log
	}
	s := &Server{cfg: cfg, count: newCounters(cfg.Metrics), conn: conn, waits: make(map[uint16]chan<- names.Reply)}
	s.ifs.Store(readIfaces())
	s.nextID.Store(uint32(time.Now().UnixNano()))
	// Bursts of queries (a scan, a benchmark) should queue, not drop.
	udpsock.SetReceiveBuffer(conn, 8<<20)
	if err := ipv4.NewPacketConn(conn).SetControlMessage(ipv4.FlagDst|ipv4.FlagInterface, true); err != nil {
		return nil, fmt.Errorf("nbns: asking for packet info: %w", err)
	}
	if err := udpsock.EnableBroadcast(conn); err != nil {
		return nil, fmt.Errorf("nbns: %w", err)
	}
	if b := s.bound(); !b.IsUnspecified() && len(s.Interfaces()) == 0 {
		// Said once at start, so that "why does nobody see my names" has
		// an answer in the log.
		cfg.Log.Info("nbns: the bound address reaches no broadcast network; names are registered on this host only",
			slog.String("bind", b.String()))
	}
	// Last, since it closes conn: what was set above belongs to the
	// socket and stays.
	s.batch = udpsock.NewBatch(conn, batchSize, maxPacket, len(ipv4.NewControlMessage(ipv4.FlagDst|ipv4.FlagInterface)))
	if err := s.batch.WaitInKernel(); err != nil {
		return nil, fmt.Errorf("nbns: %w", err)
	}
	return s, nil
}

// batchSize is how many datagrams one recvmmsg/sendmmsg moves: under load
// the system calls, not the answers, are the cost.
const batchSize = 32

// Serve reads and answers packets until ctx ends. Datagrams are read and
// answered in batches, one system call each way, by one goroutine waiting
// in the kernel: the socket's reads are serialised anyway, and a second
// reader waiting its turn, or a wait in Go's poller, cost thread
// wake-ups per batch (docs/performance.md, "Name queries").
func (s *Server) Serve(ctx context.Context) error {
	defer s.batch.Close()
	defer s.batch.StopOnDone(ctx)()
	go func() {
		t := time.NewTicker(ifaceRefresh)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				s.ifs.Store(readIfaces())
			}
		}
	}()
	b := s.batch
	var w worker
	replies := make([]byte, batchSize*maxPacket)
	for {
		ms, err := b.Read()
		if err != nil {
			if done, err := udpsock.ReadError(ctx, err, "nbns"); done {
				return err
			}
			continue
		}
		for i := range ms {
			m := &ms[i]
			src, ok := m.Addr.(*net.UDPAddr)
			if !ok {
				continue
			}
			from := src.AddrPort()
			from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
			var pi pktInfo
			pi.ifIndex, pi.dst, pi.ok = udpsock.PacketInfo(m.OOB[:m.NN])
			slot := replies[i*maxPacket : i*maxPacket : (i+1)*maxPacket]
			if reply := s.handle(&w, m.Buffers[0][:m.N], pi, from, slot); len(reply) > 0 {
				b.Queue(reply, m.Addr)
			}
		}
		if err := b.Flush(); err != nil {
			s.cfg.PacketLog.Warn("nbns: sending answers", slog.Any("err", err))
		}
	}
}

// worker is the scratch space of the goroutine answering packets.
type worker struct {
	p netbios.NameServicePacket
}

// counters are the metrics of the hot path, resolved once.
type counters struct {
	queryPositive, queryNegative, queryNotOurs, nodeStatus, nodeStatusRefused, defended, ignored, unexpected, tooLarge interface{ Inc() }
	badPacket, otherScope                                                                                              interface{ Inc() }
}

func newCounters(m *metrics.Metrics) counters {
	c := func(kind string) interface{ Inc() } { return m.NBNS.WithLabelValues(kind) }
	r := func(reason string) interface{ Inc() } { return m.Rejected.WithLabelValues("nbns", reason) }
	return counters{
		queryPositive: c("query_positive"), queryNegative: c("query_negative"), queryNotOurs: c("query_not_ours"),
		nodeStatus: c("node_status"), nodeStatusRefused: c("node_status_refused"), defended: c("defended"),
		ignored: c("ignored"), unexpected: c("unexpected_response"), tooLarge: c("answer_larger_than_request"),
		badPacket: r("bad_packet"), otherScope: r("other_scope"),
	}
}

// badPacket counts and logs (rate-limited) a packet we cannot answer.
func (s *Server) badPacket(from netip.AddrPort, err error) {
	s.count.badPacket.Inc()
	s.cfg.PacketLog.Warn("nbns: ignored packet", slog.String("reason", "bad_packet"), slog.String("source", from.String()), slog.Any("err", err))
}

// handle answers one datagram from from; the answer, if any, is appended
// to out and goes back to from. A name query, the packet that comes by
// the thousand, is answered without allocating.
func (s *Server) handle(w *worker, b []byte, pi pktInfo, from netip.AddrPort, out []byte) (reply []byte) {
	defer udpsock.Recover(s.cfg.Log, "nbns: packet handler panicked", func() { reply = nil })
	p := &w.p
	if err := netbios.ParseNameServicePacketInto(p, b); err != nil {
		s.badPacket(from, err)
		return nil
	}
	if p.Response {
		// The registrar reads the reply on its own goroutine, after b
		// and p have been reused: it gets its own copy.
		r, _ := netbios.ParseNameServicePacket(bytes.Clone(b))
		s.deliverReply(from, r)
		return nil
	}
	if len(p.Questions) != 1 {
		s.badPacket(from, fmt.Errorf("%d questions in a request", len(p.Questions)))
		return nil
	}
	q := &p.Questions[0]
	if q.Scope != s.cfg.Scope {
		// Another scope is another NetBIOS network.
		s.count.otherScope.Inc()
		return nil
	}
	var resp netbios.NameServicePacket
	var err error
	switch p.Opcode {
	case netbios.OpcodeQuery:
		switch q.Type {
		case netbios.TypeNB:
			return s.query(p, q, len(b), pi, from, out)
		case netbios.TypeNBSTAT:
			resp, err = s.nodeStatus(p, q, pi, from)
		default:
			s.badPacket(from, fmt.Errorf("query for record type %v", q.Type))
			return nil
		}
	case netbios.OpcodeRegistration, netbios.OpcodeMultihomedRegistration:
		resp, err = s.defend(p, q, from)
	default:
		// Releases, refreshes and WACKs are for name servers; a B-node
		// only notes them.
		s.count.ignored.Inc()
		return nil
	}
	if err == nil && resp.Questions == nil && resp.Answers == nil {
		return nil // nothing to say
	}
	if err == nil {
		out, err = netbios.AppendNameServicePacket(out, resp)
	}
	if err != nil {
		s.cfg.Log.Error("nbns: building an answer", slog.Any("err", err))
		return nil
	}
	if len(out) > len(b) && !s.mayAmplify(from.Addr()) {
		// An answer to a forged source that outgrows the request is an
		// amplifier. Hosts of our own networks and of node_status_allow
		// get them; a stranger gets no more than it sent, which leaves
		// the defence of our names. (Queries are refused in query,
		// before the lookup.)
		s.count.tooLarge.Inc()
		return nil
	}
	return out
}
