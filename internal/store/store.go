// Package store keeps messages in SQLite so that a sender is told a message
// arrived only once it would survive a crash or a power loss.
//
// Writes that acknowledge a peer (Add), move the hub's outbox (AddSent,
// UpdateSent) or keep the receipts owed to other hosts (OweReceipt,
// PaidReceipts) are queued and committed together (group commit) on the
// only write connection: the first caller to find nobody committing
// commits what is queued on its own goroutine, so a lone write pays no
// hand-off to another goroutine; writes that arrive meanwhile share the
// next commit, which a goroutine of the store makes while the load
// lasts. Every write still waits for its own full sync.
// Reads use a separate pool of read-only connections, which WAL lets run
// while a commit is under way.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/netsend/messenger/internal/message"

	// The pure-Go "sqlite" driver: the daemon builds without cgo.
	"modernc.org/sqlite"
)

// FileName is the database file the store keeps in its directory.
const FileName = "messenger.db"

// DefaultMaxBatch is how many messages one commit carries at most when
// Options.MaxBatch is zero.
const DefaultMaxBatch = 256

// The WAL's size: written again from its start once it holds
// walCheckpointPages pages (SQLite's default mark, 4 MiB at 4 KiB pages)
// and all are checkpointed (checkpoint.go), and a file cut back to
// walSizeLimit after a checkpoint only if it grew past it.
const (
	walCheckpointPages = 1000
	walSizeLimit       = 16 << 20
)

// busyTimeoutMS bounds how long a connection waits for another one's lock
// (checkpoints, WAL recovery, a second process) before failing.
const busyTimeoutMS = 10000

// Errors a caller must tell apart.
var (
	ErrNotFound = errors.New("message not found")
	ErrInvalid  = errors.New("invalid message")
	ErrClosed   = errors.New("store closed")
)

// Options tune a Store. The zero value is usable.
type Options struct {
	// MaxBatch bounds the messages one commit carries; 0 means
	// DefaultMaxBatch.
	MaxBatch int
	// Logger receives the store's own events; nil discards them.
	Logger *slog.Logger
	// OnCommit, when set, observes every successful commit of Adds: how many
	// messages it carried and how long the transaction took. It runs on the
	// goroutine that commits (one of the writers' callers) before the Adds
	// return, so it must be quick (a histogram observation, not I/O).
	OnCommit func(batchSize int, d time.Duration)
	// OnStored, when set, is handed the messages of every commit that
	// stored any, in ascending id order, so that a follower (the event
	// stream) sees them in commit order with nothing missing, which the
	// Adds' callers, returning on their own goroutines, cannot promise.
	// It runs on the goroutine that commits, one call at a time in commit
	// order, before the Adds return, and must not block; the slice and
	// the messages are the callee's to keep.
	OnStored func(ms []message.Message)
	// QuarantineMax caps the quarantined messages kept; the oldest are
	// deleted first. 0 means no cap. SetQuarantineMax changes it.
	QuarantineMax int
	// ReceiptsOwedMax caps the receipts owed to other hosts (OweReceipt);
	// past it the oldest are dropped. 0 means DefaultReceiptsOwedMax.
	ReceiptsOwedMax int
}

// Stats counts what has been committed since Open.
type Stats struct {
	Commits  uint64 // transactions that stored at least one Add
	Messages uint64 // messages those transactions stored
	Evicted  uint64 // quarantined messages deleted to keep the cap
}

// Store is the durable message store. It is safe for concurrent use.
type Store struct {
	wdb   *sql.DB     // exactly one connection: the only writer
	wconn *sql.Conn   // that connection, held from Open to Close
	stmts *writeStmts // prepared once on wconn
	rdb   *sql.DB     // read-only pool
	ckpt  *checkpointer

	log      *slog.Logger
	maxBatch int
	onCommit func(int, time.Duration)
	onStored func([]message.Message)

	// token holds the right to use wconn while nobody uses it (see
	// lead); batch and summary belong to whoever holds it.
	token   chan struct{}
	batch   []*addRequest
	summary commitSummary

	reqs chan *addRequest
	quit chan struct{} // closed by Close: no new Adds, drain and stop
	done chan struct{} // closed by Close once it has committed all that was queued

	commits  atomic.Uint64
	messages atomic.Uint64
	evicted  atomic.Uint64

	quarantineMax atomic.Int64

	receiptsOwedMax int

	closeOnce sync.Once
	closeErr  error
}

