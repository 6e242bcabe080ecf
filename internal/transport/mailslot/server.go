// Package mailslot is the NetBIOS datagram transport (UDP 138) of the
// \MAILSLOT\MESSNGR mailslot: `net send *` and `net send /domain` arrive
// here as one-way datagrams, and our own broadcasts leave from here. The
// codecs are internal/netbios (datagram) and internal/smb (mailslot write,
// MESSNGR payload).
package mailslot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/net/ipv4"

	"github.com/netsend/messenger/internal/message"
	"github.com/netsend/messenger/internal/metrics"
	"github.com/netsend/messenger/internal/names"
	"github.com/netsend/messenger/internal/netbios"
	"github.com/netsend/messenger/internal/smb"
	"github.com/netsend/messenger/internal/transport/udpsock"
)

// Deliverer takes a message in two steps (pipeline.Pipeline): Judge, the
// policy's verdict, as the datagram is read (pipeline.ErrDropped or nil),
// then Keep, storing what was accepted, from the bounded queue; nil means
// it is stored.
type Deliverer interface {
	Judge(ctx context.Context, m *message.Message) error
	Keep(ctx context.Context, m *message.Message) error
}

const (
	maxDatagram = 1500 // NetBIOS datagrams carry at most 512 bytes of user data
	batchSize   = 32
	// workers deliver datagrams concurrently, so that the store's group
	// commit can batch them; the queue bounds what a flood can pile up.
	workers  = 32
	queueLen = 4096
)

// Config is what the server needs.
type Config struct {
	// Conns are the bound UDP sockets of the datagram port: one, or a
	// SO_REUSEPORT group (udpsock.ListenGroup) with a reader each. The
	// first sends our broadcasts.
	Conns    []*net.UDPConn
	Table    *names.Table
	Pipeline Deliverer
	CodePage message.CodePage
	Metrics  *metrics.Metrics
	Log      *slog.Logger
	Scope    string
	// PacketLog takes the lines a single datagram causes: rate limited,
	// since a stranger sends datagrams at will. Nil means Log.
	PacketLog *slog.Logger
	// Admit says whether a source may be heard at all (the policy's
	// mailslot transport). Datagrams have no answer, so this spares the
	// decoding and the log lines of what the policy would drop anyway.
	// Nil admits all.
	Admit func(netip.Addr) bool
}

// Server receives MESSNGR datagrams and sends our broadcasts.
type Server struct {
	cfg  Config
	conn *net.UDPConn                    // the first socket, which sends
	pool *udpsock.Pool[*message.Message] // while Serve runs
}

// New wraps the bound UDP sockets and enables broadcast on the first.
func New(cfg Config) (*Server, error) {
	if len(cfg.Conns) == 0 {
		return nil, errors.New("mailslot: no socket")
	}
	conn := cfg.Conns[0]
	if err := udpsock.EnableBroadcast(conn); err != nil {
		return nil, fmt.Errorf("mailslot: %w", err)
	}
	for _, c := range cfg.Conns {
		udpsock.SetReceiveBuffer(c, 8<<20)
	}
	if cfg.PacketLog == nil {
		cfg.PacketLog = cfg.Log
	}
	return &Server{cfg: cfg, conn: conn}, nil
}

