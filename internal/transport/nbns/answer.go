package nbns

import (
	"encoding/binary"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/netsend/messenger/internal/names"
	"github.com/netsend/messenger/internal/netbios"
)

// query answers a name query for one of our names. A broadcast query for
// a name we lack gets silence (RFC 1002: only an NBNS answers negatively
// to broadcasts); a unicast one gets a negative response, as nmbd gives.
// The answer is copied from the table of encoded answers; only the
// transaction id, the name as the asker spelled it and our address are
// written into the copy.
//
// A source that may not get more than it sent (see Config.NodeStatusAllow)
// is refused before the lookup when even the negative answer outgrows its
// request, which is always, unless it padded the request.
func (s *Server) query(p *netbios.NameServicePacket, q *netbios.Question, size int, pi pktInfo, from netip.AddrPort, out []byte) []byte {
	t := s.answerTable()
	fits := size >= t.positiveLen || s.mayAmplify(from.Addr())
	if !fits && size < len(t.negative) {
		s.count.tooLarge.Inc()
		return nil
	}
	tmpl, ok := t.positive[q.Name.Upper()]
	if !ok {
		if p.Flags&netbios.FlagB != 0 {
			s.count.queryNotOurs.Inc()
			return nil
		}
		s.count.queryNegative.Inc()
		return t.patch(out, t.negative, p.TransactionID, q.Name)
	}
	if !fits {
		s.count.tooLarge.Inc()
		return nil
	}
	out = t.patch(out, tmpl, p.TransactionID, q.Name)
	a := s.localAddr(pi, from.Addr()).As4()
	copy(out[len(out)-len(a):], a[:])
	s.count.queryPositive.Inc()
	return out
}

// answers holds the encoded answers to name queries, built from the name
// table when it changes rather than for every query.
type answers struct {
	generation uint64
	scope      string
	nameLen    int // of an encoded name with our scope
	// positive holds, by the upper-cased name, the positive answer for
	// each registered name, with transaction id 0 and address 0.0.0.0
	// in its last four bytes.
	positive    map[netbios.Name][]byte
	positiveLen int
	// negative is the NAM_ERR answer, id 0.
	negative []byte
}

// patch appends tmpl to out with id as its transaction id and name,
// encoded, as its record's name: the asker's spelling, as nmbd echoes it.
func (t *answers) patch(out, tmpl []byte, id uint16, name netbios.Name) []byte {
	const header = 12
	out = binary.BigEndian.AppendUint16(out, id)
	out = append(out, tmpl[2:header]...)
	// The scope was checked against ours, so encoding cannot fail.
	out, _ = netbios.AppendEncodedName(out, name, t.scope)
	return append(out, tmpl[header+t.nameLen:]...)
}

// answerTable returns the encoded answers for the table as it is now,
// rebuilding them after a change of names or states.
func (s *Server) answerTable() *answers {
	gen := s.cfg.Table.Generation()
	if t := s.answers.Load(); t != nil && t.generation == gen {
		return t
	}
	s.answersMu.Lock()
	defer s.answersMu.Unlock()
	if t := s.answers.Load(); t != nil && t.generation == gen {
		return t
	}
	t, err := s.buildAnswers(gen)
	if err != nil {
		// The scope and names were validated at start; this is a bug.
		s.cfg.Log.Error("nbns: building the answer table", slog.Any("err", err))
		t = &answers{generation: gen, positive: map[netbios.Name][]byte{}}
	}
	s.answers.Store(t)
	return t
}

func (s *Server) buildAnswers(gen uint64) (*answers, error) {
	t := &answers{generation: gen, scope: s.cfg.Scope, positive: make(map[netbios.Name][]byte)}
	enc, err := netbios.AppendEncodedName(nil, netbios.WildcardName(), s.cfg.Scope)
	if err != nil {
		return nil, err
	}
	t.nameLen = len(enc)
	if t.negative, err = netbios.AppendNameServicePacket(nil, netbios.NegativeNameQueryResponse(0, netbios.WildcardName(), s.cfg.Scope, netbios.RCodeNameErr)); err != nil {
		return nil, err
	}
	for _, e := range s.cfg.Table.List() {
		if e.State != names.StateRegistered {
			continue
		}
		flags := s.cfg.NodeType
		if e.Group {
			flags |= netbios.NBGroup
		}
		resp, err := netbios.PositiveNameQueryResponse(0, e.Name, s.cfg.Scope, uint32(s.cfg.TTL/time.Second),
			[]netbios.NBEntry{{Flags: flags, Addr: netip.IPv4Unspecified()}}, false)
		if err != nil {
			return nil, err
		}
		b, err := netbios.AppendNameServicePacket(nil, resp)
		if err != nil {
			return nil, err
		}
		t.positive[e.Name.Upper()], t.positiveLen = b, len(b)
	}
	if t.positiveLen == 0 {
		// No registered name: what an answer would measure, for the
		// refusal of those that may not get more than they sent.
		t.positiveLen = len(t.negative) + 6
	}
	return t, nil
}

