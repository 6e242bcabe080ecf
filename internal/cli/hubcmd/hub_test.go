package hubcmd_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/netsend/messenger/internal/cli"
	"github.com/netsend/messenger/internal/hubauth"
	"github.com/netsend/messenger/internal/hubwire"
)

func runMessenger(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := cli.Command()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return out.String() + errOut.String(), err
}

// TestHubExternalClusterSetup walks an operator's set-up of an external
// server: authorize the hosts and the admin, start nats-server with the
// printed authorization block, provision it; then a host connects with
// its seed and finds its consumer.
func TestHubExternalClusterSetup(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	out, err := runMessenger(t, "hub", "authorize", "HA", "HB", "--admin", "--dir", dir)
	if err != nil {
		t.Fatalf("authorize: %v\n%s", err, out)
	}
	for _, secret := range []string{"HA.nk", "HB.nk", "admin.nk"} {
		seed, err := os.ReadFile(filepath.Join(dir, secret))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(out, strings.TrimSpace(string(seed))) {
			t.Fatalf("authorize printed the seed of %s:\n%s", secret, out)
		}
	}
	if !strings.Contains(out, "--hub-creds HA.nk") {
		t.Errorf("authorize does not say how HA connects:\n%s", out)
	}

	block, err := runMessenger(t, "hub", "nats-config", "--dir", dir)
	if err != nil {
		t.Fatalf("nats-config: %v\n%s", err, block)
	}
	conf := filepath.Join(t.TempDir(), "nats.conf")
	text := fmt.Sprintf("host: 127.0.0.1\nport: -1\njetstream {\n  store_dir: %q\n}\n%s", t.TempDir(), block)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	opts, err := server.ProcessConfigFile(conf)
	if err != nil {
		t.Fatalf("nats-server refused the block: %v\n%s", err, block)
	}
	opts.NoSigs, opts.NoLog = true, true
	srv, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server did not start")
	}

	if out, err := runMessenger(t, "hub", "provision", "--hub", srv.ClientURL(), "--dir", dir); err != nil {
		t.Fatalf("provision: %v\n%s", err, out)
	}
	creds, err := hubauth.ConnectOptions(filepath.Join(dir, "HA.nk"))
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(srv.ClientURL(), append(creds, nats.CustomInboxPrefix(hubwire.InboxPrefix("HA")))...)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := js.Consumer(ctx, hubwire.StreamMsg, hubwire.MsgConsumer("HA")); err != nil {
		t.Fatalf("HA's consumer after provision: %v", err)
	}

	// A host's seed cannot provision.
	out, err = runMessenger(t, "hub", "provision", "--hub", srv.ClientURL(), "--dir", dir, "--hub-creds", filepath.Join(dir, "HA.nk"))
	if err == nil || !strings.Contains(err.Error(), "permissions violation") {
		t.Fatalf("provision with a host's seed: %v, want a permissions violation\n%s", err, out)
	}

	// HA's claim on ALICE: only the admin can release it.
	names, err := js.KeyValue(ctx, hubwire.BucketNames)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := names.Put(ctx, "HA.ALICE", []byte(`{"host":"HA","name":"ALICE"}`)); err != nil {
		t.Fatal(err)
	}
	out, err = runMessenger(t, "hub", "release", "alice", "--hub", srv.ClientURL(), "--dir", dir, "--hub-creds", filepath.Join(dir, "HA.nk"))
	if err == nil || !strings.Contains(err.Error(), "permissions violation") {
		t.Fatalf("release with a host's seed: %v, want a permissions violation\n%s", err, out)
	}
	out, err = runMessenger(t, "hub", "release", "alice", "--hub", srv.ClientURL(), "--dir", dir)
	if err != nil || !strings.Contains(out, "Released ALICE from HA") {
		t.Fatalf("release: %v\n%s", err, out)
	}
	if _, err := names.Get(ctx, "HA.ALICE"); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Errorf("HA.ALICE after the release: %v", err)
	}
	if out, err := runMessenger(t, "hub", "release", "alice", "HA", "--hub", srv.ClientURL(), "--dir", dir); err == nil {
		t.Errorf("releasing a claim released already succeeded:\n%s", out)
	}
}

// TestHubAuthorizeJoinLine: the join line printed for a host follows this
// host's hub settings: its port, the TLS flags its listener needs, and a
// warning when other hosts cannot reach it.
func TestHubAuthorizeJoinLine(t *testing.T) {
	for _, c := range []struct {
		name, conf string
		want       []string
		not        []string
	}{
		{"defaults", "", []string{"--hub-creds HX.nk", ":4222", "listens on 127.0.0.1:4222 only"}, []string{"--hub-tls-ca"}},
		{"tls", "[hub]\nlisten = \"0.0.0.0:4333\"\nlisten_tls_cert = \"/x/hub.crt\"\nlisten_tls_key = \"/x/hub.key\"\n",
			[]string{":4333 --hub-creds HX.nk --hub-tls-ca CA.pem\n", "signed /x/hub.crt"}, []string{"only:", "--hub-tls-cert"}},
		{"mutual tls", "[hub]\nlisten = \"0.0.0.0:4222\"\nlisten_tls_cert = \"/x/hub.crt\"\nlisten_tls_key = \"/x/hub.key\"\nlisten_tls_client_ca = \"/x/clients.pem\"\n",
			[]string{"--hub-tls-ca CA.pem --hub-tls-cert HOST.crt --hub-tls-key HOST.key\n", "signed by /x/clients.pem"}, nil},
		{"no listener", "[hub]\nlisten = \"\"\n", []string{"takes no other hosts"}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			conf := filepath.Join(dir, "messenger.toml")
			if err := os.WriteFile(conf, []byte(c.conf), 0o600); err != nil {
				t.Fatal(err)
			}
			out, err := runMessenger(t, "--config", conf, "--data-dir", dir, "hub", "authorize", "HX")
			if err != nil {
				t.Fatalf("authorize: %v\n%s", err, out)
			}
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, n := range c.not {
				if strings.Contains(out, n) {
					t.Errorf("output has %q:\n%s", n, out)
				}
			}
		})
	}
}
