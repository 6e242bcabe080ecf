package api

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/netsend/messenger/internal/message"
	"github.com/netsend/messenger/internal/store"
)

// Issue 20, item 12: an inbox far past one page lists whole through the
// client's paging (the daemon caps each answer at MaxPage), the newest N
// start where they should, and the filters run on the daemon.
func TestListPagesLargeInbox(t *testing.T) {
	if testing.Short() {
		t.Skip("stores 20,000 messages")
	}
	dir := t.TempDir()
	ctx := context.Background()
	st, err := store.Open(ctx, dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	const total = 20000
	base := time.Now().Add(-total * time.Second)
	for i := 0; i < total; i += 1000 {
		ms := make([]*message.Message, 1000)
		for j := range ms {
			n := i + j
			from := "ALICE"
			if n%10 == 0 {
				from = "Bob"
			}
			ms[j] = &message.Message{From: from, To: "HOST", Text: fmt.Sprintf("note %d", n), Transport: message.TransportSMB,
				Time: base.Add(time.Duration(n) * time.Second)}
		}
		for _, err := range st.AddBatch(ctx, ms) {
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	sock := filepath.Join(dir, "api.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := testServer(&Server{Store: st, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	c := NewClient(sock)

	page, err := c.ListPage(ctx, ListQuery{})
	if err != nil || len(page) != MaxPage {
		t.Fatalf("an unbounded page = %d messages, %v; want the cap %d", len(page), err, MaxPage)
	}
	var n int
	var last int64
	if err := c.ListEach(ctx, ListQuery{}, func(m message.Message) error {
		if m.ID <= last {
			t.Fatalf("id %d after %d", m.ID, last)
		}
		n, last = n+1, m.ID
		return nil
	}); err != nil || n != total {
		t.Fatalf("ListEach = %d messages, %v; want %d", n, err, total)
	}

	// The newest 2,500, oldest first: they start at the 17,501st.
	start, err := c.NewestStart(ctx, ListQuery{}, 2500)
	if err != nil {
		t.Fatal(err)
	}
	var got []message.Message
	c.ListEach(ctx, ListQuery{After: start, Limit: 2500}, func(m message.Message) error {
		got = append(got, m)
		return nil
	})
	if len(got) != 2500 || got[0].Text != "note 17500" || got[len(got)-1].Text != fmt.Sprintf("note %d", total-1) {
		t.Fatalf("newest 2500: %d from %q", len(got), got[0].Text)
	}

	n = 0
	since := base.Add((total - 100) * time.Second)
	if err := c.ListEach(ctx, ListQuery{From: "bob", Since: since}, func(m message.Message) error {
		if m.From != "Bob" || m.Time.Before(since) {
			t.Errorf("filter let through %+v", m)
		}
		n++
		return nil
	}); err != nil || n != 10 {
		t.Errorf("from bob in the last 100 = %d, %v; want 10", n, err)
	}
	if page, err := c.ListPage(ctx, ListQuery{Text: "NOTE 1999", To: "host"}); err != nil || len(page) != 11 {
		t.Errorf("grep \"NOTE 1999\" = %d, %v; want 11 (1999, 19990-19999)", len(page), err)
	}
}
