package nbns

import (
	"log/slog"
	"net"
	"net/netip"
	"time"

	"golang.org/x/net/ipv4"

	"github.com/netsend/messenger/internal/names"
	"github.com/netsend/messenger/internal/netbios"
)

// query answers a name query for one of our names. A broadcast query for
// a name we lack gets silence (RFC 1002: only an NBNS answers negatively
// to broadcasts); a unicast one gets a negative response, as nmbd gives.
func (s *Server) query(p netbios.NameServicePacket, q netbios.Question, cm *ipv4.ControlMessage, from netip.AddrPort) (netbios.NameServicePacket, error) {
	broadcast := p.Flags&netbios.FlagB != 0
	e, ok := s.cfg.Table.Lookup(q.Name)
	if !ok || e.State != names.StateRegistered {
		if broadcast {
			s.count.queryNotOurs.Inc()
			return netbios.NameServicePacket{}, nil
		}
		s.count.queryNegative.Inc()
		return netbios.NegativeNameQueryResponse(p.TransactionID, q.Name, q.Scope, netbios.RCodeNameErr), nil
	}
	addr := s.localAddr(cm, from.Addr())
	flags := s.cfg.NodeType
	if e.Group {
		flags |= netbios.NBGroup
	}
	s.count.queryPositive.Inc()
	return netbios.PositiveNameQueryResponse(p.TransactionID, q.Name, q.Scope, uint32(s.cfg.TTL/time.Second),
		[]netbios.NBEntry{{Flags: flags, Addr: addr}}, false)
}

// nodeStatus lists our names, if the asker may see them: node status is
// how spammers harvested messenger names, so it is answered only to
// allowed networks.
func (s *Server) nodeStatus(p netbios.NameServicePacket, q netbios.Question, cm *ipv4.ControlMessage, from netip.AddrPort) (netbios.NameServicePacket, error) {
	if s.cfg.NodeStatusAllow == nil || !s.cfg.NodeStatusAllow.Allows(from.Addr()) {
		// Silence, and a line through the rate-limited log: the source
		// is as easily forged as the request is sent.
		s.count.nodeStatusRefused.Inc()
		s.cfg.PacketLog.Info("nbns: node status refused", slog.String("source", from.String()))
		return netbios.NameServicePacket{}, nil
	}
	if q.Name != netbios.WildcardName() {
		if _, ok := s.cfg.Table.Lookup(q.Name); !ok {
			s.count.queryNotOurs.Inc()
			return netbios.NameServicePacket{}, nil
		}
	}
	var st netbios.NodeStatus
	for _, e := range s.cfg.Table.List() {
		flags := netbios.NameFlags(s.cfg.NodeType)
		if e.Group {
			flags |= netbios.NameGroup
		}
		switch e.State {
		case names.StateRegistered, names.StateRegistering:
			flags |= netbios.NameACT
		case names.StateConflict:
			flags |= netbios.NameCNF
		case names.StateReleasing:
			flags |= netbios.NameDRG
		}
		if e.Source == names.SourceHost {
			flags |= netbios.NamePRM
		}
		st.Names = append(st.Names, netbios.NodeName{Name: e.Name, Flags: flags})
	}
	st.Statistics.UnitID = s.mac(cm)
	s.count.nodeStatus.Inc()
	return netbios.NodeStatusResponse(p.TransactionID, q.Name, q.Scope, st)
}

// defend answers another node's registration of a unique name we hold
// with a negative registration response (ACT_ERR), so it does not take it.
func (s *Server) defend(p netbios.NameServicePacket, q netbios.Question, from netip.AddrPort) (netbios.NameServicePacket, error) {
	if s.isOurs(from.Addr()) {
		// Our own broadcast, heard on the way out.
		return netbios.NameServicePacket{}, nil
	}
	e, ok := s.cfg.Table.Lookup(q.Name)
	if !ok || e.Group || e.State != names.StateRegistered {
		return netbios.NameServicePacket{}, nil
	}
	// RFC 1002 4.2.6: the response carries the requester's record.
	var entry netbios.NBEntry
	if len(p.Additional) > 0 {
		if entries, err := netbios.ParseNBData(p.Additional[0].Data); err == nil && len(entries) > 0 {
			entry = entries[0]
		}
	}
	if !entry.Addr.IsValid() {
		entry = netbios.NBEntry{Flags: 0, Addr: from.Addr()}
	}
	s.count.defended.Inc()
	s.cfg.PacketLog.Warn("nbns: defended our name against a registration", slog.String("name", q.Name.String()), slog.String("source", from.String()))
	return netbios.NegativeRegistrationResponse(p.TransactionID, q.Name, q.Scope, netbios.RCodeActive, entry)
}

// interfaces returns the addresses and MAC of an interface, cached for a
// minute: addresses change rarely and packets come often.
func (s *Server) iface(index int) (ifInfo, bool) {
	s.ifMu.Lock()
	defer s.ifMu.Unlock()
	if time.Since(s.ifAt) > time.Minute {
		s.ifCache, s.ifAt = make(map[int]ifInfo), time.Now()
	}
	if info, ok := s.ifCache[index]; ok {
		return info, true
	}
	ifi, err := net.InterfaceByIndex(index)
	if err != nil {
		return ifInfo{}, false
	}
	var info ifInfo
	copy(info.mac[:], ifi.HardwareAddr)
	addrs, _ := ifi.Addrs()
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(ipn.IP); ok && ip.Unmap().Is4() {
				ones, _ := ipn.Mask.Size()
				info.addrs = append(info.addrs, netip.PrefixFrom(ip.Unmap(), ones))
			}
		}
	}
	s.ifCache[index] = info
	return info, true
}

// localAddr is the address we announce to a querier: ours on the
// interface the query came in on, on the querier's subnet if there is one.
func (s *Server) localAddr(cm *ipv4.ControlMessage, peer netip.Addr) netip.Addr {
	if cm != nil {
		if info, ok := s.iface(cm.IfIndex); ok && len(info.addrs) > 0 {
			for _, p := range info.addrs {
				if p.Contains(peer) {
					return p.Addr()
				}
			}
			return info.addrs[0].Addr()
		}
		if d, ok := netip.AddrFromSlice(cm.Dst); ok && d.Unmap().Is4() && !d.Unmap().IsMulticast() {
			return d.Unmap()
		}
	}
	return netip.IPv4Unspecified()
}

func (s *Server) mac(cm *ipv4.ControlMessage) [6]byte {
	if cm != nil {
		if info, ok := s.iface(cm.IfIndex); ok {
			return info.mac
		}
	}
	return [6]byte{}
}

// isOurs reports whether a is an address of this host.
func (s *Server) isOurs(a netip.Addr) bool {
	for _, ifc := range s.Interfaces() {
		if ifc.Addr == a {
			return true
		}
	}
	return false
}