// nodeStatus lists our names, if the asker may see them: node status is
// how spammers harvested messenger names, so it is answered only to
// allowed networks.
func (s *Server) nodeStatus(p *netbios.NameServicePacket, q *netbios.Question, pi pktInfo, from netip.AddrPort) (netbios.NameServicePacket, error) {
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
	st.Statistics.UnitID = s.ifaceOf(pi).mac
	s.count.nodeStatus.Inc()
	return netbios.NodeStatusResponse(p.TransactionID, q.Name, q.Scope, st)
}

// defend answers another node's registration of a unique name we hold
// with a negative registration response (ACT_ERR), so it does not take it.
func (s *Server) defend(p *netbios.NameServicePacket, q *netbios.Question, from netip.AddrPort) (netbios.NameServicePacket, error) {
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

// pktInfo is where a datagram came in: its interface and destination.
type pktInfo struct {
	ifIndex int
	dst     netip.Addr
	ok      bool
}

// ifaces is what the answers need of this host's interfaces, read once
// a minute (ifaceRefresh) rather than for every packet.
type ifaces struct {
	byIndex map[int]ifInfo
	// local holds every network of this host: with loopback, the
	// sources that may get answers larger than their requests.
	local []netip.Prefix
	at    time.Time
}

type ifInfo struct {
	addrs []netip.Prefix // IPv4
	mac   [6]byte
}

// ifaceRefresh is how often the interfaces are read again: addresses
// change rarely, packets come often.
const ifaceRefresh = time.Minute

// readIfaces reads the interfaces and their addresses.
func readIfaces() *ifaces {
	ifs := &ifaces{byIndex: make(map[int]ifInfo), at: time.Now()}
	list, _ := net.Interfaces()
	for _, ifi := range list {
		var info ifInfo
		copy(info.mac[:], ifi.HardwareAddr)
		addrs, _ := ifi.Addrs()
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ip, ok := netip.AddrFromSlice(ipn.IP)
			if !ok {
				continue
			}
			ones, _ := ipn.Mask.Size()
			p := netip.PrefixFrom(ip.Unmap(), ones)
			ifs.local = append(ifs.local, p.Masked())
			if p.Addr().Is4() {
				info.addrs = append(info.addrs, p)
			}
		}
		ifs.byIndex[ifi.Index] = info
	}
	return ifs
}

// ifaceOf returns what we know of the interface a packet came in on. An
// interface index we have not seen reads the interfaces again, at most
// once a second, so that a new interface is answered on at once.
func (s *Server) ifaceOf(pi pktInfo) ifInfo {
	if !pi.ok {
		return ifInfo{}
	}
	ifs := s.ifs.Load()
	if info, ok := ifs.byIndex[pi.ifIndex]; ok {
		return info
	}
	if time.Since(ifs.at) > time.Second {
		ifs = readIfaces()
		s.ifs.Store(ifs)
	}
	return ifs.byIndex[pi.ifIndex]
}

// localAddr is the address we announce to a querier: ours on the
// interface the query came in on, on the querier's subnet if there is one.
func (s *Server) localAddr(pi pktInfo, peer netip.Addr) netip.Addr {
	if !pi.ok {
		return netip.IPv4Unspecified()
	}
	if info := s.ifaceOf(pi); len(info.addrs) > 0 {
		for _, p := range info.addrs {
			if p.Contains(peer) {
				return p.Addr()
			}
		}
		return info.addrs[0].Addr()
	}
	if pi.dst.Is4() && !pi.dst.IsMulticast() {
		return pi.dst
	}
	return netip.IPv4Unspecified()
}

// mayAmplify reports whether from may get an answer larger than its
// request: it is on one of this host's networks, or the operator allowed
// it to list our names. Our networks come from the interface snapshot,
// not from a policy.Networks "local" entry, which reads the clock for
// every call.
func (s *Server) mayAmplify(from netip.Addr) bool {
	from = from.Unmap()
	if from.IsLoopback() {
		return true
	}
	for _, p := range s.ifs.Load().local {
		if p.Contains(from) {
			return true
		}
	}
	return s.cfg.NodeStatusAllow != nil && s.cfg.NodeStatusAllow.Allows(from)
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
