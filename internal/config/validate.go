package config

import (
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/netsend/messenger/internal/message"
	"github.com/netsend/messenger/internal/names"
	"github.com/netsend/messenger/internal/netbios"
	"github.com/netsend/messenger/internal/policy"
	"github.com/netsend/messenger/internal/resolve"
)

// Runtime is the configuration as the daemon uses it: every value that
// needs parsing, parsed once by Resolve.
type Runtime struct {
	CodePage        message.CodePage
	HostSuffixes    []byte         // nbns.host_suffixes
	NodeType        names.NodeType // nbns.node_type
	WINS            netip.AddrPort // nbns.wins; invalid when unset
	NodeStatusAllow *policy.Networks
	RPCAllow        *policy.Networks
	ResolveOrder    []resolve.Method
	// AlertSeverities are the alert.route entries' minimum severities,
	// index for index (zero where none is set).
	AlertSeverities []message.Severity
	// AlertTokenHashes are the alert.token entries' SHA-256s, index for
	// index.
	AlertTokenHashes [][32]byte
	// StoreKeep is [store] keep; zero keeps read messages for ever.
	StoreKeep time.Duration
}

// validation is one run of Resolve: the problems found so far and the
// values parsed. Each method checks one section of the file.
type validation struct {
	c    *Config
	rt   *Runtime
	cp   *message.CodePage // nil when code_page is bad
	errs []error
}

func (v *validation) bad(format string, args ...any) {
	v.errs = append(v.errs, fmt.Errorf(format, args...))
}

// general checks the top-level settings about this host.
func (v *validation) general() {
	c := v.c
	if c.DataDir == "" {
		v.bad("data_dir: must not be empty")
	}
	if c.Utmp == "" && (c.UserNames || c.Sinks.Terminal.Enabled) {
		v.bad("utmp: must name the login records file when user_names or the terminal sink is on")
	}
	cp, err := message.LookupCodePage(c.CodePage)
	if err != nil {
		v.bad("code_page: %v", err)
		return
	}
	v.cp, v.rt.CodePage = &cp, cp
	if _, err := names.Messenger(c.HostName, cp); err != nil {
		v.bad("host_name %q (--host-name): %v", c.HostName, err)
	}
	if _, err := netbios.NewName(string(cp.Encode(strings.ToUpper(c.Workgroup))), 0x00); err != nil {
		v.bad("workgroup %q: %v", c.Workgroup, err)
	}
	for _, n := range c.Names {
		if _, err := names.Messenger(n, cp); err != nil {
			v.bad("names: %q: %v", n, err)
		}
	}
}

// listeners checks the addresses and ports the daemon listens on.
func (v *validation) listeners() {
	c := v.c
	if c.Bind != "" {
		if _, err := netip.ParseAddr(c.Bind); err != nil {
			v.bad("bind: %q is not an IP address", c.Bind)
		}
	}
	ports := map[string]int{"smb_port": c.SMBPort, "nbns_port": c.NBNSPort, "dgram_port": c.DgramPort, "rpc_port": c.RPCPort}
	for _, k := range []string{"smb_port", "nbns_port", "dgram_port", "rpc_port"} {
		if p := ports[k]; p < 0 || p > 65535 {
			v.bad("%s: %d is not a port (0-65535, 0 = off)", k, p)
		}
	}
	if c.NBNSPort != 0 && c.NBNSPort == c.DgramPort {
		v.bad("nbns_port and dgram_port: both are %d", c.NBNSPort)
	}
	if c.RPCPort != 0 && (c.RPCPort == c.NBNSPort || c.RPCPort == c.DgramPort) {
		v.bad("rpc_port: %d is already the name or datagram port", c.RPCPort)
	}
	if c.HTTPAddr != "" {
		if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
			v.bad("http_addr: %q: %v", c.HTTPAddr, err)
		}
	}
	if c.HTTPMaxConns < 1 || c.HTTPMaxConnsPerSource < 1 || c.HTTPMaxConnsPerSource > c.HTTPMaxConns {
		v.bad("http_max_conns (%d) and http_max_conns_per_source (%d): both at least 1, per source at most the total", c.HTTPMaxConns, c.HTTPMaxConnsPerSource)
	}
}

