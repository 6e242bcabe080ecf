// Package firewall turns the old advice against messenger spam — block
// inbound UDP 135, 137, 138 and TCP 135, 139, and TCP 445 unless the host
// is a member of an Active Directory domain — into an nftables table that
// belongs to this program alone.
//
// The table is described by a Ruleset, a plain value built from Options
// without touching the kernel, so what will be installed can be shown,
// tested and compared. Apply, Remove and Read move that description in
// and out of the kernel over netlink; Apply does it in one batch, which
// nftables commits as a transaction, so a failure leaves the previous
// state untouched.
//
// What the table does, in order, in a chain on the input hook:
//
//   - traffic arriving on the loopback interface is left alone, because
//     the daemon's own command-line verbs and local tools speak to it there
//     and nothing on lo comes from another machine;
//   - replies to connections and datagrams this host started (conntrack
//     established or related) are left alone, so that a WINS server
//     answering our registration on UDP 137 still gets through;
//   - sources in the allowed networks are left alone;
//   - everything else to the advice's ports is dropped and counted.
//
// The chain's policy is accept and it touches no other port: it adds a
// drop and takes nothing away from other tables, since a drop in any base
// chain is final while an accept in ours only ends our chain.
package firewall

import (
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Names of the kernel objects. The table is ours alone; nothing else in
// the ruleset is ever touched.
const (
	TableName = "messenger"
	// Family is the nftables family of the table: inet covers IPv4 and
	// IPv6 with one chain.
	Family    = "inet"
	ChainName = "input"
	// Priority runs our chain just before the usual filter chains
	// (priority 0). Order does not change the outcome — a drop anywhere is
	// final — but dropping early spares the others the work.
	Priority = -10

	setAllow4   = "allow4"
	setAllow6   = "allow6"
	setUDPPorts = "udp_ports"
	setTCPPorts = "tcp_ports"
)

// Port is one port of the advice.
type Port struct {
	Proto   string `json:"proto"` // "tcp" or "udp"
	Number  uint16 `json:"port"`
	Service string `json:"service"`
}

func (p Port) String() string { return p.Proto + "/" + strconv.Itoa(int(p.Number)) }

// portSMBDirect is the one port a domain member must keep open: Active
// Directory clients reach their domain controllers' SYSVOL, group policy
// and Netlogon over it.
const portSMBDirect = 445

// advicePorts is the classic list, UDP first as the articles gave it.
var advicePorts = []Port{
	{"udp", 135, "DCE/RPC NetrSendMessage, the messenger-spam vector"},
	{"udp", 137, "NetBIOS name service"},
	{"udp", 138, `NetBIOS datagram service (\MAILSLOT\MESSNGR)`},
	{"tcp", 135, "DCE/RPC endpoint mapper"},
	{"tcp", 139, "NetBIOS session service (SMB messages and file shares)"},
	{"tcp", portSMBDirect, "SMB over TCP (file shares; domain members need it)"},
}

// AdvicePorts returns every port of the advice, whether a given Ruleset
// blocks it or not.
func AdvicePorts() []Port { return slices.Clone(advicePorts) }

// Options are what the user asks for.
type Options struct {
	// Allow lists the source networks that keep reaching the ports.
	Allow []netip.Prefix
	// DomainMember keeps TCP 445 open, which Active Directory needs.
	DomainMember bool
	// Extra are more ports to close the same way: the ones the daemon is
	// configured to listen on besides the advice's (a test smb_port,
	// rpc.extra_ports), and --port.
	Extra []Port
}

// ParsePort reads PROTO/N, as --port takes it: udp/1026, tcp/1139.
func ParsePort(s string) (Port, error) {
	proto, num, ok := strings.Cut(strings.ToLower(s), "/")
	n, err := strconv.Atoi(num)
	if !ok || (proto != "udp" && proto != "tcp") || err != nil || n < 1 || n > 65535 {
		return Port{}, fmt.Errorf("%w: port %q is not PROTO/N, like udp/1026 or tcp/1139", ErrBadOption, s)
	}
	return Port{Proto: proto, Number: uint16(n), Service: "configured"}, nil
}

// Ruleset is the description of our table: which ports it closes and to
// whom they stay open. Built by Build, or read back from the kernel.
type Ruleset struct {
	// Allow is canonical: masked, overlapping and adjacent networks
	// merged, sorted, IPv4 before IPv6. Two Rulesets that behave the same
	// compare equal.
	Allow    []netip.Prefix `json:"allow"`
	UDPPorts []uint16       `json:"udp_ports"`
	TCPPorts []uint16       `json:"tcp_ports"`
}

// ErrBadOption marks options that cannot be turned into a ruleset.
var ErrBadOption = errors.New("bad firewall option")

// Build turns options into the table to install.
func Build(o Options) (Ruleset, error) {
	var r Ruleset
	for _, p := range o.Allow {
		if !p.IsValid() {
			return Ruleset{}, fmt.Errorf("%w: allowed network %v is not a network", ErrBadOption, p)
		}
		if p.Addr().Is4In6() {
			return Ruleset{}, fmt.Errorf("%w: allowed network %v is an IPv4-mapped IPv6 network; give it as IPv4", ErrBadOption, p)
		}
	}
	r.Allow = canonicalPrefixes(o.Allow)
	for _, p := range advicePorts {
		if o.DomainMember && p.Proto == "tcp" && p.Number == portSMBDirect {
			continue
		}
		if p.Proto == "udp" {
			r.UDPPorts = append(r.UDPPorts, p.Number)
		} else {
			r.TCPPorts = append(r.TCPPorts, p.Number)
		}
	}
	for _, p := range o.Extra {
		switch {
		case p.Number == 0:
			return Ruleset{}, fmt.Errorf("%w: port 0", ErrBadOption)
		case p.Proto == "udp":
			r.UDPPorts = append(r.UDPPorts, p.Number)
		case p.Proto == "tcp":
			r.TCPPorts = append(r.TCPPorts, p.Number)
		default:
			return Ruleset{}, fmt.Errorf("%w: protocol %q of port %d is not udp or tcp", ErrBadOption, p.Proto, p.Number)
		}
	}
	// Sorted and without repeats: the kernel's sets hold each port once,
	// and Equal compares with what it reads back.
	slices.Sort(r.UDPPorts)
	slices.Sort(r.TCPPorts)
	r.UDPPorts = slices.Compact(r.UDPPorts)
	r.TCPPorts = slices.Compact(r.TCPPorts)
	return r, nil
}

// Blocks reports whether the ruleset drops traffic to proto/port from
// networks it does not allow.
func (r Ruleset) Blocks(proto string, port uint16) bool {
	switch proto {
	case "udp":
		return slices.Contains(r.UDPPorts, port)
	case "tcp":
		return slices.Contains(r.TCPPorts, port)
	}
	return false
}

// DomainMember reports whether TCP 445 is left open.
func (r Ruleset) DomainMember() bool { return !slices.Contains(r.TCPPorts, portSMBDirect) }

// Blocked returns the advice's ports this ruleset closes, in the advice's order.
func (r Ruleset) Blocked() []Port {
	var out []Port
	for _, p := range advicePorts {
		if r.Blocks(p.Proto, p.Number) {
			out = append(out, p)
		}
	}
	return out
}

// Extra returns the ports this ruleset closes besides the advice's.
func (r Ruleset) Extra() []Port {
	var out []Port
	for _, l := range []struct {
		proto string
		ports []uint16
	}{{"udp", r.UDPPorts}, {"tcp", r.TCPPorts}} {
		for _, n := range l.ports {
			if !slices.ContainsFunc(advicePorts, func(p Port) bool { return p.Proto == l.proto && p.Number == n }) {
				out = append(out, Port{Proto: l.proto, Number: n, Service: "configured"})
			}
		}
	}
	return out
}

// Open returns the advice's ports this ruleset leaves open.
func (r Ruleset) Open() []Port {
	var out []Port
	for _, p := range advicePorts {
		if !r.Blocks(p.Proto, p.Number) {
			out = append(out, p)
		}
	}
	return out
}

// Equal reports whether two rulesets install the same table.
func (r Ruleset) Equal(o Ruleset) bool {
	return slices.Equal(r.Allow, o.Allow) && slices.Equal(r.UDPPorts, o.UDPPorts) && slices.Equal(r.TCPPorts, o.TCPPorts)
}

func (r Ruleset) allowOf(is4 bool) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range r.Allow {
		if p.Addr().Is4() == is4 {
			out = append(out, p)
		}
	}
	return out
}

