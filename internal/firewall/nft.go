package firewall

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"syscall"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"golang.org/x/sys/unix"
)

// Errors a caller tells apart.
var (
	// ErrPermission: the kernel refused; nftables needs CAP_NET_ADMIN for
	// reading as well as for changing.
	ErrPermission = errors.New("nftables needs root or CAP_NET_ADMIN")
	// ErrUnavailable: this kernel (or network namespace) has no nftables.
	ErrUnavailable = errors.New("nftables is not available (kernel without nf_tables/nfnetlink)")
	// ErrConflict: a table of our name exists that we did not write.
	ErrConflict = errors.New("a table of that name exists that messenger did not create")
)

// commentPrefix marks every rule we write. A table named like ours whose
// rules do not all carry it belongs to someone else and is left alone.
const commentPrefix = "messenger firewall: "

type ruleKind int

const (
	ruleLoopback ruleKind = iota
	ruleEstablished
	ruleAllow4
	ruleAllow6
	ruleDropUDP
	ruleDropTCP
)

// chainRules is our chain, in order; the nft text is what String shows.
var chainRules = []struct {
	kind    ruleKind
	nft     string
	comment string
}{
	{ruleLoopback, `iifname "lo" accept`, "loopback stays open"},
	{ruleEstablished, `ct state established,related accept`, "replies to this host's own traffic"},
	{ruleAllow4, `ip saddr @allow4 accept`, "allowed IPv4 networks"},
	{ruleAllow6, `ip6 saddr @allow6 accept`, "allowed IPv6 networks"},
	{ruleDropUDP, `udp dport @udp_ports counter drop`, "NetBIOS and RPC over UDP from elsewhere"},
	{ruleDropTCP, `tcp dport @tcp_ports counter drop`, "NetBIOS, RPC and SMB over TCP from elsewhere"},
}

// Firewall is a connection to the kernel's nftables.
type Firewall struct {
	conn *nftables.Conn
}

// Open connects to nftables in the caller's network namespace.
func Open() (*Firewall, error) {
	c, err := nftables.New(nftables.AsLasting())
	if err != nil {
		return nil, classify("opening nftables netlink socket", err)
	}
	return &Firewall{conn: c}, nil
}

// Close releases the netlink socket.
func (f *Firewall) Close() error { return f.conn.CloseLasting() }

func ourTable() *nftables.Table {
	return &nftables.Table{Name: TableName, Family: nftables.TableFamilyINet}
}

// Apply installs r as our table, replacing any earlier version of it. It
// is one netlink batch — create the table if missing, delete it, create it
// anew with its sets, chain and rules — which the kernel commits whole or
// not at all, so applying twice gives the same table and a failure leaves
// what was there before.
func (f *Firewall) Apply(r Ruleset) error {
	if _, err := f.ours(); err != nil {
		return err
	}
	if err := queueRuleset(f.conn, r); err != nil {
		return err
	}
	if err := f.conn.Flush(); err != nil {
		return classify("applying table "+Family+" "+TableName, err)
	}
	return nil
}

// queueRuleset adds the batch that installs r to c without sending it.
func queueRuleset(c *nftables.Conn, r Ruleset) error {
	t := ourTable()
	// Adding before deleting makes the delete succeed whether or not the
	// table was there, without a check that could race.
	c.AddTable(t)
	c.DelTable(t)
	c.AddTable(t)

	comment := commentPrefix + "managed by `messenger firewall`; remove with `messenger firewall remove`"
	allow4 := &nftables.Set{Table: t, Name: setAllow4, KeyType: nftables.TypeIPAddr, KeyByteOrder: binaryutil.BigEndian, Interval: true, Comment: comment}
	allow6 := &nftables.Set{Table: t, Name: setAllow6, KeyType: nftables.TypeIP6Addr, KeyByteOrder: binaryutil.BigEndian, Interval: true, Comment: comment}
	udp := &nftables.Set{Table: t, Name: setUDPPorts, KeyType: nftables.TypeInetService, KeyByteOrder: binaryutil.BigEndian, Comment: comment}
	tcp := &nftables.Set{Table: t, Name: setTCPPorts, KeyType: nftables.TypeInetService, KeyByteOrder: binaryutil.BigEndian, Comment: comment}
	for _, s := range []struct {
		set   *nftables.Set
		elems []nftables.SetElement
	}{
		{allow4, allowElements(r, true)},
		{allow6, allowElements(r, false)},
		{udp, portElements(r.UDPPorts)},
		{tcp, portElements(r.TCPPorts)},
	} {
		if err := c.AddSet(s.set, s.elems); err != nil {
			return fmt.Errorf("building set %s: %w", s.set.Name, err)
		}
	}

	policy := nftables.ChainPolicyAccept
	ch := c.AddChain(&nftables.Chain{
		Name:     ChainName,
		Table:    t,
		Type:     nftables.ChainTypeFilter,
		Hooknum:  nftables.ChainHookInput,
		Priority: nftables.ChainPriorityRef(Priority),
		Policy:   &policy,
	})
	sets := map[ruleKind]*nftables.Set{ruleAllow4: allow4, ruleAllow6: allow6, ruleDropUDP: udp, ruleDropTCP: tcp}
	for _, rl := range chainRules {
		c.AddRule(&nftables.Rule{
			Table:    t,
			Chain:    ch,
			Exprs:    ruleExprs(rl.kind, sets[rl.kind]),
			UserData: userdata.AppendString(nil, userdata.TypeComment, commentPrefix+rl.comment),
		})
	}
	return nil
}