// smb checks the [smb] table.
func (v *validation) smb() {
	s := v.c.SMB
	if s.IdleTimeout.Duration <= 0 {
		v.bad("smb.idle_timeout: must be positive")
	}
	if s.MaxSessionAge.Duration <= 0 {
		v.bad("smb.max_session_age: must be positive")
	}
	if s.MaxSessions < 1 {
		v.bad("smb.max_sessions: must be at least 1")
	}
	if s.MaxSessionsPerSource < 1 {
		v.bad("smb.max_sessions_per_source: must be at least 1")
	}
}

// nbns checks the [nbns] table.
func (v *validation) nbns() {
	n := v.c.NBNS
	switch n.NodeType {
	case "b":
	case "p", "h":
		if n.WINS == "" {
			v.bad("nbns.wins: node type %q needs a WINS server", n.NodeType)
		}
	default:
		v.bad("nbns.node_type: %q is not b, p or h", n.NodeType)
	}
	if n.NodeType != "" {
		v.rt.NodeType = names.NodeType(n.NodeType[0])
	}
	if n.WINS != "" {
		wins, err := ParseWINS(n.WINS)
		if err != nil {
			v.bad("nbns.wins: %v", err)
		}
		v.rt.WINS = wins
	}
	for _, sfx := range n.HostSuffixes {
		if sfx < 0 || sfx > 0xFF {
			v.bad("nbns.host_suffixes: %d is not a name type (0-255)", sfx)
		}
		v.rt.HostSuffixes = append(v.rt.HostSuffixes, byte(sfx))
	}
	v.rt.NodeStatusAllow = v.networks("nbns.node_status_allow", n.NodeStatusAllow,
		"nbns.node_status_allow: %q is neither \"local\" nor a CIDR like 192.168.1.0/24")
	if n.TTL.Duration < time.Minute {
		v.bad("nbns.ttl: %v is shorter than a minute", n.TTL)
	}
	if n.Scope != "" {
		if _, err := netbios.AppendEncodedName(nil, netbios.WildcardName(), n.Scope); err != nil {
			v.bad("nbns.scope: %q: %v", n.Scope, err)
		}
	}
}

// networks parses a list of "local" and CIDRs, saying of each bad entry
// what msg says.
func (v *validation) networks(key string, entries []string, msg string) *policy.Networks {
	ok := true
	for _, a := range entries {
		if a != "local" {
			if _, err := netip.ParsePrefix(a); err != nil {
				v.bad(msg, a)
				ok = false
			}
		}
	}
	if !ok {
		return nil
	}
	nets, err := policy.ParseNetworks(entries)
	if err != nil {
		v.bad("%s: %v", key, err)
	}
	return nets
}

// send checks the [send] table.
func (v *validation) send() {
	s := v.c.Send
	seen, ok := map[string]bool{}, true
	for _, m := range s.ResolveOrder {
		switch {
		case m != "lmhosts" && m != "wins" && m != "bcast" && m != "hosts":
			v.bad("send.resolve_order: %q is not one of lmhosts, wins, bcast, hosts", m)
			ok = false
		case seen[m]:
			v.bad("send.resolve_order: %q listed twice", m)
			ok = false
		}
		seen[m] = true
	}
	if ok {
		order, err := resolve.ParseOrder(strings.Join(s.ResolveOrder, ","))
		if err != nil {
			v.bad("send.resolve_order: %v", err)
		}
		v.rt.ResolveOrder = order
	}
	if s.Timeout.Duration <= 0 {
		v.bad("send.timeout: must be positive")
	}
	for k, p := range map[string]int{"send.smb_port": s.SMBPort, "send.dgram_port": s.DgramPort} {
		if p < 1 || p > 65535 {
			v.bad("%s: %d is not a port", k, p)
		}
	}
}