// String renders the ruleset in nft's own syntax, as `nft list table inet
// messenger` would show it; `nft -f` accepts it, which makes --dry-run
// output something an administrator can read and reuse.
func (r Ruleset) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "table %s %s {\n", Family, TableName)
	writeSet := func(name, typ string, interval bool, elems []string) {
		fmt.Fprintf(&b, "\tset %s {\n\t\ttype %s\n", name, typ)
		if interval {
			b.WriteString("\t\tflags interval\n")
		}
		if len(elems) > 0 {
			fmt.Fprintf(&b, "\t\telements = { %s }\n", strings.Join(elems, ", "))
		}
		b.WriteString("\t}\n\n")
	}
	writeSet(setAllow4, "ipv4_addr", true, prefixStrings(r.allowOf(true)))
	writeSet(setAllow6, "ipv6_addr", true, prefixStrings(r.allowOf(false)))
	writeSet(setUDPPorts, "inet_service", false, portStrings(r.UDPPorts))
	writeSet(setTCPPorts, "inet_service", false, portStrings(r.TCPPorts))
	fmt.Fprintf(&b, "\tchain %s {\n\t\ttype filter hook input priority filter - %d; policy accept;\n", ChainName, -Priority)
	for _, rl := range chainRules {
		fmt.Fprintf(&b, "\t\t%s comment %q\n", rl.nft, commentPrefix+rl.comment)
	}
	b.WriteString("\t}\n}\n")
	return b.String()
}

