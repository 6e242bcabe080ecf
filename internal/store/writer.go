package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/netsend/messenger/internal/apitype"
	"github.com/netsend/messenger/internal/message"
)

// writeStmts are the writer's statements, prepared once on the write
// connection at Open: a commit of one message then prepares nothing, not
// even its BEGIN and COMMIT, which database/sql's transactions would
// prepare anew each time.
type writeStmts struct {
	begin, commit, rollback *sql.Stmt

	insert, evict          *sql.Stmt
	insertSent, sentExists *sql.Stmt
	// updateSent has one statement per target state: their IN lists
	// differ in length.
	updateSent                        map[apitype.SentState]*sql.Stmt
	oweReceipt, dropOwed, paidReceipt *sql.Stmt

	all []*sql.Stmt // to close
}

// prepareWriter prepares the writer's statements on c.
func prepareWriter(ctx context.Context, c *sql.Conn) (*writeStmts, error) {
	w := &writeStmts{updateSent: make(map[apitype.SentState]*sql.Stmt)}
	var errs []error
	prep := func(query string) *sql.Stmt {
		st, err := c.PrepareContext(ctx, query)
		if err != nil {
			errs = append(errs, err)
			return nil
		}
		w.all = append(w.all, st)
		return st
	}
	// IMMEDIATE takes the write lock at BEGIN rather than at the first
	// insert, so that a lock conflict (another process) waits in
	// busy_timeout instead of failing mid-transaction.
	w.begin, w.commit, w.rollback = prep("BEGIN IMMEDIATE"), prep("COMMIT"), prep("ROLLBACK")
	w.insert, w.evict = prep(insertSQL), prep(evictSQL)
	w.insertSent, w.sentExists = prep(insertSentSQL), prep(sentExistsSQL)
	for _, st := range slices.Sorted(maps.Keys(sentFrom)) {
		w.updateSent[st] = prep(updateSentSQL(st))
	}
	w.oweReceipt, w.dropOwed, w.paidReceipt = prep(oweReceiptSQL), prep(dropOwedSQL), prep(paidReceiptSQL)
	if err := errors.Join(errs...); err != nil {
		w.close()
		return nil, fmt.Errorf("store: preparing the writer's statements: %w", err)
	}
	return w, nil
}

func (w *writeStmts) close() error {
	var errs []error
	for _, st := range w.all {
		errs = append(errs, st.Close())
	}
	return errors.Join(errs...)
}

// The right to write is a token in s.token: whoever holds it owns the
// write connection, and only between transactions does it lie there.
// There is no writer goroutine. A caller whose write is queued takes the
// token if it is free and commits what is queued itself (its own write
// among it); callers arriving while it commits queue behind it and one of
// them commits all of theirs next (group commit). At one client, Add thus
// runs its commit on its own goroutine, with no hand-off and no wake-up;
// under load, each commit still carries whatever queued during the
// previous one's sync.
//
// A caller whose own write is done leaves, and if more is queued by
// then it does not hand the token to one of the waiting callers: that
// one would only run once the leaving caller's goroutine yields its CPU,
// and the disk would sit idle meanwhile. It starts a goroutine that
// commits back to back until the queue is empty (catchUp), as a writer
// goroutine would, for as long as the load lasts.

// lead commits what is queued, a batch at a time, until r has its answer
// (or, with r nil, one batch), and then lets the token go (release). The
// caller must hold the token.
func (s *Store) lead(r *addRequest) {
	for r == nil || len(r.res) == 0 {
		if !s.commitQueued() || r == nil {
			break
		}
	}
	s.release()
}

// commitQueued commits one batch of what is queued, and reports whether
// there was any. The caller holds the token.
func (s *Store) commitQueued() bool {
	s.batch = s.fill(s.batch[:0])
	if len(s.batch) == 0 {
		return false
	}
	s.commit(s.batch)
	clear(s.batch) // let answered requests be collected
	return true
}

