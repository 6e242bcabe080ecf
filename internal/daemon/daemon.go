// Package daemon wires the parts of `messenger serve` together and runs
// them: configuration in, listeners opened, pipeline assembled, and an
// orderly stop. It holds no protocol logic.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/netsend/messenger/internal/access"
	"github.com/netsend/messenger/internal/alert/httpingest"
	"github.com/netsend/messenger/internal/api"
	"github.com/netsend/messenger/internal/apitype"
	"github.com/netsend/messenger/internal/config"
	"github.com/netsend/messenger/internal/connlimit"
	"github.com/netsend/messenger/internal/lograte"
	"github.com/netsend/messenger/internal/message"
	"github.com/netsend/messenger/internal/metrics"
	"github.com/netsend/messenger/internal/names"
	"github.com/netsend/messenger/internal/ntfysub"
	"github.com/netsend/messenger/internal/pipeline"
	"github.com/netsend/messenger/internal/policy"
	"github.com/netsend/messenger/internal/resolve"
	"github.com/netsend/messenger/internal/sender"
	"github.com/netsend/messenger/internal/sink"
	"github.com/netsend/messenger/internal/sink/hook"
	"github.com/netsend/messenger/internal/sink/popup"
	"github.com/netsend/messenger/internal/sink/terminal"
	"github.com/netsend/messenger/internal/store"
	"github.com/netsend/messenger/internal/transport/mailslot"
	"github.com/netsend/messenger/internal/transport/nbns"
	"github.com/netsend/messenger/internal/transport/rpc"
	"github.com/netsend/messenger/internal/transport/smbmsg"
)

// userPollInterval is how often the logged-in users are re-read.
const userPollInterval = 5 * time.Second

