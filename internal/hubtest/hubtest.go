// Package hubtest connects to hub servers in tests as hosts and as the
// external admin, for the tests of both the server and the runtime that
// uses it, as net/http/httptest does for HTTP.
package hubtest

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/netsend/messenger/internal/hubauth"
	"github.com/netsend/messenger/internal/hubwire"
)

// WaitTimeout bounds every wait for a condition; nothing in the tests
// takes that long unless it is broken.
const WaitTimeout = 30 * time.Second

// AuthorizeWithAdmin gives hosts and the admin their keys in dir, as
// `messenger hub authorize --admin` does, and returns the keys dir holds.
func AuthorizeWithAdmin(t testing.TB, dir string, hosts ...string) []hubauth.HostKey {
	t.Helper()
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
	return keys
}

// ConnectAdmin connects to the server at url with the admin's seed in
// dir, as `messenger hub release` does.
func ConnectAdmin(t testing.TB, url, dir string) jetstream.JetStream {
	t.Helper()
	creds, err := hubauth.ConnectOptions(hubauth.AdminSeedPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(url, creds...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	admin, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return admin
}

// HostConn is a host's connection, as the daemon makes it, with the
// server's asynchronous errors (permission violations) collected.
type HostConn struct {
	NC   *nats.Conn
	JS   jetstream.JetStream
	Errs chan error
}

// ConnectHost connects to the server at url as host, with its seed in dir.
func ConnectHost(t testing.TB, url, dir, host string) HostConn {
	t.Helper()
	creds, err := hubauth.ConnectOptions(hubauth.SeedPath(dir, host))
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 64)
	opts := append(creds,
		nats.CustomInboxPrefix(hubwire.InboxPrefix(host)),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { errs <- err }),
	)
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		t.Fatalf("%s connecting: %v", host, err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return HostConn{NC: nc, JS: js, Errs: errs}
}

// Refused waits for the server's permission violation for what
// ("Publish to" or "Subscription to") subject.
func (c HostConn) Refused(t testing.TB, what, subject string) {
	t.Helper()
	want := fmt.Sprintf("%s %q", what, subject)
	timeout := time.After(WaitTimeout)
	for {
		select {
		case err := <-c.Errs:
			if errors.Is(err, nats.ErrPermissionViolation) && strings.Contains(err.Error(), want) {
				return
			}
		case <-timeout:
			t.Fatalf("no permissions violation for %s", want)
		}
	}
}

// PublishRefused publishes to subject and waits for the server to refuse it.
func (c HostConn) PublishRefused(t testing.TB, subject string) {
	t.Helper()
	if err := c.NC.Publish(subject, []byte(`{"id":"forged"}`)); err != nil {
		t.Fatal(err)
	}
	c.Refused(t, "Publish to", subject)
}

// SubscribeRefused subscribes to subject and waits for the server to
// refuse it.
func (c HostConn) SubscribeRefused(t testing.TB, subject string) {
	t.Helper()
	sub, err := c.NC.SubscribeSync(subject)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	c.Refused(t, "Subscription to", subject)
}
