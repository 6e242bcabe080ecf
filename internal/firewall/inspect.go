package firewall

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/xt"
	"golang.org/x/sys/unix"
)

// OtherTable is a table in the ruleset that is not ours, and what its
// rules say about the advice's ports.
type OtherTable struct {
	Family   string    `json:"family"`
	Name     string    `json:"name"`
	Mentions []Mention `json:"mentions,omitempty"`
}

func (t OtherTable) String() string { return t.Family + " " + t.Name }

// Mention is a rule of another table that matches traffic to one of the
// advice's ports by destination port.
type Mention struct {
	Proto string `json:"proto"`
	Port  uint16 `json:"port"`
	Chain string `json:"chain"`
	// InputHook: the chain is a base chain on the input hook, so the rule
	// sees inbound traffic without a jump from elsewhere.
	InputHook bool `json:"input_hook"`
	// Verdict is "drop", "reject", "accept", or "" for anything else
	// (a jump, a log, a counter).
	Verdict string `json:"verdict"`
}

// Others lists every other table and, as far as a plain reading of their
// rules goes, which of the advice's ports they match and with what
// verdict. It is best effort: a rule may also depend on the source, a
// mark, or a chain we do not follow, so a mention says "look here", not
// "this port is closed".
func (f *Firewall) Others() ([]OtherTable, error) {
	tables, err := f.conn.ListTables()
	if err != nil {
		return nil, classifyList(err)
	}
	chains, err := f.conn.ListChains()
	if err != nil {
		return nil, classify("listing chains", err)
	}
	var out []OtherTable
	for _, t := range tables {
		if isOurs(t) {
			continue
		}
		ot := OtherTable{Family: familyName(t.Family), Name: t.Name}
		sets, err := f.portSets(t)
		if err != nil {
			return nil, err
		}
		for _, ch := range chains {
			if ch.Table == nil || ch.Table.Name != t.Name || ch.Table.Family != t.Family {
				continue
			}
			rules, err := f.conn.GetRules(t, ch)
			if err != nil {
				return nil, classify(fmt.Sprintf("reading rules of table %s chain %s", ot, ch.Name), err)
			}
			input := ch.Hooknum != nil && *ch.Hooknum == *nftables.ChainHookInput && ch.Type == nftables.ChainTypeFilter
			for _, r := range rules {
				for _, m := range mentionsOf(r.Exprs, sets) {
					m.Chain, m.InputHook = ch.Name, input
					ot.Mentions = append(ot.Mentions, m)
				}
			}
		}
		out = append(out, ot)
	}
	return out, nil
}

// portSets reads the elements of every set in t keyed by a port.
func (f *Firewall) portSets(t *nftables.Table) (map[string][]portRange, error) {
	sets, err := f.conn.GetSets(t)
	if err != nil {
		return nil, classify("listing sets of table "+t.Name, err)
	}
	out := map[string][]portRange{}
	for _, s := range sets {
		if s.KeyType.Bytes != 2 || s.Concatenation || s.IsMap {
			continue
		}
		elems, err := f.conn.GetSetElements(s)
		if err != nil {
			return nil, classify("reading set "+s.Name+" of table "+t.Name, err)
		}
		keys := make([]intervalKey, len(elems))
		for i, e := range elems {
			keys[i] = intervalKey{e.Key, e.IntervalEnd}
		}
		out[s.Name] = portRangesFromElements(keys, s.Interval)
	}
	return out, nil
}

// familyNames holds the name nft gives each table family.
var familyNames = map[nftables.TableFamily]string{
	nftables.TableFamilyINet:   "inet",
	nftables.TableFamilyIPv4:   "ip",
	nftables.TableFamilyIPv6:   "ip6",
	nftables.TableFamilyARP:    "arp",
	nftables.TableFamilyBridge: "bridge",
	nftables.TableFamilyNetdev: "netdev",
}

func familyName(f nftables.TableFamily) string {
	if name, ok := familyNames[f]; ok {
		return name
	}
	return fmt.Sprintf("family%d", f)
}

// portRange is an inclusive range of ports.
type portRange struct{ from, to uint16 }

func (r portRange) contains(p uint16) bool { return r.from <= p && p <= r.to }

