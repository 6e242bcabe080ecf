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

	"github.com/netsend/messenger/internal/apitype"
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

func (f *fakeSpam) Reload(_ context.Context, file string) (apitype.PolicyReload, error) {
	if file != "" && file != "/etc/m.toml" {
		return apitype.PolicyReload{}, fmt.Errorf("%w: not the daemon's file", ErrPolicyRefused)
	}
	return apitype.PolicyReload{Status: "reloaded", Config: "/etc/m.toml", Rules: 2}, f.reloadErr
}

// Entries lists one configuration entry, then what was added.
func (f *fakeSpam) Entries(context.Context) ([]apitype.PolicyEntry, error) {
	out := []apitype.PolicyEntry{{List: "block", Value: "CONFIGGED", Origin: apitype.OriginConfig}}
	for _, a := range f.added {
		list, v, _ := strings.Cut(a, ":")
		out = append(out, apitype.PolicyEntry{List: list, Value: v, Origin: apitype.OriginRuntime})
	}
	return out, nil
}

func (f *fakeSpam) Remove(_ context.Context, list, v string) (string, error) {
	if v == "CONFIGGED" {
		return "", fmt.Errorf("%w: CONFIGGED is in m.toml", ErrPolicyInConfig)
	}
	for i, a := range f.added {
		if a == list+":"+strings.ToUpper(v) {
			f.added = append(f.added[:i], f.added[i+1:]...)
			return strings.ToUpper(v), nil
		}
	}
	return "", fmt.Errorf("%w: %s is not on the %s list", store.ErrNotFound, v, list)
}

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
	// A network has a slash in it, which the path must carry.
	if _, err := c.AddPolicyEntry(ctx, "block", "10.0.0.0/8"); err != nil {
		t.Fatal(err)
	}
	if es, err := c.PolicyEntries(ctx); err != nil || len(es) != 3 || es[0].Origin != apitype.OriginConfig || es[2].Value != "10.0.0.0/8" {
		t.Errorf("entries = %+v, %v", es, err)
	}
	if e, err := c.RemovePolicyEntry(ctx, "block", "10.0.0.0/8"); err != nil || e.Value != "10.0.0.0/8" {
		t.Errorf("unblock CIDR = %+v, %v", e, err)
	}
	if _, err := c.RemovePolicyEntry(ctx, "trust", "mallory"); !errors.Is(err, ErrNotFound) {
		t.Errorf("untrust of what is blocked: %v", err)
	}
	if _, err := c.RemovePolicyEntry(ctx, "block", "CONFIGGED"); !errors.Is(err, ErrConflict) {
		t.Errorf("unblock of a configuration entry: %v", err)
	}
	f.reloadErr = fmt.Errorf("%w: m.toml:7: bad rule", ErrPolicyRefused)
	if _, err := c.ReloadPolicy(ctx, ""); err == nil || !strings.Contains(err.Error(), "m.toml:7: bad rule") {
		t.Errorf("refused reload: %v", err)
	}
	f.reloadErr = nil
	if r, err := c.ReloadPolicy(ctx, ""); err != nil || r.Config != "/etc/m.toml" || r.Rules != 2 {
		t.Errorf("reload = %+v, %v", r, err)
	}
	if _, err := c.ReloadPolicy(ctx, "/tmp/other.toml"); err == nil {
		t.Error("reload of a file the daemon does not read was accepted")
	}
}
