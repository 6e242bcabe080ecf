package ntfysub

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/netsend/messenger/internal/access"
	"github.com/netsend/messenger/internal/api"
	"github.com/netsend/messenger/internal/message"
	"github.com/netsend/messenger/internal/store"
	"github.com/netsend/messenger/internal/webauth"
)

// memStore is the store as subscriptions read it: the inbox (unread and
// read, never the quarantine) in id order.
type memStore struct {
	mu   sync.Mutex
	msgs []message.Message
}

func (s *memStore) List(_ context.Context, opt store.ListOptions) ([]message.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []message.Message
	for _, m := range s.msgs {
		if m.ID <= opt.AfterID || m.State == message.StateQuarantined || (opt.To != nil && !slices.Contains(opt.To, m.To)) {
			continue
		}
		out = append(out, m)
		if opt.Limit > 0 && len(out) == opt.Limit {
			break
		}
	}
	return out, nil
}

func (s *memStore) Recipients(context.Context) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, m := range s.msgs {
		if !slices.Contains(out, m.To) {
			out = append(out, m.To)
		}
	}
	return out, nil
}

// owners gives ALICE and OPS to alice's account, BOB to bob's; HOST is
// the host's, which users read under the default host_messages.
type owners map[string]string

func (o owners) HasString(name string) bool {
	_, ok := o[strings.ToUpper(name)]
	return ok || strings.ToUpper(name) == "HOST"
}

func (o owners) Owner(name string) (string, bool) {
	n := strings.ToUpper(name)
	if n == "HOST" {
		return "", true
	}
	return o[n], false
}

// Accounts without a passwd entry are known by their number, so these
// tests need no local users.
var (
	alice = access.Caller{UID: 54321, Login: "54321"}
	bob   = access.Caller{UID: 54322, Login: "54322"}
)

var t0 = time.Unix(1_700_000_000, 0)

type fixture struct {
	h     *Handler
	srv   *httptest.Server
	st    *memStore
	hub   *api.EventBus
	token string // alice's
	bobTk string
	next  int64
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	tokens, err := webauth.OpenTokens(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	accounts := access.NewAccounts(access.DefaultConfig())
	rules := &access.Rules{Accounts: accounts, Names: owners{"ALICE": alice.Login, "OPS": alice.Login, "BOB": bob.Login}}
	f := &fixture{st: &memStore{}, hub: api.NewEventBus()}
	a, err := tokens.Create(alice, "phone")
	if err != nil {
		t.Fatal(err)
	}
	b, err := tokens.Create(bob, "phone")
	if err != nil {
		t.Fatal(err)
	}
	f.token, f.bobTk = a.Token, b.Token
	done := make(chan struct{})
	f.h = &Handler{
		Next: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusTeapot)
			io.WriteString(w, "next "+r.Method+" "+r.URL.Path)
		}),
		Store: f.st, Events: f.hub, Rules: rules, Done: done,
		Credentials: &webauth.Web{Accounts: accounts, Tokens: tokens},
		Now:         func() time.Time { return t0.Add(time.Hour) },
	}
	f.srv = httptest.NewServer(f.h)
	t.Cleanup(func() { f.hub.Close(); close(done); f.srv.Close() })
	return f
}

// add stores m and tells the hub, as the store's writer does.
func (f *fixture) add(m message.Message) message.Message {
	f.next++
	m.ID = f.next
	if m.State == "" {
		m.State = message.StateUnread
	}
	if m.Time.IsZero() {
		m.Time = t0.Add(time.Duration(m.ID) * time.Minute)
	}
	f.st.mu.Lock()
	f.st.msgs = append(f.st.msgs, m)
	f.st.mu.Unlock()
	f.hub.Committed([]message.Message{m})
	return m
}

func (f *fixture) get(t *testing.T, path string, hdr ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, f.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func (f *fixture) bearer() []string { return []string{"Authorization", "Bearer " + f.token} }

// events reads a poll's newline-delimited JSON.
func events(t *testing.T, resp *http.Response) []Event {
	t.Helper()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	var out []Event
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		var e Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		out = append(out, e)
	}
	return out
}

func texts(es []Event) []string {
	var out []string
	for _, e := range es {
		if e.Message != nil {
			out = append(out, *e.Message)
		} else {
			out = append(out, e.Event)
		}
	}
	return out
}

