// Package hubserver runs the hub's NATS server inside the daemon: a
// nats-server with JetStream, its users the daemon's own host, an
// in-process admin and the keys package hubauth authorized, each with
// hubauth's permissions, its streams and consumers provisioned at the
// start and on every reload.
package hubserver

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/netsend/messenger/internal/hubauth"
	"github.com/netsend/messenger/internal/hubwire"
)

// Options configure the daemon's own NATS server.
type Options struct {
	StoreDir   string // JetStream file storage
	Listen     string // HOST:PORT where other hosts reach it ("...:0" picks a port); "" = in-process only
	ServerName string // "" = the server's generated id; spaces become '_' (nats-server refuses them)

	// TLSCert and TLSKey (PEM files, together) make Listen take only TLS.
	// TLSClientCA (PEM), when set, also requires every client to present
	// a certificate it signed, besides its NKey. The daemon's own
	// in-process connections need neither.
	TLSCert     string
	TLSKey      string
	TLSClientCA string

	Self     nkeys.KeyPair // the daemon's own user key (hubauth.LoadOrCreateSelfKey)
	SelfHost string        // the daemon's host name, which Self speaks for

	// Authorized are the other hosts (and any external admin) that may
	// connect: hubauth.LoadAuthorized(hub.authorized_dir).
	Authorized []hubauth.HostKey

	Log *slog.Logger
}

// Server is a running embedded hub server: JetStream, provisioned for
// its own host and every authorized one.
type Server struct {
	srv      *server.Server
	base     *server.Options // as first configured; Reload clones it
	self     nkeys.KeyPair
	selfHost string
	admin    nkeys.KeyPair // in memory only, in-process connections only
	log      *slog.Logger
	url      string // ClientURL, kept for after a shutdown
	name     string

	mu      sync.Mutex // serializes Reload and Shutdown
	adminNC *nats.Conn
	js      jetstream.JetStream
}

// startTimeout bounds how long the server may take to accept
// connections and its streams to be provisioned (JetStream recovers its
// file store first).
const startTimeout = 30 * time.Second

