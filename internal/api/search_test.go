package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/netsend/messenger/internal/access"
	"github.com/netsend/messenger/internal/message"
	"github.com/netsend/messenger/internal/store"
)

// owners gives each alias to its account, as the name table would.
type owners map[string]string

func (o owners) Owner(name string) (string, bool) { return o[strings.ToUpper(name)], false }

func (o owners) HasString(name string) bool { _, ok := o[strings.ToUpper(name)]; return ok }

// inboxServer is an API over a real store holding, in order: two
// messages to alice's alias ALICEPC ("disk full", "100% done") and one
// to bob's BOBPC ("disk ok").
func inboxServer(t *testing.T) (*Server, func(c access.Caller, method, target, body string) *httptest.ResponseRecorder) {
	t.Helper()
	st, err := store.Open(context.Background(), t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for _, m := range []message.Message{
		{From: "X", To: "ALICEPC", Text: "disk full"},
		{From: "X", To: "ALICEPC", Text: "100% done"},
		{From: "X", To: "BOBPC", Text: "disk ok"},
	} {
		m.Time, m.Transport, m.Source = time.Now(), message.TransportSMB, "192.0.2.1:139"
		if err := st.Add(context.Background(), &m); err != nil {
			t.Fatal(err)
		}
	}
	rules := &access.Rules{Accounts: access.NewAccounts(access.DefaultConfig()), Names: owners{"ALICEPC": "alice", "BOBPC": "bob"}}
	s := &Server{Store: st, Rules: rules, Events: NewEventBus(), Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	h := s.Handler()
	return s, func(c access.Caller, method, target, body string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, target, strings.NewReader(body))
		r = r.WithContext(access.WithCaller(r.Context(), c))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec
	}
}

var (
	alice = access.Caller{UID: 5001, Login: "alice", Via: "session"}
	bob   = access.Caller{UID: 5002, Login: "bob", Via: "session"}
)

func listIDs(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	var msgs []message.Message
	if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &msgs) != nil {
		t.Fatalf("list: %d %s", rec.Code, rec.Body)
	}
	var ids []int64
	for _, m := range msgs {
		ids = append(ids, m.ID)
	}
	return fmt.Sprint(ids)
}

// Search and newest-first paging list only what the caller may read.
func TestListSearchAndPaging(t *testing.T) {
	_, as := inboxServer(t)
	for _, c := range []struct {
		who    access.Caller
		target string
		want   string
	}{
		{alice, "/v1/messages?q=disk", "[1]"},
		{bob, "/v1/messages?q=disk", "[3]"},
		{root, "/v1/messages?q=DISK", "[1 3]"},
		{root, "/v1/messages?q=0%25", "[2]"},
		{root, "/v1/messages?q=_", "[]"},
		{root, "/v1/messages?order=newest&limit=2", "[3 2]"},
		{root, "/v1/messages?before=3&limit=1", "[2]"},
		{alice, "/v1/messages?before=3", "[2 1]"},
		{root, "/v1/messages?after=1&limit=1", "[2]"},
	} {
		if got := listIDs(t, as(c.who, "GET", c.target, "")); got != c.want {
			t.Errorf("%s: %s lists %s, want %s", c.who.Login, c.target, got, c.want)
		}
	}
	for _, bad := range []string{"?before=x", "?before=0", "?order=up", "?q=" + strings.Repeat("a", maxSearch+1)} {
		if rec := as(root, "GET", "/v1/messages"+bad, ""); rec.Code != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", bad, rec.Code)
		}
	}
}

// A user marks unread, and marks all read, only their own messages.
func TestUnreadAndReadAll(t *testing.T) {
	s, as := inboxServer(t)
	state := func(id int64) message.State {
		m, err := s.Store.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		return m.State
	}
	if rec := as(bob, "POST", "/v1/messages/1/read", ""); rec.Code != http.StatusForbidden {
		t.Errorf("bob marks alice's read: %d", rec.Code)
	}
	if rec := as(alice, "POST", "/v1/messages/1/read", ""); rec.Code != 200 || state(1) != message.StateRead {
		t.Fatalf("alice marks hers read: %d %s", rec.Code, rec.Body)
	}
	if rec := as(bob, "POST", "/v1/messages/1/unread", ""); rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "bob may not mark message 1") || state(1) != message.StateRead {
		t.Errorf("bob marks alice's unread: %d %s, state %s", rec.Code, rec.Body, state(1))
	}
	if rec := as(alice, "POST", "/v1/messages/1/unread", ""); rec.Code != 200 || state(1) != message.StateUnread {
		t.Errorf("alice marks hers unread: %d %s", rec.Code, rec.Body)
	}
	if rec := as(alice, "POST", "/v1/messages/99/unread", ""); rec.Code != http.StatusNotFound {
		t.Errorf("unread of a missing message: %d", rec.Code)
	}

	// Up to id 1 only: the page had not shown 2.
	rec := as(alice, "POST", "/v1/messages/read-all", `{"through":1}`)
	if rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != `{"read":[1]}` || state(2) != message.StateUnread {
		t.Errorf("alice reads all through 1: %d %s", rec.Code, rec.Body)
	}
	rec = as(alice, "POST", "/v1/messages/read-all", "")
	if rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != `{"read":[2]}` {
		t.Errorf("alice reads all: %d %s", rec.Code, rec.Body)
	}
	if state(3) != message.StateUnread {
		t.Error("alice's read-all marked bob's message")
	}
	if rec := as(bob, "POST", "/v1/messages/read-all", `nonsense`); rec.Code != http.StatusBadRequest {
		t.Errorf("a bad body: %d", rec.Code)
	}
	if rec := as(bob, "POST", "/v1/messages/read-all", `{}`); rec.Code != 200 || state(3) != message.StateRead {
		t.Errorf("bob reads all: %d %s", rec.Code, rec.Body)
	}
}
