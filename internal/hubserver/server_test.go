package hubserver

import (
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

	"github.com/netsend/messenger/internal/hubauth"
	"github.com/netsend/messenger/internal/hubtest"
	"github.com/netsend/messenger/internal/hubwire"
)

// waitTimeout bounds every wait for a condition; nothing in these tests
// takes that long unless it is broken.
const waitTimeout = 30 * time.Second

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	t.Cleanup(cancel)
	return ctx
}

// testHub is a running hub server with two authorized hosts, HA and HB,
// whose seeds are in dir.
type testHub struct {
	url   string
	dir   string
	admin jetstream.JetStream
}

// startTestEmbedded starts the embedded server on a loopback port with
// hosts authorized from a fresh key directory.
func startTestEmbedded(t *testing.T, hosts ...string) (*Server, testHub) {
	t.Helper()
	return startTestEmbeddedWith(t, func(*Options) {}, hosts...)
}

// startTestEmbeddedWith is startTestEmbedded with the options changed by
// configure before the start.
func startTestEmbeddedWith(t *testing.T, configure func(*Options), hosts ...string) (*Server, testHub) {
	t.Helper()
	dir := t.TempDir()
	if _, err := hubauth.AuthorizeHosts(dir, hosts); err != nil {
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
	opts := Options{
		StoreDir: t.TempDir(), Listen: "127.0.0.1:0", ServerName: "test-hub",
		Self: self, SelfHost: "SELF", Authorized: keys,
	}
	configure(&opts)
	e, err := Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Shutdown)
	return e, testHub{url: e.ClientURL(), dir: dir, admin: e.js}
}

