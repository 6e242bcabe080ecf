package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/netsend/messenger/internal/apitype"
	"github.com/netsend/messenger/internal/config"
	"github.com/netsend/messenger/internal/hub"
	"github.com/netsend/messenger/internal/hubauth"
	"github.com/netsend/messenger/internal/hubserver"
	"github.com/netsend/messenger/internal/hubwire"
	"github.com/netsend/messenger/internal/message"
	"github.com/netsend/messenger/internal/names"
	"github.com/netsend/messenger/internal/sender"
	"github.com/netsend/messenger/internal/store"
)

// hubLink is the daemon's part of the NATS hub: the embedded server when
// no URLs are configured, and the client either way.
type hubLink struct {
	client   *hub.Hub
	embedded *hubserver.Server // nil when joining an external hub
	authDir  string
	log      *slog.Logger
}

// startHub starts the embedded server (if any) and builds the client;
// Run is the caller's to start. It returns nil when [hub] is off.
func startHub(cfg config.Config, st *store.Store, local hub.Local, table *names.Table, log *slog.Logger) (*hubLink, error) {
	if !cfg.Hub.Enabled {
		return nil, nil
	}
	host := strings.ToUpper(cfg.HostName)
	l := &hubLink{authDir: cfg.HubAuthorizedDir(), log: log.With(slog.String("part", "hub"))}
	var opts []nats.Option
	if len(cfg.Hub.URLs) == 0 {
		self, err := hubauth.LoadOrCreateSelfKey(cfg.DataDir)
		if err != nil {
			return nil, err
		}
		keys, err := hubauth.LoadAuthorized(l.authDir)
		if err != nil {
			return nil, err
		}
		l.embedded, err = hubserver.Start(hubserver.Options{StoreDir: cfg.HubStoreDir(), Listen: cfg.Hub.Listen,
			TLSCert: cfg.Hub.ListenTLSCert, TLSKey: cfg.Hub.ListenTLSKey, TLSClientCA: cfg.Hub.ListenTLSClientCA,
			ServerName: host, Self: self, SelfHost: host, Authorized: keys, Log: log})
		if lerr := (*hubserver.ListenError)(nil); errors.As(err, &lerr) {
			return nil, hubListenAdvice(lerr)
		}
		if err != nil {
			return nil, fmt.Errorf("starting the embedded hub: %w", err)
		}
		opts = l.embedded.SelfOptions()
	} else {
		if cfg.Hub.Creds != "" {
			o, err := hubauth.ConnectOptions(cfg.Hub.Creds)
			if err != nil {
				return nil, err
			}
			opts = append(opts, o...)
		}
		if cfg.Hub.TLSCA != "" || cfg.Hub.TLSCert != "" {
			o, err := hubauth.TLSOptions(cfg.Hub.TLSCA, cfg.Hub.TLSCert, cfg.Hub.TLSKey)
			if err != nil {
				return nil, err
			}
			opts = append(opts, o...)
		}
		opts = append(opts, nats.CustomInboxPrefix(hubwire.InboxPrefix(host)))
	}
	l.client = hub.New(hub.Options{URLs: cfg.Hub.URLs, NATSOptions: opts, HostName: host, Domain: strings.ToUpper(cfg.Workgroup),
		OutboxMax: cfg.Hub.OutboxMax, Local: local, Outbox: st, Names: func() []string { return messengerNames(table) },
		NameState: func(name string, conflict bool) { hubNameState(table, name, conflict) }, Log: log})
	return l, nil
}

// hubListenAdvice names the setting of a hub listen address that cannot
// be had, as the other listeners' errors name theirs.
func hubListenAdvice(e *hubserver.ListenError) error {
	if errors.Is(e.Err, syscall.EADDRINUSE) {
		return fmt.Errorf("cannot listen on TCP %s for the embedded hub: it is already in use (is another "+
			"messenger daemon or nats-server running? choose another address with --hub-listen, or "+
			"--hub-listen \"\" to keep the hub in process)", e.Addr)
	}
	return fmt.Errorf("cannot listen on --hub-listen %s: %w", e.Addr, e.Err)
}