// Start starts the embedded hub server, waits until it accepts
// connections, and provisions its streams and the consumers of its own
// host and every authorized one.
func Start(opts Options) (*Server, error) {
	if opts.Self == nil || opts.SelfHost == "" {
		return nil, errors.New("hub: embedded server: the daemon's own key and host name are required")
	}
	if opts.StoreDir == "" {
		return nil, errors.New("hub: embedded server: no store directory")
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	admin, err := nkeys.CreateUser()
	if err != nil {
		return nil, fmt.Errorf("hub: embedded server: admin key: %w", err)
	}
	e := &Server{self: opts.Self, selfHost: opts.SelfHost, admin: admin, log: log}
	users, err := e.users(opts.Authorized)
	if err != nil {
		return nil, err
	}
	so := &server.Options{
		ServerName: strings.ReplaceAll(opts.ServerName, " ", "_"),
		JetStream:  true,
		StoreDir:   opts.StoreDir,
		Nkeys:      users,
		// The daemon owns the process's signals.
		NoSigs: true,
	}
	tlsSet := opts.TLSCert != "" || opts.TLSKey != "" || opts.TLSClientCA != ""
	if opts.Listen == "" {
		if tlsSet {
			return nil, errors.New("hub: embedded server: TLS settings, but no listen address to put them on")
		}
		so.DontListen = true
	} else {
		host, port, err := net.SplitHostPort(opts.Listen)
		if err != nil {
			return nil, fmt.Errorf("hub: listen address %q: %w", opts.Listen, err)
		}
		n, err := strconv.Atoi(port)
		if err != nil || n < 0 || n > 65535 {
			return nil, fmt.Errorf("hub: listen address %q: bad port", opts.Listen)
		}
		if n == 0 {
			n = server.RANDOM_PORT // 0 would mean 4222 to nats-server
		} else if err := portFree(opts.Listen); err != nil {
			// nats-server only logs a listen failure and then never gets
			// ready: found here, it is an error at once instead of after
			// startTimeout.
			return nil, &ListenError{Addr: opts.Listen, Err: err}
		}
		so.Host, so.Port = host, n
		if tlsSet {
			if so.TLSConfig, err = listenerTLS(opts.TLSCert, opts.TLSKey, opts.TLSClientCA, log); err != nil {
				return nil, err
			}
			so.TLSTimeout = tlsHandshakeTimeout.Seconds()
		}
	}
	e.base = so.Clone()
	srv, err := server.NewServer(so)
	if err != nil {
		return nil, fmt.Errorf("hub: embedded server: %w", err)
	}
	fatal := make(chan string, 1)
	srv.SetLoggerV2(serverLog{l: log, fatal: fatal}, false, false, false)
	srv.Start()
	e.srv = srv
	if err := waitReady(srv, fatal); err != nil {
		e.stopServer()
		return nil, err
	}
	if !srv.JetStreamEnabled() {
		e.stopServer()
		return nil, fmt.Errorf("hub: embedded server: JetStream did not start (store %s)", opts.StoreDir)
	}
	if !so.DontListen {
		e.url = srv.ClientURL()
	}
	e.name = srv.Name()
	e.adminNC, err = nats.Connect("", nats.InProcessServer(srv), nkeyOption(admin), nats.Name("messenger hub admin"))
	if err != nil {
		e.stopServer()
		return nil, fmt.Errorf("hub: embedded server: admin connection: %w", err)
	}
	if e.js, err = jetstream.New(e.adminNC); err != nil {
		e.Shutdown()
		return nil, fmt.Errorf("hub: embedded server: %w", err)
	}
	if err := e.provision(opts.Authorized); err != nil {
		e.Shutdown()
		return nil, err
	}
	log.Info("hub server started", slog.String("listen", e.ClientURL()), slog.Bool("tls", so.TLSConfig != nil),
		slog.Bool("client_certs", so.TLSConfig != nil && so.TLSConfig.ClientAuth == tls.RequireAndVerifyClientCert),
		slog.Int("authorized", len(opts.Authorized)))
	return e, nil
}

// ListenError is the embedded server's listen address that cannot be
// had; the daemon names its setting.
type ListenError struct {
	Addr string
	Err  error
}

func (e *ListenError) Error() string {
	return fmt.Sprintf("hub: cannot listen on %s: %v", e.Addr, e.Err)
}
func (e *ListenError) Unwrap() error { return e.Err }

// portFree reports why addr cannot be listened on, by listening on it a
// moment: a port taken between this and the server's own listen still
// fails, through waitReady.
func portFree(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return ln.Close()
}

// waitReady waits until srv accepts connections, up to startTimeout, or
// until it reports a fatal error (a listener it could not open), which
// then ends the wait at once: nats-server logs such an error rather than
// returning it, and would otherwise leave the wait to its timeout.
func waitReady(srv *server.Server, fatal <-chan string) error {
	deadline := time.Now().Add(startTimeout)
	for !srv.ReadyForConnections(100 * time.Millisecond) {
		select {
		case msg := <-fatal:
			return fmt.Errorf("hub: embedded server: %s", msg)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("hub: embedded server did not accept connections within %s", startTimeout)
		}
	}
	return nil
}

// tlsHandshakeTimeout is how long a client has for its TLS handshake:
// nats-server's 2 s default is tight for a host across a slow WAN link.
const tlsHandshakeTimeout = 5 * time.Second

// listenerTLS is the listener's TLS configuration, every file read and
// checked here so that a wrong one stops the start with an error naming
// it rather than failing each handshake later.
func listenerTLS(certFile, keyFile, clientCAFile string, log *slog.Logger) (*tls.Config, error) {
	if certFile == "" || keyFile == "" {
		return nil, errors.New("hub: listener TLS needs both a certificate and its key")
	}
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("hub: listener TLS certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("hub: listener TLS key: %w", err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("hub: listener TLS certificate %s with key %s: %w", certFile, keyFile, err)
	}
	// Only a warning: the daemon's own messages still flow in process, and
	// a renewed certificate needs a restart anyway.
	if leaf := cert.Leaf; leaf != nil {
		if now := time.Now(); now.After(leaf.NotAfter) || now.Before(leaf.NotBefore) {
			log.Warn("hub listener certificate is not valid now; other hosts will refuse it",
				slog.String("file", certFile), slog.Time("not_before", leaf.NotBefore), slog.Time("not_after", leaf.NotAfter))
		}
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	if clientCAFile != "" {
		caPEM, err := os.ReadFile(clientCAFile)
		if err != nil {
			return nil, fmt.Errorf("hub: listener TLS client CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(caPEM) {
			return nil, fmt.Errorf("hub: listener TLS client CA %s: no PEM certificate in it", clientCAFile)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// users are the server's nkey users: the daemon itself as its host, the
// in-process admin, and the authorized keys. One key with two roles
// would get whichever the server saw last, so that is refused.
func (e *Server) users(authorized []hubauth.HostKey) ([]*server.NkeyUser, error) {
	selfPub, err := e.self.PublicKey()
	if err != nil {
		return nil, fmt.Errorf("hub: own key: %w", err)
	}
	adminPub, err := e.admin.PublicKey()
	if err != nil {
		return nil, fmt.Errorf("hub: admin key: %w", err)
	}
	users := []*server.NkeyUser{
		{Nkey: selfPub, Permissions: hubauth.HostPermissions(e.selfHost)},
		{Nkey: adminPub, Permissions: hubauth.AdminPermissions(),
			AllowedConnectionTypes: map[string]struct{}{jwt.ConnectionTypeInProcess: {}}},
	}
	seen := map[string]string{selfPub: "this daemon's own key", adminPub: "the admin key"}
	for _, k := range authorized {
		who := "host " + k.Host
		if k.Admin {
			who = "the external admin"
		}
		if other, dup := seen[k.PublicKey]; dup {
			return nil, fmt.Errorf("hub: %s has the same key as %s", who, other)
		}
		seen[k.PublicKey] = who
		users = append(users, &server.NkeyUser{Nkey: k.PublicKey, Permissions: k.Permissions()})
	}
	return users, nil
}

func (e *Server) provision(authorized []hubauth.HostKey) error {
	hosts := []string{e.selfHost}
	for _, k := range authorized {
		if !k.Admin {
			hosts = append(hosts, k.Host)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	return hubauth.Provision(ctx, e.js, hubauth.ProvisionOptions{Replicas: 1, Hosts: hosts})
}

// SelfOptions connect the daemon to its own server, in process, as its
// own host: with the same permissions as any other host, so that its
// flows are the ones remote hosts use.
func (e *Server) SelfOptions() []nats.Option {
	return []nats.Option{
		e.InProcessOption(),
		nkeyOption(e.self),
		nats.CustomInboxPrefix(hubwire.InboxPrefix(e.selfHost)),
	}
}

// InProcessOption makes a connection go to this server without a socket.
func (e *Server) InProcessOption() nats.Option { return nats.InProcessServer(inProcess{e}) }

// inProcess hands out in-process connections while the server runs; a
// client reconnecting after Shutdown gets an error, not a stopped server.
type inProcess struct{ e *Server }

func (p inProcess) InProcessConn() (net.Conn, error) {
	p.e.mu.Lock()
	srv := p.e.srv
	p.e.mu.Unlock()
	if srv == nil {
		return nil, errors.New("hub: embedded server is shut down")
	}
	return srv.InProcessConn()
}

// ClientURL is where other hosts reach the server: tls://HOST:PORT when
// the listener takes only TLS, nats://HOST:PORT when not, "" when it
// listens in process only.
func (e *Server) ClientURL() string { return e.url }

// ServerName is the server's name, as `hub status` shows it.
func (e *Server) ServerName() string { return e.name }

// Reload replaces the authorized keys without a restart: a host no longer
// among them is disconnected at once and refused from then on; a new one
// gets its consumers.
// Everything else, the listener's TLS too, stays as started: a renewed
// certificate needs a restart.
func (e *Server) Reload(authorized []hubauth.HostKey) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.srv == nil {
		return errors.New("hub: embedded server is shut down")
	}
	users, err := e.users(authorized)
	if err != nil {
		return err
	}
	next := e.base.Clone()
	next.Nkeys = users
	if err := e.srv.ReloadOptions(next); err != nil {
		return fmt.Errorf("hub: reloading authorized keys: %w", err)
	}
	e.log.Info("hub authorized keys reloaded", slog.Int("authorized", len(authorized)))
	return e.provision(authorized)
}

// Shutdown stops the server and waits until it has.
func (e *Server) Shutdown() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.adminNC != nil {
		e.adminNC.Close()
		e.adminNC = nil
	}
	e.stopServer()
}

func (e *Server) stopServer() {
	if e.srv == nil {
		return
	}
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
	e.srv = nil
}

func nkeyOption(kp nkeys.KeyPair) nats.Option {
	pub, _ := kp.PublicKey() // checked when the users were built
	return nats.Nkey(pub, kp.Sign)
}

// serverLog adapts nats-server's logger to slog. The server's notices
// (its banner, each subsystem starting) are debug here: the daemon logs
// that the hub started. Fatalf must not exit the daemon.
type serverLog struct {
	l     *slog.Logger
	fatal chan<- string // the first fatal error, for waitReady; nil after the start
}

func (s serverLog) log(level slog.Level, format string, v []any) {
	ctx := context.Background()
	if s.l.Enabled(ctx, level) {
		s.l.Log(ctx, level, "nats-server", slog.String("detail", fmt.Sprintf(format, v...)))
	}
}

func (s serverLog) Noticef(format string, v ...any) { s.log(slog.LevelDebug, format, v) }
func (s serverLog) Warnf(format string, v ...any)   { s.log(slog.LevelWarn, format, v) }
func (s serverLog) Fatalf(format string, v ...any) {
	s.log(slog.LevelError, format, v)
	select {
	case s.fatal <- fmt.Sprintf(format, v...):
	default:
	}
}
func (s serverLog) Errorf(format string, v ...any) { s.log(slog.LevelError, format, v) }
func (s serverLog) Debugf(format string, v ...any) { s.log(slog.LevelDebug, format, v) }
func (s serverLog) Tracef(format string, v ...any) { s.log(slog.LevelDebug-4, format, v) }
