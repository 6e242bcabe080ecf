package names

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/netsend/messenger/internal/message"
	"github.com/netsend/messenger/internal/netbios"
	"github.com/netsend/messenger/internal/utmp"
)

func mustName(t *testing.T, s string, suffix byte) netbios.Name {
	t.Helper()
	n, err := netbios.NewName(s, suffix)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func cp850(t *testing.T) message.CodePage {
	t.Helper()
	cp, err := message.LookupCodePage("CP850")
	if err != nil {
		t.Fatal(err)
	}
	return cp
}

func TestTable(t *testing.T) {
	tab, err := New(cp850(t), "host1", []string{"Alias", "alias", "Zoë"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		suffix byte
		want   bool
	}{
		{"HOST1", 0x03, true},
		{"host1", 0x03, true},
		{"ALIAS", 0x03, true},
		{"HOST1", 0x20, false},
		{"OTHER", 0x03, false},
	} {
		if got := tab.Has(mustName(t, tc.name, tc.suffix)); got != tc.want {
			t.Errorf("Has(%s<%02x>) = %v, want %v", tc.name, tc.suffix, got, tc.want)
		}
	}
	if !tab.HasString("zoë") {
		t.Error("HasString(zoë) = false; a non-ASCII alias must match through the code page")
	}
	if n := len(tab.List()); n != 3 {
		t.Errorf("List has %d names, want 3 (duplicate alias folded)", n)
	}
	if _, err := New(cp850(t), "host1", []string{"much-too-long-a-name"}); err == nil {
		t.Error("New accepted an alias longer than 15 bytes")
	}
}

func TestSetUsers(t *testing.T) {
	tab, err := New(cp850(t), "host1", []string{"alice"})
	if err != nil {
		t.Fatal(err)
	}
	tab.SetUsers([]string{"alice", "bob", "averyveryverylongusername"})
	if !tab.HasString("BOB") || !tab.HasString("AVERYVERYVERYLO") {
		t.Fatalf("users not added or long name not truncated: %v", tab.List())
	}
	tab.SetUsers(nil)
	if tab.HasString("BOB") {
		t.Error("BOB still present after logout")
	}
	if !tab.HasString("ALICE") {
		t.Error("alias ALICE removed with the user of the same name")
	}
}

func TestWatchUsers(t *testing.T) {
	tab, err := New(cp850(t), "host1", nil)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "utmp")
	rec := utmp.Append(nil, utmp.Record{Type: utmp.UserProcess, PID: 1, Line: "pts/0", User: "carol", Time: time.Unix(1, 0)})
	if err := os.WriteFile(path, rec, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		tab.WatchUsers(ctx, path, 10*time.Millisecond, slog.New(slog.NewTextHandler(io.Discard, nil)))
		close(done)
	}()
	t.Cleanup(func() { cancel(); <-done })
	deadline := time.Now().Add(5 * time.Second)
	for !tab.HasString("CAROL") {
		if time.Now().After(deadline) {
			t.Fatal("CAROL never appeared")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for tab.HasString("CAROL") {
		if time.Now().After(deadline) {
			t.Fatal("CAROL never left")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