// reloadKeys reloads e with the keys dir holds now.
func reloadKeys(t *testing.T, e *Server, dir string) {
	t.Helper()
	keys, err := hubauth.LoadAuthorized(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Reload(keys); err != nil {
		t.Fatal(err)
	}
}

// startConfigServer starts a nats-server from a configuration file whose
// authorization block is hubauth.NatsConfig's output, the way an external
// cluster's servers would, and provisions it as `messenger hub provision`
// does, with the admin key.
func startConfigServer(t *testing.T, hosts ...string) testHub {
	t.Helper()
	dir := t.TempDir()
	keys := hubtest.AuthorizeWithAdmin(t, dir, hosts...)
	conf := filepath.Join(t.TempDir(), "nats.conf")
	text := fmt.Sprintf("host: 127.0.0.1\nport: -1\nserver_name: conf-hub\njetstream {\n  store_dir: %q\n}\n", t.TempDir()) + hubauth.NatsConfig(keys)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	opts, err := server.ProcessConfigFile(conf)
	if err != nil {
		t.Fatalf("nats-server refused hubauth.NatsConfig's output: %v\n%s", err, text)
	}
	opts.NoSigs, opts.NoLog = true, true
	srv, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	if !srv.ReadyForConnections(waitTimeout) {
		t.Fatal("nats-server from hubauth.NatsConfig did not start")
	}
	admin := hubtest.ConnectAdmin(t, srv.ClientURL(), dir)
	ctx := ctxT(t)
	if err := hubauth.Provision(ctx, admin, hubauth.ProvisionOptions{Replicas: 1, Hosts: hosts}); err != nil {
		t.Fatal(err)
	}
	return testHub{url: srv.ClientURL(), dir: dir, admin: admin}
}

// connectHost connects to h as host.
func connectHost(t *testing.T, h testHub, host string) hubtest.HostConn {
	t.Helper()
	return hubtest.ConnectHost(t, h.url, h.dir, host)
}

func fetchOne(t *testing.T, js jetstream.JetStream, stream, consumer string) jetstream.Msg {
	t.Helper()
	ctx := ctxT(t)
	cons, err := js.Consumer(ctx, stream, consumer)
	if err != nil {
		t.Fatalf("binding %s on %s: %v", consumer, stream, err)
	}
	batch, err := cons.Fetch(1, jetstream.FetchMaxWait(waitTimeout))
	if err != nil {
		t.Fatalf("fetching from %s: %v", consumer, err)
	}
	m, ok := <-batch.Messages()
	if !ok {
		t.Fatalf("nothing on %s: %v", consumer, batch.Error())
	}
	if err := m.DoubleAck(ctx); err != nil {
		t.Fatalf("acking on %s: %v", consumer, err)
	}
	return m
}

// checkHostPermissions proves, on a provisioned hub with hosts HA and HB,
// that HA's own flows all work and that nothing lets it speak for HB.
func checkHostPermissions(t *testing.T, h testHub) {
	ctx := ctxT(t)
	a := connectHost(t, h, "HA")
	b := connectHost(t, h, "HB")

	t.Run("own flows", func(t *testing.T) {
		if _, err := a.JS.AccountInfo(ctx); err != nil {
			t.Fatal(err)
		}
		// The registry feed is subscribed first, as a mirror would be.
		feed, err := a.NC.SubscribeSync(hubwire.RegistryUpdates(hubwire.BucketNames) + ".>")
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{hubwire.StreamMsg, hubwire.StreamRcpt, hubwire.StreamBcast} {
			if _, err := a.JS.Stream(ctx, s); err != nil {
				t.Fatalf("binding stream %s: %v", s, err)
			}
		}

		// A message from HA to HB, stored once although published twice.
		for range 2 {
			ack, err := a.JS.Publish(ctx, "messenger.msg.HB.HA", []byte(`{"id":"m1"}`), jetstream.WithMsgID("m1"))
			if err != nil {
				t.Fatalf("HA publishing to HB: %v", err)
			}
			if ack.Stream != hubwire.StreamMsg {
				t.Fatalf("stored in %q", ack.Stream)
			}
		}
		if m := fetchOne(t, b.JS, hubwire.StreamMsg, hubwire.MsgConsumer("HB")); m.Subject() != "messenger.msg.HB.HA" {
			t.Fatalf("HB got %q", m.Subject())
		}
		// HB's receipt back, and HA pulls it from its own consumer.
		if _, err := b.JS.Publish(ctx, "messenger.rcpt.HA.HB", []byte(`{"id":"m1","state":"delivered"}`)); err != nil {
			t.Fatal(err)
		}
		if m := fetchOne(t, a.JS, hubwire.StreamRcpt, hubwire.RcptConsumer("HA")); m.Subject() != "messenger.rcpt.HA.HB" {
			t.Fatalf("HA got receipt %q", m.Subject())
		}
		// A message to HA, pulled and acked by HA.
		if _, err := b.JS.Publish(ctx, "messenger.msg.HA.HB", []byte(`{"id":"m2"}`)); err != nil {
			t.Fatal(err)
		}
		if m := fetchOne(t, a.JS, hubwire.StreamMsg, hubwire.MsgConsumer("HA")); m.Subject() != "messenger.msg.HA.HB" {
			t.Fatalf("HA got %q", m.Subject())
		}
		// A domain broadcast reaches HB's broadcast consumer.
		if _, err := a.JS.Publish(ctx, "messenger.bcast.WORKGROUP.HA", []byte(`{"id":"b1"}`)); err != nil {
			t.Fatal(err)
		}
		if m := fetchOne(t, b.JS, hubwire.StreamBcast, hubwire.BcastConsumer("HB")); m.Subject() != "messenger.bcast.WORKGROUP.HA" {
			t.Fatalf("HB got broadcast %q", m.Subject())
		}
		cons, err := a.JS.Consumer(ctx, hubwire.StreamMsg, hubwire.MsgConsumer("HA"))
		if err != nil {
			t.Fatal(err)
		}
		if ci, err := cons.Info(ctx); err != nil || ci.NumAckPending != 0 {
			t.Fatalf("consumer info %+v, %v", ci, err)
		}

		// The registry: own keys written and deleted, everyone's read.
		names, err := a.JS.KeyValue(ctx, hubwire.BucketNames)
		if err != nil {
			t.Fatal(err)
		}
		hosts, err := a.JS.KeyValue(ctx, hubwire.BucketHosts)
		if err != nil {
			t.Fatal(err)
		}
		namesB, err := b.JS.KeyValue(ctx, hubwire.BucketNames)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"HA.ALICE", "HA.GONE"} {
			if _, err := names.Put(ctx, k, []byte(`{"host":"HA"}`)); err != nil {
				t.Fatalf("HA putting %s: %v", k, err)
			}
		}
		if err := names.Delete(ctx, "HA.GONE"); err != nil {
			t.Fatal(err)
		}
		if _, err := hosts.Put(ctx, "HA", []byte(`{"host":"HA","online":true}`)); err != nil {
			t.Fatal(err)
		}
		if _, err := namesB.Put(ctx, "HB.BOB", []byte(`{"host":"HB","name":"BOB"}`)); err != nil {
			t.Fatal(err)
		}
		if e, err := names.Get(ctx, "HB.BOB"); err != nil || string(e.Value()) != `{"host":"HB","name":"BOB"}` {
			t.Fatalf("HA reading HB.BOB: %v", err)
		}
		if _, err := names.Get(ctx, "HA.GONE"); !errors.Is(err, jetstream.ErrKeyNotFound) {
			t.Fatalf("deleted key: %v", err)
		}
		// Who holds BOB: the listing a lookup does without a watcher.
		st, err := a.JS.Stream(ctx, "KV_"+hubwire.BucketNames)
		if err != nil {
			t.Fatal(err)
		}
		m, err := st.GetMsg(ctx, 1, jetstream.WithGetMsgSubject("$KV."+hubwire.BucketNames+".*.BOB"))
		if err != nil || m.Subject != "$KV."+hubwire.BucketNames+".HB.BOB" {
			t.Fatalf("listing *.BOB: %+v, %v", m, err)
		}
		if _, err := st.GetMsg(ctx, m.Sequence+1, jetstream.WithGetMsgSubject("$KV."+hubwire.BucketNames+".*.BOB")); !errors.Is(err, jetstream.ErrMsgNotFound) {
			t.Fatalf("listing past the last *.BOB: %v", err)
		}
		// The change feed carries every put, HB's too.
		seen := map[string]bool{}
		for !seen[hubwire.RegistryUpdates(hubwire.BucketNames)+".HB.BOB"] {
			u, err := feed.NextMsg(waitTimeout)
			if err != nil {
				t.Fatalf("registry feed: %v (saw %v)", err, seen)
			}
			seen[u.Subject] = true
		}
		if !seen[hubwire.RegistryUpdates(hubwire.BucketNames)+".HA.GONE"] {
			t.Fatalf("registry feed missed HA.GONE: %v", seen)
		}
	})

	t.Run("speaking for another host", func(t *testing.T) {
		for _, s := range []string{
			"messenger.msg.HB.HB",
			"messenger.msg.HB.HC",
			"messenger.msg.HA.HB",
			"messenger.rcpt.HB.HB",
			"messenger.rcpt.HA.HB",
			"messenger.bcast.WORKGROUP.HB",
			"$KV." + hubwire.BucketNames + ".HB.BOB",
			"$KV." + hubwire.BucketNames + ".HB",
			"$KV." + hubwire.BucketHosts + ".HB",
			"$KV." + hubwire.BucketHosts + ".HA.X",
			hubwire.RegistryUpdates(hubwire.BucketNames) + ".HB.FAKE",
			"_INBOX_HB.x",
		} {
			a.PublishRefused(t, s)
		}
		// Nothing of it was stored.
		for _, c := range []struct{ stream, subject string }{
			{hubwire.StreamMsg, "messenger.msg.HB.HB"},
			{hubwire.StreamRcpt, "messenger.rcpt.HB.HB"},
			{hubwire.StreamBcast, "messenger.bcast.WORKGROUP.HB"},
			{"KV_" + hubwire.BucketNames, "$KV." + hubwire.BucketNames + ".HB.BOB"},
		} {
			st, err := h.admin.Stream(ctx, c.stream)
			if err != nil {
				t.Fatal(err)
			}
			m, err := st.GetLastMsgForSubject(ctx, c.subject)
			if c.stream == hubwire.StreamMsg || c.stream == hubwire.StreamRcpt || c.stream == hubwire.StreamBcast {
				if !errors.Is(err, jetstream.ErrMsgNotFound) {
					t.Fatalf("%s holds %s: %v", c.stream, c.subject, err)
				}
			} else if err != nil || string(m.Data) == `{"id":"forged"}` {
				t.Fatalf("%s: %s was overwritten: %v", c.stream, c.subject, err)
			}
		}
	})

	t.Run("streams and consumers are the admin's", func(t *testing.T) {
		for _, s := range []string{
			"$JS.API.STREAM.CREATE.EVIL",
			"$JS.API.STREAM.CREATE." + hubwire.StreamMsg,
			"$JS.API.STREAM.UPDATE." + hubwire.StreamMsg,
			"$JS.API.STREAM.DELETE." + hubwire.StreamMsg,
			"$JS.API.STREAM.PURGE." + hubwire.StreamMsg,
			"$JS.API.STREAM.PURGE.KV_" + hubwire.BucketNames,
			"$JS.API.STREAM.MSG.DELETE.KV_" + hubwire.BucketNames,
			// A push consumer could deliver into any other stream.
			"$JS.API.CONSUMER.CREATE." + hubwire.StreamMsg + "." + hubwire.MsgConsumer("HA") + ".messenger.msg.HA.>",
			"$JS.API.CONSUMER.CREATE." + hubwire.StreamMsg + "." + hubwire.MsgConsumer("HA"),
			"$JS.API.CONSUMER.CREATE." + hubwire.StreamMsg,
			"$JS.API.CONSUMER.DURABLE.CREATE." + hubwire.StreamMsg + "." + hubwire.MsgConsumer("HA"),
			"$JS.API.CONSUMER.CREATE.KV_" + hubwire.BucketNames + ".watch.$KV." + hubwire.BucketNames + ".>",
			"$JS.API.CONSUMER.DELETE." + hubwire.StreamMsg + "." + hubwire.MsgConsumer("HA"),
			"$JS.API.CONSUMER.RESET." + hubwire.StreamMsg + "." + hubwire.MsgConsumer("HA"),
			// Another host's messages.
			"$JS.API.CONSUMER.MSG.NEXT." + hubwire.StreamMsg + "." + hubwire.MsgConsumer("HB"),
			"$JS.API.CONSUMER.INFO." + hubwire.StreamMsg + "." + hubwire.MsgConsumer("HB"),
			"$JS.ACK." + hubwire.StreamMsg + "." + hubwire.MsgConsumer("HB") + ".1.1.1.1.0",
			"$JS.API.DIRECT.GET." + hubwire.StreamMsg,
			"$JS.API.STREAM.MSG.GET." + hubwire.StreamMsg,
		} {
			a.PublishRefused(t, s)
		}
	})

	t.Run("reading what is not its own", func(t *testing.T) {
		for _, s := range []string{">", "messenger.>", "messenger.msg.HA.>", "messenger.msg.HB.*", "_INBOX.>", "_INBOX_HB.>", "$JS.>", "$JS.ACK.>"} {
			a.SubscribeRefused(t, s)
		}
	})
}