// Version reports the version the binary was built as: the one stamped
// by the packaging (version.go), else the module version.
func Version() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// Run runs the daemon until ctx ends. Pop-up blocks go to stdout. load
// reads the configuration again, as it was read for cfg; the policy in it
// is put in force on SIGHUP and POST /v1/policy/reload (nil: no reload).
func Run(ctx context.Context, cfg config.Config, log *slog.Logger, stdout io.Writer, load func() (config.Config, error)) (err error) {
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("invalid configuration:\n%w", err)
	}
	cp, err := message.LookupCodePage(cfg.CodePage)
	if err != nil {
		return err
	}
	// Every file the daemon makes is its own: the database, its -wal and
	// -shm, tokens, keys. The socket alone is opened up, below.
	syscall.Umask(0o077)
	if err := os.MkdirAll(cfg.DataDir, 0o711); err != nil {
		return fmt.Errorf("creating data directory: %w", err)
	}
	if err := tightenDataDir(cfg.DataDir, log); err != nil {
		return err
	}
	unlock, err := lockDataDir(cfg.DataDir)
	if err != nil {
		return err
	}
	defer unlock()

	suffixes := make([]byte, len(cfg.NBNS.HostSuffixes))
	for i, sfx := range cfg.NBNS.HostSuffixes {
		suffixes[i] = byte(sfx)
	}
	nameTable, err := names.New(names.Config{CodePage: cp, Host: cfg.HostName, HostSuffixes: suffixes, Workgroup: cfg.Workgroup, Aliases: cfg.Names})
	if err != nil {
		return err
	}
	met := metrics.New()

	// Open every socket before anything runs, so a port that cannot be had
	// stops the start with a clear error and nothing half-started.
	var listeners []apitype.Listener
	var smbLn net.Listener
	if cfg.SMBPort != 0 {
		smbLn, err = listenTCP(cfg.Bind, cfg.SMBPort, "smb-port")
		if err != nil {
			return err
		}
		defer smbLn.Close()
		listeners = append(listeners, apitype.Listener{Transport: "smb", Network: "tcp", Addr: smbLn.Addr().String()})
	}
	var nbnsConn *net.UDPConn
	if cfg.NBNSPort != 0 {
		nbnsConn, err = listenUDP(cfg.Bind, cfg.NBNSPort, "nbns-port")
		if err != nil {
			return err
		}
		defer nbnsConn.Close()
		listeners = append(listeners, apitype.Listener{Transport: "nbns", Network: "udp", Addr: nbnsConn.LocalAddr().String()})
	}
	var dgramConn *net.UDPConn
	if cfg.DgramPort != 0 {
		dgramConn, err = listenUDP(cfg.Bind, cfg.DgramPort, "dgram-port")
		if err != nil {
			return err
		}
		defer dgramConn.Close()
		listeners = append(listeners, apitype.Listener{Transport: "mailslot", Network: "udp", Addr: dgramConn.LocalAddr().String()})
	}
	var rpcConns []*net.UDPConn
	if cfg.RPCPort != 0 {
		for _, port := range append([]int{cfg.RPCPort}, cfg.RPC.ExtraPorts...) {
			c, err := listenUDP(cfg.Bind, port, "rpc-port")
			if err != nil {
				return err
			}
			defer c.Close()
			rpcConns = append(rpcConns, c)
			listeners = append(listeners, apitype.Listener{Transport: "rpc", Network: "udp", Addr: c.LocalAddr().String()})
		}
	}
	sockLn, err := listenSocket(cfg.SocketPath())
	if err != nil {
		return err
	}
	defer os.Remove(cfg.SocketPath())
	defer sockLn.Close()
	listeners = append(listeners, apitype.Listener{Transport: "api", Network: "unix", Addr: cfg.SocketPath()})
	var httpLn net.Listener
	if cfg.HTTPAddr != "" {
		httpLn, err = net.Listen("tcp", cfg.HTTPAddr)
		if err != nil {
			return fmt.Errorf("cannot listen on --http-addr %s: %w", cfg.HTTPAddr, err)
		}
		defer httpLn.Close()
		listeners = append(listeners, apitype.Listener{Transport: "http", Network: "tcp", Addr: httpLn.Addr().String()})
	}
	var ingestLn net.Listener
	if cfg.Alert.IngestAddr != "" {
		ingestLn, err = net.Listen("tcp", cfg.Alert.IngestAddr)
		if err != nil {
			return fmt.Errorf("cannot listen on alert.ingest_addr %s: %w", cfg.Alert.IngestAddr, err)
		}
		defer ingestLn.Close()
		listeners = append(listeners, apitype.Listener{Transport: "ingest", Network: "tcp", Addr: ingestLn.Addr().String()})
	}

	// The event stream (GET /v1/events), which the web page and the
	// desktop agents follow, hears of messages from the store's writer
	// rather than as a pipeline sink: the writer sees them in commit
	// order, the pipeline's callers return in any order.
	events := api.NewHub()
	events.Dropped = func(n int) { met.SinkDropped.WithLabelValues(events.Name()).Add(float64(n)) }
	st, err := store.Open(ctx, cfg.DataDir, store.Options{Logger: log, OnCommit: met.ObserveCommit, OnStored: events.Committed,
		QuarantineMax: cfg.Policy.QuarantineMax})
	if err != nil {
		return err
	}
	defer func() {
		if cerr := st.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	lastID, err := st.LastID(ctx)
	if err != nil {
		return fmt.Errorf("reading the last message id: %w", err)
	}
	events.StartAt(lastID)

	var sinks []pipeline.Sink
	if cfg.Popup.Enabled {
		sinks = append(sinks, popup.New(stdout))
	}
	skipped := func(name string) func(string) {
		return func(reason string) { met.SinkSkipped.WithLabelValues(name, reason).Inc() }
	}
	if t := cfg.Sinks.Terminal; t.Enabled {
		sinks = append(sinks, sink.ForNames(&terminal.Sink{UtmpPath: cfg.Utmp, DevDir: "/dev",
			HostName: strings.ToUpper(cfg.HostName), Skipped: skipped("terminal"),
			Log: log.With(slog.String("sink", "terminal"))}, t.Names))
	}
	if h := cfg.Sinks.Hook; h.Enabled {
		hlog := log.With(slog.String("sink", "hook"))
		if u := hook.Unguarded(h.Command); len(u) > 0 {
			hlog.Warn(`hook: a sender's name could begin these arguments with "-"; such messages are not passed to the hook (put "--" before them, or write --opt={from})`,
				slog.Any("arguments", u))
		}
		// ctx ends when the daemon is told to stop: a running hook's
		// process group is killed then, and queued hooks do not start.
		sinks = append(sinks, sink.ForNames(&hook.Sink{Command: h.Command, Timeout: h.Timeout.Duration, Ctx: ctx,
			Skipped: skipped("hook"), Log: hlog}, h.Names))
	}
	rpcAllow, err := policy.ParseNetworks(cfg.RPC.Allow)
	if err != nil {
		return err
	}
	spam, err := newSpamPolicy(ctx, cfg, st, load, log.With(slog.String("part", "policy")))
	if err != nil {
		return err
	}
	pl := pipeline.New(spam.holder, st, met, log, sinks...)
	defer pl.Close()

	var wg sync.WaitGroup
	defer wg.Wait()
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	// However Run ends — a panic included — the HTTP servers' listeners are
	// closed before wg.Wait, so their goroutines return and Run does too.
	defer func() {
		sockLn.Close()
		if httpLn != nil {
			httpLn.Close()
		}
		if ingestLn != nil {
			ingestLn.Close()
		}
	}()

	// The hub's client delivers into the pipeline, so it stops (with the
	// embedded server after it) before the pipeline closes.
	link, err := startHub(cfg, st, pl, nameTable, log)
	if err != nil {
		return err
	}
	if link != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer link.shutdown()
			link.run(runCtx, nameTable)
		}()
		if cfg.Hub.Listen != "" && len(cfg.Hub.URLs) == 0 {
			listeners = append(listeners, apitype.Listener{Transport: "hub", Network: "tcp", Addr: link.embedded.ClientURL()})
		}
	}

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-hup:
				// Errors are logged by Reload; the old policy stays.
				spam.Reload(runCtx)
				if link != nil {
					link.reload()
				}
			case <-runCtx.Done():
				return
			}
		}
	}()

	nbnsCtx, nbnsStop := context.WithCancel(context.WithoutCancel(ctx))
	defer nbnsStop()
	nameSvc := &names.Service{Table: nameTable, Store: st, Log: log.With(slog.String("part", "names"))}
	if nbnsConn != nil {
		allow, err := policy.ParseNetworks(cfg.NBNS.NodeStatusAllow)
		if err != nil {
			return err
		}
		nodeType := names.NodeType(cfg.NBNS.NodeType[0])
		nbnsLog := log.With(slog.String("transport", "nbns"))
		nbnsSrv, err := nbns.New(nbnsConn, nbns.Config{
			Table: nameTable, Metrics: met, Log: nbnsLog, PacketLog: packetLog(nbnsLog), Scope: cfg.NBNS.Scope,
			NodeType: nodeType.NBFlags(), TTL: cfg.NBNS.TTL.Duration, NodeStatusAllow: allow, Interfaces: cfg.NBNS.Interfaces,
		})
		if err != nil {
			return err
		}
		reg := &names.Registrar{Table: nameTable, Wire: nbnsSrv, NodeType: nodeType, Scope: cfg.NBNS.Scope,
			TTL: cfg.NBNS.TTL.Duration, Log: log.With(slog.String("part", "registrar"))}
		if cfg.NBNS.WINS != "" {
			reg.WINS, _ = config.ParseWINS(cfg.NBNS.WINS)
		}
		nameSvc.Registrar = reg
		wg.Add(1)
		go func() {
			defer wg.Done()
			// The name service outlives runCtx: releasing our names at
			// the end needs it (WINS answers releases).
			if err := nbnsSrv.Serve(nbnsCtx); err != nil {
				log.Error("name service stopped", slog.Any("err", err))
				cancel()
			}
		}()
	}
	// Registration answers come through the name service, which runs now.
	if err := nameSvc.Start(runCtx); err != nil {
		return err
	}
	defer func() {
		// Release our names on a clean stop, while the name service still
		// runs; then stop it.
		stopCtx, done := context.WithTimeout(context.Background(), 5*time.Second)
		defer done()
		nameSvc.Stop(stopCtx)
		nbnsStop()
	}()
	if cfg.UserNames {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nameSvc.WatchUsers(runCtx, cfg.Utmp, userPollInterval)
		}()
	}

	var datagrams *mailslot.Server
	if dgramConn != nil {
		dgramLog := log.With(slog.String("transport", "mailslot"))
		datagrams, err = mailslot.New(dgramConn, mailslot.Config{Table: nameTable, Pipeline: pl, CodePage: cp, Metrics: met,
			Log: dgramLog, PacketLog: packetLog(dgramLog), Admit: admit(spam.holder, message.TransportMailslot), Scope: cfg.NBNS.Scope})
		if err != nil {
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := datagrams.Serve(runCtx); err != nil {
				log.Error("datagram service stopped", slog.Any("err", err))
				cancel()
			}
		}()
	}
	if len(rpcConns) > 0 {
		rpcLog := log.With(slog.String("transport", "rpc"))
		rpcSrv := rpc.New(rpcConns, rpc.Config{Table: nameTable, Pipeline: pl, CodePage: cp, Metrics: met,
			Log: rpcLog, PacketLog: packetLog(rpcLog), Admit: admit(spam.holder, message.TransportRPC)})
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := rpcSrv.Serve(runCtx); err != nil {
				log.Error("RPC service stopped", slog.Any("err", err))
				cancel()
			}
		}()
	}
	interfaces := func() []names.Interface { return names.BroadcastInterfaces(cfg.NBNS.Interfaces) }
	order, err := resolve.ParseOrder(strings.Join(cfg.Send.ResolveOrder, ","))
	if err != nil {
		return err
	}
	rcfg := resolve.Config{Order: order, LMHostsPath: cfg.Send.LMHosts, Interfaces: interfaces, Scope: cfg.NBNS.Scope,
		Log: log.With(slog.String("part", "resolve"))}
	if cfg.NBNS.WINS != "" {
		rcfg.WINS, _ = config.ParseWINS(cfg.NBNS.WINS)
	}
	resolver, err := resolve.New(rcfg)
	if err != nil {
		return err
	}
	snd := &sender.Sender{
		Resolver: resolver, Local: pl, Names: nameTable, CodePage: cp, HostName: cfg.HostName, Workgroup: cfg.Workgroup,
		SMBPort: cfg.Send.SMBPort, DgramPort: cfg.Send.DgramPort, Interfaces: interfaces, Timeout: cfg.Send.Timeout.Duration,
		Log: log.With(slog.String("part", "sender")),
		RPC: &rpc.Client{}, RPCPort: cfg.RPC.SendPort, Fallback: sender.Fallback(cfg.RPC.Fallback), TrustedForRPC: rpcAllow.Allows,
	}
	if datagrams != nil {
		snd.Datagrams = datagrams
	}
	if link != nil {
		snd.Hub = hubSender{link.client}
	}

	// The ingest listener (alert.ingest_addr) raises through the same
	// Alerter, so that de-duplication and rate limits see every alert.
	alerter := newAlerter(cfg, cp, nameTable, pl, snd, log.With(slog.String("part", "alert")))
	rules := &access.Rules{Accounts: access.NewAccounts(cfg.Access), Names: nameTable}
	// The users' API tokens are managed on the socket whether or not
	// the HTTP listener, where they are used, is on.
	tokens, err := api.OpenTokens(cfg.DataDir)
	if err != nil {
		return err
	}
	web := &api.Web{Accounts: rules.Accounts, Tokens: tokens, SessionTTL: cfg.Web.SessionTTL.Duration, Log: log}
	if httpLn != nil {
		// Over HTTP every request but the health answer needs a credential
		// bound to an account: a web session, a user's API token or the
		// admin web token, all known to web. Sign-in links point at the
		// listener, or at the proxy in front of it.
		if web.Admin, err = api.LoadAuth(cfg.DataDir); err != nil && !errors.Is(err, api.ErrNoToken) {
			return err
		}
		web.BaseURL = cfg.Web.ExternalURL
		if web.BaseURL == "" {
			web.BaseURL = "http://" + signInAddr(httpLn.Addr())
		}
	}
	if ingestLn != nil {
		h := httpingest.NewHandler(alerter, ingestConfig(cfg, log.With(slog.String("transport", "ingest"))))
		// ntfy clients subscribe where they publish, with a user's API
		// token; every other request goes to the ingest handler.
		sub := &ntfysub.Handler{Next: h, Store: st, Events: events, Rules: rules, Credentials: web,
			Log: log.With(slog.String("transport", "ntfy-subscribe")), Done: runCtx.Done()}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := httpingest.Serve(runCtx, limitConns(ingestLn, cfg, met, "ingest"), sub); err != nil {
				log.Error("ingest listener", slog.String("addr", ingestLn.Addr().String()), slog.Any("err", err))
				cancel()
			}
		}()
	}
	apiSrv := &api.Server{Tokens: tokens, Web: web, Credentials: web, Store: st, Names: nameSvc, Sender: snd, Alerts: alerter, Log: log, Spam: &spamAPI{spam, st, showers{pl, events}}, Events: events, Rules: rules, Status: func() apitype.Status {
		s := apitype.Status{Version: Version(), PID: os.Getpid(), Listeners: listeners}
		s.Stored, _ = st.Count(context.Background())
		for _, e := range nameTable.List() {
			s.Names = append(s.Names, api.NameOf(e))
		}
		return s
	}}
	if link != nil {
		apiSrv.Sent, apiSrv.HubLink = st, hubAPI{link.client}
	}
	metricsHandler := promhttp.HandlerFor(met.Registry, promhttp.HandlerOpts{})
	sockMux := http.NewServeMux()
	apiHandler := apiSrv.Handler()
	sockMux.Handle("/v1/", apiHandler)
	sockMux.Handle("GET /metrics", metricsHandler)
	sockSrv := api.NewHTTPServer(sockMux)
	sockSrv.ConnContext = api.PeerConnContext
	// A local caller may wait as long as it asks (send --wait=1h).
	sockSrv.WriteTimeout = 0
	servers := []*http.Server{sockSrv}
	serveHTTP := func(srv *http.Server, ln net.Listener) {
		defer wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server", slog.String("addr", ln.Addr().String()), slog.Any("err", err))
			cancel()
		}
	}
	wg.Add(1)
	go serveHTTP(servers[0], sockLn)
	if httpLn != nil {
		httpMux := http.NewServeMux()
		loopback := isLoopback(httpLn.Addr())
		if loopback {
			httpMux.Handle("GET /metrics", metricsHandler)
		} else {
			// Off loopback the network would read the host's counters:
			// an admin's credential is needed.
			httpMux.Handle("GET /metrics", apiSrv.AdminHandler(metricsHandler, "read the metrics over the network"))
		}
		var hosts []string
		if !loopback {
			host, _, _ := net.SplitHostPort(httpLn.Addr().String())
			hosts = append([]string{host}, cfg.HTTPHosts...)
		}
		if cfg.Web.ExternalURL != "" {
			hosts = append(hosts, cfg.Web.ExternalURL)
		}
		guard := func(h http.Handler) http.Handler { return api.GuardFor(h, hosts...) }
		httpMux.Handle("/v1/", guard(apiHandler))
		page := http.NotFoundHandler()
		if cfg.Sinks.Web.Enabled {
			page = api.WebHandler()
		}
		// The sign-in and sign-out pages are served even without the web
		// inbox: a session also opens the API to a browser's scripts.
		httpMux.Handle("/", guard(web.Wrap(page)))
		log.Info("API and web page over HTTP need a token or a web session", slog.String("addr", httpLn.Addr().String()), slog.Bool("loopback", loopback))
		srv := api.NewHTTPServer(httpMux)
		servers = append(servers, srv)
		wg.Add(1)
		go serveHTTP(srv, limitConns(httpLn, cfg, met, "http"))
	}

	// smbDone stays nil, and blocks forever, when the listener is off.
	var smbDone chan error
	if smbLn != nil {
		smbDone = make(chan error, 1)
		srv := &smbmsg.Server{
			Names: nameTable, Pipeline: pl, CodePage: cp, Metrics: met,
			Log:         log.With(slog.String("transport", "smb")),
			IdleTimeout: cfg.SMB.IdleTimeout.Duration, MaxSessionAge: cfg.SMB.MaxSessionAge.Duration,
			MaxSessions: cfg.SMB.MaxSessions, MaxSessionsPerSource: cfg.SMB.MaxSessionsPerSource,
			// Asked at every accept, so a reload (SIGHUP) takes effect for
			// the next connection.
			AdmitSource: func(a netip.Addr) (string, bool) {
				return spam.holder.AdmitSource(message.TransportSMB, a)
			},
			// Peers choose the framing by port, as smbclient does: a session
			// request first on 139, direct-hosted SMB elsewhere.
			SessionService: cfg.SMBPort == 139,
		}
		go func() { smbDone <- srv.Serve(runCtx, smbLn) }()
	}

	hostName, _ := names.Messenger(cfg.HostName, cp)
	log.Info("messenger started", slog.String("version", Version()), slog.String("data_dir", cfg.DataDir),
		slog.String("host_name", hostName.String()), slog.String("code_page", cp.Name()), slog.Any("listeners", listeners))

	var runErr error
	select {
	case <-runCtx.Done():
		log.Info("messenger stopping")
		cancel()
		// Transports first, so every message in flight is stored and
		// answered before the pipeline and the store close (deferred above).
		if smbDone != nil {
			runErr = <-smbDone
		}
	case runErr = <-smbDone:
		cancel()
	}
	// End the event streams first: Shutdown waits for every open request.
	events.Close()
	shutdownCtx, done := context.WithTimeout(context.Background(), 5*time.Second)
	defer done()
	for _, srv := range servers {
		srv.Shutdown(shutdownCtx)
	}
	return runErr
}

