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
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/netsend/messenger/internal/access"
	"github.com/netsend/messenger/internal/alert"
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
	"github.com/netsend/messenger/internal/transport/kfilter"
	"github.com/netsend/messenger/internal/transport/mailslot"
	"github.com/netsend/messenger/internal/transport/nbns"
	"github.com/netsend/messenger/internal/transport/rpc"
	"github.com/netsend/messenger/internal/transport/smbmsg"
	"github.com/netsend/messenger/internal/transport/udpsock"
	"github.com/netsend/messenger/internal/webauth"
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

// daemon is one run of the daemon: its parts, made by the phases of Run
// in turn.
type daemon struct {
	cfg    config.Config
	rt     *config.Runtime
	log    *slog.Logger
	stdout io.Writer
	met    *metrics.Metrics
	table  *names.Table
	ln     *listeners
	st     *store.Store
	spam   *spamPolicy
	events *api.EventBus
	pl     *pipeline.Pipeline
	g      *group

	link      *hubLink // nil when [hub] is off
	nameSvc   *names.Service
	datagrams *mailslot.Server // nil when the datagram port is off
	kf        *kfilter.Filter  // nil when the kernel filter is not in force
	smb       *task            // nil when the SMB port is off
	snd       *sender.Sender
	alerter   *alert.Alerter
	servers   []*http.Server
}

// Run runs the daemon until ctx ends. Pop-up blocks go to stdout. load
// reads the configuration again, as it was read for cfg; the policy in it
// is put in force on SIGHUP and POST /v1/policy/reload (nil: no reload).
//
// It goes in phases: the configuration resolved, the data directory
// locked, every listener opened, the store and the pipeline built, then
// the goroutines started (hub, reload, names, transports, HTTP), then the
// wait and the stop, in the reverse order through the deferred calls.
func Run(ctx context.Context, cfg config.Config, log *slog.Logger, stdout io.Writer, load func() (config.Config, error)) (err error) {
	rt, err := cfg.Resolve()
	if err != nil {
		return fmt.Errorf("invalid configuration:\n%w", err)
	}
	unlock, err := prepareDataDir(cfg.DataDir, log)
	if err != nil {
		return err
	}
	defer unlock()
	d := &daemon{cfg: cfg, rt: rt, log: log, stdout: stdout, met: metrics.New()}
	startPprof(ctx, log)
	if name, long := config.DefaultHostNameCut(); long != "" && cfg.HostName == name {
		// Said once at the start: other hosts will know this one by the
		// cut name, which nobody chose.
		log.Info(fmt.Sprintf("host name %s is longer than NetBIOS allows; using %s", long, name),
			slog.String("host_name", name), slog.String("set_with", "--host-name"))
	}
	d.table, err = names.New(names.Config{CodePage: rt.CodePage, Host: cfg.HostName, HostSuffixes: rt.HostSuffixes,
		Workgroup: cfg.Workgroup, Aliases: cfg.Names})
	if err != nil {
		return err
	}
	// Open every socket before anything runs, so a port that cannot be had
	// stops the start with a clear error and nothing half-started.
	if d.ln, err = openListeners(cfg); err != nil {
		return err
	}
	defer d.ln.close()
	// The event stream (GET /v1/events), which the web page and the
	// desktop agents follow, hears of messages from the store's writer
	// rather than as a pipeline sink: the writer sees them in commit
	// order, the pipeline's callers return in any order.
	d.events = api.NewEventBus()
	d.events.Dropped = func(n int) { d.met.SinkDropped.WithLabelValues(d.events.Name()).Add(float64(n)) }
	d.st, err = store.Open(ctx, cfg.DataDir, store.Options{Logger: log, OnCommit: d.met.ObserveCommit, OnStored: d.events.Committed,
		QuarantineMax: cfg.Policy.QuarantineMax})
	if err != nil {
		return err
	}
	defer func() {
		if cerr := d.st.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	lastID, err := d.st.LastID(ctx)
	if err != nil {
		return fmt.Errorf("reading the last message id: %w", err)
	}
	d.events.StartAt(lastID)
	if err := d.buildPipeline(ctx, load); err != nil {
		return err
	}
	defer d.pl.Close()

	d.g = newGroup(ctx, log)
	defer d.g.Wait()
	defer d.g.cancel()
	// However Run ends — a panic included — the HTTP servers' listeners are
	// closed before the group's Wait, so their goroutines return and Run
	// does too.
	defer d.ln.closeHTTP()

	// The hub's client delivers into the pipeline, so it stops (with the
	// embedded server after it) in the group's Wait, before the pipeline
	// closes.
	if err := d.startHub(); err != nil {
		return err
	}
	// The last socket (the hub's) is open, and the transports do not
	// read yet.
	d.dropCapabilities()
	stopReload := d.watchReload()
	defer stopReload()
	stopNames, err := d.startNames(ctx)
	// Release our names on a clean stop, while the name service still
	// runs; then stop it.
	defer stopNames()
	if err != nil {
		return err
	}
	if err := d.startTransports(); err != nil {
		return err
	}
	if err := d.startOutbound(); err != nil {
		return err
	}
	if err := d.serveHTTP(); err != nil {
		return err
	}
	if err := d.startSMB(); err != nil {
		return err
	}

	hostName, _ := names.Messenger(cfg.HostName, rt.CodePage)
	log.Info("messenger started", slog.String("version", Version()), slog.String("data_dir", cfg.DataDir),
		slog.String("host_name", hostName.String()), slog.String("code_page", rt.CodePage.Name()), slog.String("listeners", d.ln.String()))
	d.g.Go("retention", func() error {
		d.st.RunRetention(d.g.ctx, store.Retention{Keep: rt.StoreKeep, MaxMessages: cfg.Store.MaxMessages})
		return nil
	})
	log.Debug("goroutines started", slog.Any("names", d.g.Names()))
	return d.wait()
}

// prepareDataDir makes the data directory, private to the daemon but for
// its socket, and locks it for this daemon.
func prepareDataDir(dir string, log *slog.Logger) (unlock func(), err error) {
	// Every file the daemon makes is its own: the database, its -wal and
	// -shm, tokens, keys. The socket alone is opened up, in listenSocket.
	syscall.Umask(0o077)
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return nil, fmt.Errorf("creating data directory: %w", err)
	}
	if err := tightenDataDir(dir, log); err != nil {
		return nil, err
	}
	return lockDataDir(dir)
}

