package audit

import (
	"encoding/json"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/netsend/messenger/internal/config"
	"github.com/netsend/messenger/internal/firewall"
	"github.com/netsend/messenger/internal/policy"
)

type fakeRuleset struct {
	st     firewall.Status
	others []firewall.OtherTable
	err    error
}

func (f fakeRuleset) Read() (firewall.Status, error)         { return f.st, f.err }
func (f fakeRuleset) Others() ([]firewall.OtherTable, error) { return f.others, nil }

func installed(t *testing.T, o firewall.Options) firewall.Status {
	t.Helper()
	r, err := firewall.Build(o)
	if err != nil {
		t.Fatal(err)
	}
	return firewall.Status{Installed: true, Ruleset: r}
}

// fakeProc lays out a /proc with the sample tables and two processes
// holding some of their sockets.
func fakeProc(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "net"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"tcp", "tcp6", "udp", "udp6"} {
		data, err := os.ReadFile(filepath.Join("testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "net", f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	procs := []struct {
		pid, comm string
		links     []string
	}{
		{"100", "smbd", []string{"socket:[4101]", "socket:[6101]", "socket:[6101]", "/dev/null", "pipe:[99]"}},
		{"200", "nmbd", []string{"socket:[5101]", "socket:[5102]", "socket:[7101]"}},
		{"self", "ignored", []string{"socket:[4101]"}},
	}
	for _, p := range procs {
		fd := filepath.Join(root, p.pid, "fd")
		if err := os.MkdirAll(fd, 0o755); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(root, p.pid, "comm"), []byte(p.comm+"\n"), 0o644)
		for i, l := range p.links {
			if err := os.Symlink(l, filepath.Join(fd, string(rune('0'+i)))); err != nil {
				t.Fatal(err)
			}
		}
	}
	return root
}

func portOf(t *testing.T, rep Report, proto string, port uint16) PortReport {
	t.Helper()
	for _, p := range rep.Ports {
		if p.Proto == proto && p.Port == port {
			return p
		}
	}
	t.Fatalf("no report for %s/%d", proto, port)
	return PortReport{}
}

func TestRunVerdicts(t *testing.T) {
	requireLittleEndian(t)
	proc := fakeProc(t)
	cfg := config.Default()
	tests := []struct {
		name string
		rs   fakeRuleset
		want map[string]string // "tcp/139" -> verdict
	}{
		{"no firewall", fakeRuleset{}, map[string]string{
			"udp/135": VerdictNothing, "udp/137": VerdictOpen, "udp/138": VerdictOpen,
			"tcp/135": VerdictLoopback, "tcp/139": VerdictOpen, "tcp/445": VerdictOpen,
		}},
		{"firewall, no allowed networks", fakeRuleset{st: installed(t, firewall.Options{})}, map[string]string{
			"udp/135": VerdictNothing, "udp/137": VerdictBlocked, "udp/138": VerdictBlocked,
			"tcp/135": VerdictBlocked, "tcp/139": VerdictBlocked, "tcp/445": VerdictBlocked,
		}},
		{"firewall for a domain member with allowed networks", fakeRuleset{st: installed(t, firewall.Options{
			DomainMember: true, Allow: []netip.Prefix{netip.MustParsePrefix("10.99.5.0/24")}})}, map[string]string{
			"udp/137": VerdictBlockedExcept, "tcp/139": VerdictBlockedExcept, "tcp/445": VerdictOpen,
		}},
		{"other rules drop 445", fakeRuleset{others: []firewall.OtherTable{{Family: "inet", Name: "filter", Mentions: []firewall.Mention{
			{Proto: "tcp", Port: 445, Chain: "input", InputHook: true, Verdict: "drop"},
			{Proto: "tcp", Port: 139, Chain: "forward", InputHook: false, Verdict: "drop"},
		}}}}, map[string]string{
			"tcp/445": VerdictOtherRules, "tcp/139": VerdictOpen,
		}},
		{"ruleset unreadable", fakeRuleset{err: firewall.ErrPermission}, map[string]string{
			"udp/135": VerdictNothing, "tcp/135": VerdictLoopback, "tcp/139": VerdictUnknown,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := Run(Options{ProcRoot: proc, Ruleset: tt.rs, Config: &cfg})
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Ports) != 6 {
				t.Fatalf("%d ports, want the advice's 6", len(rep.Ports))
			}
			for k, want := range tt.want {
				proto, port, _ := strings.Cut(k, "/")
				var n uint16
				for _, c := range port {
					n = n*10 + uint16(c-'0')
				}
				p := portOf(t, rep, proto, n)
				if p.Verdict != want {
					t.Errorf("%s: verdict %q, want %q (advice %q)", k, p.Verdict, want, p.Advice)
				}
				if p.Advice == "" {
					t.Errorf("%s: no advice", k)
				}
			}
		})
	}
}

