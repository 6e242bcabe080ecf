// Package config holds the daemon's one configuration: its embedded
// defaults, the TOML file over them, the environment, and the command-line
// flags over all of those. It is parsed and validated here, in one place,
// before anything starts.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/netsend/messenger/internal/access"
	"github.com/netsend/messenger/internal/message"
	"github.com/netsend/messenger/internal/policy"
)

// EnvDataDir names the environment variable that sets the data directory,
// so CLI verbs find the running daemon without repeating --data-dir.
const EnvDataDir = "MESSENGER_DATA_DIR"

// EnvConfig names the environment variable that sets the configuration file.
const EnvConfig = "MESSENGER_CONFIG"

// SocketName is the local API's Unix socket inside the data directory.
const SocketName = "messenger.sock"

// Duration is a time.Duration that reads and writes as "30s" in TOML.
type Duration struct{ time.Duration }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Config is every setting of the daemon. Each has a flag of the same name
// with '-' for '_' (see flags.go).
type Config struct {
	// DataDir holds the store and the local API socket.
	DataDir string `toml:"data_dir"`
	// HostName is the computer name; it is always a messenger name.
	HostName string `toml:"host_name"`
	// Workgroup is the workgroup or domain this host belongs to.
	Workgroup string `toml:"workgroup"`
	// Names are extra messenger names (aliases) answered to besides the
	// host name and the logged-in users.
	Names []string `toml:"names"`
	// UserNames makes the names of users logged in on this host messenger
	// names, as Windows registered the interactive user's name.
	UserNames bool `toml:"user_names"`
	// Utmp is the login records file: who is logged in (user_names) and
	// on which terminals (the terminal sink).
	Utmp string `toml:"utmp"`
	// CodePage is the OEM code page of peers' text (Samba's "dos charset").
	CodePage string `toml:"code_page"`

	// Bind is the address the network listeners bind; empty means all.
	Bind string `toml:"bind"`
	// Ports of the legacy listeners; 0 switches a listener off.
	SMBPort   int `toml:"smb_port"`
	NBNSPort  int `toml:"nbns_port"`
	DgramPort int `toml:"dgram_port"`
	RPCPort   int `toml:"rpc_port"`
	// KernelFilter installs the policy's verdict on a flooding or blocked
	// source in the kernel (an eBPF socket filter on the datagram and RPC
	// sockets), so that its datagrams are dropped before they take
	// receive-buffer space; where eBPF is not allowed the policy judges
	// them in user space, as with the filter off.
	KernelFilter bool `toml:"kernel_filter"`
	// HTTPAddr is the local HTTP listener (metrics, API); empty switches it off.
	HTTPAddr string `toml:"http_addr"`
	// HTTPHosts are host names the HTTP listener answers to off loopback
	// besides its own address (e.g. the host's DNS name); other Host
	// headers are refused, against DNS rebinding.
	HTTPHosts []string `toml:"http_hosts"`
	// HTTPMaxConns and HTTPMaxConnsPerSource bound the connections each
	// HTTP listener (http_addr, alert.ingest_addr) holds, in all and from
	// one address; past them a connection is closed unread.
	HTTPMaxConns          int `toml:"http_max_conns"`
	HTTPMaxConnsPerSource int `toml:"http_max_conns_per_source"`

	SMB   SMB   `toml:"smb"`
	NBNS  NBNS  `toml:"nbns"`
	Send  Send  `toml:"send"`
	RPC   RPC   `toml:"rpc"`
	Popup Popup `toml:"popup"`
	Sinks Sinks `toml:"sinks"`
	Alert Alert `toml:"alert"`
	Hub   Hub   `toml:"hub"`
	Log   Log   `toml:"log"`
	// Access says who is an admin, who reads the host's messages and who
	// may raise alerts.
	Access access.Config `toml:"access"`
	// Web is the web inbox's sign-in.
	Web Web `toml:"web"`
	// Store is the retention of read messages.
	Store Store `toml:"store"`

	// Policy is the spam defence every received message passes.
	Policy policy.Spec `toml:"policy"`

	// source is the file the configuration came from, for reloads.
	source string
}