// buildPipeline makes the sinks, the policy in force and the pipeline
// that stores and shows each message.
func (d *daemon) buildPipeline(ctx context.Context, load func() (config.Config, error)) error {
	cfg, log := d.cfg, d.log
	var sinks []pipeline.Sink
	if cfg.Popup.Enabled {
		sinks = append(sinks, popup.New(d.stdout))
	}
	skipped := func(name string) func(string) {
		return func(reason string) { d.met.SinkSkipped.WithLabelValues(name, reason).Inc() }
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
	var err error
	d.spam, err = newSpamPolicy(ctx, cfg, d.st, load, log.With(slog.String("part", "policy")))
	if err != nil {
		return err
	}
	d.pl = pipeline.New(d.kernelFilter(), d.st, d.met, log, sinks...)
	return nil
}

// startHub starts the NATS hub's goroutine, when [hub] is on.
func (d *daemon) startHub() error {
	link, err := startHub(d.cfg, d.st, d.pl, d.table, d.log)
	if err != nil || link == nil {
		return err
	}
	d.link = link
	d.g.Go("hub", func() error {
		defer link.shutdown()
		link.run(d.g.ctx, d.table)
		return nil
	})
	if d.cfg.Hub.Listen != "" && len(d.cfg.Hub.URLs) == 0 {
		d.ln.add("hub", "tcp", link.embedded.ClientURL())
	}
	return nil
}

// watchReload puts the policy (and the hub's authorized hosts) in force
// again on SIGHUP.
func (d *daemon) watchReload() (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	d.g.Go("reload", func() error {
		for {
			select {
			case <-hup:
				// Errors are logged by Reload; the old policy stays.
				d.spam.Reload(d.g.ctx)
				if d.link != nil {
					d.link.reload()
				}
			case <-d.g.ctx.Done():
				return nil
			}
		}
	})
	return func() { signal.Stop(hup) }
}

// startNames starts the name service (NBNS) and registers our names. The
// name service outlives the group's context: releasing our names at the
// end needs it (WINS answers releases). stop releases the names, then
// stops the name service; it is to be called even when err is not nil.
func (d *daemon) startNames(ctx context.Context) (stop func(), err error) {
	cfg, rt, log := d.cfg, d.rt, d.log
	nbnsCtx, nbnsStop := context.WithCancel(context.WithoutCancel(ctx))
	d.nameSvc = &names.Service{Table: d.table, Store: d.st, Log: log.With(slog.String("part", "names"))}
	if d.ln.nbns != nil {
		nbnsLog := log.With(slog.String("transport", "nbns"))
		nbnsSrv, err := nbns.New(nbns.Config{Conn: d.ln.nbns,
			Table: d.table, Metrics: d.met, Log: nbnsLog, PacketLog: packetLog(nbnsLog), Scope: cfg.NBNS.Scope,
			NodeType: rt.NodeType.NBFlags(), TTL: cfg.NBNS.TTL.Duration, NodeStatusAllow: rt.NodeStatusAllow, Interfaces: cfg.NBNS.Interfaces,
		})
		if err != nil {
			return nbnsStop, err
		}
		d.nameSvc.Registrar = &names.Registrar{Table: d.table, Wire: nbnsSrv, NodeType: rt.NodeType, Scope: cfg.NBNS.Scope,
			TTL: cfg.NBNS.TTL.Duration, WINS: rt.WINS, Log: log.With(slog.String("part", "registrar"))}
		d.g.Go("name service", func() error { return nbnsSrv.Serve(nbnsCtx) })
	}
	// Registration answers come through the name service, which runs now.
	if err := d.nameSvc.Start(d.g.ctx); err != nil {
		return nbnsStop, err
	}
	if cfg.UserNames {
		d.g.Go("user names", func() error {
			d.nameSvc.WatchUsers(d.g.ctx, cfg.Utmp, userPollInterval)
			return nil
		})
	}
	return func() {
		stopCtx, done := context.WithTimeout(context.Background(), 5*time.Second)
		defer done()
		d.nameSvc.Stop(stopCtx)
		nbnsStop()
	}, nil
}

// startTransports starts the datagram (mailslot) and RPC services.
func (d *daemon) startTransports() error {
	cp, log := d.rt.CodePage, d.log
	d.sweepKernelFilter()
	if len(d.ln.dgram) > 0 {
		dgramLog := log.With(slog.String("transport", "mailslot"))
		srv, err := mailslot.New(mailslot.Config{Conns: d.ln.dgram, Table: d.table, Pipeline: d.pl, CodePage: cp, Metrics: d.met,
			Log: dgramLog, PacketLog: packetLog(dgramLog), Admit: admit(d.spam.holder, message.TransportMailslot), Scope: d.cfg.NBNS.Scope})
		if err != nil {
			return err
		}
		d.datagrams = srv
		d.g.Go("datagram service", func() error { return srv.Serve(d.g.ctx) })
	}
	if len(d.ln.rpc) > 0 {
		rpcLog := log.With(slog.String("transport", "rpc"))
		srv, err := rpc.New(rpc.Config{Conns: d.ln.rpc, Table: d.table, Pipeline: d.pl, CodePage: cp, Metrics: d.met,
			Log: rpcLog, PacketLog: packetLog(rpcLog), Admit: admit(d.spam.holder, message.TransportRPC)})
		if err != nil {
			return err
		}
		d.g.Go("RPC service", func() error { return srv.Serve(d.g.ctx) })
	}
	return nil
}

// startOutbound builds the sender and the Alerter, and starts the alert
// ingest listener (alert.ingest_addr), which raises through the same
// Alerter, so that de-duplication and rate limits see every alert.
func (d *daemon) startOutbound() error {
	cfg, rt, log := d.cfg, d.rt, d.log
	interfaces := func() []names.Interface { return names.BroadcastInterfaces(cfg.NBNS.Interfaces) }
	resolver, err := resolve.New(resolve.Config{Order: rt.ResolveOrder, LMHostsPath: cfg.Send.LMHosts, Interfaces: interfaces,
		Scope: cfg.NBNS.Scope, WINS: rt.WINS, Log: log.With(slog.String("part", "resolve"))})
	if err != nil {
		return err
	}
	d.snd = &sender.Sender{
		Resolver: resolver, Local: d.pl, Names: d.table, CodePage: rt.CodePage, HostName: cfg.HostName, Workgroup: cfg.Workgroup,
		SMBPort: cfg.Send.SMBPort, DgramPort: cfg.Send.DgramPort, Interfaces: interfaces, Timeout: cfg.Send.Timeout.Duration,
		Log: log.With(slog.String("part", "sender")),
		RPC: &rpc.Client{}, RPCPort: cfg.RPC.SendPort, Fallback: sender.Fallback(cfg.RPC.Fallback), TrustedForRPC: rt.RPCAllow.Allows,
	}
	if d.datagrams != nil {
		d.snd.Datagrams = d.datagrams
	}
	if d.link != nil {
		d.snd.Hub = hubSender{d.link.client}
	}
	d.alerter = newAlerter(cfg, rt, d.table, d.pl, d.snd, log.With(slog.String("part", "alert")))
	return nil
}

// serveHTTP serves the API on the socket and, when it is on, the HTTP
// listener; the routes and their guards are api's.
func (d *daemon) serveHTTP() error {
	cfg, log := d.cfg, d.log
	rules := &access.Rules{Accounts: access.NewAccounts(cfg.Access), Names: d.table}
	// The users' API tokens are managed on the socket whether or not
	// the HTTP listener, where they are used, is on.
	tokens, err := webauth.OpenTokens(cfg.DataDir)
	if err != nil {
		return err
	}
	web := &webauth.Web{Accounts: rules.Accounts, Tokens: tokens, SessionTTL: cfg.Web.SessionTTL.Duration, Log: log}
	if d.ln.http != nil {
		// Over HTTP every request but the health answer needs a credential
		// bound to an account: a web session, a user's API token or the
		// admin web token, all known to web. Sign-in links point at the
		// listener, or at the proxy in front of it.
		if web.Admin, err = webauth.LoadAuth(cfg.DataDir); err != nil && !errors.Is(err, webauth.ErrNoToken) {
			return err
		}
		web.BaseURL = cfg.Web.ExternalURL
		if web.BaseURL == "" {
			web.BaseURL = "http://" + signInAddr(d.ln.http.Addr())
		}
	}
	st, table, listeners := d.st, d.table, d.ln.list
	apiSrv := &api.Server{Tokens: tokens, Web: web, Credentials: web, Store: st, Names: d.nameSvc, Sender: d.snd, Alerts: d.alerter,
		Log: log, Spam: &spamAPI{d.spam, st, showers{d.pl, d.events}}, Events: d.events, Rules: rules, Status: func() apitype.Status {
			s := apitype.Status{Version: Version(), PID: os.Getpid(), Listeners: listeners}
			s.Stored, _ = st.Count(context.Background())
			for _, e := range table.List() {
				s.Names = append(s.Names, api.NameOf(e))
			}
			return s
		}}
	if d.link != nil {
		apiSrv.Sent, apiSrv.HubLink = st, hubAPI{d.link.client}
	}
	metricsHandler := promhttp.HandlerFor(d.met.Registry, promhttp.HandlerOpts{})
	d.serve("socket API", apiSrv.SocketServer(metricsHandler), d.ln.sock)
	if ln := d.ln.http; ln != nil {
		// The listener's own addresses are answered to without --http-host:
		// a browser opened at one of them sends it as the Host.
		hosts := append(slices.Clone(cfg.HTTPHosts), webauth.ListenerHosts(ln.Addr(), net.InterfaceAddrs)...)
		srv := apiSrv.HTTPServer(api.HTTPOptions{Addr: ln.Addr(), Hosts: hosts, ExternalURL: cfg.Web.ExternalURL,
			WebPage: cfg.Sinks.Web.Enabled, Metrics: metricsHandler})
		log.Info("API and web page over HTTP need a token or a web session", slog.String("addr", ln.Addr().String()), slog.Bool("loopback", api.IsLoopback(ln.Addr())))
		d.serve("HTTP API", srv, limitConns(ln, cfg, d.met, "http"))
	}
	// The ingest listener (alert.ingest_addr) raises through the same
	// Alerter, so that de-duplication and rate limits see every alert;
	// ntfy clients subscribe where they publish, with a user's API token,
	// and every other request goes to the ingest handler.
	if ln := d.ln.ingest; ln != nil {
		h := httpingest.NewHandler(d.alerter, ingestConfig(cfg, d.rt, log.With(slog.String("transport", "ingest"))))
		sub := &ntfysub.Handler{Next: h, Store: st, Events: d.events, Rules: rules, Credentials: web,
			Log: log.With(slog.String("transport", "ntfy-subscribe")), Done: d.g.ctx.Done()}
		d.g.Go("ingest listener", func() error { return httpingest.Serve(d.g.ctx, limitConns(ln, cfg, d.met, "ingest"), sub) })
	}
	return nil
}

// serve runs srv on ln in the group, and keeps it for the stop.
func (d *daemon) serve(name string, srv *http.Server, ln net.Listener) {
	d.servers = append(d.servers, srv)
	d.g.Go(name, func() error {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http server %s: %w", ln.Addr(), err)
		}
		return nil
	})
}

