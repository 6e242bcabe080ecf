package config

import "github.com/spf13/pflag"

// Flags are the daemon's command-line flags. They are parsed into a scratch
// Config and copied over the loaded one only where the user set them, so a
// flag always beats the file and an unset flag never resets it.
type Flags struct {
	scratch   Config
	userPorts bool
	fs        *pflag.FlagSet
}

// User ports are what --user-ports listens on: above 1024, so that a
// daemon run by an ordinary account starts without privileges, each the
// real port plus 1000 (HTTP and the hub plus 10000, clear of common
// development servers), on loopback where no peer needs them.
const (
	UserSMBPort   = 1139
	UserNBNSPort  = 1137
	UserDgramPort = 1138
	UserRPCPort   = 1135
	UserHTTPAddr  = "127.0.0.1:18139"
	UserHubListen = "127.0.0.1:14222"
)

// UseUserPorts moves every listener to the user ports. RPC's extra ports
// are dropped: they are privileged (1026-1029 are not, but they are
// another daemon's to take) and the spam they were for is long gone.
func (c *Config) UseUserPorts() {
	c.SMBPort, c.NBNSPort, c.DgramPort, c.RPCPort = UserSMBPort, UserNBNSPort, UserDgramPort, UserRPCPort
	c.RPC.ExtraPorts = nil
	c.HTTPAddr = UserHTTPAddr
	c.Hub.Listen = UserHubListen
}

// flagSpec ties a flag to the field it overrides.
type flagSpec struct {
	name  string
	apply func(dst, src *Config)
}

