// Package hubcmd is `messenger hub`: the credentials and set-up of the
// NATS hub (authorize, nats-config, provision, release) and its status.
package hubcmd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/netsend/messenger/internal/cli/cmdutil"
	"github.com/netsend/messenger/internal/config"
	"github.com/netsend/messenger/internal/hubauth"
	"github.com/netsend/messenger/internal/hubreg"
)

// NewCmd is `messenger hub`: the credentials and set-up of the NATS
// hub. `hub status` is added beside these in its own file.
func NewCmd(g *cmdutil.Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "hub",
		Short: "Credentials and set-up of the NATS hub that links Messenger daemons",
		Long: `Each host speaks on the hub with its own NATS user key, and the hub's
permissions let it speak only as itself. "messenger hub authorize" makes
those keys; the embedded hub of "messenger serve" loads them from its
data directory; an external nats-server cluster gets them from
"messenger hub nats-config" and its streams from "messenger hub provision".`,
	}
	cmd.AddCommand(newHubStatusCmd(g), newHubAuthorizeCmd(g), newHubNatsConfigCmd(g), newHubProvisionCmd(g), newHubReleaseCmd(g))
	return cmd
}

// authorizedDir is --dir, or the directory the embedded hub loads
// (hub.authorized_dir).
func authorizedDir(g *cmdutil.Globals, dir string) (string, error) {
	if dir != "" {
		return dir, nil
	}
	cfg, err := g.Load()
	if err != nil {
		return "", err
	}
	return cfg.HubAuthorizedDir(), nil
}

// hubJoin is how another host joins this host's embedded hub, as far as
// this host's configuration tells.
type hubJoin struct {
	url     string // the --hub flag
	tls     string // the TLS flags it needs, with a leading space
	note    string // what the TLS flags' files are
	warning string // why the line may not work as printed
}

func joinHint(g *cmdutil.Globals) hubJoin {
	host, _ := os.Hostname()
	if host == "" {
		host = "THIS-HOST"
	}
	j := hubJoin{url: "--hub nats://" + host + ":4222"}
	cfg, err := g.Load()
	if err != nil {
		return j
	}
	listenHost, port, err := net.SplitHostPort(cfg.Hub.Listen)
	if cfg.Hub.Listen == "" || err != nil {
		j.warning = "This host's hub takes no other hosts (hub.listen is empty): set --hub-listen HOST:PORT."
		return j
	}
	j.url = "--hub nats://" + net.JoinHostPort(host, port)
	if ip := net.ParseIP(listenHost); ip != nil && ip.IsLoopback() || listenHost == "localhost" {
		j.warning = fmt.Sprintf("This host's hub listens on %s only: other hosts reach it once --hub-listen (hub.listen) is an address they can reach.", cfg.Hub.Listen)
	}
	if cfg.Hub.ListenTLSCert != "" {
		j.tls = " --hub-tls-ca CA.pem"
		if cfg.Hub.ListenTLSClientCA != "" {
			j.tls += " --hub-tls-cert HOST.crt --hub-tls-key HOST.key"
		}
		j.note = "CA.pem is the certificate of the CA that signed " + cfg.Hub.ListenTLSCert
		if cfg.Hub.ListenTLSClientCA != "" {
			j.note += "; HOST.crt and HOST.key are the host's, signed by " + cfg.Hub.ListenTLSClientCA
		}
		j.note += "."
	}
	return j
}

