// Package audit answers the question the old advice left to the reader:
// which of the messenger-spam ports are open on this host, to whom, and
// what to do about it. It reads the listening sockets from /proc, the
// nftables ruleset through internal/firewall, and the daemon's own
// configuration, and gives a verdict and advice per port.
package audit

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/netsend/messenger/internal/config"
	"github.com/netsend/messenger/internal/firewall"
)

// Verdicts, one per port.
const (
	VerdictOpen          = "open to everyone"
	VerdictBlocked       = "blocked by messenger firewall"
	VerdictBlockedExcept = "blocked except allowed networks"
	VerdictNothing       = "nothing listening"
	// VerdictLoopback: something listens, but only on loopback, so no
	// other machine can reach it whatever the firewall says.
	VerdictLoopback = "loopback only"
	// VerdictOtherRules: our table does not cover the port, but another
	// table drops or rejects traffic to it. Read best effort; see
	// firewall.Others.
	VerdictOtherRules = "filtered by other rules"
	// VerdictUnknown: something listens beyond loopback and the ruleset
	// could not be read (usually: not root), so no one can say.
	VerdictUnknown = "unknown (firewall unreadable)"
	// VerdictDaemonPolicy: the messenger daemon listens beyond loopback
	// and no firewall covers the port, but the daemon's own policy takes
	// messages only from some networks (or none). The two sections of
	// the report then say the same thing about the port.
	VerdictDaemonPolicy = "restricted by the daemon's policy"
)

// Report is the whole audit, as `messenger audit --json` prints it.
type Report struct {
	Ports    []PortReport   `json:"ports"`
	Firewall FirewallReport `json:"firewall"`
	Daemon   DaemonReport   `json:"daemon"`
}

// PortReport is one port of the advice.
type PortReport struct {
	Proto     string     `json:"proto"`
	Port      uint16     `json:"port"`
	Service   string     `json:"service"`
	Listeners []Listener `json:"listeners"`
	// Firewall is what our table does to the port: "blocked", "blocked
	// except allowed networks", "not covered" (table present, port left
	// open), "not applied", or "unknown".
	Firewall string `json:"firewall"`
	// OtherRules are rules of other tables that match the port, as
	// "inet filter/input: drop".
	OtherRules []string `json:"other_rules,omitempty"`
	Verdict    string   `json:"verdict"`
	Advice     string   `json:"advice"`
}

// Listener is a socket waiting on a port, and who holds it.
type Listener struct {
	Address string `json:"address"`
	// Scope is "all addresses", "loopback" or "one address".
	Scope    string    `json:"scope"`
	Programs []Program `json:"programs"`
}

// Listener scopes.
const (
	ScopeAll      = "all addresses"
	ScopeLoopback = "loopback"
	ScopeOne      = "one address"
)

// FirewallReport is the state of the ruleset.
type FirewallReport struct {
	// Readable is false when the ruleset could not be read; Error says why.
	Readable     bool     `json:"readable"`
	Error        string   `json:"error,omitempty"`
	Installed    bool     `json:"installed"`
	Allow        []string `json:"allow"`
	DomainMember bool     `json:"domain_member"`
	// OtherTables names every table that is not ours ("inet filter"),
	// whether or not its rules mention the ports.
	OtherTables []string `json:"other_tables"`
}

// DaemonReport is what the messenger daemon would expose, from its
// configuration.
type DaemonReport struct {
	Error      string            `json:"error,omitempty"`
	Transports []TransportReport `json:"transports"`
}

// TransportReport is one of the daemon's network listeners.
type TransportReport struct {
	Name    string `json:"name"`    // "smb", "nbns", "dgram", "rpc"
	Setting string `json:"setting"` // the configuration key of its port
	Proto   string `json:"proto"`
	Port    int    `json:"port"`
	Bind    string `json:"bind"` // "" for all addresses
	// Listening: a socket is open on the port now (the daemon, or
	// whatever else holds it; see the port's programs).
	Listening bool `json:"listening"`
	// Reach is who can send to it: "loopback only", "reachable from every
	// network your routing reaches", or "reachable from networks that
	// route to <address>".
	Reach string `json:"reach"`
	// Policy is the daemon's own source restriction, if any.
	Policy string `json:"policy,omitempty"`
	// Exposed: reachable from networks neither the policy nor the
	// messenger firewall restricts.
	Exposed bool   `json:"exposed"`
	Advice  string `json:"advice"`
}

// Ruleset is what the audit needs from nftables; *firewall.Firewall has it.
type Ruleset interface {
	Read() (firewall.Status, error)
	Others() ([]firewall.OtherTable, error)
}