// SMB bounds the NetBIOS session listener. A session slot is what a
// peer can hold without sending a message, so each bound is on it.
type SMB struct {
	// IdleTimeout closes a session that sends no SMB for this long;
	// keep-alives do not count.
	IdleTimeout Duration `toml:"idle_timeout"`
	// MaxSessionAge closes a session this long after it opened, whatever
	// it sends.
	MaxSessionAge Duration `toml:"max_session_age"`
	// MaxSessions caps concurrent sessions; more are refused with
	// "called name present but insufficient resources".
	MaxSessions int `toml:"max_sessions"`
	// MaxSessionsPerSource caps one source address's sessions, so that
	// one host cannot take every slot; more are refused the same way.
	MaxSessionsPerSource int `toml:"max_sessions_per_source"`
}

// NBNS configures the NetBIOS name service: how our names are registered
// and who may list them.
type NBNS struct {
	// NodeType is how names are registered and resolved: "b" broadcast,
	// "p" point-to-point with a WINS server, "h" WINS first, then broadcast.
	NodeType string `toml:"node_type"`
	// WINS is the WINS (NBNS) server, IP or IP:port; required for p and h.
	WINS string `toml:"wins"`
	// HostSuffixes are the name types registered for the host name besides
	// 0x03 (the messenger): 0x00 workstation by default, 0x20 if wanted.
	HostSuffixes []int `toml:"host_suffixes"`
	// Interfaces limits broadcasts to these interfaces; empty means every
	// interface that is up and has an IPv4 broadcast address.
	Interfaces []string `toml:"interfaces"`
	// NodeStatusAllow lists who may ask for our name list (nbtstat -A):
	// CIDRs, or "local" for loopback and the host's own networks. Node
	// status was the spammers' reconnaissance; others get no answer.
	NodeStatusAllow []string `toml:"node_status_allow"`
	// TTL is the registration lifetime we ask for.
	TTL Duration `toml:"ttl"`
	// Scope is the NetBIOS scope; peers must share it. Empty by default.
	Scope string `toml:"scope"`
}

// Send configures how `messenger send` reaches other hosts.
type Send struct {
	// ResolveOrder is the order names are looked up in: lmhosts, wins,
	// bcast, hosts (/etc/hosts and DNS).
	ResolveOrder []string `toml:"resolve_order"`
	// LMHosts is the lmhosts file consulted first.
	LMHosts string `toml:"lmhosts"`
	// Timeout bounds one recipient: resolving, connecting, sending.
	Timeout Duration `toml:"timeout"`
	// SMBPort and DgramPort are the receivers' ports: 139 and 138 on
	// every real network; other values are for tests.
	SMBPort   int `toml:"smb_port"`
	DgramPort int `toml:"dgram_port"`
}

// RPC configures the DCE/RPC NetrSendMessage path (UDP 135): the spam
// vector of 2002-2004, so held back by default.
type RPC struct {
	// ExtraPorts are listened on besides rpc_port: the spam of mid-2003
	// moved to 1026-1029 when ISPs filtered 135.
	ExtraPorts []int `toml:"extra_ports"`
	// Allow lists the source networks accepted (CIDRs or "local"); the
	// source of a UDP datagram is trivially forged, so keep this narrow.
	Allow []string `toml:"allow"`
	// Trust delivers RPC messages instead of quarantining them.
	Trust bool `toml:"trust"`
	// Fallback is when messenger send tries NetrSendMessage after the
	// NetBIOS session failed, as Windows did: "never", "local" (only to
	// receivers in allowed networks) or "always".
	Fallback string `toml:"fallback"`
	// SendPort is the receivers' RPC port (135; other values for tests).
	SendPort int `toml:"send_port"`
}

// Popup configures the classic pop-up block on the daemon's standard output.
type Popup struct {
	Enabled bool `toml:"enabled"`
}

// Sinks configures where delivered messages are shown besides the pop-up
// block. Names lists the messenger names a sink shows messages to; empty
// means every name.
type Sinks struct {
	Terminal TerminalSink `toml:"terminal"`
	Hook     HookSink     `toml:"hook"`
	Web      WebSink      `toml:"web"`
}

// TerminalSink writes messages to the terminals of the recipient user.
type TerminalSink struct {
	Enabled bool     `toml:"enabled"`
	Names   []string `toml:"names"`
}