// Per-packet log lines (a malformed packet, a refused query) are limited
// to packetLogBurst per packetLogWindow for each transport, with one line
// at the end of a window saying how many were suppressed: a stranger can
// send a thousand packets a second, the log should not grow by as many
// lines, and one flood should not crowd out another part's warnings.
const (
	packetLogBurst  = 20
	packetLogWindow = 10 * time.Second
)

func packetLog(log *slog.Logger) *slog.Logger {
	return slog.New(lograte.NewLevel(log.Handler(), slog.LevelInfo, packetLogBurst, packetLogWindow))
}

// admit is the policy's network gate for one UDP transport, read from the
// policy in force at each packet, so a reload applies at once.
func admit(h *policy.Holder, t message.Transport) func(netip.Addr) bool {
	return func(a netip.Addr) bool { _, ok := h.AdmitSource(t, a); return ok }
}

// signInAddr is the HTTP listener's address as a sign-in link names it:
// a listener on every address is reached through loopback by whoever
// runs `messenger web` on this host.
func signInAddr(a net.Addr) string {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return a.String()
	}
	ip := ta.IP
	switch {
	case ip.Equal(net.IPv4zero):
		ip = net.IPv4(127, 0, 0, 1)
	case ip.Equal(net.IPv6unspecified):
		ip = net.IPv6loopback
	}
	return net.JoinHostPort(ip.String(), strconv.Itoa(ta.Port))
}