// release gives the token back, or, with writes queued, to catchUp.
func (s *Store) release() {
	if len(s.reqs) > 0 {
		go s.catchUp()
		return
	}
	s.token <- struct{}{}
}

// catchUp commits until nothing is queued and gives the token back. A
// write queued just after the last look waits for the token and commits
// itself.
func (s *Store) catchUp() {
	for s.commitQueued() {
	}
	s.token <- struct{}{}
}

// fill tops batch up from the queue without waiting.
func (s *Store) fill(batch []*addRequest) []*addRequest {
	for len(batch) < s.maxBatch {
		select {
		case r := <-s.reqs:
			batch = append(batch, r)
		default:
			return batch
		}
	}
	return batch
}

// drain takes the token for good and commits everything queued: Close's
// last commits.
func (s *Store) drain() {
	<-s.token
	for s.commitQueued() {
	}
}

// execWrite runs one statement on the write connection between the
// writer's commits: user actions (SetState, Delete, aliases, policy
// entries, pruning), rare next to Adds, that need no batching.
func (s *Store) execWrite(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if s.closed() {
		return nil, ErrClosed
	}
	select {
	case <-s.token:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-s.done:
		return nil, ErrClosed
	}
	defer func() { s.token <- struct{}{} }()
	res, err := s.wconn.ExecContext(ctx, query, args...)
	if err == nil {
		s.ckpt.noteCommit(1)
	}
	return res, err
}