func TestEmbeddedHostPermissions(t *testing.T) {
	_, h := startTestEmbedded(t, "HA", "HB")
	checkHostPermissions(t, h)
}

func TestNatsConfigHostPermissions(t *testing.T) {
	checkHostPermissions(t, startConfigServer(t, "HA", "HB"))
}

func TestEmbeddedSelfInProcess(t *testing.T) {
	self, err := hubauth.LoadOrCreateSelfKey(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	e, err := Start(Options{StoreDir: t.TempDir(), Self: self, SelfHost: "SELF", ServerName: "MY PC"})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Shutdown()
	if e.ServerName() != "MY_PC" {
		t.Errorf("server name %q", e.ServerName())
	}
	if u := e.ClientURL(); u != "" {
		t.Fatalf("in-process only, but listens on %s", u)
	}
	nc, err := nats.Connect("", e.SelfOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	// To itself: its own consumer was provisioned with the streams.
	if _, err := js.Publish(ctx, "messenger.msg.SELF.SELF", []byte(`{"id":"s1"}`)); err != nil {
		t.Fatal(err)
	}
	if m := fetchOne(t, js, hubwire.StreamMsg, hubwire.MsgConsumer("SELF")); m.Subject() != "messenger.msg.SELF.SELF" {
		t.Fatalf("got %q", m.Subject())
	}
	e.Shutdown()
	if nc, err := nats.Connect("", e.SelfOptions()...); err == nil {
		nc.Close()
		t.Fatal("connected in process to a shut down server")
	}
}

func TestEmbeddedReloadRevokes(t *testing.T) {
	e, h := startTestEmbedded(t, "HA", "HB")
	errs := make(chan error, 16)
	creds, err := hubauth.ConnectOptions(hubauth.SeedPath(h.dir, "HA"))
	if err != nil {
		t.Fatal(err)
	}
	a, err := nats.Connect(h.url, append(creds,
		nats.CustomInboxPrefix(hubwire.InboxPrefix("HA")),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { errs <- err }),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) { errs <- err }),
		nats.ReconnectWait(20*time.Millisecond),
	)...)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b := connectHost(t, h, "HB")

	// HA's key goes; HC is authorized.
	if err := os.Remove(filepath.Join(h.dir, "HA.pub")); err != nil {
		t.Fatal(err)
	}
	if _, err := hubauth.AuthorizeHosts(h.dir, []string{"HC"}); err != nil {
		t.Fatal(err)
	}
	reloadKeys(t, e, h.dir)

	timeout := time.After(waitTimeout)
	for revoked := false; !revoked; {
		select {
		case err := <-errs:
			revoked = errors.Is(err, nats.ErrAuthorization)
		case <-timeout:
			t.Fatal("HA was not disconnected for authorization")
		}
	}
	_, err = nats.Connect(h.url, creds...)
	if !errors.Is(err, nats.ErrAuthorization) {
		t.Fatalf("HA connecting after revocation: %v, want an authorization violation", err)
	}

	ctx := ctxT(t)
	if _, err := b.JS.Publish(ctx, "messenger.msg.HC.HB", []byte(`{"id":"r1"}`)); err != nil {
		t.Fatalf("HB after the reload: %v", err)
	}
	c := connectHost(t, h, "HC")
	if m := fetchOne(t, c.JS, hubwire.StreamMsg, hubwire.MsgConsumer("HC")); m.Subject() != "messenger.msg.HC.HB" {
		t.Fatalf("HC got %q", m.Subject())
	}
}

func TestEmbeddedRefusesOneKeyTwice(t *testing.T) {
	dir := t.TempDir()
	keys, err := hubauth.AuthorizeHosts(dir, []string{"HA"})
	if err != nil {
		t.Fatal(err)
	}
	self, err := hubauth.LoadOrCreateSelfKey(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	selfPub, _ := self.PublicKey()
	for _, dup := range [][]hubauth.HostKey{
		{keys[0], {Host: "HB", PublicKey: keys[0].PublicKey}},
		{{Host: "HB", PublicKey: selfPub}},
	} {
		_, err := Start(Options{StoreDir: t.TempDir(), Self: self, SelfHost: "SELF", Authorized: dup})
		if err == nil || !strings.Contains(err.Error(), "same key") {
			t.Fatalf("authorized %v: %v, want a same-key error", dup, err)
		}
	}
}