func (f *fixture) seed() {
	f.add(message.Message{From: "BOB", To: "ALICE", Text: "lunch?"})
	f.add(message.Message{From: "nut", To: "OPS", Text: "on battery", Transport: message.TransportAlert,
		Alert: &message.Alert{Source: "nut", Severity: message.SeverityCritical, Title: "UPS ups1"}})
	f.add(message.Message{From: "EVE", To: "ALICE", Text: "spam", State: message.StateQuarantined})
	f.add(message.Message{From: "ALICE", To: "BOB", Text: "secret of bob"})
	f.add(message.Message{From: "X", To: "alice", Text: "two\nlines"})
}

func TestPollMessageShape(t *testing.T) {
	f := newFixture(t)
	f.seed()
	es := events(t, f.get(t, "/Alice,ops/json?poll=1", f.bearer()...))
	if got, want := texts(es), []string{"lunch?", "on battery", "two\nlines"}; !slices.Equal(got, want) {
		t.Fatalf("poll sent %q, want %q (no open event, no quarantine, not BOB's)", got, want)
	}
	// The shape ntfy documents, field by field.
	raw := f.get(t, "/ops/json?poll=1", f.bearer()...)
	line, _ := bufio.NewReader(raw.Body).ReadString('\n')
	var m map[string]any
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"id": "m2", "time": float64(t0.Add(2 * time.Minute).Unix()), "event": "message", "topic": "ops",
		"message": "on battery", "title": "UPS ups1", "priority": float64(5), "tags": []any{"nut", "critical"}}
	for k, v := range want {
		if b1, _ := json.Marshal(m[k]); string(b1) != string(mustJSON(v)) {
			t.Errorf("%s = %v, want %v (line %s)", k, m[k], v, line)
		}
	}
	if ct := raw.Header.Get("Content-Type"); ct != "application/x-ndjson; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	// The topic is the client's spelling; a plain message has priority 3
	// and its sender as title.
	if e := es[0]; e.Topic != "Alice" || e.Priority != 3 || e.Title != "Message from BOB" || e.Tags != nil || e.ID != "m1" {
		t.Errorf("plain message event %+v", e)
	}
	if e := es[2]; e.Topic != "Alice" {
		t.Errorf("message to %q sent under topic %q, want the client's Alice", "alice", e.Topic)
	}
}

func mustJSON(v any) []byte { b, _ := json.Marshal(v); return b }

func TestSince(t *testing.T) {
	f := newFixture(t)
	f.seed() // ALICE's readable messages: 1 (t0+1m) and 5 (t0+5m); now is t0+1h
	for _, c := range []struct {
		since string
		want  []string
	}{
		{"all", []string{"lunch?", "two\nlines"}},
		{"m1", []string{"two\nlines"}},
		{"m5", nil},
		{"latest", []string{"two\nlines"}},
		{"none", nil},
		{"57m", []string{"two\nlines"}}, // from t0+3m
		{"2h", []string{"lunch?", "two\nlines"}},
		{"1d", []string{"lunch?", "two\nlines"}},
		{"1700000120", []string{"two\nlines"}}, // t0+2m, Unix time
	} {
		es := events(t, f.get(t, "/alice/json?poll=1&since="+c.since, f.bearer()...))
		if got := texts(es); !slices.Equal(got, c.want) {
			t.Errorf("since=%s: %q, want %q", c.since, got, c.want)
		}
	}
	if resp := f.get(t, "/alice/json?poll=1&since=yesterday", f.bearer()...); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("since=yesterday: %d, want 400", resp.StatusCode)
	}
}