func prefixStrings(ps []netip.Prefix) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}

func portStrings(ports []uint16) []string {
	out := make([]string, len(ports))
	for i, p := range ports {
		out[i] = strconv.Itoa(int(p))
	}
	return out
}

// LegacyWarning says, in plain words, what stops working for machines
// outside the allowed networks once r is in force.
func LegacyWarning(r Ruleset) string {
	var b strings.Builder
	b.WriteString("What stops working for machines outside the allowed networks:\n")
	b.WriteString("  - Windows 9x/NT/2000 machines and Samba hosts that find this host by its NetBIOS\n")
	b.WriteString("    name (broadcast or WINS) can no longer resolve it, open its file shares, or\n")
	b.WriteString("    send it messages (net send, pop-ups from UPS, print and alert services);\n")
	b.WriteString("  - this host disappears from their Network Neighborhood, and `net view` and\n")
	b.WriteString("    `nbtstat -A` against it time out;\n")
	if r.Blocks("tcp", portSMBDirect) {
		b.WriteString("  - with TCP 445 closed, modern SMB clients cannot reach its shares either, and\n")
		b.WriteString("    an Active Directory member loses its domain (use --domain-member to keep 445).\n")
	} else {
		b.WriteString("  - TCP 445 stays open (domain member): SMB2/3 clients that find this host by DNS\n")
		b.WriteString("    still reach its shares; only NetBIOS-dependent legacy clients are cut off.\n")
	}
	b.WriteString("Unaffected: loopback, replies to connections this host starts itself, and every\n")
	b.WriteString("port not listed.\n")
	return b.String()
}

// addrRange is an inclusive range of addresses of one family.
type addrRange struct{ from, to netip.Addr }

func prefixRange(p netip.Prefix) addrRange {
	p = p.Masked()
	return addrRange{p.Addr(), lastAddr(p)}
}

// lastAddr is the highest address in p.
func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr()
	if a.Is4() {
		b := a.As4()
		setHostBits(b[:], p.Bits())
		return netip.AddrFrom4(b)
	}
	b := a.As16()
	setHostBits(b[:], p.Bits())
	return netip.AddrFrom16(b)
}

func setHostBits(b []byte, bits int) {
	for i := bits; i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
}

