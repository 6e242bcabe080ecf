package api

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netsend/messenger/internal/apitype"
	"github.com/netsend/messenger/internal/message"
	"github.com/netsend/messenger/internal/store"
)

// serve runs the API on a Unix socket over a real store and returns a
// client for it.
func serve(t *testing.T) (*Client, *store.Store) {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(context.Background(), dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	sock := filepath.Join(dir, "api.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := testServer(&Server{Store: st, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Status: func() apitype.Status { return apitype.Status{Version: "test", PID: 1} }})
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return NewClient(sock), st
}

func TestMessagesAPI(t *testing.T) {
	c, st := serve(t)
	ctx := context.Background()
	for _, text := range []string{"first", "second", "third"} {
		if err := st.Add(ctx, &message.Message{From: "A", To: "B", Text: text, Transport: message.TransportSMB}); err != nil {
			t.Fatal(err)
		}
	}
	msgs, err := c.List(ctx, "", 0, 0)
	if err != nil || len(msgs) != 3 || msgs[0].Text != "first" {
		t.Fatalf("List = %+v, %v", msgs, err)
	}
	m, err := c.MarkRead(ctx, msgs[1].ID)
	if err != nil || m.State != message.StateRead || m.Text != "second" {
		t.Fatalf("MarkRead = %+v, %v", m, err)
	}
	unread, err := c.List(ctx, message.StateUnread, 0, 0)
	if err != nil || len(unread) != 2 {
		t.Fatalf("List(unread) = %+v, %v", unread, err)
	}
	if after, _ := c.List(ctx, "", msgs[0].ID, 1); len(after) != 1 || after[0].Text != "second" {
		t.Fatalf("List(after first, limit 1) = %+v", after)
	}
	if err := c.Delete(ctx, msgs[2].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, msgs[2].ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get(deleted) error = %v, want ErrNotFound", err)
	}
	if s, err := c.Status(ctx); err != nil || s.Version != "test" {
		t.Fatalf("Status = %+v, %v", s, err)
	}
}

func TestBadRequests(t *testing.T) {
	c, _ := serve(t)
	ctx := context.Background()
	for _, path := range []string{"/v1/messages/abc", "/v1/messages/-4", "/v1/messages?state=eaten", "/v1/messages?limit=x"} {
		err := c.do(ctx, http.MethodGet, path, nil)
		if err == nil || errors.Is(err, ErrNotFound) {
			t.Errorf("GET %s: error %v, want a 400 with a reason", path, err)
			continue
		}
		if !strings.Contains(err.Error(), "not") {
			t.Errorf("GET %s: error %q does not explain itself", path, err)
		}
	}
	if _, err := c.MarkRead(ctx, 99); !errors.Is(err, ErrNotFound) {
		t.Errorf("MarkRead(99) = %v, want ErrNotFound", err)
	}
}

func TestDaemonNotRunning(t *testing.T) {
	c := NewClient(filepath.Join(t.TempDir(), "nobody-here.sock"))
	if _, err := c.Status(context.Background()); !errors.Is(err, ErrDaemonNotRunning) {
		t.Fatalf("Status without a daemon = %v, want ErrDaemonNotRunning", err)
	}
}
