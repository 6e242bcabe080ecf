package sender

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/netsend/messenger/internal/apitype"
	"github.com/netsend/messenger/internal/message"
)

type localFunc func(context.Context, *message.Message) error

func (f localFunc) Deliver(ctx context.Context, m *message.Message) error { return f(ctx, m) }

type fakeHub struct {
	mu        sync.Mutex
	hosts     map[string]string // name → host
	online    map[string]bool
	sent      []string
	sendErr   error
	waitState apitype.SentState // "" blocks until ctx ends
	bcast     []string
}

func (h *fakeHub) Carries(_ context.Context, name string) bool {
	_, ok := h.hosts[name]
	return ok
}

func (h *fakeHub) Send(_ context.Context, to, from, text string, _ time.Duration, _ string) (HubSent, error) {
	if h.sendErr != nil {
		return HubSent{}, h.sendErr
	}
	host, ok := h.hosts[to]
	if !ok {
		return HubSent{}, ErrHubUnknownName
	}
	h.mu.Lock()
	h.sent = append(h.sent, to+":"+from+":"+text)
	h.mu.Unlock()
	state := apitype.SentSent
	if !h.online[host] {
		state = apitype.SentQueued
	}
	return HubSent{ID: "00ff", Host: host, State: state, Online: h.online[host]}, nil
}

func (h *fakeHub) WaitDelivered(ctx context.Context, _ string) (apitype.SentState, error) {
	if h.waitState == "" {
		<-ctx.Done()
		return "", ctx.Err()
	}
	return h.waitState, nil
}

func (h *fakeHub) Broadcast(_ context.Context, domain, from, text string) error {
	h.bcast = append(h.bcast, domain+":"+text)
	return nil
}

func TestHubCarriesNamesItsRegistryKnows(t *testing.T) {
	hub := &fakeHub{hosts: map[string]string{"BOB": "HOSTB", "CAROL": "HOSTC"}, online: map[string]bool{"HOSTB": true}}
	s := newSender(t)
	s.Hub = hub

	d := send(t, s, apitype.SendRequest{To: "bob", Text: "hi"})
	if !d.OK() || d.Via != "hub" || d.Addr != "HOSTB" || d.State != apitype.SentSent || !d.Online || d.ID == "" {
		t.Errorf("to an online host: %+v", d)
	}
	d = send(t, s, apitype.SendRequest{To: "CAROL", Text: "later"})
	if !d.OK() || d.State != apitype.SentQueued || d.Online {
		t.Errorf("to an offline host: %+v; want queued, not an error", d)
	}
	// A name the registry does not know takes the NetBIOS path (here: no
	// resolver answers), unless the hub was asked for.
	if d := send(t, s, apitype.SendRequest{To: "DAVE", Text: "x"}); d.Via != "smb" || d.Code != apitype.CodeNameNotFound {
		t.Errorf("unknown to the registry: %+v; want the session path's name-not-found", d)
	}
	if d := send(t, s, apitype.SendRequest{To: "DAVE", Text: "x", Via: "hub"}); d.Via != "hub" || d.Code != apitype.CodeNameNotFound {
		t.Errorf("--via hub, unknown: %+v", d)
	}
	// Our own names stay local.
	s.Local = localFunc(func(context.Context, *message.Message) error { return nil })
	if d := send(t, s, apitype.SendRequest{To: "SENDER", Text: "me"}); d.Via != "local" {
		t.Errorf("our own name: %+v", d)
	}
	if len(hub.sent) != 2 || hub.sent[0] != "BOB:SENDER:hi" {
		t.Errorf("hub got %q", hub.sent)
	}
}

func TestHubWait(t *testing.T) {
	hub := &fakeHub{hosts: map[string]string{"BOB": "HOSTB"}, online: map[string]bool{"HOSTB": true}}
	s := newSender(t)
	s.Hub = hub
	for _, c := range []struct {
		state apitype.SentState
		code  string
	}{
		{apitype.SentDelivered, ""},
		{apitype.SentRead, ""},
		{apitype.SentExpired, apitype.CodeTimeout},
		{apitype.SentFailed, apitype.CodeNotAccepting},
		{"", apitype.CodeTimeout}, // no receipt within the wait
	} {
		hub.waitState = c.state
		d := send(t, s, apitype.SendRequest{To: "BOB", Text: "w", Wait: 50 * time.Millisecond})
		if d.Code != c.code || (c.state != "" && d.State != c.state) {
			t.Errorf("receipt %q: %+v; want code %q", c.state, d, c.code)
		}
	}
}

// Issue 20, item 4: --wait to a host the registry has offline answers at
// once, queued and no error, instead of waiting out the timeout.
func TestHubWaitOffline(t *testing.T) {
	hub := &fakeHub{hosts: map[string]string{"BOB": "HOSTB"}, online: map[string]bool{}}
	s := newSender(t)
	s.Hub = hub
	start := time.Now()
	d := send(t, s, apitype.SendRequest{To: "BOB", Text: "w", Wait: time.Minute})
	if d.Code != "" || d.State != apitype.SentQueued || d.Online || time.Since(start) > 5*time.Second {
		t.Errorf("--wait to an offline host: %+v after %s", d, time.Since(start))
	}
}

// --via to a name of this host is an error, not a silent local delivery.
func TestViaToOwnName(t *testing.T) {
	s := newSender(t)
	for _, via := range []string{"smb", "rpc"} {
		ds, err := s.Send(context.Background(), apitype.SendRequest{To: "SENDER", Text: "x", Via: via})
		if err == nil && (len(ds) != 1 || ds[0].Code != apitype.CodeBadRequest || !strings.Contains(ds[0].Error, "name of this host")) {
			t.Errorf("--via %s to our own name: %+v", via, ds)
		}
	}
}

func TestHubRefusals(t *testing.T) {
	s := newSender(t)
	if _, err := s.Send(context.Background(), apitype.SendRequest{To: "BOB", Text: "x", Via: "hub"}); err == nil {
		t.Error("--via hub without a hub was accepted")
	}
	s.Hub = &fakeHub{hosts: map[string]string{"BOB": "HOSTB"}, sendErr: ErrHubOutboxFull}
	if _, err := s.Send(context.Background(), apitype.SendRequest{To: "*", Text: "x", Via: "hub"}); err == nil {
		t.Error("--via hub to '*' was accepted")
	}
	if d := send(t, s, apitype.SendRequest{To: "BOB", Text: "x"}); d.Code != apitype.CodeNetwork {
		t.Errorf("outbox full: %+v", d)
	}
	s.Hub = &fakeHub{hosts: map[string]string{"BOB": "HOSTB"}, sendErr: errors.New("boom")}
	if d := send(t, s, apitype.SendRequest{To: "BOB", Text: "x"}); d.Code != apitype.CodeNetwork {
		t.Errorf("hub error: %+v", d)
	}
}

func TestHubBroadcastBesideTheMailslot(t *testing.T) {
	hub := &fakeHub{}
	s := newSender(t)
	s.Hub = hub
	ds, err := s.Send(context.Background(), apitype.SendRequest{Domain: "sales", Text: "all"})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 2 || ds[1].Via != "hub" || !ds[1].OK() || len(hub.bcast) != 1 || hub.bcast[0] != "SALES:all" {
		t.Errorf("deliveries %+v, hub broadcasts %q", ds, hub.bcast)
	}
}