// Open opens (creating if needed) the store in dir.
// A database left behind by a killed process is recovered by SQLite on the
// first connection.
func Open(ctx context.Context, dir string, opts Options) (*Store, error) {
	if opts.MaxBatch < 0 {
		return nil, fmt.Errorf("store: opening: MaxBatch %d is negative", opts.MaxBatch)
	}
	if opts.MaxBatch == 0 {
		opts.MaxBatch = DefaultMaxBatch
	}
	if opts.ReceiptsOwedMax < 0 {
		return nil, fmt.Errorf("store: opening: ReceiptsOwedMax %d is negative", opts.ReceiptsOwedMax)
	}
	if opts.ReceiptsOwedMax == 0 {
		opts.ReceiptsOwedMax = DefaultReceiptsOwedMax
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("store: opening %s: %w", dir, err)
	}
	// Messages are private to the host's users; the directory, not the file
	// mode SQLite picks, is what keeps other accounts out.
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("store: creating directory: %w", err)
	}
	path := filepath.Join(abs, FileName)
	syncData()

	wdb, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		return nil, fmt.Errorf("store: opening %s: %w", path, err)
	}
	// One connection, never recycled and held by the store (wconn): the
	// commits, SetState and Delete take turns on it, so SQLite never sees
	// two writers of ours competing for its lock.
	wdb.SetMaxOpenConns(1)
	wdb.SetMaxIdleConns(1)
	wdb.SetConnMaxLifetime(0)
	wdb.SetConnMaxIdleTime(0)

	s := &Store{
		wdb:      wdb,
		log:      opts.Logger,
		maxBatch: opts.MaxBatch,
		onCommit: opts.OnCommit,
		onStored: opts.OnStored,

		receiptsOwedMax: opts.ReceiptsOwedMax,
		// Room for a few batches lets Adds queue without blocking while a
		// commit waits for fsync; past that, Add blocks (back-pressure).
		reqs:  make(chan *addRequest, 4*opts.MaxBatch),
		quit:  make(chan struct{}),
		done:  make(chan struct{}),
		token: make(chan struct{}, 1),
		batch: make([]*addRequest, 0, opts.MaxBatch),
	}
	s.quarantineMax.Store(int64(opts.QuarantineMax))
	if err := s.setUp(ctx, path); err != nil {
		s.closeDBs()
		return nil, err
	}
	s.token <- struct{}{}
	go s.checkpointLoop()
	return s, nil
}

// setUp checks the write connection, migrates the schema and opens the read
// pool and the insert statement.
func (s *Store) setUp(ctx context.Context, path string) error {
	var mode string
	if err := s.wdb.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("store: opening %s: %w", path, err)
	}
	// Concurrent readers and the group-commit durability argument both rest
	// on WAL; a file system that cannot do it must fail loudly here.
	if mode != "wal" {
		return fmt.Errorf("store: opening %s: journal mode is %q, want wal", path, mode)
	}
	version, err := migrate(ctx, s.wdb)
	if err != nil {
		return fmt.Errorf("store: migrating %s: %w", path, err)
	}
	rdb, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		return fmt.Errorf("store: opening read pool: %w", err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	rdb.SetMaxOpenConns(n)
	rdb.SetMaxIdleConns(n)
	s.rdb = rdb
	if err := rdb.PingContext(ctx); err != nil {
		return fmt.Errorf("store: opening read pool: %w", err)
	}
	if s.wconn, err = s.wdb.Conn(ctx); err != nil {
		return fmt.Errorf("store: opening %s: %w", path, err)
	}
	if s.stmts, err = prepareWriter(ctx, s.wconn); err != nil {
		return err
	}
	cdb, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		return fmt.Errorf("store: opening the checkpointer's connection: %w", err)
	}
	cdb.SetMaxOpenConns(1)
	s.ckpt = newCheckpointer(cdb)
	if err := cdb.PingContext(ctx); err != nil {
		return fmt.Errorf("store: opening the checkpointer's connection: %w", err)
	}
	s.log.Debug("store opened", slog.String("path", path), slog.Int("schema_version", version))
	return nil
}