func TestRunListenersAndPrograms(t *testing.T) {
	requireLittleEndian(t)
	cfg := config.Default()
	rep, err := Run(Options{ProcRoot: fakeProc(t), Ruleset: fakeRuleset{}, Config: &cfg})
	if err != nil {
		t.Fatal(err)
	}
	p139 := portOf(t, rep, "tcp", 139)
	// 0.0.0.0:139 (smbd) and [2001:db8::1]:139 (unowned); the connected
	// socket to 10.99.5.2 is not a listener.
	if len(p139.Listeners) != 2 {
		t.Fatalf("tcp/139 listeners %+v", p139.Listeners)
	}
	if l := p139.Listeners[0]; l.Address != "0.0.0.0:139" || l.Scope != ScopeAll || !slices.Equal(l.Programs, []Program{{100, "smbd"}}) {
		t.Errorf("first listener %+v", l)
	}
	if l := p139.Listeners[1]; l.Scope != ScopeOne || len(l.Programs) != 0 {
		t.Errorf("second listener %+v", l)
	}
	p445 := portOf(t, rep, "tcp", 445)
	// 127.0.0.1:445 and [::]:445, the latter held by smbd once though it
	// has two descriptors for it.
	if len(p445.Listeners) != 2 || p445.Listeners[1].Scope != ScopeAll || len(p445.Listeners[1].Programs) != 1 {
		t.Errorf("tcp/445 listeners %+v", p445.Listeners)
	}
	p137 := portOf(t, rep, "udp", 137)
	if len(p137.Listeners) != 1 || p137.Listeners[0].Programs[0].Name != "nmbd" {
		t.Errorf("udp/137 listeners %+v", p137.Listeners)
	}
	if !strings.Contains(p137.Advice, "nmbd") || !strings.Contains(p137.Advice, "messenger firewall apply --allow-local") {
		t.Errorf("udp/137 advice %q", p137.Advice)
	}
	if !strings.Contains(portOf(t, rep, "tcp", 445).Advice, "--domain-member") {
		t.Error("tcp/445 advice does not mention --domain-member")
	}
	// The JSON keeps empty lists as [] so scripts need not test for null.
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "null") {
		t.Errorf("JSON has a null: %s", b)
	}
}

func TestDaemonExposure(t *testing.T) {
	requireLittleEndian(t)
	proc := fakeProc(t)
	transport := func(rep Report, setting string) TransportReport {
		t.Helper()
		for _, tr := range rep.Daemon.Transports {
			if tr.Setting == setting {
				return tr
			}
		}
		t.Fatalf("no transport %s in %+v", setting, rep.Daemon.Transports)
		return TransportReport{}
	}

	// The default policy takes SMB and mailslot messages from local
	// networks only: restricted, not exposed.
	cfg := config.Default()
	rep, _ := Run(Options{ProcRoot: proc, Ruleset: fakeRuleset{}, Config: &cfg})
	if smb := transport(rep, "smb_port"); smb.Exposed || !strings.Contains(smb.Policy, "policy.transports.smb.allow = local") {
		t.Errorf("smb with policy.transports.smb.allow = local: %+v", smb)
	}
	if dg := transport(rep, "dgram_port"); dg.Exposed || !strings.Contains(dg.Policy, "policy.transports.mailslot.allow = local") {
		t.Errorf("dgram with policy.transports.mailslot.allow = local: %+v", dg)
	}
	cfg = openPolicy(t, cfg)
	rep, _ = Run(Options{ProcRoot: proc, Ruleset: fakeRuleset{}, Config: &cfg})
	smb := transport(rep, "smb_port")
	if !smb.Exposed || smb.Reach != "reachable from every network your routing reaches" || !smb.Listening ||
		!strings.Contains(smb.Advice, "messenger firewall apply --allow-local") {
		t.Errorf("smb on all addresses: %+v", smb)
	}
	if rpc := transport(rep, "rpc_port"); rpc.Exposed || !strings.Contains(rpc.Policy, "rpc.allow = local") {
		t.Errorf("rpc with rpc.allow = local should be fine: %+v", rpc)
	}
	if nbns := transport(rep, "nbns_port"); nbns.Exposed {
		t.Errorf("nbns with node_status_allow = local should be fine: %+v", nbns)
	}
	if dg := transport(rep, "dgram_port"); !dg.Exposed {
		t.Errorf("dgram on all addresses should be exposed: %+v", dg)
	}

	// Covered by our firewall: not exposed.
	rep, _ = Run(Options{ProcRoot: proc, Ruleset: fakeRuleset{st: installed(t, firewall.Options{})}, Config: &cfg})
	if smb := transport(rep, "smb_port"); smb.Exposed {
		t.Errorf("smb behind the messenger firewall: %+v", smb)
	}

	// Loopback bind, an open RPC policy, and a test port the firewall
	// does not cover.
	cfg2 := openPolicy(t, config.Default())
	cfg2.SMBPort, cfg2.DgramPort, cfg2.NBNSPort = 1139, 0, 0
	cfg2.RPC.Allow = []string{"0.0.0.0/0"}
	rep, _ = Run(Options{ProcRoot: proc, Ruleset: fakeRuleset{st: installed(t, firewall.Options{})}, Config: &cfg2})
	if smb := transport(rep, "smb_port"); !smb.Exposed || smb.Listening || !strings.Contains(smb.Advice, "does not cover") {
		t.Errorf("smb on 1139: %+v", smb)
	}
	if len(rep.Daemon.Transports) != 2 {
		t.Errorf("ports set to 0 are off, yet reported: %+v", rep.Daemon.Transports)
	}
	if rpc := transport(rep, "rpc_port"); rpc.Exposed {
		t.Errorf("rpc/135 behind our firewall should not be exposed: %+v", rpc)
	}
	cfg2.Bind = "127.0.0.1"
	rep, _ = Run(Options{ProcRoot: proc, Ruleset: fakeRuleset{}, Config: &cfg2})
	if smb := transport(rep, "smb_port"); smb.Exposed || smb.Reach != "loopback only" {
		t.Errorf("smb bound to loopback: %+v", smb)
	}

	rep, _ = Run(Options{ProcRoot: proc, Ruleset: fakeRuleset{}, ConfigErr: errors.New("config: x.toml:3: bad")})
	if !strings.Contains(rep.Daemon.Error, "x.toml:3") {
		t.Errorf("config error not reported: %+v", rep.Daemon)
	}
}

