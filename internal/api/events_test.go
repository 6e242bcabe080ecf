package api

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/netsend/messenger/internal/message"
	"github.com/netsend/messenger/internal/store"
	"github.com/netsend/messenger/internal/webauth"
)

func serveEvents(t *testing.T) (*Client, *store.Store, *EventBus) {
	t.Helper()
	dir := t.TempDir()
	hub := NewEventBus()
	st, err := store.Open(context.Background(), dir, store.Options{OnStored: hub.Committed})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	sock := filepath.Join(dir, "api.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := testServer(&Server{Store: st, Events: hub, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	go srv.Serve(ln)
	t.Cleanup(func() { hub.Close(); srv.Close() })
	return NewClient(sock), st, hub
}

func add(t *testing.T, st *store.Store, to, text string) message.Message {
	t.Helper()
	m := message.Message{From: "ALICE", To: to, Text: text, Transport: message.TransportSMB, State: message.StateUnread, Time: time.Now()}
	if err := st.Add(context.Background(), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// The stream replays what came after the cursor, then follows live
// messages and read changes, filtered by recipient.
func TestEventStreamReplaysThenFollows(t *testing.T) {
	c, st, hub := serveEvents(t)
	first := add(t, st, "BOB", "one")
	add(t, st, "BOB", "two")
	add(t, st, "CAROL", "not for bob")
	q := message.Message{From: "X", To: "BOB", Text: "spam", Transport: message.TransportSMB, State: message.StateQuarantined, Time: time.Now()}
	if err := st.Add(context.Background(), &q); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var got []string
	errDone := errors.New("done")
	go func() {
		// Published once the stream is up: the hub has a subscriber.
		for hub.subscribers() == 0 {
			time.Sleep(5 * time.Millisecond)
		}
		// The store's writer hands it to the hub.
		add(t, st, "bob", "<script>alert(1)</script>")
		hub.Publish(Event{Kind: EventRead, ID: first.ID})
	}()
	err := c.Events(ctx, first.ID, []string{"BOB"}, func(e Event) error {
		if e.Kind == EventMessage {
			got = append(got, e.Message.Text)
		} else {
			got = append(got, e.Kind)
		}
		if e.Kind == EventRead {
			return errDone
		}
		return nil
	})
	if !errors.Is(err, errDone) {
		t.Fatalf("Events = %v", err)
	}
	if want := "two|<script>alert(1)</script>|read"; strings.Join(got, "|") != want {
		t.Fatalf("events %q; want %q", got, want)
	}
}

func TestEventStreamEndsWhenHubCloses(t *testing.T) {
	c, _, hub := serveEvents(t)
	done := make(chan error, 1)
	go func() { done <- c.Events(context.Background(), 0, nil, func(Event) error { return nil }) }()
	time.Sleep(100 * time.Millisecond)
	hub.Close()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("stream still open after the hub closed")
	}
}

func TestGuard(t *testing.T) {
	h := webauth.Guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	for _, tc := range []struct {
		name, method, host string
		hdr                map[string]string
		want               int
	}{
		{"get", "GET", "127.0.0.1:8139", nil, 204},
		{"localhost", "GET", "localhost:8139", nil, 204},
		{"rebinding", "GET", "evil.example:8139", nil, 421},
		{"post without header", "POST", "127.0.0.1:8139", nil, 403},
		{"post", "POST", "127.0.0.1:8139", map[string]string{webauth.RequestHeader: "1", "Origin": "http://127.0.0.1:8139"}, 204},
		{"cross origin", "POST", "127.0.0.1:8139", map[string]string{webauth.RequestHeader: "1", "Origin": "http://evil.example"}, 403},
		{"cross site", "DELETE", "127.0.0.1:8139", map[string]string{webauth.RequestHeader: "1", "Sec-Fetch-Site": "cross-site"}, 403},
	} {
		r := httptest.NewRequest(tc.method, "/v1/messages/1", nil)
		r.Host = tc.host
		for k, v := range tc.hdr {
			r.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != tc.want {
			t.Errorf("%s: %d; want %d", tc.name, w.Code, tc.want)
		}
		if !strings.Contains(w.Header().Get("Content-Security-Policy"), "script-src 'self'") {
			t.Errorf("%s: no content security policy", tc.name)
		}
	}
}

func TestWebHandlerServesEmbeddedPage(t *testing.T) {
	h := WebHandler()
	for path, want := range map[string]string{"/": "<title>Messenger</title>", "/app.js": "textContent", "/style.css": "#messages"} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		if w.Code != 200 || !strings.Contains(w.Body.String(), want) {
			t.Errorf("GET %s: %d, body lacks %q", path, w.Code, want)
		}
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/etc/passwd", nil))
	if w.Code != 404 {
		t.Errorf("GET /etc/passwd: %d", w.Code)
	}
}