// Options say where to look.
type Options struct {
	// ProcRoot is /proc; tests point it elsewhere.
	ProcRoot string
	// Ruleset reads nftables; nil with RulesetErr when it could not be
	// opened.
	Ruleset    Ruleset
	RulesetErr error
	// Config is the daemon's configuration; nil with ConfigErr when it
	// could not be loaded.
	Config    *config.Config
	ConfigErr error
}

// Run performs the audit. It fails only when the sockets cannot be read;
// an unreadable ruleset or configuration is reported inside the Report.
func Run(o Options) (Report, error) {
	if o.ProcRoot == "" {
		o.ProcRoot = "/proc"
	}
	socks, err := readSockets(o.ProcRoot)
	if err != nil {
		return Report{}, err
	}
	owners := socketOwners(o.ProcRoot)

	var rep Report
	fw, status, others := readRuleset(o)
	rep.Firewall = fw
	rep.Daemon = daemonExposure(o, socks, fw, status)
	for _, p := range firewall.AdvicePorts() {
		r := judgePort(p, listenersOn(socks, owners, p.Proto, p.Number), fw, status, others)
		rep.Ports = append(rep.Ports, withDaemonPolicy(r, rep.Daemon))
	}
	return rep, nil
}

func readSockets(procRoot string) ([]Socket, error) {
	var all []Socket
	for _, f := range []struct{ file, proto string }{
		{"tcp", "tcp"}, {"tcp6", "tcp"}, {"udp", "udp"}, {"udp6", "udp"},
	} {
		path := filepath.Join(procRoot, "net", f.file)
		data, err := os.ReadFile(path)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) && strings.HasSuffix(f.file, "6") {
				continue // IPv6 is off on this host
			}
			return nil, fmt.Errorf("reading listeners: %w", err)
		}
		socks, err := ParseProcNet(data, f.proto)
		if err != nil {
			return nil, err
		}
		all = append(all, socks...)
	}
	return all, nil
}

func readRuleset(o Options) (FirewallReport, firewall.Status, []firewall.OtherTable) {
	fw := FirewallReport{Allow: []string{}, OtherTables: []string{}}
	if o.Ruleset == nil {
		if o.RulesetErr != nil {
			fw.Error = o.RulesetErr.Error()
		} else {
			fw.Error = "no ruleset reader"
		}
		return fw, firewall.Status{}, nil
	}
	st, err := o.Ruleset.Read()
	if err != nil {
		fw.Error = err.Error()
		return fw, firewall.Status{}, nil
	}
	fw.Readable = true
	fw.Installed = st.Installed
	if st.Installed {
		for _, p := range st.Ruleset.Allow {
			fw.Allow = append(fw.Allow, p.String())
		}
		fw.DomainMember = st.Ruleset.DomainMember()
	}
	others, err := o.Ruleset.Others()
	if err != nil {
		// Our own table was readable; others are a best-effort extra.
		fw.Error = "reading other tables: " + err.Error()
		return fw, st, nil
	}
	for _, t := range others {
		fw.OtherTables = append(fw.OtherTables, t.String())
	}
	return fw, st, others
}

func listenersOn(socks []Socket, owners map[uint64][]Program, proto string, port uint16) []Listener {
	out := []Listener{}
	for _, s := range socks {
		if s.Proto != proto || s.Local.Port() != port || !s.Listening() {
			continue
		}
		progs := owners[s.Inode]
		if progs == nil {
			progs = []Program{}
		}
		out = append(out, Listener{Address: s.Local.String(), Scope: scopeOf(s.Local.Addr()), Programs: progs})
	}
	return out
}

func scopeOf(a netip.Addr) string {
	a = a.Unmap()
	switch {
	case a.IsUnspecified():
		return ScopeAll
	case a.IsLoopback():
		return ScopeLoopback
	}
	return ScopeOne
}

