package nbns

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/netsend/messenger/internal/names"
	"github.com/netsend/messenger/internal/netbios"
)

// The server is the registrar's wire: names.Wire.
var _ names.Wire = (*Server)(nil)

// NewTransactionID hands out the NAME_TRN_ID of our next request.
func (s *Server) NewTransactionID() uint16 { return uint16(s.nextID.Add(1)) }

// Interfaces lists the interfaces our names are announced on: those
// with a broadcast address that our socket, as bound, can send to.
func (s *Server) Interfaces() []names.Interface {
	return names.Reachable(names.BroadcastInterfaces(s.cfg.Interfaces), s.bound())
}

// bound is the address our socket is bound to; unspecified for all.
func (s *Server) bound() netip.Addr {
	if a, ok := s.conn.LocalAddr().(*net.UDPAddr); ok {
		return a.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}

// Send sends p to dst; responses with its transaction id come on replies
// until done is called.
func (s *Server) Send(p netbios.NameServicePacket, dst netip.AddrPort) (<-chan names.Reply, func(), error) {
	b, err := netbios.AppendNameServicePacket(nil, p)
	if err != nil {
		return nil, nil, fmt.Errorf("nbns: building %v: %w", p.Opcode, err)
	}
	ch := make(chan names.Reply, 8)
	s.mu.Lock()
	s.waits[p.TransactionID] = ch
	s.mu.Unlock()
	done := func() {
		s.mu.Lock()
		delete(s.waits, p.TransactionID)
		s.mu.Unlock()
	}
	if err := s.batch.WriteTo(b, dst); err != nil {
		done()
		return nil, nil, fmt.Errorf("nbns: sending %v to %v: %w", p.Opcode, dst, err)
	}
	return ch, done, nil
}

func (s *Server) deliverReply(from netip.AddrPort, p netbios.NameServicePacket) {
	s.mu.Lock()
	ch, ok := s.waits[p.TransactionID]
	s.mu.Unlock()
	if !ok {
		s.count.unexpected.Inc()
		return
	}
	select {
	case ch <- names.Reply{From: from, Packet: p}:
	default:
	}
}
