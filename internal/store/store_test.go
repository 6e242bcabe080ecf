package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/netsend/messenger/internal/message"
)

// openStore opens a store in dir and closes it when the test ends.
func openStore(t testing.TB, dir string, opts Options) *Store {
	t.Helper()
	s, err := Open(context.Background(), dir, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// openFromVersion makes a database of schema version as that version's
// build left it, with the rows fill adds through exec, and opens it: Open
// must migrate it to the newest version.
func openFromVersion(t *testing.T, version int, fill func(exec func(query string, args ...any))) *Store {
	t.Helper()
	dir := t.TempDir()
	db, err := sql.Open("sqlite", dsn(filepath.Join(dir, FileName), true))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	exec := func(query string, args ...any) {
		t.Helper()
		if _, err := db.ExecContext(ctx, query, args...); err != nil {
			t.Fatal(err)
		}
	}
	for _, stmts := range migrations[:version] {
		for _, stmt := range stmts {
			exec(stmt)
		}
	}
	fill(exec)
	exec(fmt.Sprintf("PRAGMA user_version = %d", version))
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	s := openStore(t, dir, Options{})
	var v int
	if err := s.wconn.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil || v != schemaVersion() {
		t.Fatalf("user_version = %d, %v; want %d", v, err, schemaVersion())
	}
	return s
}

// reopen closes s and opens the same directory again, proving that what a
// test checks next came from disk.
func reopen(t *testing.T, s *Store, dir string) *Store {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return openStore(t, dir, Options{})
}

func sample(text string) message.Message {
	return message.Message{
		From:      "ALICE",
		To:        "BOB",
		Text:      text,
		Time:      time.Date(2024, 5, 17, 9, 30, 1, 123456789, time.UTC),
		Transport: message.TransportSMB,
		Source:    "192.0.2.7:139",
	}
}

func add(t *testing.T, s *Store, m message.Message) message.Message {
	t.Helper()
	if err := s.Add(context.Background(), &m); err != nil {
		t.Fatalf("Add(%q): %v", m.Text, err)
	}
	return m
}

func count(t *testing.T, s *Store) int64 {
	t.Helper()
	n, err := s.Count(context.Background())
	if err != nil {
		t.Fatalf("Count: %v", err)
	}
	return n
}

// waitFor polls cond until it holds; the conditions awaited here have no
// channel to wait on.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func sameMessage(t *testing.T, got, want message.Message) {
	t.Helper()
	if got.Time.Location() != time.UTC {
		t.Errorf("message %d: time location %v, want UTC", got.ID, got.Time.Location())
	}
	if !got.Time.Equal(want.Time) {
		t.Errorf("message %d: time %v, want %v", got.ID, got.Time, want.Time)
	}
	got.Time, want.Time = time.Time{}, time.Time{}
	if got != want {
		t.Errorf("message %d:\n got %+v\nwant %+v", got.ID, got, want)
	}
}

func TestRoundTrip(t *testing.T) {
	berlin := time.FixedZone("CEST", 2*60*60)
	tests := []struct {
		name string
		m    message.Message
	}{
		{"ascii", sample("Printer out of paper")},
		{"non-ascii", message.Message{
			From: "JÖRG", To: "ZOË", Text: "Grüße — 日本語のテキスト ☃ 😀\nzweite Zeile\r\n\ttab",
			Time: time.Date(2031, 1, 2, 3, 4, 5, 999999999, berlin), Transport: message.TransportMailslot,
			Source: "[2001:db8::1]:138", State: message.StateRead,
		}},
		{"nul and empty", message.Message{
			From: "", To: "*", Text: "before\x00after", Time: time.Unix(0, 1).UTC(),
			Transport: message.TransportRPC, Source: "",
		}},
		{"longest", message.Message{
			From: strings.Repeat("f", message.MaxNameLen), To: strings.Repeat("é", message.MaxNameLen),
			Text: strings.Repeat("x", message.MaxTextLen), Time: time.Date(1700, 1, 1, 0, 0, 0, 1, time.UTC),
			Transport: message.TransportAPI, Source: "local",
		}},
	}
	dir := t.TempDir()
	s := openStore(t, dir, Options{})
	want := make([]message.Message, len(tests))
	for i, tt := range tests {
		m := add(t, s, tt.m)
		if m.ID == 0 {
			t.Fatalf("%s: Add left ID 0", tt.name)
		}
		if tt.m.State == "" && m.State != message.StateUnread {
			t.Errorf("%s: Add set state %q, want unread", tt.name, m.State)
		}
		want[i] = m
		got, err := s.Get(context.Background(), m.ID)
		if err != nil {
			t.Fatalf("%s: Get: %v", tt.name, err)
		}
		sameMessage(t, got, m)
	}
	s = reopen(t, s, dir)
	for i, tt := range tests {
		got, err := s.Get(context.Background(), want[i].ID)
		if err != nil {
			t.Fatalf("%s after reopen: Get: %v", tt.name, err)
		}
		sameMessage(t, got, want[i])
	}
}

func TestAddDefaultsTime(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{})
	m := sample("no time")
	m.Time = time.Time{}
	before := time.Now()
	m = add(t, s, m)
	if m.Time.Before(before) || m.Time.After(time.Now()) {
		t.Fatalf("Add set time %v, want about now", m.Time)
	}
	got, err := s.Get(context.Background(), m.ID)
	if err != nil {
		t.Fatal(err)
	}
	sameMessage(t, got, m)
}