var flagSpecs = []flagSpec{
	{"host-name", func(d, s *Config) { d.HostName = s.HostName }},
	{"workgroup", func(d, s *Config) { d.Workgroup = s.Workgroup }},
	{"name", func(d, s *Config) { d.Names = append(d.Names, s.Names...) }},
	{"user-names", func(d, s *Config) { d.UserNames = s.UserNames }},
	{"utmp", func(d, s *Config) { d.Utmp = s.Utmp }},
	{"code-page", func(d, s *Config) { d.CodePage = s.CodePage }},
	{"bind", func(d, s *Config) { d.Bind = s.Bind }},
	{"smb-port", func(d, s *Config) { d.SMBPort = s.SMBPort }},
	{"nbns-port", func(d, s *Config) { d.NBNSPort = s.NBNSPort }},
	{"dgram-port", func(d, s *Config) { d.DgramPort = s.DgramPort }},
	{"rpc-port", func(d, s *Config) { d.RPCPort = s.RPCPort }},
	{"kernel-filter", func(d, s *Config) { d.KernelFilter = s.KernelFilter }},
	{"http-addr", func(d, s *Config) { d.HTTPAddr = s.HTTPAddr }},
	{"http-host", func(d, s *Config) { d.HTTPHosts = append(d.HTTPHosts, s.HTTPHosts...) }},
	{"smb-idle-timeout", func(d, s *Config) { d.SMB.IdleTimeout = s.SMB.IdleTimeout }},
	{"smb-max-sessions", func(d, s *Config) { d.SMB.MaxSessions = s.SMB.MaxSessions }},
	{"smb-max-sessions-per-source", func(d, s *Config) { d.SMB.MaxSessionsPerSource = s.SMB.MaxSessionsPerSource }},
	{"smb-max-session-age", func(d, s *Config) { d.SMB.MaxSessionAge = s.SMB.MaxSessionAge }},
	{"node-type", func(d, s *Config) { d.NBNS.NodeType = s.NBNS.NodeType }},
	{"wins", func(d, s *Config) { d.NBNS.WINS = s.NBNS.WINS }},
	{"nbns-interface", func(d, s *Config) { d.NBNS.Interfaces = s.NBNS.Interfaces }},
	{"node-status-allow", func(d, s *Config) { d.NBNS.NodeStatusAllow = s.NBNS.NodeStatusAllow }},
	{"resolve-order", func(d, s *Config) { d.Send.ResolveOrder = s.Send.ResolveOrder }},
	{"lmhosts", func(d, s *Config) { d.Send.LMHosts = s.Send.LMHosts }},
	{"send-timeout", func(d, s *Config) { d.Send.Timeout = s.Send.Timeout }},
	{"send-smb-port", func(d, s *Config) { d.Send.SMBPort = s.Send.SMBPort }},
	{"send-dgram-port", func(d, s *Config) { d.Send.DgramPort = s.Send.DgramPort }},
	{"rpc-extra-port", func(d, s *Config) { d.RPC.ExtraPorts = s.RPC.ExtraPorts }},
	{"rpc-allow", func(d, s *Config) { d.RPC.Allow = s.RPC.Allow }},
	{"rpc-trust", func(d, s *Config) { d.RPC.Trust = s.RPC.Trust }},
	{"rpc-fallback", func(d, s *Config) { d.RPC.Fallback = s.RPC.Fallback }},
	{"rpc-send-port", func(d, s *Config) { d.RPC.SendPort = s.RPC.SendPort }},
	{"popup", func(d, s *Config) { d.Popup.Enabled = s.Popup.Enabled }},
	{"terminal", func(d, s *Config) { d.Sinks.Terminal.Enabled = s.Sinks.Terminal.Enabled }},
	{"web", func(d, s *Config) { d.Sinks.Web.Enabled = s.Sinks.Web.Enabled }},
	{"hook-timeout", func(d, s *Config) { d.Sinks.Hook.Timeout = s.Sinks.Hook.Timeout }},
	{"alert-dedup-window", func(d, s *Config) { d.Alert.DedupWindow = s.Alert.DedupWindow }},
	{"alert-rate-limit", func(d, s *Config) { d.Alert.RateLimit = s.Alert.RateLimit }},
	{"alert-ingest-addr", func(d, s *Config) { d.Alert.IngestAddr = s.Alert.IngestAddr }},
	{"alert-from", func(d, s *Config) { d.Alert.From = s.Alert.From }},
	{"hub-enabled", func(d, s *Config) { d.Hub.Enabled = s.Hub.Enabled }},
	{"hub", func(d, s *Config) { d.Hub.URLs = s.Hub.URLs }},
	{"hub-creds", func(d, s *Config) { d.Hub.Creds = s.Hub.Creds }},
	{"hub-tls-ca", func(d, s *Config) { d.Hub.TLSCA = s.Hub.TLSCA }},
	{"hub-tls-cert", func(d, s *Config) { d.Hub.TLSCert = s.Hub.TLSCert }},
	{"hub-tls-key", func(d, s *Config) { d.Hub.TLSKey = s.Hub.TLSKey }},
	{"hub-listen", func(d, s *Config) { d.Hub.Listen = s.Hub.Listen }},
	{"hub-listen-tls-cert", func(d, s *Config) { d.Hub.ListenTLSCert = s.Hub.ListenTLSCert }},
	{"hub-listen-tls-key", func(d, s *Config) { d.Hub.ListenTLSKey = s.Hub.ListenTLSKey }},
	{"hub-listen-tls-client-ca", func(d, s *Config) { d.Hub.ListenTLSClientCA = s.Hub.ListenTLSClientCA }},
	{"hub-authorized-dir", func(d, s *Config) { d.Hub.AuthorizedDir = s.Hub.AuthorizedDir }},
	{"hub-replicas", func(d, s *Config) { d.Hub.Replicas = s.Hub.Replicas }},
	{"hub-outbox-max", func(d, s *Config) { d.Hub.OutboxMax = s.Hub.OutboxMax }},
	{"log-level", func(d, s *Config) { d.Log.Level = s.Log.Level }},
	{"log-format", func(d, s *Config) { d.Log.Format = s.Log.Format }},
}