// HookSink runs a program for each message, never through a shell.
type HookSink struct {
	Enabled bool `toml:"enabled"`
	// Command is the program (an absolute path) and its arguments; the
	// arguments may hold {id}, {from}, {to}, {time}, {transport}, {source},
	// the alert fields and {verified} (see the hook package).
	Command []string `toml:"command"`
	// Timeout kills the program after this long.
	Timeout Duration `toml:"timeout"`
	Names   []string `toml:"names"`
}

// WebSink is the live inbox page at / of http_addr.
type WebSink struct {
	Enabled bool `toml:"enabled"`
}

// Web configures web sign-in.
type Web struct {
	// ExternalURL is the address people open the page at when a TLS
	// proxy stands in front (e.g. https://messenger.example): sign-in
	// links use it and the page's requests from it are accepted.
	ExternalURL string `toml:"external_url"`
	// SessionTTL is how long a web session lasts.
	SessionTTL Duration `toml:"session_ttl"`
}

// Log configures the daemon's structured log on standard error.
type Log struct {
	Level  string `toml:"level"`  // debug, info, warn, error
	Format string `toml:"format"` // text or json
}

// Default returns the embedded defaults: the real ports, the real host
// name, and a data directory fit for the user running it.
func Default() Config {
	osName, _ := os.Hostname()
	host, _ := HostNameFrom(osName)
	return Config{
		DataDir:               defaultDataDir(),
		HostName:              host,
		Workgroup:             "WORKGROUP",
		UserNames:             true,
		Utmp:                  "/var/run/utmp",
		CodePage:              message.DefaultCodePage,
		SMBPort:               139,
		NBNSPort:              137,
		DgramPort:             138,
		RPCPort:               135,
		KernelFilter:          true,
		HTTPAddr:              "127.0.0.1:8139",
		HTTPMaxConns:          1024,
		HTTPMaxConnsPerSource: 64,
		SMB: SMB{
			IdleTimeout:          Duration{2 * time.Minute},
			MaxSessionAge:        Duration{5 * time.Minute},
			MaxSessions:          1024,
			MaxSessionsPerSource: 16,
		},
		NBNS: NBNS{
			NodeType:        "b",
			HostSuffixes:    []int{0x00},
			NodeStatusAllow: []string{"local"},
			TTL:             Duration{300000 * time.Second},
		},
		Send: Send{
			ResolveOrder: []string{"lmhosts", "wins", "bcast", "hosts"},
			LMHosts:      "/etc/samba/lmhosts",
			Timeout:      Duration{10 * time.Second},
			SMBPort:      139,
			DgramPort:    138,
		},
		RPC: RPC{
			Allow:    []string{"local"},
			Fallback: "local",
			SendPort: 135,
		},
		Popup: Popup{Enabled: true},
		Sinks: Sinks{
			Terminal: TerminalSink{Enabled: false},
			Hook:     HookSink{Timeout: Duration{10 * time.Second}},
			Web:      WebSink{Enabled: true},
		},
		Alert:  defaultAlert(),
		Hub:    defaultHub(),
		Log:    Log{Level: "info", Format: "text"},
		Policy: policy.DefaultSpec(),
		Access: access.DefaultConfig(),
		Web:    Web{SessionTTL: Duration{12 * time.Hour}},
	}
}

// MaxHostName is the longest NetBIOS computer name, in characters: a
// name is 16 bytes, the last its type.
const MaxHostName = 15

// HostNameFrom is the computer name for the operating system's host name
// osName: the part before the first dot, upper case, and cut to its first
// 15 characters as Windows and Samba cut a long one, so that a machine
// named web-server-prod-01 runs (as WEB-SERVER-PROD) rather than refuses
// to start. long is the uncut name when it was cut, "" when not. Only the
// default is cut: a host_name set explicitly is the operator's choice, and
// a too long one stays an error.
func HostNameFrom(osName string) (name, long string) {
	if i := strings.IndexByte(osName, '.'); i > 0 {
		osName = osName[:i]
	}
	name = strings.ToUpper(osName)
	if r := []rune(name); len(r) > MaxHostName {
		long, name = name, string(r[:MaxHostName])
	}
	return name, long
}