// judgePort gives one port its verdict and advice.
func judgePort(p firewall.Port, ls []Listener, fw FirewallReport, st firewall.Status, others []firewall.OtherTable) PortReport {
	r := PortReport{Proto: p.Proto, Port: p.Number, Service: p.Service, Listeners: ls}
	ours := st.Installed && st.Ruleset.Blocks(p.Proto, p.Number)
	switch {
	case !fw.Readable:
		r.Firewall = "unknown"
	case ours && len(st.Ruleset.Allow) == 0:
		r.Firewall = "blocked"
	case ours:
		r.Firewall = "blocked except allowed networks"
	case st.Installed:
		r.Firewall = "not covered"
	default:
		r.Firewall = "not applied"
	}
	filtered := false
	for _, t := range others {
		for _, m := range t.Mentions {
			if m.Proto != p.Proto || m.Port != p.Number {
				continue
			}
			verdict := m.Verdict
			if verdict == "" {
				verdict = "other"
			}
			r.OtherRules = append(r.OtherRules, fmt.Sprintf("%s/%s: %s", t, m.Chain, verdict))
			if m.InputHook && (m.Verdict == "drop" || m.Verdict == "reject") {
				filtered = true
			}
		}
	}
	name := strings.ToUpper(p.Proto) + " " + fmt.Sprint(p.Number)
	applyHint, domainNote := "messenger firewall apply --allow-local", ""
	if p.Proto == "tcp" && p.Number == 445 {
		domainNote = " An Active Directory member needs 445: add --domain-member to leave it open."
	}
	exposed := slices.ContainsFunc(ls, func(l Listener) bool { return l.Scope != ScopeLoopback })
	switch {
	case len(ls) == 0:
		r.Verdict = VerdictNothing
		if ours {
			r.Advice = "Nothing listens on " + name + ", and the messenger firewall would drop it anyway."
		} else {
			r.Advice = "Nothing listens on " + name + " now; `" + applyHint + "` keeps a program that starts listening later from being exposed."
		}
	case ours && len(st.Ruleset.Allow) == 0:
		r.Verdict = VerdictBlocked
		r.Advice = name + " is dropped for every other machine; only this host (loopback) reaches " + programList(ls) + "."
	case ours:
		r.Verdict = VerdictBlockedExcept
		r.Advice = name + " is reachable only from " + strings.Join(fw.Allow, ", ") + "; check that those networks are ones you trust."
	case !exposed:
		r.Verdict = VerdictLoopback
		r.Advice = programList(ls) + " listens on " + name + " on loopback only; no other machine reaches it."
	case !fw.Readable:
		r.Verdict = VerdictUnknown
		r.Advice = programList(ls) + " listens on " + name + " beyond loopback, and the ruleset could not be read (" + fw.Error + "); run the audit as root."
	case filtered:
		r.Verdict = VerdictOtherRules
		r.Advice = "Rules in " + strings.Join(r.OtherRules, "; ") + " drop some traffic to " + name +
			"; messenger audit reads them only roughly. `" + applyHint + "` makes the advice certain." + domainNote
	default:
		r.Verdict = VerdictOpen
		r.Advice = programList(ls) + " listens on " + name + " and every network your routing reaches can send to it: `" + applyHint + "`, or --allow CIDR for the networks that need it." + domainNote
	}
	return r
}

// withDaemonPolicy gives a port the daemon's verdict when the daemon is
// what listens there, nothing else guards it, and its configuration
// restricts the sources: "open to everyone" would contradict the
// daemon section, which knows better. A listener whose program cannot
// be seen (not root) is taken for the daemon when the daemon is
// configured on that port.
func withDaemonPolicy(r PortReport, d DaemonReport) PortReport {
	if r.Verdict != VerdictOpen && r.Verdict != VerdictUnknown {
		return r
	}
	for _, l := range r.Listeners {
		for _, p := range l.Programs {
			if p.Name != "messenger" {
				return r
			}
		}
	}
	for _, t := range d.Transports {
		if t.Proto == r.Proto && t.Port == int(r.Port) && !t.Exposed && t.Policy != "" {
			r.Verdict = VerdictDaemonPolicy
			r.Advice = t.Advice
			return r
		}
	}
	return r
}

func programList(ls []Listener) string {
	var names []string
	for _, l := range ls {
		for _, p := range l.Programs {
			if !slices.Contains(names, p.Name) {
				names = append(names, p.Name)
			}
		}
	}
	if len(names) == 0 {
		return "a program (not identified; run as root to see which)"
	}
	return strings.Join(names, ", ")
}