func TestIDsAscendingNeverReused(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{})
	var last int64
	for i := range 5 {
		m := add(t, s, sample(fmt.Sprint("m", i)))
		if m.ID <= last {
			t.Fatalf("id %d after %d: not ascending", m.ID, last)
		}
		last = m.ID
	}
	// Deleting the newest is what would let a plain rowid come back.
	for id := int64(1); id <= last; id++ {
		if err := s.Delete(context.Background(), id); err != nil {
			t.Fatalf("Delete(%d): %v", id, err)
		}
	}
	s = reopen(t, s, dir)
	if n := count(t, s); n != 0 {
		t.Fatalf("Count after deleting all = %d", n)
	}
	if m := add(t, s, sample("after delete")); m.ID <= last {
		t.Fatalf("id %d reused (last was %d)", m.ID, last)
	}
}

func TestList(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{})
	// ids 1..6; even ids read.
	for i := 1; i <= 6; i++ {
		m := sample(fmt.Sprint("m", i))
		if i%2 == 0 {
			m.State = message.StateRead
		}
		add(t, s, m)
	}
	tests := []struct {
		name string
		opt  ListOptions
		want []int64
	}{
		{"all", ListOptions{}, []int64{1, 2, 3, 4, 5, 6}},
		{"unread", ListOptions{State: message.StateUnread}, []int64{1, 3, 5}},
		{"read", ListOptions{State: message.StateRead}, []int64{2, 4, 6}},
		{"after", ListOptions{AfterID: 4}, []int64{5, 6}},
		{"limit", ListOptions{Limit: 2}, []int64{1, 2}},
		{"unread after limit", ListOptions{State: message.StateUnread, AfterID: 1, Limit: 1}, []int64{3}},
		{"past the end", ListOptions{AfterID: 6}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.List(context.Background(), tt.opt)
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			var ids []int64
			for _, m := range got {
				ids = append(ids, m.ID)
				if m.Text != fmt.Sprint("m", m.ID) {
					t.Errorf("id %d has text %q", m.ID, m.Text)
				}
			}
			if fmt.Sprint(ids) != fmt.Sprint(tt.want) {
				t.Errorf("ids %v, want %v", ids, tt.want)
			}
		})
	}
}

func TestSetState(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{})
	m := add(t, s, sample("x"))
	ctx := context.Background()
	if err := s.SetState(ctx, m.ID, message.StateRead); err != nil {
		t.Fatalf("SetState: %v", err)
	}
	got, err := s.Get(ctx, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != message.StateRead {
		t.Fatalf("state %q after SetState(read)", got.State)
	}
}

