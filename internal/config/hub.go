package config

import (
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"

	"github.com/netsend/messenger/internal/config/setting"
)

// Hub configures the NATS hub that links Messenger daemons: the embedded
// server this daemon runs by default, or the hub or cluster it joins.
type Hub struct {
	// Enabled switches the hub on; off, only the legacy transports run.
	Enabled bool `toml:"enabled"`
	// URLs of an existing hub or cluster to join (nats://, tls://, ws://,
	// wss://); empty runs the embedded server.
	URLs []string `toml:"urls"`
	// Creds is this host's credentials for URLs: a NATS .creds file or an
	// NKey seed file (what `messenger hub authorize` writes).
	Creds string `toml:"creds"`
	// TLSCA, TLSCert and TLSKey are for URLs: the CA that signs the
	// servers' certificates, and a client certificate and its key.
	TLSCA   string `toml:"tls_ca"`
	TLSCert string `toml:"tls_cert"`
	TLSKey  string `toml:"tls_key"`
	// Listen is HOST:PORT where the embedded server takes other hosts;
	// empty keeps it in-process only.
	Listen string `toml:"listen"`
	// ListenTLSCert and ListenTLSKey (PEM files, together) make the
	// embedded server's listener take only TLS; without them messages
	// between hosts cross the network in clear. ListenTLSClientCA, when
	// set, also requires every host to present a certificate it signed,
	// besides its NKey.
	ListenTLSCert     string `toml:"listen_tls_cert"`
	ListenTLSKey      string `toml:"listen_tls_key"`
	ListenTLSClientCA string `toml:"listen_tls_client_ca"`
	// AuthorizedDir holds the HOST.pub keys the embedded server admits;
	// empty means DATA_DIR/hub/authorized (see HubAuthorizedDir).
	AuthorizedDir string `toml:"authorized_dir"`
	// Replicas is how many copies of each stream a cluster keeps.
	Replicas int `toml:"replicas"`
	// OutboxMax caps the messages queued while the hub is unreachable;
	// a send past it is refused.
	OutboxMax int `toml:"outbox_max"`
}

// Defaults of the [hub] table.
const (
	DefaultHubListen    = "127.0.0.1:4222"
	DefaultHubReplicas  = 1
	DefaultHubOutboxMax = 10000
	// MaxHubReplicas is JetStream's limit on a stream's replicas.
	MaxHubReplicas = 5
)

func defaultHub() Hub {
	return Hub{Enabled: true, Listen: DefaultHubListen, Replicas: DefaultHubReplicas, OutboxMax: DefaultHubOutboxMax}
}

// HubAuthorizedDir is where the embedded server finds the public keys of
// the hosts it admits: hub.authorized_dir, or DATA_DIR/hub/authorized.
func (c *Config) HubAuthorizedDir() string {
	if c.Hub.AuthorizedDir != "" {
		return c.Hub.AuthorizedDir
	}
	return filepath.Join(c.DataDir, "hub", "authorized")
}

// HubStoreDir is where the embedded server keeps its JetStream files.
func (c *Config) HubStoreDir() string { return filepath.Join(c.DataDir, "hub", "jetstream") }

// hubSchemes are the URL schemes the NATS client dials.
var hubSchemes = map[string]bool{"nats": true, "tls": true, "ws": true, "wss": true}

// check reports every problem of the [hub] table, each as a
// *setting.Error so that the file's line can be found for it.
func (h *Hub) check() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, &setting.Error{Table: "hub", Index: -1, Key: key, Err: fmt.Errorf(format, args...)})
	}
	for _, u := range h.URLs {
		if err := checkHubURL(u); err != nil {
			bad("urls", "%v", err)
		}
	}
	if (h.TLSCert == "") != (h.TLSKey == "") {
		bad("tls_cert", "a client certificate needs its key and a key its certificate: set tls_cert and tls_key together")
	}
	if h.Listen != "" {
		if err := checkHostPort(h.Listen); err != nil {
			bad("listen", "%v", err)
		}
	}
	switch {
	case (h.ListenTLSCert == "") != (h.ListenTLSKey == ""):
		bad("listen_tls_cert", "the listener's certificate needs its key and a key its certificate: set listen_tls_cert and listen_tls_key together")
	case h.ListenTLSCert != "" && h.Listen == "":
		// Not ignored: whoever set a certificate expects other hosts to
		// reach this one, over TLS.
		bad("listen_tls_cert", "listen is empty, so the embedded server has no listener to put TLS on")
	case h.ListenTLSClientCA != "" && h.ListenTLSCert == "":
		bad("listen_tls_client_ca", "client certificates are asked for in a TLS handshake: set listen_tls_cert and listen_tls_key too")
	}
	if h.Replicas < 1 || h.Replicas > MaxHubReplicas {
		bad("replicas", "%d: a stream has 1 to %d replicas", h.Replicas, MaxHubReplicas)
	}
	if h.OutboxMax < 1 {
		bad("outbox_max", "%d: the outbox must hold at least one message", h.OutboxMax)
	}
	return errors.Join(errs...)
}

// checkHubURL accepts what the NATS client dials: nats://, tls://, ws://
// or wss:// and a host, with an optional port, user and path.
func checkHubURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("%q is not a URL: %w", s, err)
	}
	if !hubSchemes[u.Scheme] {
		return fmt.Errorf("%q: the scheme must be nats, tls, ws or wss, like nats://hub.example:4222", s)
	}
	if u.Hostname() == "" {
		return fmt.Errorf("%q names no host", s)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("%q: %q is not a port", s, p)
		}
	}
	return nil
}