// limitConns bounds an HTTP listener's connections as the configuration
// says, counting those it closes unread.
func limitConns(ln net.Listener, cfg config.Config, met *metrics.Metrics, name string) net.Listener {
	return connlimit.New(ln, cfg.HTTPMaxConnsPerSource, cfg.HTTPMaxConns, func(reason string) {
		met.HTTPRefused.WithLabelValues(name, reason).Inc()
	})
}

func isLoopback(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}

// listenTCP opens a listener and turns the two errors operators meet into
// advice.
func listenTCP(bind string, port int, flag string) (net.Listener, error) {
	addr := net.JoinHostPort(bind, strconv.Itoa(port))
	ln, err := net.Listen("tcp", addr)
	if err == nil {
		return ln, nil
	}
	return nil, bindAdvice("TCP", addr, bind, port, flag, err)
}

func bindAdvice(proto, addr, bind string, port int, flag string, err error) error {
	switch {
	case errors.Is(err, syscall.EACCES) && port < 1024:
		return fmt.Errorf("cannot listen on %s port %d: permission denied. Ports below 1024 need root or the "+
			"CAP_NET_BIND_SERVICE capability (sudo setcap cap_net_bind_service=+ep \"$(command -v messenger)\"), "+
			"or choose a port above 1023 with --%s", proto, port, flag)
	case errors.Is(err, syscall.EADDRINUSE):
		return fmt.Errorf("cannot listen on %s port %d: it is already in use (is Samba running? "+
			"stop smbd/nmbd, or choose another port with --%s)", proto, port, flag)
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return fmt.Errorf("cannot listen on %s: --bind %s is not an address of this host", addr, bind)
	}
	return fmt.Errorf("cannot listen on %s %s: %w", proto, addr, err)
}