func TestNotFound(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{})
	m := add(t, s, sample("x"))
	ctx := context.Background()
	if err := s.Delete(ctx, m.ID); err != nil {
		t.Fatal(err)
	}
	for _, id := range []int64{m.ID, m.ID + 1, 0, -1} {
		tests := []struct {
			op  string
			err error
		}{
			{"Get", func() error { _, err := s.Get(ctx, id); return err }()},
			{"SetState", s.SetState(ctx, id, message.StateRead)},
			{"Delete", s.Delete(ctx, id)},
		}
		for _, tt := range tests {
			if !errors.Is(tt.err, ErrNotFound) {
				t.Errorf("%s(%d) = %v, want ErrNotFound", tt.op, id, tt.err)
			}
		}
	}
}

func TestValidation(t *testing.T) {
	long := func(n int) string { return strings.Repeat("a", n) }
	tests := []struct {
		name string
		edit func(*message.Message)
	}{
		{"sender too long", func(m *message.Message) { m.From = long(message.MaxNameLen + 1) }},
		{"recipient too long", func(m *message.Message) { m.To = long(message.MaxNameLen + 1) }},
		{"text too long", func(m *message.Message) { m.Text = long(message.MaxTextLen + 1) }},
		{"text multibyte too long", func(m *message.Message) { m.Text = strings.Repeat("é", message.MaxTextLen+1) }},
		{"source too long", func(m *message.Message) { m.Source = long(message.MaxSourceLen + 1) }},
		{"text not utf-8", func(m *message.Message) { m.Text = "caf\xe9" }},
		{"sender not utf-8", func(m *message.Message) { m.From = "\xff" }},
		{"recipient not utf-8", func(m *message.Message) { m.To = "\xc3" }},
		{"no transport", func(m *message.Message) { m.Transport = "" }},
		{"unknown transport", func(m *message.Message) { m.Transport = "carrier-pigeon" }},
		{"unknown state", func(m *message.Message) { m.State = "deleted" }},
		{"time before 1678", func(m *message.Message) { m.Time = time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC) }},
		{"time after 2262", func(m *message.Message) { m.Time = time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC) }},
	}
	s := openStore(t, t.TempDir(), Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := sample("x")
			tt.edit(&m)
			before := m
			err := s.Add(context.Background(), &m)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Add = %v, want ErrInvalid", err)
			}
			if m != before {
				t.Errorf("Add changed the message: %+v", m)
			}
		})
	}
	if n := count(t, s); n != 0 {
		t.Fatalf("%d messages stored by invalid Adds", n)
	}
	ctx := context.Background()
	m := add(t, s, sample("valid"))
	if err := s.SetState(ctx, m.ID, "deleted"); !errors.Is(err, ErrInvalid) {
		t.Errorf("SetState(deleted) = %v, want ErrInvalid", err)
	}
	if _, err := s.List(ctx, ListOptions{State: "deleted"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("List(state deleted) = %v, want ErrInvalid", err)
	}
	if _, err := s.List(ctx, ListOptions{Limit: -1}); !errors.Is(err, ErrInvalid) {
		t.Errorf("List(limit -1) = %v, want ErrInvalid", err)
	}
}

func TestAddCancelled(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	m := sample("never")
	if err := s.Add(ctx, &m); !errors.Is(err, context.Canceled) {
		t.Fatalf("Add with cancelled ctx = %v, want context.Canceled", err)
	}
	if m.ID != 0 || count(t, s) != 0 {
		t.Fatalf("cancelled Add stored a message (id %d)", m.ID)
	}
}

