package hub

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/netsend/messenger/internal/hubauth"
	"github.com/netsend/messenger/internal/hubserver"
	"github.com/netsend/messenger/internal/hubwire"
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
	if _, err := hubauth.AuthorizeHosts(dir, hosts); err != nil {
		t.Fatal(err)
	}
	if _, err := hubauth.AuthorizeAdmin(dir); err != nil {
		t.Fatal(err)
	}
	keys, err := hubauth.LoadAuthorized(dir)
	if err != nil {
		t.Fatal(err)
	}
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
	creds, err := hubauth.ConnectOptions(hubauth.AdminSeedPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(e.ClientURL(), creds...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	admin, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return e, testHub{url: e.ClientURL(), dir: dir, admin: admin}
}

// hostConn is a host's connection, as the daemon makes it, with the
// server's asynchronous errors (permission violations) collected.
type hostConn struct {
	nc   *nats.Conn
	js   jetstream.JetStream
	errs chan error
}

func connectHost(t *testing.T, h testHub, host string) hostConn {
	t.Helper()
	creds, err := hubauth.ConnectOptions(hubauth.SeedPath(h.dir, host))
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 64)
	opts := append(creds,
		nats.CustomInboxPrefix(hubwire.InboxPrefix(host)),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { errs <- err }),
	)
	nc, err := nats.Connect(h.url, opts...)
	if err != nil {
		t.Fatalf("%s connecting: %v", host, err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return hostConn{nc: nc, js: js, errs: errs}
}

// refused waits for the server's permission violation for what
// ("Publish to" or "Subscription to") subject.
func (c hostConn) refused(t *testing.T, what, subject string) {
	t.Helper()
	want := fmt.Sprintf("%s %q", what, subject)
	timeout := time.After(waitTimeout)
	for {
		select {
		case err := <-c.errs:
			if errors.Is(err, nats.ErrPermissionViolation) && strings.Contains(err.Error(), want) {
				return
			}
		case <-timeout:
			t.Fatalf("no permissions violation for %s", want)
		}
	}
}

func (c hostConn) publishRefused(t *testing.T, subject string) {
	t.Helper()
	if err := c.nc.Publish(subject, []byte(`{"id":"forged"}`)); err != nil {
		t.Fatal(err)
	}
	c.refused(t, "Publish to", subject)
}
