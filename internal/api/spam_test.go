package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netsend/messenger/internal/message"
	"github.com/netsend/messenger/internal/store"
)

// fakeSpam refuses what a real policy would: the entry "BAD", and a
// reload while reloadErr is set.
type fakeSpam struct {
	st        *store.Store
	added     []string
	reloadErr error
	shown     []int64
}

func (f *fakeSpam) Reload(context.Context) error { return f.reloadErr }

func (f *fakeSpam) Block(_ context.Context, v string) (string, error) { return f.add("block", v) }
func (f *fakeSpam) Trust(_ context.Context, v string) (string, error) { return f.add("trust", v) }

func (f *fakeSpam) add(list, v string) (string, error) {
	if v == "BAD" {
		return "", fmt.Errorf("%w: m.toml:3: BAD is also trusted", ErrPolicyRefused)
	}
	f.added = append(f.added, list+":"+strings.ToUpper(v))
	return strings.ToUpper(v), nil
}

func (f *fakeSpam) Release(ctx context.Context, id int64) (message.Message, error) {
	m, err := f.st.Release(ctx, id)
	if err == nil {
		f.shown = append(f.shown, id)
	}
	return m, err
}

func serveSpam(t *testing.T) (*Client, *store.Store, *fakeSpam) {
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
	f := &fakeSpam{st: st}
	srv := testServer(&Server{Store: st, Spam: f, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return NewClient(sock), st, f
}

func TestSpamAPI(t *testing.T) {
	c, st, f := serveSpam(t)
	ctx := context.Background()
	held := &message.Message{From: "X", To: "B", Text: "spam", Transport: message.TransportRPC, State: message.StateQuarantined,
		Rule: "rpc.quarantine", Explanation: `rule rpc.quarantine (quarantine): transport "rpc"`}
	plain := &message.Message{From: "A", To: "B", Text: "hi", Transport: message.TransportSMB}
	for _, m := range []*message.Message{held, plain} {
		if err := st.Add(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	q, err := c.Spam(ctx, 0)
	if err != nil || len(q) != 1 || q[0].ID != held.ID {
		t.Fatalf("Spam = %+v, %v", q, err)
	}
	m, err := c.Explain(ctx, held.ID)
	if err != nil || m.Explanation != held.Explanation {
		t.Fatalf("Explain = %+v, %v", m, err)
	}
	if _, err := c.Explain(ctx, plain.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Explain of a message no rule judged: %v", err)
	}
	if m, err := c.Release(ctx, held.ID); err != nil || m.State != message.StateUnread || len(f.shown) != 1 {
		t.Fatalf("Release = %+v, %v (shown %v)", m, err, f.shown)
	}
	if _, err := c.Release(ctx, held.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Release: %v", err)
	}
	if e, err := c.AddPolicyEntry(ctx, "block", "mallory"); err != nil || e.Value != "MALLORY" || e.List != "block" {
		t.Errorf("block = %+v, %v", e, err)
	}
	if _, err := c.AddPolicyEntry(ctx, "trust", "BAD"); err == nil || !strings.Contains(err.Error(), "m.toml:3") {
		t.Errorf("refused entry: %v", err)
	}
	f.reloadErr = fmt.Errorf("%w: m.toml:7: bad rule", ErrPolicyRefused)
	if err := c.ReloadPolicy(ctx); err == nil || !strings.Contains(err.Error(), "m.toml:7: bad rule") {
		t.Errorf("refused reload: %v", err)
	}
	f.reloadErr = nil
	if err := c.ReloadPolicy(ctx); err != nil {
		t.Errorf("reload: %v", err)
	}
}