func TestRunWithoutProc(t *testing.T) {
	if _, err := Run(Options{ProcRoot: t.TempDir()}); err == nil {
		t.Error("no error for a /proc without net/tcp")
	}
}

func TestSocketInode(t *testing.T) {
	for link, want := range map[string]uint64{"socket:[12345]": 12345, "socket:[]": 0, "pipe:[1]": 0, "socket:[1": 0, "/dev/null": 0} {
		got, ok := socketInode(link)
		if got != want || ok != (want != 0) {
			t.Errorf("socketInode(%q) = %d, %v", link, got, ok)
		}
	}
}

// openPolicy lets SMB and mailslot messages in from everywhere.
func openPolicy(t *testing.T, c config.Config) config.Config {
	t.Helper()
	all, err := policy.ParseNet("0.0.0.0/0")
	if err != nil {
		t.Fatal(err)
	}
	c.Policy.Transports = map[string]policy.TransportSpec{"smb": {Allow: []policy.Net{all}}, "mailslot": {Allow: []policy.Net{all}}}
	return c
}

// The policy restricting SMB and switching mailslot off is what the
// audit reports, in both sections, as the daemon runs with it.
func TestAuditFollowsThePolicy(t *testing.T) {
	requireLittleEndian(t)
	proc := fakeProc(t)
	// The daemon, not Samba, holds the sockets here.
	for _, pid := range []string{"100", "200"} {
		if err := os.WriteFile(filepath.Join(proc, pid, "comm"), []byte("messenger\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg := config.Default()
	lan, _ := policy.ParseNet("192.168.1.0/24")
	off := false
	cfg.Policy.Transports = map[string]policy.TransportSpec{"smb": {Allow: []policy.Net{lan}}, "mailslot": {Enabled: &off}}
	rep, err := Run(Options{ProcRoot: proc, Ruleset: fakeRuleset{}, Config: &cfg})
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range rep.Daemon.Transports {
		if tr.Exposed {
			t.Errorf("%s reported exposed: %+v", tr.Setting, tr)
		}
		switch tr.Setting {
		case "smb_port":
			if tr.Policy != "policy.transports.smb.allow = 192.168.1.0/24" {
				t.Errorf("smb policy %q", tr.Policy)
			}
		case "dgram_port":
			if tr.Policy != "policy.transports.mailslot.enabled = false" || !strings.Contains(tr.Advice, "refuses every message") {
				t.Errorf("dgram: %+v", tr)
			}
		}
	}
	if p := portOf(t, rep, "tcp", 139); p.Verdict != VerdictDaemonPolicy {
		t.Errorf("tcp 139 held by the daemon: %+v", p)
	}
	for _, p := range rep.Ports {
		if p.Verdict != VerdictOpen {
			continue
		}
		for _, tr := range rep.Daemon.Transports {
			if tr.Proto == p.Proto && tr.Port == int(p.Port) {
				t.Errorf("%s %d is %q in the port section but %+v in the daemon's", p.Proto, p.Port, p.Verdict, tr)
			}
		}
	}
}