func newHubAuthorizeCmd(g *cmdutil.Globals) *cobra.Command {
	var dir string
	var admin bool
	cmd := &cobra.Command{
		Use:   "authorize HOST...",
		Short: "Give hosts their own hub credentials (never prints a secret)",
		Long: `Write an NKey user key for each host into DIR: HOST.nk, the seed that host
connects with (mode 0600: copy it to that host and nowhere else), and
HOST.pub, its public key, which the hub loads. A host that already has a
seed keeps it. To revoke a host, delete its HOST.pub and reload the hub's
servers; to give it a new key, delete HOST.nk as well.

--admin also writes admin.nk, the key "messenger hub provision" uses to
create the streams and consumers on an external cluster.

DIR defaults to the embedded hub's: hub.authorized_dir, or
DATA_DIR/hub/authorized.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 && !admin {
				return errors.New("name at least one host to authorize, or --admin")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, err := authorizedDir(g, dir)
			if err != nil {
				return err
			}
			if err := mayChange(dir, "authorize hub hosts"); err != nil {
				return err
			}
			keys, err := hubauth.AuthorizeHosts(dir, args)
			if err != nil {
				return err
			}
			join := joinHint(g)
			w := cmd.OutOrStdout()
			for _, k := range keys {
				seed := hubauth.SeedPath(dir, k.Host)
				fmt.Fprintf(w, "%s: its seed is %s (copy it to %s only; it is a secret)\n", k.Host, seed, k.Host)
				fmt.Fprintf(w, "  on %s: messenger serve %s --hub-creds %s%s\n", k.Host, join.url, filepath.Base(seed), join.tls)
			}
			for _, line := range []string{join.note, join.warning} {
				if line != "" {
					fmt.Fprintln(w, line)
				}
			}
			if admin {
				if _, err := hubauth.AuthorizeAdmin(dir); err != nil {
					return err
				}
				fmt.Fprintf(w, "admin: its seed is %s (for messenger hub provision --hub-creds; a secret)\n", hubauth.AdminSeedPath(dir))
			}
			_, err = fmt.Fprintf(w, "The hub's servers load %s/*.pub when they start or reload.\n", dir)
			return err
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "key directory (default hub.authorized_dir, DATA_DIR/hub/authorized)")
	cmd.Flags().BoolVar(&admin, "admin", false, "also make the admin key that provisions an external cluster")
	return cmd
}

func newHubNatsConfigCmd(g *cmdutil.Globals) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "nats-config",
		Short: "Print the nats-server authorization block for every authorized key",
		Long: `Print the "authorization { users = [...] }" block of a nats-server
configuration: each DIR/*.pub as a user with the permissions of that
host (or of the admin, for admin.pub). Include it in every server of an
external cluster, and print it again and reload the servers after
authorizing or revoking a host.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := authorizedDir(g, dir)
			if err != nil {
				return err
			}
			keys, err := hubauth.LoadAuthorized(dir)
			if err != nil {
				return err
			}
			if len(keys) == 0 {
				return fmt.Errorf("no keys in %s: run messenger hub authorize HOST... --dir %s", dir, dir)
			}
			if !hasAdmin(keys) {
				fmt.Fprintf(cmd.ErrOrStderr(), "messenger: no admin key in %s: nothing can provision the streams (messenger hub authorize --admin)\n", dir)
			}
			_, err = fmt.Fprint(cmd.OutOrStdout(), hubauth.NatsConfig(keys))
			return err
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "key directory (default hub.authorized_dir, DATA_DIR/hub/authorized)")
	return cmd
}

func hasAdmin(keys []hubauth.HostKey) bool {
	for _, k := range keys {
		if k.Admin {
			return true
		}
	}
	return false
}

// hubAdmin is how a command reaches the hub with the admin's key: the
// flags, and what the configuration adds to them.
type hubAdmin struct {
	dir, urls, creds, tlsCA, tlsCert, tlsKey string
}

func (a *hubAdmin) addFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&a.dir, "dir", "", "key directory (default hub.authorized_dir, DATA_DIR/hub/authorized)")
	cmd.Flags().StringVar(&a.urls, "hub", "", "the cluster's URLs, comma-separated (nats://a:4222,nats://b:4222)")
	cmd.Flags().StringVar(&a.creds, "hub-creds", "", "the admin's seed or .creds file (default DIR/admin.nk)")
	cmd.Flags().StringVar(&a.tlsCA, "hub-tls-ca", "", "CA certificate of the cluster's servers")
	cmd.Flags().StringVar(&a.tlsCert, "hub-tls-cert", "", "client certificate, when the servers ask for one")
	cmd.Flags().StringVar(&a.tlsKey, "hub-tls-key", "", "client certificate's key")
}

// resolve fills in the key directory, the admin's credentials, and the
// URLs and TLS files from the configuration where no flag gave them; cfg
// is read only then (nil when it was not).
func (a *hubAdmin) resolve(g *cmdutil.Globals, needCfg bool) (*config.Config, error) {
	var err error
	if a.dir, err = authorizedDir(g, a.dir); err != nil {
		return nil, err
	}
	if a.creds == "" {
		a.creds = hubauth.AdminSeedPath(a.dir)
	}
	if err := unix.Access(a.creds, unix.R_OK); errors.Is(err, unix.EACCES) {
		return nil, cmdutil.Exit(cmdutil.ExitForbidden, fmt.Errorf("only root (or the account holding %s) may act as the hub's admin: this account cannot read the admin key", a.creds))
	}
	var cfg *config.Config
	if a.urls == "" || a.tlsCA == "" && a.tlsCert == "" || needCfg {
		c, err := g.Load()
		if err != nil {
			return nil, err
		}
		cfg = &c
		if a.urls == "" {
			a.urls = strings.Join(c.Hub.URLs, ",")
		}
		if a.tlsCA == "" && a.tlsCert == "" {
			a.tlsCA, a.tlsCert, a.tlsKey = c.Hub.TLSCA, c.Hub.TLSCert, c.Hub.TLSKey
		}
	}
	return cfg, nil
}

// connect connects as the admin. The context it returns ends at once
// when the hub refuses a request — a refused request gets no reply, only
// an asynchronous permissions violation — with that as its cause.
func (a *hubAdmin) connect(ctx context.Context, name string) (jetstream.JetStream, context.Context, func(), error) {
	if a.urls == "" {
		return nil, nil, nil, errors.New("no hub given: --hub nats://HOST:4222,... (or [hub] urls)")
	}
	opts, err := hubauth.ConnectOptions(a.creds)
	if err != nil {
		return nil, nil, nil, err
	}
	tlsOpts, err := hubauth.TLSOptions(a.tlsCA, a.tlsCert, a.tlsKey)
	if err != nil {
		return nil, nil, nil, err
	}
	refused, stop := context.WithCancelCause(ctx)
	opts = append(append(opts, tlsOpts...), nats.Name(name), nats.Timeout(10*time.Second),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			if errors.Is(err, nats.ErrPermissionViolation) {
				stop(fmt.Errorf("the hub refused %s: %w (is it the admin's key?)", a.creds, err))
			}
		}))
	nc, err := nats.Connect(a.urls, opts...)
	if err != nil {
		stop(nil)
		return nil, nil, nil, fmt.Errorf("connecting to %s: %w", a.urls, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		stop(nil)
		return nil, nil, nil, err
	}
	return js, refused, func() { nc.Close(); stop(nil) }, nil
}

// refusedOr is the hub's refusal, when that is what ended refused, or err.
func refusedOr(refused context.Context, err error) error {
	if cause := context.Cause(refused); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	return err
}

func newHubProvisionCmd(g *cmdutil.Globals) *cobra.Command {
	var admin hubAdmin
	var replicas int
	cmd := &cobra.Command{
		Use:   "provision [--hub URL[,URL...]]",
		Short: "Create the hub's streams and every authorized host's consumers on an external cluster",
		Long: `Create, or bring up to date, the hub's streams and registry buckets and the
consumers of every host authorized in DIR, connected with the admin key:
hosts may not create them themselves (a host that could create a consumer
could make the server re-deliver messages under another host's subjects).
Run it once the cluster is up and again after authorizing new hosts. The
embedded hub of "messenger serve" provisions itself. --hub and the TLS
files default to the configuration's [hub] urls and tls_*, --replicas
to hub.replicas.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := admin.resolve(g, !cmd.Flags().Changed("replicas"))
			if err != nil {
				return err
			}
			if !cmd.Flags().Changed("replicas") {
				replicas = cfg.Hub.Replicas
			}
			if admin.urls == "" {
				return errors.New("no hub to provision: give --hub nats://HOST:4222,... (or [hub] urls)")
			}
			keys, err := hubauth.LoadAuthorized(admin.dir)
			if err != nil {
				return err
			}
			var hosts []string
			for _, k := range keys {
				if !k.Admin {
					hosts = append(hosts, k.Host)
				}
			}
			js, refused, done, err := admin.connect(cmd.Context(), "messenger hub provision")
			if err != nil {
				return err
			}
			defer done()
			ctx, cancel := context.WithTimeout(refused, 2*time.Minute)
			defer cancel()
			if err := hubauth.Provision(ctx, js, hubauth.ProvisionOptions{Replicas: replicas, Hosts: hosts}); err != nil {
				return refusedOr(refused, err)
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "Provisioned the hub's streams (%d replicas) and the consumers of %d hosts: %s\n",
				replicas, len(hosts), strings.Join(hosts, ", "))
			return err
		},
	}
	admin.addFlags(cmd)
	cmd.Flags().IntVar(&replicas, "replicas", 1, "replicas of each stream: 1 on a single server, 3 in a 3-node cluster (default hub.replicas)")
	return cmd
}

func newHubReleaseCmd(g *cmdutil.Globals) *cobra.Command {
	var admin hubAdmin
	cmd := &cobra.Command{
		Use:   "release NAME [HOST] [--hub URL[,URL...]]",
		Short: "Free a messenger name on the hub from the host that holds it",
		Long: `A messenger name on the hub belongs to the host that registered it first,
for as long as that host keeps its presence fresh and 72 hours after (by
the hub's clock); a second host claiming it is in conflict. Release drops
HOST's claim on NAME (without HOST, the claim NAME belongs to now), with
the admin key, so that the next host claiming NAME gets it: for the name
of a host that is gone. A host still running registers NAME again, behind
the others. For the embedded hub, authorize the admin (messenger hub
authorize --admin), reload, and give --hub nats://127.0.0.1:4222.`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := admin.resolve(g, false); err != nil {
				return err
			}
			host := ""
			if len(args) == 2 {
				host = args[1]
			}
			js, refused, done, err := admin.connect(cmd.Context(), "messenger hub release")
			if err != nil {
				return err
			}
			defer done()
			ctx, cancel := context.WithTimeout(refused, time.Minute)
			defer cancel()
			released, err := hubreg.ReleaseName(ctx, js, args[0], host)
			if err != nil {
				return refusedOr(refused, err)
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "Released %s from %s\n", strings.ToUpper(args[0]), released)
			return err
		},
	}
	admin.addFlags(cmd)
	return cmd
}

// mayChange refuses, with the refusal's exit status, an account that may
// not write path (or, when it does not exist yet, the directory that
// would hold it): hub keys are files of the daemon's account, and the
// file system, not the daemon, is what guards them.
func mayChange(path, what string) error {
	for p := path; ; p = filepath.Dir(p) {
		err := unix.Access(p, unix.W_OK)
		if err == nil {
			return nil
		}
		if errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM) || errors.Is(err, unix.EROFS) {
			login := strconv.Itoa(os.Geteuid())
			if u, err := user.Current(); err == nil {
				login = u.Username
			}
			return cmdutil.Exit(cmdutil.ExitForbidden, fmt.Errorf("%s may not %s: %s belongs to the daemon's account, so only root (or that account) may", login, what, path))
		}
		if !errors.Is(err, unix.ENOENT) || p == filepath.Dir(p) {
			return nil // let the operation itself report it
		}
	}
}