func TestConcurrentAdds(t *testing.T) {
	const n = 200
	dir := t.TempDir()
	s := openStore(t, dir, Options{})
	ids := make([]int64, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			m := sample(fmt.Sprint("concurrent ", i))
			errs[i] = s.Add(context.Background(), &m)
			ids[i] = m.ID
		})
	}
	wg.Wait()
	seen := map[int64]int{}
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Add %d: %v", i, errs[i])
		}
		if j, dup := seen[ids[i]]; dup {
			t.Fatalf("Adds %d and %d both got id %d", j, i, ids[i])
		}
		seen[ids[i]] = i
	}
	st := s.Stats()
	t.Logf("%d messages in %d commits", st.Messages, st.Commits)
	if st.Messages != n {
		t.Errorf("Stats.Messages = %d, want %d", st.Messages, n)
	}

	s = reopen(t, s, dir)
	for i, id := range ids {
		got, err := s.Get(context.Background(), id)
		if err != nil {
			t.Fatalf("Get(%d) after reopen: %v", id, err)
		}
		if want := fmt.Sprint("concurrent ", i); got.Text != want {
			t.Errorf("id %d: text %q, want %q", id, got.Text, want)
		}
	}
	if c := count(t, s); c != n {
		t.Errorf("Count after reopen = %d, want %d", c, n)
	}
}

// holdWriter returns options whose OnCommit parks the writer after its
// first commit until release is closed, so a test can queue Adds behind it
// and know exactly what the next batches hold.
func holdWriter(maxBatch int) (opts Options, parked <-chan struct{}, release chan<- struct{}, sizes func() []int) {
	p := make(chan struct{})
	r := make(chan struct{})
	var mu sync.Mutex
	var got []int
	opts = Options{MaxBatch: maxBatch, OnCommit: func(n int, d time.Duration) {
		mu.Lock()
		first := len(got) == 0
		got = append(got, n)
		mu.Unlock()
		if first {
			close(p)
			<-r
		}
	}}
	return opts, p, r, func() []int {
		mu.Lock()
		defer mu.Unlock()
		return append([]int(nil), got...)
	}
}

// addAsync starts n Adds and returns a channel carrying each one's error.
func addAsync(s *Store, prefix string, n int) <-chan error {
	errc := make(chan error, n)
	for i := range n {
		go func() {
			m := sample(fmt.Sprint(prefix, i))
			errc <- s.Add(context.Background(), &m)
		}()
	}
	return errc
}

func TestGroupCommit(t *testing.T) {
	const maxBatch, queued = 64, 199
	opts, parked, release, sizes := holdWriter(maxBatch)
	s := openStore(t, t.TempDir(), opts)

	first := addAsync(s, "first", 1)
	<-parked
	rest := addAsync(s, "queued ", queued)
	waitFor(t, "Adds to queue", func() bool { return len(s.reqs) == queued })
	close(release)

	for range 1 + queued {
		select {
		case err := <-first:
			if err != nil {
				t.Fatalf("first Add: %v", err)
			}
		case err := <-rest:
			if err != nil {
				t.Fatalf("queued Add: %v", err)
			}
		}
	}
	want := []int{1, 64, 64, 64, 7}
	if got := sizes(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("batch sizes %v, want %v", got, want)
	}
	if got, want := s.Stats(), (Stats{Commits: 5, Messages: 200}); got != want {
		t.Errorf("Stats = %+v, want %+v", got, want)
	}
	if n := count(t, s); n != 200 {
		t.Errorf("Count = %d, want 200", n)
	}
}

func TestFailedCommitFailsEveryAdd(t *testing.T) {
	opts, parked, release, _ := holdWriter(0)
	s := openStore(t, t.TempDir(), opts)
	first := addAsync(s, "first", 1)
	<-parked
	errc := addAsync(s, "doomed ", 5)
	waitFor(t, "Adds to queue", func() bool { return len(s.reqs) == 5 })
	// The writer is parked between transactions, so the write connection
	// is free to pull the table out from under the next batch.
	ctx := context.Background()
	if _, err := s.wconn.ExecContext(ctx, `ALTER TABLE messages RENAME TO hidden`); err != nil {
		t.Fatal(err)
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatalf("first Add: %v", err)
	}
	for range 5 {
		if err := <-errc; err == nil {
			t.Error("an Add in the failed batch returned nil")
		}
	}
	if _, err := s.wconn.ExecContext(ctx, `ALTER TABLE hidden RENAME TO messages`); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s); n != 1 {
		t.Errorf("Count = %d, want 1 (only the first)", n)
	}
	if got := s.Stats(); got != (Stats{Commits: 1, Messages: 1}) {
		t.Errorf("Stats = %+v after a failed batch", got)
	}
	// The writer must still work after a failed batch.
	add(t, s, sample("after failure"))
}