// startSMB starts the SMB session service, whose end ends the daemon.
func (d *daemon) startSMB() error {
	if d.ln.smb == nil {
		return nil
	}
	srv, err := smbmsg.New(smbmsg.Config{
		Listener: d.ln.smb, Names: d.table, Pipeline: d.pl, CodePage: d.rt.CodePage, Metrics: d.met,
		Log:         d.log.With(slog.String("transport", "smb")),
		IdleTimeout: d.cfg.SMB.IdleTimeout.Duration, MaxSessionAge: d.cfg.SMB.MaxSessionAge.Duration,
		MaxSessions: d.cfg.SMB.MaxSessions, MaxSessionsPerSource: d.cfg.SMB.MaxSessionsPerSource,
		// Asked at every accept, so a reload (SIGHUP) takes effect for
		// the next connection.
		AdmitSource: func(a netip.Addr) (string, bool) {
			return d.spam.holder.AdmitSource(message.TransportSMB, a)
		},
		// Peers choose the framing by port, as smbclient does: a session
		// request first on 139, direct-hosted SMB elsewhere.
		SessionService: d.cfg.SMBPort == 139,
	})
	if err != nil {
		return err
	}
	// Its end, clean or not, ends the daemon (see wait).
	d.smb = d.g.Go("smb", func() error { return srv.Serve(d.g.ctx) })
	return nil
}