func TestCredentials(t *testing.T) {
	f := newFixture(t)
	f.add(message.Message{From: "BOB", To: "ALICE", Text: "hi"})
	b64 := base64.RawURLEncoding.EncodeToString
	std := base64.StdEncoding.EncodeToString
	basic := "Basic " + std([]byte(":"+f.token))
	for name, c := range map[string]struct {
		path string
		hdr  []string
	}{
		"bearer":             {"/alice/json?poll=1", f.bearer()},
		"basic, empty user":  {"/alice/json?poll=1", []string{"Authorization", basic}},
		"auth=, url base64":  {"/alice/json?poll=1&auth=" + b64([]byte("Bearer "+f.token)), nil},
		"auth=, std base64":  {"/alice/json?poll=1&auth=" + strings.NewReplacer("+", "%2B", "/", "%2F", "=", "").Replace(std([]byte(basic))), nil},
		"auth=, plain token": {"/alice/json?poll=1&auth=" + f.token, nil},
	} {
		if got := texts(events(t, f.get(t, c.path, c.hdr...))); !slices.Equal(got, []string{"hi"}) {
			t.Errorf("%s: %q", name, got)
		}
	}
	for name, hdr := range map[string][]string{
		"none":        nil,
		"wrong token": {"Authorization", "Bearer nope"},
	} {
		resp := f.get(t, "/alice/json?poll=1", hdr...)
		var e struct {
			Code int `json:"code"`
			HTTP int `json:"http"`
		}
		json.NewDecoder(resp.Body).Decode(&e)
		if resp.StatusCode != http.StatusUnauthorized || e.Code != 40101 || e.HTTP != 401 || resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: %d %+v, want 401 asking for a credential", name, resp.StatusCode, e)
		}
	}
}

func TestForbiddenName(t *testing.T) {
	f := newFixture(t)
	f.seed()
	for _, p := range []string{"/bob/json?poll=1", "/alice,BOB/sse", "/bob/ws", "/bob/auth", "/bob/raw?since=all"} {
		resp := f.get(t, p, f.bearer()...)
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusForbidden || strings.Contains(string(b), "secret") {
			t.Errorf("%s: %d %s, want 403 that says nothing of the messages", p, resp.StatusCode, b)
		}
	}
	// Bob may; the host's names are every user's by default.
	if got := texts(events(t, f.get(t, "/bob/json?poll=1", "Authorization", "Bearer "+f.bobTk))); !slices.Equal(got, []string{"secret of bob"}) {
		t.Errorf("bob's poll: %q", got)
	}
	if resp := f.get(t, "/host/auth", f.bearer()...); resp.StatusCode != http.StatusOK {
		t.Errorf("/host/auth: %d", resp.StatusCode)
	}
}

func TestOtherRequestsGoToNext(t *testing.T) {
	f := newFixture(t)
	for _, c := range []struct{ method, path string }{
		{http.MethodPost, "/alice"}, {http.MethodGet, "/alice/publish"}, {http.MethodPost, "/alice/json"},
		{http.MethodGet, "/v1/health"}, {http.MethodGet, "/"}, {http.MethodGet, "//json"},
	} {
		req, _ := http.NewRequest(c.method, f.srv.URL+c.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusTeapot {
			t.Errorf("%s %s: %d, want the ingest handler's answer", c.method, c.path, resp.StatusCode)
		}
	}
}

// lines reads a stream line by line in the background.
func lines(t *testing.T, resp *http.Response) <-chan string {
	t.Helper()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	ch := make(chan string, 64)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			ch <- sc.Text()
		}
	}()
	return ch
}

func next(t *testing.T, ch <-chan string) string {
	t.Helper()
	select {
	case l, ok := <-ch:
		if !ok {
			t.Fatal("stream ended")
		}
		return l
	case <-time.After(5 * time.Second):
		t.Fatal("no line within 5s")
	}
	return ""
}

func decode(t *testing.T, line string) Event {
	t.Helper()
	var e Event
	if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &e); err != nil {
		t.Fatalf("%q: %v", line, err)
	}
	return e
}

func TestJSONStream(t *testing.T) {
	f := newFixture(t)
	f.h.KeepAlive = 200 * time.Millisecond
	f.seed()
	ch := lines(t, f.get(t, "/alice,ops/json", f.bearer()...))
	if e := decode(t, next(t, ch)); e.Event != "open" || e.Topic != "alice,ops" || e.ID == "" || e.Time == 0 {
		t.Fatalf("first event %+v, want open for alice,ops", e)
	}
	// No since: nothing stored before is sent; new messages are.
	f.add(message.Message{From: "BOB", To: "BOB", Text: "not hers"})
	f.add(message.Message{From: "EVE", To: "OPS", Text: "held", State: message.StateQuarantined})
	f.add(message.Message{From: "BOB", To: "OPS", Text: "live"})
	if e := decode(t, next(t, ch)); e.Event != "message" || *e.Message != "live" || e.Topic != "ops" || e.ID != "m8" {
		t.Fatalf("got %+v, want the live message to OPS", e)
	}
	if e := decode(t, next(t, ch)); e.Event != "keepalive" || e.Topic != "alice,ops" {
		t.Fatalf("got %+v, want keepalive", e)
	}
}

