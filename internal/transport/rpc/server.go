// Package rpc is the connectionless DCE/RPC transport (ncadg_ip_udp, UDP
// 135 and whatever other ports are configured) of msgsvcsend
// NetrSendMessage: the path most messenger spam took, and the path of
// MS03-043. Every packet is decoded by internal/dcerpc, which trusts no
// length; every message goes through the pipeline's policy, which by
// default quarantines this transport.
package rpc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/netsend/messenger/internal/dcerpc"
	"github.com/netsend/messenger/internal/message"
	"github.com/netsend/messenger/internal/metrics"
	"github.com/netsend/messenger/internal/names"
	"github.com/netsend/messenger/internal/transport/udpsock"
)

// Deliverer takes a message in two steps (pipeline.Pipeline): Judge, the
// policy's verdict, as the call is read (pipeline.ErrDropped or nil),
// then Keep, storing what was accepted, from the bounded queue; nil means
// it is stored.
type Deliverer interface {
	Judge(ctx context.Context, m *message.Message) error
	Keep(ctx context.Context, m *message.Message) error
}

const (
	maxDatagram = 65535
	workers     = 32
	queueLen    = 4096
)

// Config is what the server needs.
type Config struct {
	// Conns are the bound UDP sockets served.
	Conns    []*net.UDPConn
	Table    *names.Table
	Pipeline Deliverer
	CodePage message.CodePage
	Metrics  *metrics.Metrics
	Log      *slog.Logger
	// PacketLog takes the lines a single packet causes (a malformed PDU,
	// a refused call): rate limited, since a stranger sends packets at
	// will. Nil means Log.
	PacketLog *slog.Logger
	// Admit says whether a source may be answered at all (rpc.allow and
	// the policy's rpc transport). It is asked before anything else, so a
	// refused source hears nothing: no reject, no fault, and no
	// NERR_NameNotFound to tell it which names are ours. Nil admits all.
	Admit func(netip.Addr) bool
}

// Server answers NetrSendMessage on one or more UDP sockets.
type Server struct {
	cfg   Config
	conns []*net.UDPConn
	boot  uint32             // our boot time, which replies carry (C706)
	pool  *udpsock.Pool[job] // while Serve runs

	reasmMu sync.Mutex
	reasm   *dcerpc.Reassembler
}

// job is a decoded call waiting for the store, and where to answer it.
type job struct {
	msg   *message.Message
	req   dcerpc.Header
	conn  *net.UDPConn
	to    netip.AddrPort
	reply bool
	size  int // bytes the caller sent, which bounds the answer
}

// New makes a server of cfg.
func New(cfg Config) (*Server, error) {
	conns := cfg.Conns
	if len(conns) == 0 {
		return nil, errors.New("rpc: no socket to serve")
	}
	if cfg.PacketLog == nil {
		cfg.PacketLog = cfg.Log
	}
	for _, c := range conns {
		udpsock.SetReceiveBuffer(c, 8<<20)
	}
	return &Server{
		cfg: cfg, conns: conns, boot: uint32(time.Now().Unix()),
		reasm: dcerpc.NewReassembler(dcerpc.DefaultMaxFragments, dcerpc.DefaultMaxCallBytes, dcerpc.DefaultMaxCalls),
	}, nil
}

// Serve reads every socket until ctx ends; calls already decoded are
// stored and answered before it returns.
func (s *Server) Serve(ctx context.Context) error {
	s.pool = udpsock.NewPool(workers, queueLen, func(j job) { s.finish(ctx, j) })
	errs := make(chan error, len(s.conns))
	for _, c := range s.conns {
		go func() { errs <- s.read(ctx, c) }()
	}
	var first error
	for range s.conns {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	s.pool.Close()
	return first
}

func (s *Server) read(ctx context.Context, c *net.UDPConn) error {
	defer udpsock.WakeOnDone(ctx, c)()
	buf := make([]byte, maxDatagram)
	for {
		n, from, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			if done, err := udpsock.ReadError(ctx, err, "rpc"); done {
				return err
			}
			continue
		}
		from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
		if j, ok := s.handle(c, buf[:n], from); ok {
			// Judged here, not in the queue: what the policy drops (a
			// flood) never takes a place a call to keep needs, and
			// earns silence, which is all a forged source earns.
			if s.cfg.Pipeline.Judge(ctx, j.msg) != nil {
				continue
			}
			if !s.pool.Offer(j) {
				s.reject("overload", from, errors.New("delivery queue full"))
			}
		}
	}
}

func (s *Server) reject(reason string, from netip.AddrPort, err error) {
	s.cfg.Metrics.Rejected.WithLabelValues(string(message.TransportRPC), reason).Inc()
	if err != nil {
		s.cfg.PacketLog.Warn("rpc: rejected", slog.String("reason", reason), slog.String("source", from.String()), slog.Any("err", err))
	}
}