// rpc checks the [rpc] table and the policy it feeds.
func (v *validation) rpc() {
	c := v.c
	for _, p := range c.RPC.ExtraPorts {
		if p < 1 || p > 65535 || p == c.RPCPort {
			v.bad("rpc.extra_ports: %d is not a port, or repeats rpc_port", p)
		}
	}
	v.rt.RPCAllow = v.networks("rpc.allow", c.RPC.Allow, "rpc.allow: %q is neither \"local\" nor a CIDR")
	switch c.RPC.Fallback {
	case "never", "local", "always":
	default:
		v.bad("rpc.fallback: %q is not never, local or always", c.RPC.Fallback)
	}
	if c.RPC.SendPort < 1 || c.RPC.SendPort > 65535 {
		v.bad("rpc.send_port: %d is not a port", c.RPC.SendPort)
	}
	if err := c.RPC.allowError(); err == nil {
		if _, err := c.CompilePolicy(nil); err != nil {
			v.errs = append(v.errs, err)
		}
	}
}

// sinkNames checks the names the sinks are limited to.
func (v *validation) sinkNames() {
	if v.cp == nil {
		return
	}
	c := v.c
	for key, list := range map[string][]string{"sinks.terminal.names": c.Sinks.Terminal.Names, "sinks.hook.names": c.Sinks.Hook.Names} {
		for _, n := range list {
			if _, err := names.Messenger(n, *v.cp); err != nil {
				v.bad("%s: %q: %v", key, n, err)
			}
		}
	}
}

// hook checks the hook sink.
func (v *validation) hook() {
	h := v.c.Sinks.Hook
	if !h.Enabled {
		return
	}
	switch {
	case len(h.Command) == 0:
		v.bad("sinks.hook.command: the hook is enabled but has no command")
	case !filepath.IsAbs(h.Command[0]):
		v.bad("sinks.hook.command: %q is not an absolute path (hooks run without a shell or PATH search)", h.Command[0])
	}
	if h.Timeout.Duration <= 0 {
		v.bad("sinks.hook.timeout: must be positive")
	}
}

// alertRuntime parses the [alert] values Alert.check has checked.
func (v *validation) alertRuntime() {
	a := v.c.Alert
	for _, r := range a.Routes {
		var sev message.Severity
		if r.Severity != "" {
			sev, _ = message.ParseSeverity(r.Severity)
		}
		v.rt.AlertSeverities = append(v.rt.AlertSeverities, sev)
	}
	for _, t := range a.Tokens {
		var h [32]byte
		raw, _ := hex.DecodeString(t.SHA256)
		copy(h[:], raw)
		v.rt.AlertTokenHashes = append(v.rt.AlertTokenHashes, h)
	}
}

// web checks the [web] table.
// store checks [store]'s retention.
func (v *validation) store() {
	c := v.c
	if c.Store.Keep != "" {
		d, err := ParseAge(c.Store.Keep)
		if err != nil {
			v.bad("store.keep: %v", err)
		}
		v.rt.StoreKeep = d
	}
	if c.Store.MaxMessages < 0 {
		v.bad("store.max_messages: %d is negative (0 means no cap)", c.Store.MaxMessages)
	}
}

func (v *validation) web() {
	w := v.c.Web
	if u := w.ExternalURL; u != "" {
		if pu, err := url.Parse(u); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" || (pu.Path != "" && pu.Path != "/") {
			v.bad("web.external_url: %q is not a base URL like https://messenger.example", u)
		}
	}
	if w.SessionTTL.Duration < time.Minute {
		v.bad("web.session_ttl: %v is shorter than a minute", w.SessionTTL)
	}
}

// log checks the [log] table.
func (v *validation) log() {
	switch v.c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		v.bad("log.level: %q is not one of debug, info, warn, error", v.c.Log.Level)
	}
	switch v.c.Log.Format {
	case "text", "json":
	default:
		v.bad("log.format: %q is not text or json", v.c.Log.Format)
	}
}
