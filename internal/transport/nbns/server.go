// Package nbns is the NetBIOS name service transport (UDP 137): it answers
// name queries and node status requests for the names in our table,
// defends our unique names against others' registrations, and carries the
// registrar's own registrations, refreshes and releases. Packets are
// decoded by internal/netbios; what a name's state is, internal/names
// decides.
package nbns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
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
	// Conn is the bound UDP socket (the name service port).
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
	conn  *net.UDPConn
	pc    *ipv4.PacketConn
	local *policy.Networks // loopback and this host's networks

	nextID atomic.Uint32

	mu    sync.Mutex
	waits map[uint16]chan<- names.Reply

	ifMu    sync.Mutex
	ifCache map[int]ifInfo
	ifAt    time.Time
}

type ifInfo struct {
	addrs []netip.Prefix
	mac   [6]byte
}

// New wraps a bound UDP socket. It enables broadcast on it.
func New(cfg Config) (*Server, error) {
	conn := cfg.Conn
	if conn == nil {
		return nil, errors.New("nbns: no socket")
	}
	if cfg.PacketLog == nil {
		cfg.PacketLog = cfg.Log
	}
	s := &Server{cfg: cfg, count: newCounters(cfg.Metrics), conn: conn, pc: ipv4.NewPacketConn(conn), waits: make(map[uint16]chan<- names.Reply),
		local: policy.NewNetworks([]policy.Net{{Local: true}})}
	s.nextID.Store(uint32(time.Now().UnixNano()))
	// Bursts of queries (a scan, a benchmark) should queue, not drop.
	udpsock.SetReceiveBuffer(conn, 8<<20)
	if err := s.pc.SetControlMessage(ipv4.FlagDst|ipv4.FlagInterface, true); err != nil {
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
	return s, nil
}

// batchSize is how many datagrams one recvmmsg/sendmmsg moves: under load
// the system calls, not the answers, are the cost.
const batchSize = 32

// readers is how many goroutines read the socket: one per CPU, so that
// answering keeps up on a multi-core host.
var readers = runtime.GOMAXPROCS(0)

// Serve reads and answers packets until ctx ends. Datagrams are read and
// answered in batches, one system call each way.
func (s *Server) Serve(ctx context.Context) error {
	defer udpsock.WakeOnDone(ctx, s.conn)()
	errs := make(chan error, readers)
	for range readers {
		go func() { errs <- s.serveLoop(ctx) }()
	}
	var first error
	for range readers {
		if err := <-errs; err != nil && first == nil {
			first = err
			s.conn.SetReadDeadline(time.Now())
		}
	}
	return first
}

func (s *Server) serveLoop(ctx context.Context) error {
	in := make([]ipv4.Message, batchSize)
	out := make([]ipv4.Message, 0, batchSize)
	replies := make([][]byte, batchSize)
	for i := range in {
		in[i].Buffers = [][]byte{make([]byte, maxPacket)}
		in[i].OOB = ipv4.NewControlMessage(ipv4.FlagDst | ipv4.FlagInterface)
		replies[i] = make([]byte, 0, maxPacket)
	}
	var cm ipv4.ControlMessage
	for {
		n, err := s.pc.ReadBatch(in, 0)
		if err != nil {
			if done, err := udpsock.ReadError(ctx, err, "nbns"); done {
				return err
			}
			continue
		}
		out = out[:0]
		for i := 0; i < n; i++ {
			m := &in[i]
			src, ok := m.Addr.(*net.UDPAddr)
			if !ok {
				continue
			}
			ip, ok := netip.AddrFromSlice(src.IP)
			if !ok {
				continue
			}
			cmp := &cm
			if cm.Parse(m.OOB[:m.NN]) != nil {
				cmp = nil
			}
			from := netip.AddrPortFrom(ip.Unmap(), uint16(src.Port))
			if reply := s.handle(m.Buffers[0][:m.N], cmp, from, replies[i][:0]); len(reply) > 0 {
				replies[i] = reply
				out = append(out, ipv4.Message{Buffers: [][]byte{reply}, Addr: m.Addr})
			}
		}
		for len(out) > 0 {
			sent, err := s.pc.WriteBatch(out, 0)
			if err != nil {
				s.cfg.PacketLog.Warn("nbns: sending answers", slog.Any("err", err))
				break
			}
			out = out[sent:]
		}
	}
}

// counters are the metrics of the hot path, resolved once.
type counters struct {
	queryPositive, queryNegative, queryNotOurs, nodeStatus, nodeStatusRefused, defended, ignored, unexpected, tooLarge interface{ Inc() }
}

func newCounters(m *metrics.Metrics) counters {
	c := func(kind string) interface{ Inc() } { return m.NBNS.WithLabelValues(kind) }
	return counters{
		queryPositive: c("query_positive"), queryNegative: c("query_negative"), queryNotOurs: c("query_not_ours"),
		nodeStatus: c("node_status"), nodeStatusRefused: c("node_status_refused"), defended: c("defended"),
		ignored: c("ignored"), unexpected: c("unexpected_response"), tooLarge: c("answer_larger_than_request"),
	}
}

func (s *Server) reject(reason string, from netip.AddrPort, err error) {
	s.cfg.Metrics.Rejected.WithLabelValues("nbns", reason).Inc()
	if err != nil {
		s.cfg.PacketLog.Warn("nbns: ignored packet", slog.String("reason", reason), slog.String("source", from.String()), slog.Any("err", err))
	}
}

// handle answers one datagram from from; the answer, if any, is appended
// to out and goes back to from.
func (s *Server) handle(b []byte, cm *ipv4.ControlMessage, from netip.AddrPort, out []byte) (reply []byte) {
	defer udpsock.Recover(s.cfg.Log, "nbns: packet handler panicked", func() { reply = nil })
	p, err := netbios.ParseNameServicePacket(b)
	if err != nil {
		s.reject("bad_packet", from, err)
		return nil
	}
	if p.Response {
		s.deliverReply(from, p)
		return nil
	}
	if len(p.Questions) != 1 {
		s.reject("bad_packet", from, fmt.Errorf("%d questions in a request", len(p.Questions)))
		return nil
	}
	q := p.Questions[0]
	if q.Scope != s.cfg.Scope {
		// Another scope is another NetBIOS network.
		s.reject("other_scope", from, nil)
		return nil
	}
	var resp netbios.NameServicePacket
	switch p.Opcode {
	case netbios.OpcodeQuery:
		switch q.Type {
		case netbios.TypeNBSTAT:
			resp, err = s.nodeStatus(p, q, cm, from)
		case netbios.TypeNB:
			resp, err = s.query(p, q, cm, from)
		default:
			s.reject("bad_packet", from, fmt.Errorf("query for record type %v", q.Type))
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
		// A positive query answer is 12 bytes longer than the query, a
		// negative one 6: small, but an answer to a forged source that
		// outgrows the request is an amplifier. Hosts of our own networks
		// and of node_status_allow get them; a stranger gets no more
		// than it sent, which leaves the defence of our names.
		s.count.tooLarge.Inc()
		return nil
	}
	return out
}

// mayAmplify reports whether from may get an answer larger than its
// request: it is on one of this host's networks, or the operator allowed
// it to list our names.
func (s *Server) mayAmplify(from netip.Addr) bool {
	return s.local.Allows(from) || (s.cfg.NodeStatusAllow != nil && s.cfg.NodeStatusAllow.Allows(from))
}