func TestStreamReplaysSinceThenFollows(t *testing.T) {
	f := newFixture(t)
	f.seed()
	ch := lines(t, f.get(t, "/alice/json?since=all", f.bearer()...))
	var got []string
	for range 3 {
		got = append(got, decode(t, next(t, ch)).Event)
	}
	f.add(message.Message{From: "BOB", To: "ALICE", Text: "new"})
	e := decode(t, next(t, ch))
	if !slices.Equal(got, []string{"open", "message", "message"}) || *e.Message != "new" {
		t.Fatalf("got %q then %+v", got, e)
	}
}

func TestSSEStream(t *testing.T) {
	f := newFixture(t)
	f.h.KeepAlive = 200 * time.Millisecond
	resp := f.get(t, "/alice/sse", f.bearer()...)
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	ch := lines(t, resp)
	if l := next(t, ch); l != "event: open" {
		t.Fatalf("first line %q", l)
	}
	if e := decode(t, next(t, ch)); e.Event != "open" {
		t.Fatalf("open data %+v", e)
	}
	next(t, ch) // blank line ending the event
	f.add(message.Message{From: "BOB", To: "ALICE", Text: "hi"})
	// A message event has no event line, so EventSource's onmessage fires.
	l := next(t, ch)
	if !strings.HasPrefix(l, "data: ") || *decode(t, l).Message != "hi" {
		t.Fatalf("message line %q", l)
	}
	if l := next(t, ch); l != "" {
		t.Fatalf("%q after data, want a blank line", l)
	}
	if l := next(t, ch); l != "event: keepalive" {
		t.Fatalf("%q, want keepalive", l)
	}
}

func TestRawStream(t *testing.T) {
	f := newFixture(t)
	f.h.KeepAlive = 200 * time.Millisecond
	resp := f.get(t, "/alice/raw", f.bearer()...)
	if ct := resp.Header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	ch := lines(t, resp)
	if l := next(t, ch); l != "" {
		t.Fatalf("open is %q, want an empty line", l)
	}
	f.add(message.Message{From: "BOB", To: "ALICE", Text: "two\nlines"})
	if l := next(t, ch); l != "two lines" {
		t.Fatalf("message line %q", l)
	}
	if l := next(t, ch); l != "" {
		t.Fatalf("keepalive %q, want an empty line", l)
	}
}

func TestWebSocket(t *testing.T) {
	f := newFixture(t)
	f.seed()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	url := "ws" + strings.TrimPrefix(f.srv.URL, "http") + "/alice/ws?since=m1"
	conn, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + f.token}}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	read := func() Event {
		_, b, err := conn.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var e Event
		if err := json.Unmarshal(b, &e); err != nil {
			t.Fatal(err)
		}
		return e
	}
	if e := read(); e.Event != "open" {
		t.Fatalf("%+v, want open", e)
	}
	if e := read(); *e.Message != "two\nlines" {
		t.Fatalf("%+v, want the message after m1", e)
	}
	f.add(message.Message{From: "BOB", To: "ALICE", Text: "live"})
	if e := read(); e.Event != "message" || *e.Message != "live" || e.Topic != "alice" {
		t.Fatalf("%+v, want the live message", e)
	}
	// Without a token the upgrade is refused before it happens.
	if _, resp, err := websocket.Dial(ctx, url, nil); err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("dial without a token: %v", err)
	}
}

func TestStreamCatchesUpAfterLag(t *testing.T) {
	f := newFixture(t)
	resp := f.get(t, "/alice/json", f.bearer()...)
	ch := lines(t, resp)
	next(t, ch) // open
	// More than the hub's ring holds, in one go: the stream must find
	// what it missed in the store, in order, once each.
	const n = 5000
	for i := range n {
		to := "BOB"
		if i%2 == 0 {
			to = "ALICE"
		}
		f.add(message.Message{From: "X", To: to, Text: "m"})
	}
	last := int64(0)
	for range n / 2 {
		e := decode(t, next(t, ch))
		var id int64
		if _, err := fmtSscan(e.ID, &id); err != nil || id <= last {
			t.Fatalf("id %q after %d", e.ID, last)
		}
		last = id
	}
}