// run keeps the client connected and the registry's names current until
// ctx ends.
func (l *hubLink) run(ctx context.Context, table *names.Table) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := l.client.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			l.log.Error("hub client stopped", slog.Any("err", err))
		}
	}()
	// The client registers the names it reads at start; after that, each
	// change is announced. The channel is taken before the names are
	// read, so that a change between the two wakes the loop again.
	last := messengerNames(table)
	for {
		changed := table.Changed()
		if now := messengerNames(table); !slices.Equal(now, last) {
			last = now
			l.client.NamesChanged()
		}
		select {
		case <-ctx.Done():
			<-done
			return
		case <-changed:
		}
	}
}

// reload puts the authorized hosts in force on SIGHUP: a host whose key
// was removed is disconnected and refused (revocation).
func (l *hubLink) reload() {
	if l.embedded == nil {
		return
	}
	keys, err := hubauth.LoadAuthorized(l.authDir)
	if err == nil {
		err = l.embedded.Reload(keys)
	}
	if err != nil {
		l.log.Error("hub: authorized hosts not reloaded", slog.Any("err", err))
		return
	}
	l.log.Info("hub: authorized hosts reloaded", slog.Int("hosts", len(keys)))
}

func (l *hubLink) shutdown() {
	if l.embedded != nil {
		l.embedded.Shutdown()
	}
}

// messengerNames are the names registered in the hub: this host's <03>
// names, sorted so that two readings compare.
func messengerNames(table *names.Table) []string {
	var out []string
	for _, e := range table.List() {
		if !e.Group && e.Name.Suffix() == 0x03 {
			out = append(out, strings.ToUpper(e.Text))
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// hubNameState shows in the names table, as a NetBIOS conflict is shown,
// that another host holds one of our names on the hub (and so gets its
// messages). The hub says the name is ours again only after it said it
// was not, so only a name in conflict is moved back to registered.
func hubNameState(table *names.Table, name string, conflict bool) {
	n, err := names.Messenger(name, table.CodePage())
	if err != nil {
		return
	}
	e, ok := table.Lookup(n)
	switch {
	case !ok:
	case conflict:
		table.SetState(n, names.StateConflict)
	case e.State == names.StateConflict:
		table.SetState(n, names.StateRegistered)
	}
}

// hubSender is the hub as the sender sees it.
type hubSender struct{ h *hub.Hub }

func (s hubSender) Carries(ctx context.Context, name string) bool {
	_, _, err := s.h.Lookup(ctx, name)
	return err == nil || errors.Is(err, hub.ErrRefused)
}

func (s hubSender) Send(ctx context.Context, to, from, text string, expires time.Duration, localUser string) (sender.HubSent, error) {
	res, err := s.h.Send(ctx, hub.SendRequest{To: to, From: from, Text: text, Expires: expires, LocalUser: localUser})
	switch {
	case errors.Is(err, hub.ErrUnknownName):
		return sender.HubSent{}, fmt.Errorf("%w: %v", sender.ErrHubUnknownName, err)
	case errors.Is(err, hub.ErrOutboxFull):
		return sender.HubSent{}, fmt.Errorf("%w: %v", sender.ErrHubOutboxFull, err)
	case err != nil:
		return sender.HubSent{}, err
	}
	return sender.HubSent{ID: res.Sent.HubID, Host: res.Sent.Host, State: res.Sent.State, Online: res.Online}, nil
}

func (s hubSender) WaitDelivered(ctx context.Context, id string) (apitype.SentState, error) {
	return s.h.WaitDelivered(ctx, id)
}

func (s hubSender) Broadcast(ctx context.Context, domain, from, text string) error {
	return s.h.Broadcast(ctx, domain, from, text)
}

// hubAPI is the hub as the API sees it.
type hubAPI struct{ h *hub.Hub }

func (a hubAPI) Status(ctx context.Context) (hub.Status, error) { return a.h.Status(ctx) }

func (a hubAPI) MarkRead(ctx context.Context, m message.Message) error { return a.h.MarkRead(ctx, m) }