func TestCloseDrains(t *testing.T) {
	const queued = 50
	dir := t.TempDir()
	opts, parked, release, _ := holdWriter(16)
	s, err := Open(context.Background(), dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	first := addAsync(s, "first", 1)
	<-parked
	errc := addAsync(s, "queued ", queued)
	waitFor(t, "Adds to queue", func() bool { return len(s.reqs) == queued })

	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	waitFor(t, "Close to begin", s.closed)
	close(release)

	if err := <-first; err != nil {
		t.Fatalf("first Add: %v", err)
	}
	for range queued {
		if err := <-errc; err != nil {
			t.Errorf("queued Add during Close: %v", err)
		}
	}
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}

	ctx := context.Background()
	m := sample("late")
	if err := s.Add(ctx, &m); !errors.Is(err, ErrClosed) {
		t.Errorf("Add after Close = %v, want ErrClosed", err)
	}
	if _, err := s.Get(ctx, 1); !errors.Is(err, ErrClosed) {
		t.Errorf("Get after Close = %v, want ErrClosed", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}

	s = openStore(t, dir, Options{})
	if n := count(t, s); n != 1+queued {
		t.Errorf("Count after reopen = %d, want %d", n, 1+queued)
	}
}

// TestCloseRace closes while Adds keep arriving: each must return either
// nil (and be stored) or ErrClosed, and none may hang.
func TestCloseRace(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(context.Background(), dir, Options{MaxBatch: 4})
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu     sync.Mutex
		stored []int64
		wg     sync.WaitGroup
	)
	for g := range 16 {
		wg.Go(func() {
			for i := 0; ; i++ {
				m := sample(fmt.Sprintf("g%d i%d", g, i))
				err := s.Add(context.Background(), &m)
				if errors.Is(err, ErrClosed) {
					return
				}
				if err != nil {
					t.Errorf("Add: %v", err)
					return
				}
				mu.Lock()
				stored = append(stored, m.ID)
				mu.Unlock()
			}
		})
	}
	waitFor(t, "some Adds", func() bool { mu.Lock(); defer mu.Unlock(); return len(stored) >= 20 })
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	wg.Wait()

	s = openStore(t, dir, Options{})
	for _, id := range stored {
		if _, err := s.Get(context.Background(), id); err != nil {
			t.Errorf("acknowledged id %d: %v", id, err)
		}
	}
}

