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
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/net/ipv4"

	"github.com/netsend/messenger/internal/metrics"
	"github.com/netsend/messenger/internal/names"
	"github.com/netsend/messenger/internal/netbios"
)

// maxPacket is the largest name service datagram we read; RFC 1002 keeps
// them under 576 bytes, but node status responses of large tables grow.
const maxPacket = 1500

// Config is what the server needs besides its socket.
type Config struct {
	Table    *names.Table
	Metrics  *metrics.Metrics
	Log      *slog.Logger
	Scope    string
	NodeType netbios.NBFlags // ONT bits of our NB and node-status flags
	// TTL is what positive query responses announce.
	TTL time.Duration
	// NodeStatusAllow decides who may list our names.
	NodeStatusAllow *Allowlist
	// Interfaces limits broadcasts to these interface names; empty = all.
	Interfaces []string
}

// Server answers on one UDP socket and sends the registrar's packets from
// it, so that replies to our broadcasts (sent to port 137) come back here.
type Server struct {
	cfg  Config
	conn *net.UDPConn
	pc   *ipv4.PacketConn

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
func New(conn *net.UDPConn, cfg Config) (*Server, error) {
	s := &Server{cfg: cfg, conn: conn, pc: ipv4.NewPacketConn(conn), waits: make(map[uint16]chan<- names.Reply)}
	s.nextID.Store(uint32(time.Now().UnixNano()))
	if err := s.pc.SetControlMessage(ipv4.FlagDst|ipv4.FlagInterface, true); err != nil {
		return nil, fmt.Errorf("nbns: asking for packet info: %w", err)
	}
	raw, err := conn.SyscallConn()
	if err != nil {
		return nil, err
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_BROADCAST, 1)
	}); err != nil {
		return nil, err
	}
	if serr != nil {
		return nil, fmt.Errorf("nbns: enabling broadcast: %w", serr)
	}
	return s, nil
}

// Serve reads and answers packets until ctx ends.
func (s *Server) Serve(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { s.conn.SetReadDeadline(time.Now()) })
	defer stop()
	buf := make([]byte, maxPacket)
	for {
		n, cm, src, err := s.pc.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("nbns: reading: %w", err)
		}
		from, ok := netip.AddrFromSlice(src.(*net.UDPAddr).IP)
		if !ok {
			continue
		}
		s.handle(buf[:n], cm, netip.AddrPortFrom(from.Unmap(), uint16(src.(*net.UDPAddr).Port)))
	}
}

func (s *Server) reject(reason string, from netip.AddrPort, err error) {
	s.cfg.Metrics.Rejected.WithLabelValues("nbns", reason).Inc()
	if err != nil {
		s.cfg.Log.Warn("nbns: ignored packet", slog.String("reason", reason), slog.String("source", from.String()), slog.Any("err", err))
	}
}

func (s *Server) handle(b []byte, cm *ipv4.ControlMessage, from netip.AddrPort) {
	defer func() {
		if p := recover(); p != nil {
			s.cfg.Log.Error("nbns: packet handler panicked", slog.Any("panic", p), slog.String("stack", string(debug.Stack())))
		}
	}()
	p, err := netbios.ParseNameServicePacket(b)
	if err != nil {
		s.reject("bad_packet", from, err)
		return
	}
	if p.Response {
		s.deliverReply(from, p)
		return
	}
	if len(p.Questions) != 1 {
		s.reject("bad_packet", from, fmt.Errorf("%d questions in a request", len(p.Questions)))
		return
	}
	q := p.Questions[0]
	if q.Scope != s.cfg.Scope {
		// Another scope is another NetBIOS network.
		s.reject("other_scope", from, nil)
		return
	}
	switch p.Opcode {
	case netbios.OpcodeQuery:
		switch q.Type {
		case netbios.TypeNBSTAT:
			s.nodeStatus(p, q, cm, from)
		case netbios.TypeNB:
			s.query(p, q, cm, from)
		default:
			s.reject("bad_packet", from, fmt.Errorf("query for record type %v", q.Type))
		}
	case netbios.OpcodeRegistration, netbios.OpcodeMultihomedRegistration:
		s.defend(p, q, cm, from)
	default:
		// Releases, refreshes and WACKs are for name servers; a B-node
		// only notes them.
		s.cfg.Metrics.NBNS.WithLabelValues("ignored_" + p.Opcode.String()).Inc()
	}
}
