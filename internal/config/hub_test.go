package config

import (
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func TestHubDefaults(t *testing.T) {
	cfg := Default()
	h := cfg.Hub
	if !h.Enabled || len(h.URLs) != 0 || h.Listen != "127.0.0.1:4222" || h.Replicas != 1 || h.OutboxMax != 10000 ||
		h.Creds != "" || h.AuthorizedDir != "" {
		t.Errorf("default [hub] = %+v", h)
	}
	cfg.DataDir = "/var/lib/messenger"
	if got := cfg.HubAuthorizedDir(); got != "/var/lib/messenger/hub/authorized" {
		t.Errorf("HubAuthorizedDir() = %q, want DATA_DIR/hub/authorized", got)
	}
	if got := cfg.HubStoreDir(); got != "/var/lib/messenger/hub/jetstream" {
		t.Errorf("HubStoreDir() = %q, want DATA_DIR/hub/jetstream", got)
	}
	cfg.Hub.AuthorizedDir = "/etc/messenger/hosts"
	if got := cfg.HubAuthorizedDir(); got != "/etc/messenger/hosts" {
		t.Errorf("HubAuthorizedDir() = %q, want the setting", got)
	}
}

func TestHubErrorsNameTheLine(t *testing.T) {
	requireLoadErrorsAt(t, []struct{ file, want string }{
		{"[hub]\nurls = [\"http://hub:4222\"]\n", `:2: hub.urls: "http://hub:4222": the scheme must be nats, tls, ws or wss`},
		{"[hub]\nurls = [\"hub:4222\"]\n", `:2: hub.urls: "hub:4222": the scheme must be nats`},
		{"[hub]\nurls = [\"nats://:4222\"]\n", `:2: hub.urls: "nats://:4222" names no host`},
		{"[hub]\nurls = [\"nats://hub:99999\"]\n", `:2: hub.urls: "nats://hub:99999": "99999" is not a port`},
		{"[hub]\nurls = [\"nats://hub:4222\", \"nats://hub two\"]\n", `:2: hub.urls: "nats://hub two" is not a URL`},
		{"[hub]\ntls_key = \"/k.pem\"\n", ":1: hub.tls_cert: a client certificate needs its key"},
		{"[hub]\nlisten = \"4222\"\n", `:2: hub.listen: "4222" is not HOST:PORT`},
		{"[hub]\nlisten_tls_cert = \"/c.pem\"\n", ":2: hub.listen_tls_cert: the listener's certificate needs its key"},
		{"[hub]\nlisten_tls_key = \"/k.pem\"\n", ":1: hub.listen_tls_cert: the listener's certificate needs its key"},
		{"[hub]\nlisten = \"\"\nlisten_tls_cert = \"/c.pem\"\nlisten_tls_key = \"/k.pem\"\n", ":3: hub.listen_tls_cert: listen is empty"},
		{"[hub]\nlisten_tls_client_ca = \"/ca.pem\"\n", ":2: hub.listen_tls_client_ca: client certificates are asked for in a TLS handshake"},
		{"[hub]\nreplicas = 0\n", ":2: hub.replicas: 0: a stream has 1 to 5 replicas"},
		{"[hub]\nreplicas = 7\n", ":2: hub.replicas: 7: a stream has 1 to 5 replicas"},
		{"[hub]\noutbox_max = 0\n", ":2: hub.outbox_max: 0: the outbox must hold at least one message"},
		{"[hub]\nlisten_addr = \"x\"\n", ":2: unknown setting hub.listen_addr"},
	})
}

// Every problem is listed at once, the [hub] table's with the others.
func TestHubValidateListsAll(t *testing.T) {
	cfg := Default()
	cfg.HostName = "HOST"
	cfg.SMBPort = 70000
	cfg.Hub.URLs = []string{"nats://a:4222", "ftp://b"}
	cfg.Hub.TLSCert = "/c.pem"
	cfg.Hub.Replicas = 9
	cfg.Hub.OutboxMax = -1
	cfg.Hub.Listen = "nowhere"
	err := cfg.Validate()
	if err == nil {
		t.Fatal("Validate accepted a bad [hub] table")
	}
	for _, want := range []string{"smb_port: 70000", `hub.urls: "ftp://b"`, "hub.tls_cert", "hub.replicas: 9", "hub.outbox_max: -1", `hub.listen: "nowhere"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate error lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "nats://a:4222") {
		t.Errorf("Validate refused a good URL:\n%v", err)
	}
}

func TestHubGoodConfigPrintedAndReread(t *testing.T) {
	src := `[hub]
enabled = true
urls = ["nats://hub1.example:4222", "tls://hub2.example", "wss://[2001:db8::1]:443/nats"]
creds = "/etc/messenger/HOSTA.nk"
tls_ca = "/etc/messenger/ca.pem"
tls_cert = "/etc/messenger/hosta.pem"
tls_key = "/etc/messenger/hosta.key"
listen = "0.0.0.0:4222"
listen_tls_cert = "/etc/messenger/hub.pem"
listen_tls_key = "/etc/messenger/hub.key"
listen_tls_client_ca = "/etc/messenger/hosts-ca.pem"
authorized_dir = "/etc/messenger/hosts"
replicas = 3
outbox_max = 500
`
	cfg, err := Load(writeConfig(t, src), true)
	if err != nil {
		t.Fatal(err)
	}
	cfg.HostName = "HOST"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	h := cfg.Hub
	if len(h.URLs) != 3 || h.Creds != "/etc/messenger/HOSTA.nk" || h.TLSKey != "/etc/messenger/hosta.key" || h.Listen != "0.0.0.0:4222" ||
		h.ListenTLSCert != "/etc/messenger/hub.pem" || h.ListenTLSKey != "/etc/messenger/hub.key" || h.ListenTLSClientCA != "/etc/messenger/hosts-ca.pem" ||
		h.Replicas != 3 || h.OutboxMax != 500 || cfg.HubAuthorizedDir() != "/etc/messenger/hosts" {
		t.Errorf("decoded [hub] = %+v", h)
	}
	requirePrintReadsBack(t, &cfg, []string{"[hub]", "enabled = true", `urls = ["nats://hub1.example:4222", "tls://hub2.example", "wss://[2001:db8::1]:443/nats"]`,
		`listen = "0.0.0.0:4222"`, `listen_tls_cert = "/etc/messenger/hub.pem"`, `listen_tls_key = "/etc/messenger/hub.key"`,
		`listen_tls_client_ca = "/etc/messenger/hosts-ca.pem"`, "replicas = 3", "outbox_max = 500", "trust_verified = false"})
}

func TestHubFlags(t *testing.T) {
	cfg, err := Load(writeConfig(t, "[hub]\nurls = [\"nats://file:4222\"]\nreplicas = 3\nlisten = \"127.0.0.1:5222\"\n"), true)
	if err != nil {
		t.Fatal(err)
	}
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	flags := AddDaemonFlags(fs)
	if err := fs.Parse([]string{"--hub", "nats://a:4222,nats://b:4222", "--hub", "tls://c:4222",
		"--hub-creds", "/s.nk", "--hub-tls-ca", "/ca.pem", "--hub-tls-cert", "/c.pem", "--hub-tls-key", "/k.pem",
		"--hub-listen", "", "--hub-listen-tls-cert", "/l.pem", "--hub-listen-tls-key", "/l.key", "--hub-listen-tls-client-ca", "/lca.pem",
		"--hub-authorized-dir", "/keys", "--hub-outbox-max", "7", "--hub-enabled=false"}); err != nil {
		t.Fatal(err)
	}
	flags.Apply(&cfg)
	h := cfg.Hub
	if got := strings.Join(h.URLs, " "); got != "nats://a:4222 nats://b:4222 tls://c:4222" {
		t.Errorf("--hub gave urls %q; want the flags' (comma-separated and repeated) instead of the file's", got)
	}
	if h.Enabled || h.Creds != "/s.nk" || h.TLSCA != "/ca.pem" || h.TLSCert != "/c.pem" || h.TLSKey != "/k.pem" ||
		h.Listen != "" || h.ListenTLSCert != "/l.pem" || h.ListenTLSKey != "/l.key" || h.ListenTLSClientCA != "/lca.pem" ||
		h.AuthorizedDir != "/keys" || h.OutboxMax != 7 || h.Replicas != 3 {
		t.Errorf("[hub] after flags = %+v; want the flags over the file, and the file's replicas kept", h)
	}

	cfg = Default()
	fs = pflag.NewFlagSet("serve", pflag.ContinueOnError)
	flags = AddDaemonFlags(fs)
	if err := fs.Parse([]string{"--hub-replicas", "5"}); err != nil {
		t.Fatal(err)
	}
	flags.Apply(&cfg)
	if cfg.Hub.Replicas != 5 || cfg.Hub.Listen != DefaultHubListen || len(cfg.Hub.URLs) != 0 || !cfg.Hub.Enabled {
		t.Errorf("[hub] after --hub-replicas alone = %+v; want only replicas changed", cfg.Hub)
	}
}