func TestOpen(t *testing.T) {
	t.Run("creates directory 0700", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "a", "b?#c")
		openStore(t, dir, Options{})
		fi, err := os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm != 0o700 {
			t.Errorf("directory mode %o, want 700", perm)
		}
		if _, err := os.Stat(filepath.Join(dir, FileName)); err != nil {
			t.Errorf("database file: %v", err)
		}
	})
	t.Run("pragmas", func(t *testing.T) {
		s := openStore(t, t.TempDir(), Options{})
		ctx := context.Background()
		for _, tt := range []struct {
			pragma string
			want   string
		}{
			{"journal_mode", "wal"},
			{"synchronous", "2"}, // FULL
			{"foreign_keys", "1"},
			{"busy_timeout", fmt.Sprint(busyTimeoutMS)},
			{"wal_autocheckpoint", "0"}, // the store's checkpointer does it
			{"journal_size_limit", fmt.Sprint(walSizeLimit)},
			{"user_version", fmt.Sprint(schemaVersion())},
		} {
			var got string
			if err := s.wconn.QueryRowContext(ctx, "PRAGMA "+tt.pragma).Scan(&got); err != nil {
				t.Fatalf("PRAGMA %s: %v", tt.pragma, err)
			}
			if got != tt.want {
				t.Errorf("PRAGMA %s = %s, want %s", tt.pragma, got, tt.want)
			}
		}
		var ro string
		if err := s.rdb.QueryRowContext(ctx, "PRAGMA query_only").Scan(&ro); err != nil || ro != "1" {
			t.Errorf("read pool query_only = %q, %v; want 1", ro, err)
		}
	})
	t.Run("clean close leaves only the database", func(t *testing.T) {
		dir := t.TempDir()
		s, err := Open(context.Background(), dir, Options{})
		if err != nil {
			t.Fatal(err)
		}
		add(t, s, sample("x"))
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		if fmt.Sprint(names) != fmt.Sprint([]string{FileName}) {
			t.Errorf("directory holds %v, want only %s", names, FileName)
		}
	})
	t.Run("newer schema refused", func(t *testing.T) {
		dir := t.TempDir()
		s, err := Open(context.Background(), dir, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.wconn.ExecContext(context.Background(), "PRAGMA user_version = 99"); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if s, err := Open(context.Background(), dir, Options{}); err == nil {
			s.Close()
			t.Fatal("Open accepted a database from a newer schema")
		}
	})
	t.Run("negative MaxBatch", func(t *testing.T) {
		if s, err := Open(context.Background(), t.TempDir(), Options{MaxBatch: -1}); err == nil {
			s.Close()
			t.Fatal("Open accepted MaxBatch -1")
		}
	})
}

// Issue 20, item 13: the sender's time is kept beside the arrival, and a
// header shows it when the message waited.
func TestSentAtKept(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{})
	ctx := context.Background()
	sent := time.Now().Add(-3 * time.Hour).UTC().Truncate(time.Microsecond)
	m := &message.Message{From: "bob", To: "ALICE", Text: "from the hub", Transport: message.TransportHub, SentAt: &sent, Time: time.Now()}
	plain := &message.Message{From: "bob", To: "ALICE", Text: "smb", Transport: message.TransportSMB}
	for _, x := range []*message.Message{m, plain} {
		if err := s.Add(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Get(ctx, m.ID)
	if err != nil || got.SentAt == nil || !got.SentAt.Equal(sent) {
		t.Fatalf("Get = %+v, %v", got.SentAt, err)
	}
	if !strings.Contains(got.Header(), " (sent ") {
		t.Errorf("header of a late message lacks its sending time: %q", got.Header())
	}
	if p, _ := s.Get(ctx, plain.ID); p.SentAt != nil || strings.Contains(p.Header(), "sent") {
		t.Errorf("a message without a sending time: %v %q", p.SentAt, p.Header())
	}
}

// TestWALKeepsItsSize checks that the checkpointer, not the commits,
// keeps the WAL bounded and written again from its start: without it
// (wal_autocheckpoint is 0) 3000 one-message commits would leave a WAL
// of some 60 MiB.
func TestWALKeepsItsSize(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{})
	ctx := context.Background()
	// A reader now and then, as the inbox and the event stream are.
	for i := range 3000 {
		add(t, s, sample(fmt.Sprint("message ", i)))
		if i%500 == 0 {
			if _, err := s.Get(ctx, 1); err != nil {
				t.Fatal(err)
			}
		}
	}
	fi, err := os.Stat(filepath.Join(dir, FileName+"-wal"))
	if err != nil {
		t.Fatal(err)
	}
	// walCheckpointPages, what commits add during the last checkpoint
	// and a page cache's worth of slack.
	if limit := int64(2 * walCheckpointPages * 4096); fi.Size() > limit {
		t.Errorf("WAL is %d bytes after 3000 commits, want at most %d", fi.Size(), limit)
	}
}
