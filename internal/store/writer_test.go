package store

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"modernc.org/sqlite"

	"github.com/netsend/messenger/internal/message"
)

// goid returns the calling goroutine's id, read from its stack header
// ("goroutine 42 [running]:"): the only way to tell which goroutine ran
// a commit.
func goid() int64 {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	f := strings.Fields(string(buf))
	id, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		panic("unexpected stack header " + string(buf))
	}
	return id
}

// commitLog is an OnCommit that records each commit's size and the
// goroutine it ran on, and parks commit number park (from 0) until
// release closes.
type commitLog struct {
	park    int
	mu      sync.Mutex
	sizes   []int
	gids    []int64
	parked  chan struct{}
	release chan struct{}
}

func newCommitLog() *commitLog {
	return &commitLog{parked: make(chan struct{}), release: make(chan struct{})}
}

func (c *commitLog) onCommit(n int, _ time.Duration) {
	c.mu.Lock()
	park := len(c.sizes) == c.park
	c.sizes, c.gids = append(c.sizes, n), append(c.gids, goid())
	c.mu.Unlock()
	if park {
		close(c.parked)
		<-c.release
	}
}

func (c *commitLog) get() ([]int, []int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]int(nil), c.sizes...), append([]int64(nil), c.gids...)
}

// With nobody else writing, Add and AddBatch commit on the caller's own
// goroutine: no hand-off to a writer goroutine and back.
func TestIdleAddCommitsOnCallersGoroutine(t *testing.T) {
	var mu sync.Mutex
	var commitGIDs []int64
	s := openStore(t, t.TempDir(), Options{OnCommit: func(int, time.Duration) {
		mu.Lock()
		commitGIDs = append(commitGIDs, goid())
		mu.Unlock()
	}})
	me := goid()
	add(t, s, sample("alone"))
	a, b := sample("batch 1"), sample("batch 2")
	for i, err := range s.AddBatch(context.Background(), []*message.Message{&a, &b}) {
		if err != nil {
			t.Fatalf("AddBatch message %d: %v", i, err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(commitGIDs) != fmt.Sprint([]int64{me, me}) {
		t.Errorf("commits ran on goroutines %v, want two on the caller's, %d", commitGIDs, me)
	}
	if got := s.Stats(); got != (Stats{Commits: 2, Messages: 3}) {
		t.Errorf("Stats = %+v, want 2 commits of 3 messages", got)
	}
}

// Adds that arrive while a commit is under way wait for it and then share
// one commit.
func TestWaitingAddsShareOneCommit(t *testing.T) {
	const waiting = 5
	c := newCommitLog()
	s := openStore(t, t.TempDir(), Options{OnCommit: c.onCommit})
	first := addAsync(s, "first", 1)
	<-c.parked
	rest := addAsync(s, "waiting ", waiting)
	waitFor(t, "Adds to queue", func() bool { return len(s.reqs) == waiting })
	close(c.release)
	if err := <-first; err != nil {
		t.Fatalf("first Add: %v", err)
	}
	for range waiting {
		if err := <-rest; err != nil {
			t.Errorf("waiting Add: %v", err)
		}
	}
	if sizes, _ := c.get(); fmt.Sprint(sizes) != fmt.Sprint([]int{1, waiting}) {
		t.Errorf("commits of %v messages, want [1 %d]", sizes, waiting)
	}
	if got := s.Stats(); got != (Stats{Commits: 2, Messages: 1 + waiting}) {
		t.Errorf("Stats = %+v, want 2 commits of %d messages", got, 1+waiting)
	}
	// Idle again: the next Add commits on its caller's goroutine.
	_, before := c.get()
	me := goid()
	add(t, s, sample("alone again"))
	if _, gids := c.get(); len(gids) != len(before)+1 || gids[len(gids)-1] != me {
		t.Errorf("after the load, commits ran on goroutines %v; want the last on the caller's, %d", gids, me)
	}
}

// A queue full of requests whose callers gave up, with nobody committing,
// must not block the next Add for good: it commits to make room.
func TestFullQueueOfAbandonedAdds(t *testing.T) {
	c := newCommitLog()
	s := openStore(t, t.TempDir(), Options{MaxBatch: 1, OnCommit: c.onCommit})
	first := addAsync(s, "first", 1)
	<-c.parked

	full := cap(s.reqs)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, full)
	for i := range full {
		go func() {
			m := sample(fmt.Sprint("abandoned ", i))
			errc <- s.Add(ctx, &m)
		}()
	}
	waitFor(t, "the queue to fill", func() bool { return len(s.reqs) == full })
	cancel()
	for range full {
		if err := <-errc; err == nil {
			t.Error("an abandoned Add returned nil")
		}
	}
	close(c.release)
	if err := <-first; err != nil {
		t.Fatalf("first Add: %v", err)
	}
	done := make(chan error, 1)
	go func() {
		m := sample("after")
		done <- s.Add(context.Background(), &m)
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Add after the abandoned ones: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Add blocked behind a full queue of abandoned requests")
	}
	if n := count(t, s); n != 2 {
		t.Errorf("Count = %d, want 2: none of the abandoned", n)
	}
}

// SetState and the other single writes wait for the commit under way
// rather than slipping into its transaction.
func TestExecWriteWaitsForCommit(t *testing.T) {
	c := newCommitLog()
	c.park = 1
	s := openStore(t, t.TempDir(), Options{OnCommit: c.onCommit})
	m := add(t, s, sample("read me"))
	second := addAsync(s, "second", 1)
	<-c.parked
	set := make(chan error, 1)
	go func() { set <- s.SetState(context.Background(), m.ID, message.StateRead) }()
	select {
	case err := <-set:
		t.Fatalf("SetState returned (%v) while a commit held the write connection", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(c.release)
	if err := <-second; err != nil {
		t.Fatal(err)
	}
	if err := <-set; err != nil {
		t.Fatalf("SetState: %v", err)
	}
	got, err := s.Get(context.Background(), m.ID)
	if err != nil || got.State != message.StateRead {
		t.Errorf("message after SetState: %+v, %v; want read", got, err)
	}
}

// Per-message lines are DEBUG; at INFO the store says what it stored in
// one line a minute, and the rest on Close.
func TestCommitSummary(t *testing.T) {
	var buf bytes.Buffer
	var mu sync.Mutex
	log := slog.New(slog.NewTextHandler(&lockedWriter{mu: &mu, w: &buf}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	s, err := Open(context.Background(), t.TempDir(), Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		add(t, s, sample(fmt.Sprint("message ", i)))
	}
	a := sample("alert")
	a.Transport = message.TransportAlert
	a.Alert = &message.Alert{Source: "test", Severity: message.SeverityWarning, Status: message.AlertFiring, Title: "t"}
	add(t, s, a)
	mu.Lock()
	before := buf.String()
	mu.Unlock()
	if strings.Contains(before, "messages stored") {
		t.Errorf("a summary within the first minute: %s", before)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	out := buf.String()
	want := fmt.Sprintf("messages=4 commits=4 over=0s transport.alert=1 transport.%s=3", sample("").Transport)
	if !strings.Contains(out, "level=INFO msg=\"messages stored\" "+want) {
		t.Errorf("log after Close:\n%s\nwant a summary with %s", out, want)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// Commits sync with fdatasync on Linux, as SQLite's own builds do.
func TestOpenSyncsWithFdatasync(t *testing.T) {
	openStore(t, t.TempDir(), Options{})
	if runtime.GOOS == "linux" && !sqlite.FdatasyncEnabled() {
		t.Error("after Open, SQLite still commits with fsync, not fdatasync")
	}
}