// DefaultHostNameCut says, when the default host name was cut from a
// longer OS host name, the uncut name ("" when it was not cut), so the
// daemon can log the choice.
func DefaultHostNameCut() (name, long string) {
	osName, _ := os.Hostname()
	return HostNameFrom(osName)
}

func defaultDataDir() string {
	if os.Geteuid() == 0 {
		return "/var/lib/messenger"
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "messenger")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "state", "messenger")
	}
	return filepath.Join(os.TempDir(), "messenger")
}

// DefaultPath is the configuration file read when none is named.
func DefaultPath() string {
	if os.Geteuid() == 0 {
		return "/etc/messenger/messenger.toml"
	}
	if d, err := os.UserConfigDir(); err == nil {
		return filepath.Join(d, "messenger", "messenger.toml")
	}
	return ""
}

// Load reads the configuration file at path over the defaults, then the
// environment. An explicit path that does not exist is an error; the
// default path may be absent.
func Load(path string, explicit bool) (Config, error) {
	cfg := Default()
	if path == "" {
		path = DefaultPath()
	}
	if path != "" {
		data, err := os.ReadFile(path)
		switch {
		case err == nil:
			if err := decode(data, path, &cfg); err != nil {
				return cfg, err
			}
			cfg.source = path
		case errors.Is(err, os.ErrNotExist) && !explicit:
		default:
			return cfg, fmt.Errorf("config: reading %s: %w", path, err)
		}
	}
	if d := os.Getenv(EnvDataDir); d != "" {
		cfg.DataDir = d
	}
	return cfg, nil
}

func decode(data []byte, path string, cfg *Config) error {
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(cfg)
	if err != nil {
		var perr toml.ParseError
		if errors.As(err, &perr) {
			return fmt.Errorf("config: %s:%d: %s", path, perr.Position.Line, perr.Message)
		}
		return fmt.Errorf("config: %s: %w", path, err)
	}
	if undecoded := md.Undecoded(); len(undecoded) > 0 {
		return unknownSettings(undecoded, data, path)
	}
	// The policy's settings that are wrong together, not alone, are
	// checked here too, where the file is at hand to name their lines.
	var errs []error
	if _, err := cfg.CompilePolicy(nil); err != nil {
		errs = append(errs, err)
	}
	var cp *message.CodePage
	if c, err := message.LookupCodePage(cfg.CodePage); err == nil {
		cp = &c
	}
	if err := cfg.Alert.check(cp); err != nil {
		errs = append(errs, err)
	}
	if err := cfg.Hub.check(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("config: %w", withLines(errors.Join(errs...), data, path))
	}
	return nil
}

// Store prunes old read messages (never unread or quarantined ones),
// hourly: Keep is an age ("90d", "2w", "36h"; empty keeps them all),
// MaxMessages caps the inbox by deleting the oldest read (0: no cap).
type Store struct {
	Keep        string `toml:"keep"`
	MaxMessages int    `toml:"max_messages"`
}

// unknownSettings reports every key the file has and Config has not,
// each with its line, so that a typo is found without searching. A
// table the decoder did not know is reported once, at its header, not
// again for each of its keys.
func unknownSettings(keys []toml.Key, data []byte, path string) error {
	var errs []error
	var tables []string
	for _, k := range keys {
		name := k.String()
		if slices.ContainsFunc(tables, func(t string) bool { return strings.HasPrefix(name, t+".") }) {
			continue
		}
		table, key := strings.Join(k[:len(k)-1], "."), k[len(k)-1]
		line := lineOf(string(data), table, -1, key)
		if line == 0 {
			// Not a key = value line: a [table] of its own, or a dotted key.
			if line = lineOf(string(data), name, -1, ""); line > 0 {
				tables = append(tables, name)
			}
		}
		if line > 0 {
			errs = append(errs, fmt.Errorf("config: %s:%d: unknown setting %s", path, line, name))
		} else {
			errs = append(errs, fmt.Errorf("config: %s: unknown setting %s", path, name))
		}
	}
	return errors.Join(errs...)
}

// Source is the file the configuration was read from ("" for none).
func (c *Config) Source() string { return c.source }