// AddDaemonFlags registers the daemon's settings on fs; defaults shown in
// help are the embedded ones.
func AddDaemonFlags(fs *pflag.FlagSet) *Flags {
	f := &Flags{fs: fs}
	d := Default()
	s := &f.scratch
	fs.BoolVar(&f.userPorts, "user-ports", false, "listen on unprivileged ports, for a daemon run by an ordinary account: smb 1139, nbns 1137, dgram 1138, rpc 1135, http 127.0.0.1:18139, hub 127.0.0.1:14222 (port flags given too still win)")
	fs.StringVar(&s.HostName, "host-name", d.HostName, "computer name (always a messenger name)")
	fs.StringVar(&s.Workgroup, "workgroup", d.Workgroup, "workgroup or domain name")
	fs.StringArrayVar(&s.Names, "name", nil, "extra messenger name to answer to (repeatable)")
	fs.StringVar(&s.Utmp, "utmp", d.Utmp, "login records file (who is logged in, on which terminals)")
	fs.BoolVar(&s.UserNames, "user-names", d.UserNames, "answer to the names of users logged in on this host")
	fs.StringVar(&s.CodePage, "code-page", d.CodePage, "OEM code page of peers' text")
	fs.StringVar(&s.Bind, "bind", d.Bind, "address for the network listeners (default all)")
	fs.IntVar(&s.SMBPort, "smb-port", d.SMBPort, "TCP port of the NetBIOS session listener (0 = off)")
	fs.IntVar(&s.NBNSPort, "nbns-port", d.NBNSPort, "UDP port of the NetBIOS name service (0 = off)")
	fs.IntVar(&s.DgramPort, "dgram-port", d.DgramPort, "UDP port of the NetBIOS datagram service (0 = off)")
	fs.IntVar(&s.RPCPort, "rpc-port", d.RPCPort, "UDP port of the DCE/RPC NetrSendMessage listener (0 = off)")
	fs.BoolVar(&s.KernelFilter, "kernel-filter", d.KernelFilter, "drop the datagrams of flooding or blocked sources in the kernel (eBPF), where allowed")
	fs.StringArrayVar(&s.HTTPHosts, "http-host", nil, "another host name the HTTP listener answers to off loopback (repeatable)")
	fs.StringVar(&s.HTTPAddr, "http-addr", d.HTTPAddr, "HOST:PORT of the local HTTP listener for /metrics and the API (empty = off)")
	fs.DurationVar(&s.SMB.IdleTimeout.Duration, "smb-idle-timeout", d.SMB.IdleTimeout.Duration, "close NetBIOS sessions that send no SMB this long (keep-alives do not count)")
	fs.DurationVar(&s.SMB.MaxSessionAge.Duration, "smb-max-session-age", d.SMB.MaxSessionAge.Duration, "close NetBIOS sessions this long after they open")
	fs.IntVar(&s.SMB.MaxSessions, "smb-max-sessions", d.SMB.MaxSessions, "most concurrent NetBIOS sessions")
	fs.IntVar(&s.SMB.MaxSessionsPerSource, "smb-max-sessions-per-source", d.SMB.MaxSessionsPerSource, "most concurrent NetBIOS sessions from one source address")
	fs.StringVar(&s.NBNS.NodeType, "node-type", d.NBNS.NodeType, "NetBIOS node type: b (broadcast), p (WINS only), h (WINS, then broadcast)")
	fs.StringVar(&s.NBNS.WINS, "wins", d.NBNS.WINS, "WINS server, IP or IP:port (node types p and h)")
	fs.StringArrayVar(&s.NBNS.Interfaces, "nbns-interface", nil, "interface for name broadcasts (repeatable; default all with IPv4 broadcast)")
	fs.StringArrayVar(&s.NBNS.NodeStatusAllow, "node-status-allow", d.NBNS.NodeStatusAllow, "who may list our names: CIDR or \"local\" (repeatable)")
	fs.StringSliceVar(&s.Send.ResolveOrder, "resolve-order", d.Send.ResolveOrder, "name resolution order for sending: lmhosts, wins, bcast, hosts")
	fs.StringVar(&s.Send.LMHosts, "lmhosts", d.Send.LMHosts, "lmhosts file for name resolution")
	fs.DurationVar(&s.Send.Timeout.Duration, "send-timeout", d.Send.Timeout.Duration, "time allowed per recipient when sending")
	fs.IntVar(&s.Send.SMBPort, "send-smb-port", d.Send.SMBPort, "session port of receivers (139 on real networks)")
	fs.IntVar(&s.Send.DgramPort, "send-dgram-port", d.Send.DgramPort, "datagram port broadcasts go to (138 on real networks)")
	fs.IntSliceVar(&s.RPC.ExtraPorts, "rpc-extra-port", nil, "another UDP port for NetrSendMessage (repeatable; e.g. 1026)")
	fs.StringArrayVar(&s.RPC.Allow, "rpc-allow", d.RPC.Allow, "source networks accepted on the RPC path: CIDR or \"local\" (repeatable)")
	fs.BoolVar(&s.RPC.Trust, "rpc-trust", d.RPC.Trust, "deliver RPC messages instead of quarantining them")
	fs.StringVar(&s.RPC.Fallback, "rpc-fallback", d.RPC.Fallback, "when send falls back to NetrSendMessage: never, local, always")
	fs.IntVar(&s.RPC.SendPort, "rpc-send-port", d.RPC.SendPort, "RPC port of receivers (135 on real networks)")
	fs.BoolVar(&s.Popup.Enabled, "popup", d.Popup.Enabled, "print each message as a pop-up block on standard output")
	fs.BoolVar(&s.Sinks.Terminal.Enabled, "terminal", d.Sinks.Terminal.Enabled, "write messages to the recipient's terminals (mesg y)")
	fs.BoolVar(&s.Sinks.Web.Enabled, "web", d.Sinks.Web.Enabled, "serve the live web inbox at / of --http-addr")
	fs.DurationVar(&s.Sinks.Hook.Timeout.Duration, "hook-timeout", d.Sinks.Hook.Timeout.Duration, "kill the hook program after this long")
	fs.DurationVar(&s.Alert.DedupWindow.Duration, "alert-dedup-window", d.Alert.DedupWindow.Duration, "suppress a repeat of the same alert to the same recipient within this long (0 = off)")
	fs.IntVar(&s.Alert.RateLimit, "alert-rate-limit", d.Alert.RateLimit, "most alerts a minute from one source (0 = no limit)")
	fs.StringVar(&s.Alert.IngestAddr, "alert-ingest-addr", d.Alert.IngestAddr, "HOST:PORT of the ntfy/Gotify/Alertmanager ingest listener (empty = off)")
	fs.StringVar(&s.Alert.From, "alert-from", d.Alert.From, "sender name shown on alerts (default the host name)")
	fs.BoolVar(&s.Hub.Enabled, "hub-enabled", d.Hub.Enabled, "link daemons through the NATS hub (false: legacy transports only)")
	fs.StringSliceVar(&s.Hub.URLs, "hub", nil, "join the hub or cluster at these URLs, nats://HOST:4222 (comma-separated or repeated; default: run the embedded server)")
	fs.StringVar(&s.Hub.Creds, "hub-creds", d.Hub.Creds, "this host's hub credentials: a NATS .creds file or an NKey seed file (with --hub)")
	fs.StringVar(&s.Hub.TLSCA, "hub-tls-ca", d.Hub.TLSCA, "CA file for the hub servers' certificates (with --hub)")
	fs.StringVar(&s.Hub.TLSCert, "hub-tls-cert", d.Hub.TLSCert, "client certificate file for the hub (with --hub-tls-key)")
	fs.StringVar(&s.Hub.TLSKey, "hub-tls-key", d.Hub.TLSKey, "client key file for the hub (with --hub-tls-cert)")
	fs.StringVar(&s.Hub.Listen, "hub-listen", d.Hub.Listen, "HOST:PORT where the embedded hub server takes other hosts (empty = in-process only)")
	fs.StringVar(&s.Hub.ListenTLSCert, "hub-listen-tls-cert", d.Hub.ListenTLSCert, "certificate file (PEM) of the embedded hub's listener, which then takes only TLS (with --hub-listen-tls-key)")
	fs.StringVar(&s.Hub.ListenTLSKey, "hub-listen-tls-key", d.Hub.ListenTLSKey, "key file (PEM) of --hub-listen-tls-cert")
	fs.StringVar(&s.Hub.ListenTLSClientCA, "hub-listen-tls-client-ca", d.Hub.ListenTLSClientCA, "CA file (PEM): hosts joining the embedded hub must also present a certificate it signed")
	fs.StringVar(&s.Hub.AuthorizedDir, "hub-authorized-dir", d.Hub.AuthorizedDir, "directory of HOST.pub keys the embedded hub admits (default DATA_DIR/hub/authorized)")
	fs.IntVar(&s.Hub.Replicas, "hub-replicas", d.Hub.Replicas, "copies of each hub stream that messenger hub provision creates (1-5)")
	fs.IntVar(&s.Hub.OutboxMax, "hub-outbox-max", d.Hub.OutboxMax, "most messages queued while the hub is unreachable")
	fs.StringVar(&s.Log.Level, "log-level", d.Log.Level, "log level: debug, info, warn, error")
	fs.StringVar(&s.Log.Format, "log-format", d.Log.Format, "log format: text or json")
	return f
}

// Apply copies every flag the user set onto cfg. --user-ports goes
// first, so that a port flag given with it moves that one listener.
func (f *Flags) Apply(cfg *Config) {
	if f.userPorts {
		cfg.UseUserPorts()
	}
	for _, spec := range flagSpecs {
		if fl := f.fs.Lookup(spec.name); fl != nil && fl.Changed {
			spec.apply(cfg, &f.scratch)
		}
	}
}