// listenUDP opens a UDP socket with the same advice as listenTCP.
func listenUDP(bind string, port int, flag string) (*net.UDPConn, error) {
	addr := net.JoinHostPort(bind, strconv.Itoa(port))
	c, err := net.ListenPacket("udp4", addr)
	if err == nil {
		return c.(*net.UDPConn), nil
	}
	return nil, bindAdvice("UDP", addr, bind, port, flag, err)
}

// listenSocket opens the local API socket, replacing a stale one left by
// a daemon that was killed.
func listenSocket(path string) (net.Listener, error) {
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("another messenger daemon is already running with data directory %s", filepath.Dir(path))
	}
	os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("cannot open the local API socket %s: %w", path, err)
	}
	// Every local account may connect: the peer credentials, not the
	// file mode, say who is asking and what they may do.
	if err := os.Chmod(path, 0o666); err != nil {
		ln.Close()
		return nil, fmt.Errorf("setting permissions on %s: %w", path, err)
	}
	return ln, nil
}

// lockDataDir makes sure only one daemon uses a data directory; the lock
// goes away with the process, however it ends.
func lockDataDir(dir string) (func(), error) {
	path := filepath.Join(dir, "messenger.lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("another messenger daemon is already running with data directory %s", dir)
		}
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}

// tightenDataDir makes the data directory traversable only (0711, so
// every account reaches the socket in it) and every file in it private
// to the daemon, saying in the log what it changed: a directory made by
// an older version, or by hand, may have left messages readable.
func tightenDataDir(dir string, log *slog.Logger) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	// Exactly 0711: MkdirAll under the daemon's umask of 077 makes the
	// directory 0700, which would shut every other account — NUT's, CUPS's
	// notifier, users — out of the socket.
	if perm := fi.Mode().Perm(); perm != 0o711 {
		if err := os.Chmod(dir, 0o711); err != nil {
			return fmt.Errorf("setting data directory %s to 0711: %w", dir, err)
		}
		if perm&0o066 != 0 {
			log.Warn("data directory was open to other accounts; now 0711", slog.String("dir", dir), slog.String("was", perm.String()))
		} else {
			log.Info("data directory made traversable (0711) so other accounts reach the socket", slog.String("dir", dir), slog.String("was", perm.String()))
		}
	}
	return filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || path == dir {
			return err
		}
		if d.Type()&os.ModeSocket != 0 || d.Type()&os.ModeSymlink != 0 {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		want := os.FileMode(0o600)
		if d.IsDir() {
			want = 0o700
		}
		if perm := fi.Mode().Perm(); perm&^want != 0 {
			if err := os.Chmod(path, want); err != nil {
				return fmt.Errorf("tightening %s: %w", path, err)
			}
			log.Warn("file in the data directory was open to other accounts; now private", slog.String("path", path),
				slog.String("was", perm.String()), slog.String("now", want.String()))
		}
		return nil
	})
}