// Serve reads datagrams from every socket until ctx ends; messages
// already queued are delivered before it returns. The readers share one
// bounded pool, so more sockets do not let a flood queue more.
func (s *Server) Serve(ctx context.Context) error {
	s.pool = udpsock.NewPool(workers, queueLen, func(m *message.Message) {
		if err := s.cfg.Pipeline.Keep(context.WithoutCancel(ctx), m); err != nil {
			s.cfg.Log.Error("mailslot: message not stored", slog.Any("err", err))
		}
	})
	errs := make(chan error, len(s.cfg.Conns))
	for _, c := range s.cfg.Conns {
		go func() { errs <- s.read(ctx, c) }()
	}
	var first error
	for range s.cfg.Conns {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	s.pool.Close()
	return first
}

// read is one socket's reader.
func (s *Server) read(ctx context.Context, c *net.UDPConn) error {
	defer udpsock.WakeOnDone(ctx, c)()
	pc := ipv4.NewPacketConn(c)
	in := make([]ipv4.Message, batchSize)
	for i := range in {
		in[i].Buffers = [][]byte{make([]byte, maxDatagram)}
	}
	for {
		n, err := pc.ReadBatch(in, 0)
		if err != nil {
			if done, err := udpsock.ReadError(ctx, err, "mailslot"); done {
				return err
			}
			continue
		}
		for i := 0; i < n; i++ {
			src, ok := in[i].Addr.(*net.UDPAddr)
			if !ok {
				continue
			}
			m := s.handle(in[i].Buffers[0][:in[i].N], src.AddrPort())
			if m == nil {
				continue
			}
			// Judged here, not in the queue: what the policy drops (a
			// flood) never takes a place a message to keep needs. A
			// datagram has no answer, so a drop needs nothing more: the
			// pipeline counted it, and logging each one would let a
			// flood fill the log.
			if s.cfg.Pipeline.Judge(ctx, m) != nil {
				continue
			}
			if !s.pool.Offer(m) {
				s.reject("overload", src.AddrPort(), errors.New("delivery queue full"))
			}
		}
	}
}

func (s *Server) reject(reason string, from netip.AddrPort, err error) {
	s.cfg.Metrics.Rejected.WithLabelValues(string(message.TransportMailslot), reason).Inc()
	if err != nil {
		s.cfg.PacketLog.Warn("mailslot: ignored datagram", slog.String("reason", reason), slog.String("source", from.String()), slog.Any("err", err))
	}
}

// handle decodes one datagram; it returns the message it carries, or nil
// when the datagram is not a messenger message for us.
func (s *Server) handle(b []byte, from netip.AddrPort) (m *message.Message) {
	defer udpsock.Recover(s.cfg.Log, "mailslot: datagram handler panicked", func() { m = nil })
	if s.cfg.Admit != nil && !s.cfg.Admit(from.Addr().Unmap()) {
		s.cfg.Metrics.Rejected.WithLabelValues(string(message.TransportMailslot), "not_allowed").Inc()
		return nil
	}
	d, err := netbios.ParseDatagram(b)
	if err != nil {
		s.reject("bad_datagram", from, err)
		return nil
	}
	switch d.Type {
	case netbios.DirectUniqueDatagram, netbios.DirectGroupDatagram, netbios.BroadcastDatagram:
	default:
		s.reject("not_for_us", from, nil)
		return nil
	}
	if d.Flags&netbios.DatagramFirst == 0 || d.Flags&netbios.DatagramMore != 0 {
		// Messenger datagrams are a few hundred bytes and never fragmented.
		s.reject("fragmented", from, fmt.Errorf("fragment at offset %d not reassembled", d.PacketOffset))
		return nil
	}
	if d.DestinationScope != s.cfg.Scope {
		s.reject("other_scope", from, nil)
		return nil
	}
	if !s.forUs(d) {
		s.reject("not_for_us", from, nil)
		return nil
	}
	p, err := smb.Parse(d.Data)
	if err != nil {
		s.reject("bad_smb", from, err)
		return nil
	}
	w, err := smb.ParseMailslotWrite(p)
	if err != nil {
		s.reject("bad_smb", from, err)
		return nil
	}
	if !strings.EqualFold(w.Name, smb.MessengerMailslot) {
		s.reject("other_mailslot", from, nil)
		return nil
	}
	pl, err := smb.ParseMessengerPayload(w.Data)
	if err != nil {
		s.reject("bad_payload", from, err)
		return nil
	}
	cp := s.cfg.CodePage
	text := cp.Decode(message.NormalizeLineBreaks(pl.Text))
	if n := utf8.RuneCountInString(text); n > message.MaxTextLen {
		s.reject("too_long", from, fmt.Errorf("text of %d characters exceeds %d", n, message.MaxTextLen))
		return nil
	}
	to := cp.Decode(pl.To)
	if to == "" {
		to = cp.Decode([]byte(d.Destination.Base()))
	}
	return &message.Message{
		From: cp.Decode(pl.From), To: to, Text: text, Time: time.Now(),
		Transport: message.TransportMailslot, Source: from.String(),
	}
}

// forUs: a datagram to one of our messenger names, to a group name we are
// in (the workgroup, for net send * and /domain), or to everyone. The
// destination name decides, not the datagram type: an RFC 1002 receiver
// delivers a DIRECT_GROUP datagram to whoever holds the name, and senders
// use either type for a messenger name.
func (s *Server) forUs(d netbios.Datagram) bool {
	if d.Type == netbios.BroadcastDatagram || s.cfg.Table.Has(d.Destination) {
		return true
	}
	e, ok := s.cfg.Table.Lookup(d.Destination)
	return ok && e.Group
}

// Broadcast sends a MESSNGR message to group<00> as a DIRECT_GROUP
// datagram to each broadcast address, as net send * and /domain did. from
// and text are OEM bytes; source is our host name.
func (s *Server) Broadcast(targets []names.Interface, port int, source, group netbios.Name, from, text []byte) error {
	payload, err := smb.AppendMessengerPayload(nil, smb.MessengerPayload{From: from, To: []byte(group.Base()), Text: text})
	if err != nil {
		return err
	}
	write, err := smb.AppendMailslotWrite(nil, smb.Header{}, smb.MailslotWrite{Name: smb.MessengerMailslot, Priority: 1, Class: 2, Data: payload})
	if err != nil {
		return err
	}
	if a, ok := s.conn.LocalAddr().(*net.UDPAddr); ok {
		// A socket bound to one address reaches that address's network
		// only (none, when it is loopback).
		targets = names.Reachable(targets, a.AddrPort().Addr())
	}
	if len(targets) == 0 {
		return errors.New("no network interface with a broadcast address to send on from the bound address")
	}
	var errs []error
	for _, ifc := range targets {
		d := netbios.Datagram{
			Type: netbios.DirectGroupDatagram, Flags: netbios.DatagramFirst, ID: uint16(time.Now().UnixNano()),
			SourceIP: ifc.Addr, SourcePort: uint16(s.conn.LocalAddr().(*net.UDPAddr).Port),
			Source: source, Destination: group, SourceScope: s.cfg.Scope, DestinationScope: s.cfg.Scope, Data: write,
		}
		b, err := netbios.AppendDatagram(nil, d)
		if err != nil {
			return err
		}
		if _, err := s.conn.WriteToUDPAddrPort(b, netip.AddrPortFrom(ifc.Broadcast, uint16(port))); err != nil {
			errs = append(errs, fmt.Errorf("broadcasting on %s: %w", ifc.Name, err))
		}
	}
	return errors.Join(errs...)
}