// syncData makes SQLite commit with fdatasync(2) rather than fsync(2), as
// SQLite's own Linux builds do: the same data and size reach the disk,
// only the timestamps fsync also forces through ext4's journal do not,
// and those were what a commit waited for (docs/performance.md). The
// switch is process-wide; where fdatasync is unavailable SQLite keeps
// fsync.
var syncData = sync.OnceFunc(func() {
	if _, err := sqlite.Fdatasync(true); err != nil && !errors.Is(err, sqlite.ErrFdatasyncUnavailable) {
		slog.Warn("store: cannot sync with fdatasync; staying with fsync", slog.Any("err", err))
	}
})

// dsn builds the connection string. A file: URI with an escaped path keeps a
// '?' or '#' in the directory name from being read as parameters.
func dsn(path string, writer bool) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeoutMS))
	q.Add("_pragma", "foreign_keys(1)")
	if writer {
		q.Add("_pragma", "journal_mode(WAL)")
		// FULL syncs the WAL on every commit; NORMAL, the usual WAL
		// choice, may lose the last commits on power loss, and those are
		// messages whose senders were already told they arrived.
		q.Add("_pragma", "synchronous(FULL)")
		// A WAL that keeps its size: checkpointed by the store's
		// checkpointer, never inside a commit (checkpoint.go), written
		// again from its start, and cut back only if something (a long
		// reader) let it grow past walSizeLimit. docs/performance.md
		// says why.
		q.Add("_pragma", "wal_autocheckpoint(0)")
		q.Add("_pragma", fmt.Sprintf("journal_size_limit(%d)", walSizeLimit))
		// Taking the write lock at BEGIN rather than at the first insert
		// means a lock conflict (another process) waits in busy_timeout
		// instead of failing mid-transaction (migrate's transaction; the
		// commits begin with their own BEGIN IMMEDIATE).
		q.Set("_txlock", "immediate")
	} else {
		q.Add("_pragma", "query_only(1)")
	}
	u := url.URL{Scheme: "file", Path: path, RawQuery: q.Encode()}
	return u.String()
}

// Stats reports what has been committed since Open.
func (s *Store) Stats() Stats {
	return Stats{Commits: s.commits.Load(), Messages: s.messages.Load(), Evicted: s.evicted.Load()}
}

// SetQuarantineMax changes the quarantine's cap from the next commit on
// (a reload); 0 means no cap.
func (s *Store) SetQuarantineMax(n int) { s.quarantineMax.Store(int64(n)) }

// Close stops accepting Adds, commits those already queued, and closes the
// database. Adds racing with Close either complete or return ErrClosed.
// Close is idempotent.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.quit)
		<-s.ckpt.done
		s.drain()
		s.summary.flush(s)
		close(s.done)
		s.closeErr = s.closeDBs()
	})
	return s.closeErr
}

func (s *Store) closeDBs() error {
	var errs []error
	if s.stmts != nil {
		if err := s.stmts.close(); err != nil {
			errs = append(errs, fmt.Errorf("store: closing the writer's statements: %w", err))
		}
	}
	if s.wconn != nil {
		if err := s.wconn.Close(); err != nil {
			errs = append(errs, fmt.Errorf("store: closing the write connection: %w", err))
		}
	}
	if s.rdb != nil {
		if err := s.rdb.Close(); err != nil {
			errs = append(errs, fmt.Errorf("store: closing read pool: %w", err))
		}
	}
	if s.ckpt != nil {
		if err := s.ckpt.db.Close(); err != nil {
			errs = append(errs, fmt.Errorf("store: closing the checkpointer's connection: %w", err))
		}
	}
	// The write connection closes last: as the last connection to the file
	// it checkpoints the WAL into the database and removes -wal and -shm.
	if err := s.wdb.Close(); err != nil {
		errs = append(errs, fmt.Errorf("store: closing writer: %w", err))
	}
	return errors.Join(errs...)
}

// closed reports whether Close has begun.
func (s *Store) closed() bool {
	select {
	case <-s.quit:
		return true
	default:
		return false
	}
}