// handle decodes one datagram. It answers errors itself; a complete call
// for us comes back as a job for the store.
func (s *Server) handle(c *net.UDPConn, b []byte, from netip.AddrPort) (j job, ok bool) {
	defer udpsock.Recover(s.cfg.Log, "rpc: packet handler panicked", func() { ok = false })
	if s.cfg.Admit != nil && !s.cfg.Admit(from.Addr()) {
		// Counted, not logged: the source may be forged, and the log is
		// no place for what a firewall would have dropped.
		s.cfg.Metrics.Rejected.WithLabelValues(string(message.TransportRPC), "not_allowed").Inc()
		return job{}, false
	}
	p, err := dcerpc.Parse(b)
	if err != nil {
		// No answer to what is not a request we understand: a forged
		// source would turn answers into a reflector.
		s.reject("bad_pdu", from, err)
		return job{}, false
	}
	if p.Type != dcerpc.TypeRequest {
		// Acks, pings and the like: a one-shot server keeps no call state
		// to act on.
		s.cfg.Metrics.Rejected.WithLabelValues(string(message.TransportRPC), "not_a_request").Inc()
		return job{}, false
	}
	reply := p.WantsReply() && p.Flags1&dcerpc.Flags1Broadcast == 0
	if status, ok := dcerpc.MatchSendMessage(p.Header); !ok {
		s.reject("wrong_call", from, fmt.Errorf("interface %v v%d opnum %d", p.Interface, p.InterfaceVersion, p.OpNum))
		if reply {
			s.send(c, from, len(b), func(b []byte) ([]byte, error) { return dcerpc.AppendReject(b, p.Header, s.boot, status) })
		}
		return job{}, false
	}
	body, size := p.Body, len(b)
	if p.Flags1&dcerpc.Flags1Frag != 0 {
		s.reasmMu.Lock()
		whole, complete, err := s.reasm.Add(p)
		s.reasmMu.Unlock()
		if err != nil {
			s.reject("bad_fragment", from, err)
			return job{}, false
		}
		if !complete {
			return job{}, false
		}
		// The caller sent every fragment: at least a header each, and
		// the whole body.
		body, size = whole, dcerpc.HeaderLen+len(whole)
	}
	req, err := dcerpc.ParseSendMessageRequest(body, p.DataRep, dcerpc.Limits{MaxName: message.MaxNameLen, MaxText: 2 * message.MaxTextLen})
	if err != nil {
		s.reject("bad_stub", from, err)
		if reply {
			s.send(c, from, size, func(b []byte) ([]byte, error) {
				return dcerpc.AppendFault(b, p.Header, s.boot, dcerpc.StatusBadStubData)
			})
		}
		return job{}, false
	}
	cp := s.cfg.CodePage
	to := cp.Decode(req.To)
	if !s.cfg.Table.HasString(to) {
		// MS-MSRP 3.2.4.3: the alias must be one of ours.
		s.reject("name_not_present", from, fmt.Errorf("recipient %q is not one of our names", to))
		if reply {
			s.answer(c, from, size, p.Header, dcerpc.StatusNameNotFound)
		}
		return job{}, false
	}
	text := cp.Decode(message.NormalizeLineBreaks(req.Text))
	m := &message.Message{From: cp.Decode(req.From), To: to, Text: text, Time: time.Now(),
		Transport: message.TransportRPC, Source: from.String()}
	if err := message.Validate(m); err != nil {
		s.reject("too_long", from, err)
		if reply {
			s.answer(c, from, size, p.Header, dcerpc.StatusInvalidParameter)
		}
		return job{}, false
	}
	return job{msg: m, req: p.Header, conn: c, to: from, reply: reply, size: size}, true
}

// finish stores a call's message, which the policy accepted, and
// answers it: success only once stored.
func (s *Server) finish(ctx context.Context, j job) {
	err := s.cfg.Pipeline.Keep(context.WithoutCancel(ctx), j.msg)
	switch {
	case err == nil:
		if j.reply {
			s.answer(j.conn, j.to, j.size, j.req, dcerpc.StatusSuccess)
		}
	default:
		s.cfg.Log.Error("rpc: message not stored", slog.Any("err", err))
		if j.reply {
			s.answer(j.conn, j.to, j.size, j.req, dcerpc.StatusNetworkError)
		}
	}
}

func (s *Server) answer(c *net.UDPConn, to netip.AddrPort, size int, req dcerpc.Header, status dcerpc.Status) {
	stub := dcerpc.AppendSendMessageResponse(nil, dcerpc.NativeDataRep, status)
	s.send(c, to, size, func(b []byte) ([]byte, error) { return dcerpc.AppendResponse(b, req, s.boot, stub) })
}

// send builds an answer and sends it, unless it is larger than the size
// bytes that asked for it. A UDP source is never verified, so an answer
// that outgrew its request would make us an amplifier toward whoever the
// source names. Every answer is 84 bytes and a real NetrSendMessage call
// carries three strings past the 80-byte header, so only probes (a
// request with no stub) lose their reject or fault.
func (s *Server) send(c *net.UDPConn, to netip.AddrPort, size int, build func([]byte) ([]byte, error)) {
	b, err := build(make([]byte, 0, dcerpc.HeaderLen+8))
	if err != nil {
		s.cfg.Log.Error("rpc: building a reply", slog.Any("err", err))
		return
	}
	if len(b) > size {
		s.cfg.Metrics.Rejected.WithLabelValues(string(message.TransportRPC), "answer_larger_than_request").Inc()
		return
	}
	if _, err := c.WriteToUDPAddrPort(b, to); err != nil {
		s.cfg.PacketLog.Warn("rpc: sending a reply", slog.String("to", to.String()), slog.Any("err", err))
	}
}