func allowElements(r Ruleset, is4 bool) []nftables.SetElement {
	var rs []addrRange
	for _, p := range r.allowOf(is4) {
		rs = append(rs, prefixRange(p))
	}
	var out []nftables.SetElement
	for _, k := range intervalElements(mergeRanges(rs), is4) {
		out = append(out, nftables.SetElement{Key: k.key, IntervalEnd: k.end})
	}
	return out
}

func portElements(ports []uint16) []nftables.SetElement {
	out := make([]nftables.SetElement, len(ports))
	for i, p := range ports {
		out[i] = nftables.SetElement{Key: binaryutil.BigEndian.PutUint16(p)}
	}
	return out
}

// ruleExprs is the kernel's form of each rule of chainRules.
func ruleExprs(k ruleKind, set *nftables.Set) []expr.Any {
	lookup := func() *expr.Lookup {
		return &expr.Lookup{SourceRegister: 1, SetName: set.Name, SetID: set.ID}
	}
	accept := &expr.Verdict{Kind: expr.VerdictAccept}
	drop := &expr.Verdict{Kind: expr.VerdictDrop}
	switch k {
	case ruleLoopback:
		return []expr.Any{
			&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ifname("lo")},
			accept,
		}
	case ruleEstablished:
		return []expr.Any{
			&expr.Ct{Key: expr.CtKeySTATE, Register: 1},
			&expr.Bitwise{
				SourceRegister: 1, DestRegister: 1, Len: 4,
				Mask: binaryutil.NativeEndian.PutUint32(expr.CtStateBitESTABLISHED | expr.CtStateBitRELATED),
				Xor:  binaryutil.NativeEndian.PutUint32(0),
			},
			&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(0)},
			accept,
		}
	case ruleAllow4:
		return []expr.Any{
			&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.NFPROTO_IPV4}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
			lookup(),
			accept,
		}
	case ruleAllow6:
		return []expr.Any{
			&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.NFPROTO_IPV6}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 8, Len: 16},
			lookup(),
			accept,
		}
	case ruleDropUDP, ruleDropTCP:
		proto := byte(unix.IPPROTO_UDP)
		if k == ruleDropTCP {
			proto = unix.IPPROTO_TCP
		}
		return []expr.Any{
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
			lookup(),
			&expr.Counter{},
			drop,
		}
	}
	return nil
}

// ifname pads an interface name to IFNAMSIZ as the kernel compares it.
func ifname(n string) []byte {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, n)
	return b
}

// Remove deletes our table and nothing else. It reports whether there was
// one; removing twice is not an error.
func (f *Firewall) Remove() (bool, error) {
	present, err := f.ours()
	if err != nil || !present {
		return false, err
	}
	f.conn.DelTable(ourTable())
	if err := f.conn.Flush(); err != nil {
		if errors.Is(err, unix.ENOENT) {
			// Someone removed it between our look and our delete.
			return false, nil
		}
		return false, classify("removing table "+Family+" "+TableName, err)
	}
	return true, nil
}

// Counter is what one of our drop rules has dropped since it was applied.
type Counter struct {
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
}

// Status is what is in force.
type Status struct {
	// Installed: our table is in the kernel; the rest is only set then.
	Installed bool    `json:"installed"`
	Ruleset   Ruleset `json:"ruleset"`
	// Dropped counts per protocol ("udp", "tcp").
	Dropped map[string]Counter `json:"dropped"`
}