// commit stores batch in one transaction and answers every request in
// it. The caller holds the token.
func (s *Store) commit(batch []*addRequest) {
	live := batch[:0] // filtered in place; the token holder owns batch
	for _, r := range batch {
		// A caller that gave up has already returned ctx.Err(); storing
		// its message anyway would only make a duplicate when it retries.
		if err := r.ctx.Err(); err != nil {
			r.fail(err)
			continue
		}
		if r.group != nil && r.group.failed {
			r.res <- addResult{err: ErrBatchAborted}
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	start := time.Now()
	err := s.insertBatch(live)
	d := time.Since(start)
	if err != nil {
		s.log.Error("store commit failed", slog.Int("batch", len(live)), slog.Any("error", err))
		for _, r := range live {
			r.fail(err)
		}
		return
	}
	s.ckpt.noteCommit(len(live))
	stored := 0
	for _, r := range live {
		if r.isMessage() && !r.dup {
			stored++
		}
	}
	// Counted before anyone is answered, so that a caller who sees its Add
	// return also sees it in Stats.
	if stored > 0 {
		s.commits.Add(1)
		s.messages.Add(uint64(stored))
		if s.onCommit != nil {
			s.onCommit(stored, d)
		}
		if s.onStored != nil {
			s.onStored(storedMessages(live, stored))
		}
		s.summary.add(s, live, stored)
	}
	for _, r := range live {
		switch {
		case r.missing:
			r.res <- addResult{err: fmt.Errorf("store: sent message %s: %w", r.update.HubID, ErrNotFound)}
		case r.dup && r.sent != nil:
			r.res <- addResult{err: fmt.Errorf("store: adding sent message %s: %w", r.sent.HubID, ErrDuplicate)}
		case r.dup:
			r.res <- addResult{err: fmt.Errorf("store: adding message with hub id %s: %w", r.msg.HubID, ErrDuplicate)}
		default:
			r.res <- addResult{id: r.id}
		}
	}
}

// insertBatch writes batch in one transaction with the prepared
// statements. Not any caller's context: one caller giving up must not
// fail the others' commit.
func (s *Store) insertBatch(batch []*addRequest) error {
	ctx := context.Background()
	w := s.stmts
	if _, err := w.begin.ExecContext(ctx); err != nil {
		return fmt.Errorf("store: beginning batch: %w", err)
	}
	err := s.writeBatch(ctx, batch)
	if err == nil {
		if _, err = w.commit.ExecContext(ctx); err != nil {
			err = fmt.Errorf("store: committing batch of %d: %w", len(batch), err)
		}
	}
	if err != nil {
		// SQLite may keep the transaction open after a failed statement
		// or COMMIT (SQLITE_BUSY); end it here or every later BEGIN on
		// this connection would fail.
		if _, rerr := w.rollback.ExecContext(ctx); rerr != nil {
			s.log.Debug("store rollback failed", slog.Any("error", rerr))
		}
	}
	return err
}

// writeBatch runs batch's writes inside the open transaction.
func (s *Store) writeBatch(ctx context.Context, batch []*addRequest) error {
	w := s.stmts
	for _, r := range batch {
		var err error
		switch {
		case r.sent != nil:
			err = insertSent(ctx, w, r)
		case r.update != nil:
			err = updateSent(ctx, w, r)
		case r.receipt != nil:
			err = s.writeReceipt(ctx, w, r.receipt)
		default:
			err = insertMessage(ctx, w.insert, r)
		}
		if err != nil {
			return err
		}
	}
	return s.evict(ctx, batch)
}

// evict keeps the quarantine within its cap, in the transaction that
// grew it, so the cap holds at every commit and a flood of quarantined
// messages cannot fill the disk.
func (s *Store) evict(ctx context.Context, batch []*addRequest) error {
	limit := s.quarantineMax.Load()
	if limit <= 0 {
		return nil
	}
	for _, r := range batch {
		if r.msg.State == message.StateQuarantined && !r.dup {
			n, err := affected(s.stmts.evict.ExecContext(ctx, limit))
			if err != nil {
				return fmt.Errorf("store: evicting from the quarantine: %w", err)
			}
			if n > 0 {
				s.evicted.Add(uint64(n))
			}
			return nil
		}
	}
	return nil
}

// summaryEvery is how often at most the store logs, at INFO, what its
// commits stored: the per-message lines are DEBUG, and a busy host
// should not write a line per message at the default level.
const summaryEvery = time.Minute

// commitSummary counts what the commits stored since its last line. Only
// the token holder touches it.
type commitSummary struct {
	since       time.Time
	commits     int
	messages    int
	byTransport map[message.Transport]int
}

// add counts a commit of stored messages out of live, and logs the
// summary once summaryEvery has passed since the last.
func (c *commitSummary) add(s *Store, live []*addRequest, stored int) {
	now := time.Now()
	if c.commits == 0 {
		c.since = now
	}
	if c.byTransport == nil {
		c.byTransport = make(map[message.Transport]int)
	}
	c.commits++
	c.messages += stored
	for _, r := range live {
		if r.isMessage() && !r.dup {
			c.byTransport[r.msg.Transport]++
		}
	}
	if now.Sub(c.since) >= summaryEvery {
		c.flush(s)
	}
}

// flush logs what was counted, if anything, and starts counting anew.
func (c *commitSummary) flush(s *Store) {
	if c.commits == 0 {
		return
	}
	attrs := make([]any, 0, len(c.byTransport))
	for _, t := range slices.Sorted(maps.Keys(c.byTransport)) {
		attrs = append(attrs, slog.Int(string(t), c.byTransport[t]))
	}
	s.log.Info("messages stored", slog.Int("messages", c.messages), slog.Int("commits", c.commits),
		slog.Duration("over", time.Since(c.since).Round(time.Second)), slog.Group("transport", attrs...))
	c.commits, c.messages = 0, 0
	clear(c.byTransport)
}

// storedMessages copies the n messages batch stored, ids set, in the
// order they were inserted, which is ascending id order.
func storedMessages(batch []*addRequest, n int) []message.Message {
	out := make([]message.Message, 0, n)
	for _, r := range batch {
		if r.isMessage() && !r.dup {
			m := r.msg
			m.ID = r.id
			out = append(out, m)
		}
	}
	return out
}

// fail answers r with err and keeps the rest of its AddBatch from being
// stored after it.
func (r *addRequest) fail(err error) {
	if r.group != nil {
		r.group.failed = true
	}
	r.res <- addResult{err: err}
}