// portRangesFromElements decodes a set of ports; an interval set lists
// starts and exclusive ends as rangesFromElements describes.
func portRangesFromElements(elems []intervalKey, interval bool) []portRange {
	var out []portRange
	if !interval {
		for _, e := range elems {
			if len(e.key) == 2 {
				p := binary.BigEndian.Uint16(e.key)
				out = append(out, portRange{p, p})
			}
		}
		return out
	}
	type point struct {
		port uint16
		end  bool
	}
	var pts []point
	for _, e := range elems {
		if len(e.key) == 2 {
			pts = append(pts, point{binary.BigEndian.Uint16(e.key), e.end})
		}
	}
	slices.SortStableFunc(pts, func(a, b point) int { return int(a.port) - int(b.port) })
	open, start := false, uint16(0)
	for _, p := range pts {
		switch {
		case !p.end && !open:
			open, start = true, p.port
		case p.end && open && p.port > start:
			out = append(out, portRange{start, p.port - 1})
			open = false
		}
	}
	if open {
		out = append(out, portRange{start, 0xffff})
	}
	return out
}

// mentionsOf reads one rule's expressions in order and reports which of
// the advice's ports it matches by destination port. It follows the
// shapes nft and iptables-nft write — a protocol load and compare, a
// destination-port load followed by a compare, range or set lookup, or
// an xtables tcp/udp match — and gives up quietly on anything else.
func mentionsOf(exprs []expr.Any, sets map[string][]portRange) []Mention {
	const (
		regOther = iota
		regL4Proto
		regDport
	)
	regs := map[uint32]int{}
	proto := ""
	var ports []portRange
	matched := false
	verdict := ""
	for _, e := range exprs {
		switch e := e.(type) {
		case *expr.Meta:
			if e.SourceRegister {
				continue
			}
			regs[e.Register] = regOther
			if e.Key == expr.MetaKeyL4PROTO {
				regs[e.Register] = regL4Proto
			}
		case *expr.Payload:
			if e.OperationType != expr.PayloadLoad {
				continue
			}
			regs[e.DestRegister] = regOther
			switch {
			case e.Base == expr.PayloadBaseTransportHeader && e.Offset == 2 && e.Len == 2:
				regs[e.DestRegister] = regDport
			case e.Base == expr.PayloadBaseNetworkHeader && e.Len == 1 && (e.Offset == 9 || e.Offset == 6):
				// The IPv4 protocol or IPv6 next-header field, as
				// iptables-nft writes "-p tcp".
				regs[e.DestRegister] = regL4Proto
			}
		case *expr.Cmp:
			if e.Op != expr.CmpOpEq {
				continue
			}
			switch regs[e.Register] {
			case regL4Proto:
				if len(e.Data) == 1 {
					proto = protoName(e.Data[0])
				}
			case regDport:
				if len(e.Data) == 2 {
					p := binary.BigEndian.Uint16(e.Data)
					ports, matched = append(ports, portRange{p, p}), true
				}
			}
		case *expr.Range:
			if e.Op == expr.CmpOpEq && regs[e.Register] == regDport && len(e.FromData) == 2 && len(e.ToData) == 2 {
				ports = append(ports, portRange{binary.BigEndian.Uint16(e.FromData), binary.BigEndian.Uint16(e.ToData)})
				matched = true
			}
		case *expr.Lookup:
			if !e.Invert && regs[e.SourceRegister] == regDport {
				ports, matched = append(ports, sets[e.SetName]...), true
			}
		case *expr.Match:
			switch info := e.Info.(type) {
			case *xt.Tcp:
				proto = "tcp"
				ports, matched = append(ports, portRange{info.DstPorts[0], info.DstPorts[1]}), true
			case *xt.Udp:
				proto = "udp"
				ports, matched = append(ports, portRange{info.DstPorts[0], info.DstPorts[1]}), true
			}
		case *expr.Verdict:
			switch e.Kind {
			case expr.VerdictDrop:
				verdict = "drop"
			case expr.VerdictAccept:
				verdict = "accept"
			}
		case *expr.Reject:
			verdict = "reject"
		case *expr.Target:
			if e.Name == "REJECT" {
				verdict = "reject"
			}
		}
	}
	if !matched {
		return nil
	}
	var out []Mention
	for _, p := range advicePorts {
		if proto != "" && proto != p.Proto {
			continue
		}
		if slices.ContainsFunc(ports, func(r portRange) bool { return r.contains(p.Number) }) {
			out = append(out, Mention{Proto: p.Proto, Port: p.Number, Verdict: verdict})
		}
	}
	return out
}

func protoName(p byte) string {
	switch p {
	case unix.IPPROTO_TCP:
		return "tcp"
	case unix.IPPROTO_UDP:
		return "udp"
	}
	return "other"
}