// mergeRanges sorts ranges and joins those that overlap or touch, so that
// the kernel's interval set gets disjoint elements (it refuses overlaps).
func mergeRanges(rs []addrRange) []addrRange {
	rs = slices.Clone(rs)
	slices.SortFunc(rs, func(a, b addrRange) int {
		if c := cmp.Compare(a.from.BitLen(), b.from.BitLen()); c != 0 {
			return c
		}
		return a.from.Compare(b.from)
	})
	var out []addrRange
	for _, r := range rs {
		if n := len(out); n > 0 {
			last := &out[n-1]
			next := last.to.Next()
			if last.to.BitLen() == r.from.BitLen() && (!next.IsValid() || r.from.Compare(next) <= 0) {
				if r.to.Compare(last.to) > 0 {
					last.to = r.to
				}
				continue
			}
		}
		out = append(out, r)
	}
	return out
}

// rangePrefixes covers r with the fewest prefixes.
func rangePrefixes(r addrRange) []netip.Prefix {
	var out []netip.Prefix
	from := r.from
	for {
		bits := from.BitLen()
		for bits > 0 {
			wider := netip.PrefixFrom(from, bits-1)
			if wider.Masked().Addr() != from || lastAddr(wider).Compare(r.to) > 0 {
				break
			}
			bits--
		}
		p := netip.PrefixFrom(from, bits)
		out = append(out, p)
		last := lastAddr(p)
		if last.Compare(r.to) >= 0 {
			return out
		}
		from = last.Next()
	}
}

func canonicalPrefixes(ps []netip.Prefix) []netip.Prefix {
	rs := make([]addrRange, 0, len(ps))
	for _, p := range ps {
		rs = append(rs, prefixRange(p))
	}
	// Never nil, so that "no allowed networks" reads as [] in JSON.
	out := rangesPrefixes(mergeRanges(rs))
	if out == nil {
		out = []netip.Prefix{}
	}
	return out
}

func rangesPrefixes(rs []addrRange) []netip.Prefix {
	var out []netip.Prefix
	for _, r := range rs {
		out = append(out, rangePrefixes(r)...)
	}
	return out
}

// intervalKey is one element of an nftables interval set: a start, or
// with end set the first address past a range.
type intervalKey struct {
	key []byte
	end bool
}

// intervalElements encodes disjoint sorted ranges of one family the way
// nft itself does: a leading "end" at the zero address when the first
// range does not start there, then start and end per range, the end being
// the address just past it and left out for a range that reaches the top
// of the family.
func intervalElements(rs []addrRange, is4 bool) []intervalKey {
	if len(rs) == 0 {
		return nil
	}
	zero := netip.IPv6Unspecified()
	if is4 {
		zero = netip.IPv4Unspecified()
	}
	var out []intervalKey
	if rs[0].from != zero {
		out = append(out, intervalKey{zero.AsSlice(), true})
	}
	for _, r := range rs {
		out = append(out, intervalKey{r.from.AsSlice(), false})
		if next := r.to.Next(); next.IsValid() {
			out = append(out, intervalKey{next.AsSlice(), true})
		}
	}
	return out
}

// rangesFromElements decodes what the kernel lists for an interval set,
// in whatever order it comes: each start runs to just before the next end,
// or to the top of the family. Keys of the wrong length are ignored.
func rangesFromElements(elems []intervalKey, is4 bool) []addrRange {
	size := 16
	top := netip.AddrFrom16([16]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	if is4 {
		size, top = 4, netip.AddrFrom4([4]byte{0xff, 0xff, 0xff, 0xff})
	}
	type point struct {
		addr netip.Addr
		end  bool
	}
	var pts []point
	for _, e := range elems {
		if len(e.key) != size {
			continue
		}
		a, _ := netip.AddrFromSlice(e.key)
		pts = append(pts, point{a, e.end})
	}
	slices.SortStableFunc(pts, func(a, b point) int { return a.addr.Compare(b.addr) })
	var out []addrRange
	var open *netip.Addr
	for _, p := range pts {
		switch {
		case !p.end && open == nil:
			a := p.addr
			open = &a
		case p.end && open != nil && p.addr.Compare(*open) > 0:
			out = append(out, addrRange{*open, p.addr.Prev()})
			open = nil
		}
	}
	if open != nil {
		out = append(out, addrRange{*open, top})
	}
	return out
}