// Read reads our table back from the kernel.
func (f *Firewall) Read() (Status, error) {
	tables, err := f.conn.ListTablesOfFamily(nftables.TableFamilyINet)
	if err != nil {
		return Status{}, classifyList(err)
	}
	if !slices.ContainsFunc(tables, isOurs) {
		return Status{}, nil
	}
	rules, err := f.ourRules()
	if err != nil {
		return Status{}, err
	}
	st := Status{Installed: true, Dropped: map[string]Counter{}}
	for _, rl := range rules {
		comment, _ := userdata.GetString(rl.UserData, userdata.TypeComment)
		for _, want := range chainRules {
			if comment != commentPrefix+want.comment || (want.kind != ruleDropUDP && want.kind != ruleDropTCP) {
				continue
			}
			for _, e := range rl.Exprs {
				if c, ok := e.(*expr.Counter); ok {
					proto := "udp"
					if want.kind == ruleDropTCP {
						proto = "tcp"
					}
					st.Dropped[proto] = Counter{Packets: c.Packets, Bytes: c.Bytes}
				}
			}
		}
	}
	t := ourTable()
	var allow []netip.Prefix
	for _, s := range []struct {
		name string
		is4  bool
	}{{setAllow4, true}, {setAllow6, false}} {
		elems, err := f.setElements(t, s.name)
		if err != nil {
			return Status{}, err
		}
		var keys []intervalKey
		for _, e := range elems {
			keys = append(keys, intervalKey{e.Key, e.IntervalEnd})
		}
		allow = append(allow, rangesPrefixes(rangesFromElements(keys, s.is4))...)
	}
	st.Ruleset.Allow = canonicalPrefixes(allow)
	for _, s := range []struct {
		name string
		dst  *[]uint16
	}{{setUDPPorts, &st.Ruleset.UDPPorts}, {setTCPPorts, &st.Ruleset.TCPPorts}} {
		elems, err := f.setElements(t, s.name)
		if err != nil {
			return Status{}, err
		}
		for _, e := range elems {
			if len(e.Key) == 2 {
				*s.dst = append(*s.dst, binaryutil.BigEndian.Uint16(e.Key))
			}
		}
		slices.Sort(*s.dst)
	}
	return st, nil
}

func (f *Firewall) setElements(t *nftables.Table, name string) ([]nftables.SetElement, error) {
	elems, err := f.conn.GetSetElements(&nftables.Set{Table: t, Name: name})
	if err != nil {
		return nil, classify("reading set "+name+" of table "+Family+" "+TableName, err)
	}
	return elems, nil
}

func isOurs(t *nftables.Table) bool {
	return t.Name == TableName && t.Family == nftables.TableFamilyINet
}

// ours reports whether our table is present, and fails with ErrConflict
// when a table of our name is there that we did not write.
func (f *Firewall) ours() (bool, error) {
	tables, err := f.conn.ListTablesOfFamily(nftables.TableFamilyINet)
	if err != nil {
		return false, classifyList(err)
	}
	if !slices.ContainsFunc(tables, isOurs) {
		return false, nil
	}
	if _, err := f.ourRules(); err != nil {
		return true, err
	}
	return true, nil
}

// ourRules returns the rules of our table after checking that every chain
// and rule in it is one we write.
func (f *Firewall) ourRules() ([]*nftables.Rule, error) {
	t := ourTable()
	chains, err := f.conn.ListChainsOfTableFamily(nftables.TableFamilyINet)
	if err != nil {
		return nil, classify("listing chains", err)
	}
	conflict := func(why string) error {
		return fmt.Errorf("table %s %s: %w (%s); remove or rename it yourself, messenger will not touch it", Family, TableName, ErrConflict, why)
	}
	var rules []*nftables.Rule
	found := false
	for _, ch := range chains {
		if ch.Table == nil || ch.Table.Name != TableName {
			continue
		}
		if ch.Name != ChainName {
			return nil, conflict("it has a chain " + ch.Name)
		}
		found = true
		rs, err := f.conn.GetRules(t, ch)
		if err != nil {
			return nil, classify("reading rules of table "+Family+" "+TableName, err)
		}
		for _, r := range rs {
			c, _ := userdata.GetString(r.UserData, userdata.TypeComment)
			if !strings.HasPrefix(c, commentPrefix) {
				return nil, conflict("it has rules messenger did not write")
			}
		}
		rules = append(rules, rs...)
	}
	if !found {
		return nil, conflict("it has no chain " + ChainName)
	}
	return rules, nil
}

// classifyList classifies the failure of listing tables, the first
// request every verb makes. nfnetlink answers EINVAL to a request for a
// subsystem it does not have, and a well-formed table dump has no other
// reason to be invalid, so there it means nf_tables is missing.
func classifyList(err error) error {
	if errors.Is(err, syscall.EINVAL) {
		return fmt.Errorf("listing nftables tables: %w: %w", ErrUnavailable, err)
	}
	return classify("listing nftables tables", err)
}

// classify turns the kernel's refusals into errors that say what to do.
func classify(op string, err error) error {
	switch {
	case errors.Is(err, os.ErrPermission):
		return fmt.Errorf("%s: %w: %w", op, ErrPermission, err)
	case errors.Is(err, syscall.EPROTONOSUPPORT), errors.Is(err, syscall.EAFNOSUPPORT), errors.Is(err, syscall.EOPNOTSUPP):
		return fmt.Errorf("%s: %w: %w", op, ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}
