package hub

import (
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/netsend/messenger/internal/hubauth"
	"github.com/netsend/messenger/internal/hubserver"
	"github.com/netsend/messenger/internal/hubtest"
)

// testHub is a running embedded hub server: the seeds of its authorized
// hosts and of its external admin are in dir, and admin is a connection
// with the admin's, as `messenger hub release` makes one.
type testHub struct {
	url   string
	dir   string
	admin jetstream.JetStream
}

// startTestEmbedded starts the embedded server on a loopback port with
// hosts and an admin authorized from a fresh key directory.
func startTestEmbedded(t *testing.T, hosts ...string) (*hubserver.Server, testHub) {
	t.Helper()
	return startTestEmbeddedWith(t, func(*hubserver.Options) {}, hosts...)
}

// startTestEmbeddedWith is startTestEmbedded with the options changed by
// configure before the start.
func startTestEmbeddedWith(t *testing.T, configure func(*hubserver.Options), hosts ...string) (*hubserver.Server, testHub) {
	t.Helper()
	dir := t.TempDir()
	keys := hubtest.AuthorizeWithAdmin(t, dir, hosts...)
	self, err := hubauth.LoadOrCreateSelfKey(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	opts := hubserver.Options{
		StoreDir: t.TempDir(), Listen: "127.0.0.1:0", ServerName: "test-hub",
		Self: self, SelfHost: "SELF", Authorized: keys,
	}
	configure(&opts)
	e, err := hubserver.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Shutdown)
	admin := hubtest.ConnectAdmin(t, e.ClientURL(), dir)
	return e, testHub{url: e.ClientURL(), dir: dir, admin: admin}
}

// connectHost connects to h as host.
func connectHost(t *testing.T, h testHub, host string) hubtest.HostConn {
	t.Helper()
	return hubtest.ConnectHost(t, h.url, h.dir, host)
}