// daemonExposure says, transport by transport, whom the daemon's
// configured listeners reach.
func daemonExposure(o Options, socks []Socket, fw FirewallReport, st firewall.Status) DaemonReport {
	d := DaemonReport{Transports: []TransportReport{}}
	if o.Config == nil {
		if o.ConfigErr != nil {
			d.Error = o.ConfigErr.Error()
		} else {
			d.Error = "no configuration"
		}
		return d
	}
	c := o.Config
	type transport struct {
		name, setting, proto string
		port                 int
		policy               []string
		policyKey            string
		// policyWhat is what the policy guards, for the advice.
		policyWhat string
		// off is the policy key that switches the transport off, when it
		// does: its socket is open but every message is refused.
		off string
	}
	const rpcWhat = "takes NetrSendMessage requests only from"
	smbAllow, smbOff := transportPolicy(c, "smb")
	dgramAllow, dgramOff := transportPolicy(c, "mailslot")
	rpcAllow, rpcOff := c.RPC.Allow, ""
	if _, off := transportPolicy(c, "rpc"); off != "" {
		rpcOff = off
	}
	const msgWhat = "takes messages only from"
	ts := []transport{
		{"smb", "smb_port", "tcp", c.SMBPort, smbAllow, "policy.transports.smb.allow", msgWhat, smbOff},
		// Name queries are answered to anyone, as the protocol wants; the
		// name list (node status) was the spammers' reconnaissance.
		{"nbns", "nbns_port", "udp", c.NBNSPort, c.NBNS.NodeStatusAllow, "nbns.node_status_allow", "lists its names (node status) only to", ""},
		{"dgram", "dgram_port", "udp", c.DgramPort, dgramAllow, "policy.transports.mailslot.allow", msgWhat, dgramOff},
		{"rpc", "rpc_port", "udp", c.RPCPort, rpcAllow, "rpc.allow", rpcWhat, rpcOff},
	}
	if c.RPCPort != 0 {
		// The daemon listens on the extra ports only with rpc_port on.
		for _, p := range c.RPC.ExtraPorts {
			ts = append(ts, transport{"rpc", "rpc.extra_ports", "udp", p, rpcAllow, "rpc.allow", rpcWhat, rpcOff})
		}
	}
	bind, bindErr := netip.ParseAddr(c.Bind)
	for _, t := range ts {
		if t.port <= 0 || t.port > 65535 {
			continue
		}
		tr := TransportReport{Name: t.name, Setting: t.setting, Proto: t.proto, Port: t.port, Bind: c.Bind}
		tr.Listening = slices.ContainsFunc(socks, func(s Socket) bool {
			return s.Proto == t.proto && int(s.Local.Port()) == t.port && s.Listening()
		})
		if len(t.policy) > 0 {
			tr.Policy = t.policyKey + " = " + strings.Join(t.policy, ", ")
		}
		if t.off != "" {
			tr.Policy = t.off + " = false"
		}
		covered := st.Installed && st.Ruleset.Blocks(t.proto, uint16(t.port))
		switch {
		case c.Bind != "" && bindErr == nil && bind.Unmap().IsLoopback():
			tr.Reach = "loopback only"
			tr.Advice = "Bound to loopback: only this host reaches it."
		case covered:
			tr.Reach = reachOf(c.Bind)
			if len(st.Ruleset.Allow) == 0 {
				tr.Advice = "The messenger firewall drops it for every other machine."
			} else {
				tr.Advice = "The messenger firewall lets only " + strings.Join(fw.Allow, ", ") + " reach it."
			}
		case t.off != "":
			tr.Reach = reachOf(c.Bind)
			tr.Advice = "The socket is open, but " + t.off + " = false: the daemon refuses every message on it; " +
				"set " + t.setting + " = 0 to close the port as well."
		case restricts(t.policy):
			tr.Reach = reachOf(c.Bind)
			tr.Advice = "The listener is " + tr.Reach + ", but the daemon " + t.policyWhat + " the sources " + t.policyKey + " allows; " +
				"`messenger firewall apply --allow-local` also keeps the rest from reaching the socket."
		default:
			tr.Reach = reachOf(c.Bind)
			tr.Exposed = true
			tr.Advice = "Reachable from " + strings.TrimPrefix(tr.Reach, "reachable from ") + " and nothing restricts the sources: " +
				"`messenger firewall apply --allow-local`, or set bind to one address."
			if t.port != 139 && t.port != 138 && t.port != 137 && t.port != 135 {
				tr.Advice = "Reachable from " + strings.TrimPrefix(tr.Reach, "reachable from ") + " on a port the messenger firewall does not cover now: " +
					"`messenger firewall apply --allow-local` closes the configured ports too, or set bind to a trusted address."
			}
		}
		d.Transports = append(d.Transports, tr)
	}
	return d
}

// transportPolicy is a transport's source list from [policy.transports]
// as written ("local", CIDRs), and the key that switches it off ("" when
// it is on).
func transportPolicy(c *config.Config, name string) (allow []string, off string) {
	ts, ok := c.Policy.Transports[name]
	if !ok {
		return nil, ""
	}
	if ts.Enabled != nil && !*ts.Enabled {
		return nil, "policy.transports." + name + ".enabled"
	}
	for _, n := range ts.Allow {
		allow = append(allow, n.String())
	}
	return allow, ""
}

// restricts reports whether a source list ("local" or CIDRs) leaves some
// of the world out.
func restricts(allow []string) bool {
	if len(allow) == 0 {
		return false
	}
	for _, a := range allow {
		if p, err := netip.ParsePrefix(a); err == nil && p.Bits() == 0 {
			return false
		}
	}
	return true
}

func reachOf(bind string) string {
	if bind == "" {
		return "reachable from every network your routing reaches"
	}
	return "reachable from networks that route to " + bind
}