// wait runs until the daemon is told to stop, or the SMB service ends,
// and stops the transports and the HTTP servers; the deferred calls of
// Run do the rest.
func (d *daemon) wait() error {
	// smbDone stays nil, and blocks forever, when the listener is off.
	var smbDone chan struct{}
	if d.smb != nil {
		smbDone = d.smb.done
	}
	select {
	case <-d.g.ctx.Done():
		d.log.Info("messenger stopping")
		// Transports first, so every message in flight is stored and
		// answered before the pipeline and the store close (deferred in
		// Run).
		if smbDone != nil {
			<-smbDone
		}
	case <-smbDone:
	}
	d.g.cancel()
	var runErr error
	if d.smb != nil {
		runErr = d.smb.err
	}
	// End the event streams first: Shutdown waits for every open request.
	d.events.Close()
	shutdownCtx, done := context.WithTimeout(context.Background(), 5*time.Second)
	defer done()
	for _, srv := range d.servers {
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
			"or choose a port above 1023 with --%s (--user-ports moves every listener above 1023)", proto, port, flag)
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

// listenUDPGroup opens a UDP port as one SO_REUSEPORT socket per CPU
// (udpsock.ListenGroup), so that a flood is read by every CPU.
func listenUDPGroup(bind string, port int, flag string) ([]*net.UDPConn, error) {
	addr := net.JoinHostPort(bind, strconv.Itoa(port))
	g, err := udpsock.ListenGroup("udp4", addr, runtime.NumCPU())
	if err == nil {
		return g, nil
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
	perm := fi.Mode().Perm()
	if perm == 0o711 {
		// Set so by a daemon that made every file in it private: there is
		// nothing to walk (the hub's store can be large).
		return nil
	}
	if err := os.Chmod(dir, 0o711); err != nil {
		return fmt.Errorf("setting data directory %s to 0711: %w", dir, err)
	}
	if perm&0o066 != 0 {
		log.Warn("data directory was open to other accounts; now 0711", slog.String("dir", dir), slog.String("was", perm.String()))
	} else {
		log.Info("data directory made traversable (0711) so other accounts reach the socket", slog.String("dir", dir), slog.String("was", perm.String()))
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