// CompilePolicy builds the policy in force from the [policy] table and
// the rpc settings; prev hands on its rate-limit state.
func (c *Config) CompilePolicy(prev *policy.Policy) (*policy.Policy, error) {
	return c.CompilePolicyWith(c.Policy, prev)
}

// CompilePolicyWith is CompilePolicy with another spec: the file's with
// run-time additions.
func (c *Config) CompilePolicyWith(spec policy.Spec, prev *policy.Policy) (*policy.Policy, error) {
	var allow []policy.Net
	for _, a := range c.RPC.Allow {
		n, err := policy.ParseNet(a)
		if err != nil {
			return nil, fmt.Errorf("rpc.allow: %w", err)
		}
		allow = append(allow, n)
	}
	return policy.Compile(spec, policy.Options{RPCAllow: allow, RPCTrust: c.RPC.Trust, Prev: prev})
}

// Validate checks every setting and reports all problems at once.
func (c *Config) Validate() error {
	_, err := c.Resolve()
	return err
}

// Resolve checks every setting, reporting all problems at once, and
// returns the settings the daemon uses in their parsed, typed form, so
// that nothing is parsed again once it runs.
func (c *Config) Resolve() (*Runtime, error) {
	v := &validation{c: c, rt: &Runtime{}}
	v.general()
	v.listeners()
	v.smb()
	v.nbns()
	v.send()
	v.rpc()
	v.sinkNames()
	if err := c.Alert.check(v.cp); err != nil {
		v.errs = append(v.errs, err)
	}
	if v.cp != nil {
		v.alertRuntime()
	}
	if err := c.Hub.check(); err != nil {
		v.errs = append(v.errs, err)
	}
	v.hook()
	v.errs = append(v.errs, c.Access.Validate()...)
	v.web()
	v.store()
	v.log()
	if err := errors.Join(v.errs...); err != nil {
		return nil, err
	}
	return v.rt, nil
}

func (r *RPC) allowError() error {
	for _, a := range r.Allow {
		if _, err := policy.ParseNet(a); err != nil {
			return err
		}
	}
	return nil
}

// ParseWINS reads a WINS server as IP or IP:port (port 137 by default).
func ParseWINS(s string) (netip.AddrPort, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil && ap.Addr().Is4() {
		return ap, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return netip.AddrPort{}, fmt.Errorf("%q is not an IPv4 address or address:port", s)
	}
	return netip.AddrPortFrom(a, 137), nil
}

// SystemSocket is the system daemon's socket (data directory
// /var/lib/messenger), which every local account may open; clients that
// name no data directory of their own find the daemon there.
const SystemSocket = "/var/lib/messenger/" + SocketName

// SocketPath is the local API's Unix socket.
func (c *Config) SocketPath() string { return filepath.Join(c.DataDir, SocketName) }

// Encode writes the configuration as TOML, as `messenger config print` shows it.
func (c *Config) Encode() ([]byte, error) {
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(c); err != nil {
		return nil, fmt.Errorf("config: encoding: %w", err)
	}
	return buf.Bytes(), nil
}

// InForce is the configuration with every default that an empty or zero
// setting stands for filled in, as the daemon runs with it: what
// `messenger config print` shows, so that it answers "what is used"
// rather than echoing `from = ""`.
func (c *Config) InForce() Config {
	out := *c
	if out.Alert.From == "" {
		out.Alert.From = out.HostName
	}
	if out.Hub.AuthorizedDir == "" && out.Hub.Enabled && len(out.Hub.URLs) == 0 {
		out.Hub.AuthorizedDir = c.HubAuthorizedDir()
	}
	// The policy is copied before it is changed: its maps and pointers
	// are shared with c.
	out.Policy.Rate.PerSource = limitInForce(c.Policy.Rate.PerSource)
	out.Policy.Rate.PerSender = limitInForce(c.Policy.Rate.PerSender)
	out.Policy.Rate.Global = limitInForce(c.Policy.Rate.Global)
	return out
}

// limitInForce is l with its burst filled in: 0 means the rate's count.
func limitInForce(l *policy.Limit) *policy.Limit {
	if l == nil {
		return nil
	}
	v := *l
	if v.Burst == 0 {
		v.Burst = v.Rate.N
	}
	return &v
}
