package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/netsend/messenger/internal/apitype"
	"github.com/netsend/messenger/internal/message"
)

// insertSQL skips, rather than fails on, a hub id already stored: one
// redelivered message must not fail the other messages of its batch.
// The conflict target repeats the partial index's WHERE, as SQLite
// requires to match it.
const insertSQL = `INSERT INTO messages (sender, recipient, text, received, transport, source, state, rule, explanation,
	alert_source, alert_severity, alert_status, alert_title, alert_key, hub_id, verified, local_user, sent_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (hub_id) WHERE hub_id != '' DO NOTHING`

// evictSQL deletes the oldest quarantined messages beyond the cap: the
// first one past the cap, counting back from the newest, and all older,
// found through the (state, id) index.
const evictSQL = `DELETE FROM messages WHERE state = 'quarantined' AND id <= (
	SELECT id FROM messages WHERE state = 'quarantined' ORDER BY id DESC LIMIT 1 OFFSET ?)`

// The instants Unix nanoseconds in an int64 can hold (years 1677 to 2262).
var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

// addRequest is one write waiting for its commit: a message (msg), or,
// when sent or update is set, a row of the hub's outbox or a move of one,
// or, when receipt is set, receipts owed or paid, so that they share
// commits with the messages. What it holds are copies,
// so that a caller who gives up (ctx) is never raced by the goroutine
// that commits it.
type addRequest struct {
	ctx     context.Context
	msg     message.Message
	sent    *apitype.Sent  // AddSent's row
	update  *SentUpdate    // UpdateSent's move
	receipt *receiptWrite  // OweReceipt's row or PaidReceipts' keys
	group   *addGroup      // the AddBatch it belongs to, or nil
	id      int64          // set by the commit
	dup     bool           // set by the commit: the hub id was already stored
	missing bool           // set by the commit: the update named no row
	res     chan addResult // buffered: a commit never waits for a caller
}

// isMessage tells a message from the outbox's writes.
func (r *addRequest) isMessage() bool { return r.sent == nil && r.update == nil && r.receipt == nil }

// addGroup ties the requests of one AddBatch together. Only the token
// holder (see lead) touches failed, so that once one message of a batch failed no later
// one is stored before it: a caller retrying the batch from the failed
// message on keeps the order it gave.
type addGroup struct {
	failed bool
}

type addResult struct {
	id  int64
	err error
}

// ErrBatchAborted is the error of a message AddBatch did not store because
// an earlier message of the same batch failed.
var ErrBatchAborted = errors.New("store: an earlier message of the batch was not stored")

// Add stores m durably and sets m.ID; an empty m.State becomes unread and a
// zero m.Time becomes now. It returns nil only after the transaction holding
// m has committed with a full sync, so the caller may then acknowledge its
// peer. Concurrent Adds share commits, up to Options.MaxBatch per
// transaction.
//
// An invalid m returns an error wrapping ErrInvalid and stores nothing. A
// message whose HubID is already stored returns an error wrapping
// ErrDuplicate and changes nothing, without failing the other Adds of its
// batch. If
// ctx ends before the commit, Add returns ctx.Err() and m may or may not be
// stored. After Close, Add returns ErrClosed.
func (s *Store) Add(ctx context.Context, m *message.Message) error {
	r, err := prepare(m, nil)
	if err != nil {
		return err
	}
	if r, err = s.request(ctx, r); err != nil {
		return err
	}
	return s.await(ctx, r, m)
}

// AddBatch stores ms in their order, as Add would each, and returns one
// error per message (nil: stored and synced). The messages go to the
// queue together, so they share commits, and their ids ascend in the
// order given. An invalid message or a duplicate fails alone; any other
// failure (a commit, ctx, Close) also fails every later message of ms
// with an error wrapping ErrBatchAborted (or ctx's or ErrClosed), and
// none of those is stored: a caller may retry from the first failed
// message on and keep its order.
func (s *Store) AddBatch(ctx context.Context, ms []*message.Message) []error {
	group := &addGroup{}
	reqs, errs := s.handOver(ctx, len(ms), func(i int) (*addRequest, error) { return prepare(ms[i], group) },
		func(err error) error { return fmt.Errorf("%w: %w", ErrBatchAborted, err) })
	for i, r := range reqs {
		if r != nil {
			errs[i] = s.await(ctx, r, ms[i])
		}
	}
	return errs
}

// handOver makes the n requests of a batch with build and hands them to
// the queue in order. It returns them (nil where none went) and the
// errors so far: an error from build fails its item alone; once a request
// cannot be handed over (ctx, Close), its item fails with that error and
// every later one with rest(err).
func (s *Store) handOver(ctx context.Context, n int, build func(i int) (*addRequest, error), rest func(error) error) ([]*addRequest, []error) {
	reqs, errs := make([]*addRequest, n), make([]error, n)
	var stop error
	for i := range n {
		if stop != nil {
			errs[i] = stop
			continue
		}
		r, err := build(i)
		if err == nil {
			r, err = s.request(ctx, r)
			if err != nil {
				stop = rest(err)
			}
		}
		reqs[i], errs[i] = r, err
	}
	return reqs, errs
}

// sameError is handOver's rest for the batches that fail what follows a
// request not handed over with the same error.
func sameError(err error) error { return err }

// prepare validates a copy of m and makes its request.
func prepare(m *message.Message, group *addGroup) (*addRequest, error) {
	msg := *m
	if m.Alert != nil {
		// The commit reads the alert later, perhaps on another caller's
		// goroutine.
		a := *m.Alert
		msg.Alert = &a
	}
	if msg.State == "" {
		msg.State = message.StateUnread
	}
	if msg.Time.IsZero() {
		msg.Time = time.Now()
	}
	if err := validate(&msg); err != nil {
		return nil, fmt.Errorf("store: adding message: %w", err)
	}
	return &addRequest{msg: msg, group: group}, nil
}

// request readies r and queues it.
func (s *Store) request(ctx context.Context, r *addRequest) (*addRequest, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if s.closed() {
		return nil, ErrClosed
	}
	r.ctx, r.res = ctx, make(chan addResult, 1)
	if err := s.enqueue(ctx, r); err != nil {
		return nil, err
	}
	return r, nil
}

// enqueue queues r for whoever commits next.
func (s *Store) enqueue(ctx context.Context, r *addRequest) error {
	select {
	case s.reqs <- r:
		return nil
	default:
	}
	for {
		select {
		case s.reqs <- r:
			return nil
		case <-s.token:
			// The queue is full and nobody commits (its callers may all
			// have given up): commit a batch of it to make room.
			s.lead(nil)
		case <-s.quit:
			return ErrClosed
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// await waits for the answer to r and copies what it set into m.
func (s *Store) await(ctx context.Context, r *addRequest, m *message.Message) error {
	res, err := s.answer(ctx, r)
	if err != nil {
		return err
	}
	m.ID, m.State, m.Time = res.id, r.msg.State, r.msg.Time
	return nil
}

// answer waits for the answer to r: what the commit that carried it set,
// or why not. If nobody is committing, it commits r (and whatever queued
// with it) itself, on this goroutine.
func (s *Store) answer(ctx context.Context, r *addRequest) (addResult, error) {
	for {
		select {
		case res := <-r.res:
			return res, res.err
		case <-s.token:
			s.lead(r)
		case <-ctx.Done():
			// A result that is already there is the better answer: the
			// caller can still ack.
			select {
			case res := <-r.res:
				return res, res.err
			default:
				return addResult{}, ctx.Err()
			}
		case <-s.done:
			// Close commits everything queued before it closes done, so
			// no answer now means the request arrived after the final
			// drain and was never stored.
			select {
			case res := <-r.res:
				return res, res.err
			default:
				return addResult{}, ErrClosed
			}
		}
	}
}

// validate checks what a hostile peer controls before it reaches the
// database, so that bad input changes nothing.
func validate(m *message.Message) error {
	if err := message.Validate(m); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if err := validState(m.State); err != nil {
		return err
	}
	return checkTime(m.Time)
}

// checkTime refuses an instant Unix nanoseconds in an int64, as the
// store keeps times, cannot hold.
func checkTime(t time.Time) error {
	if t.Before(minTime) || t.After(maxTime) {
		return fmt.Errorf("%w: time %s out of range", ErrInvalid, t.UTC().Format(time.RFC3339))
	}
	return nil
}

func validState(st message.State) error {
	switch st {
	case message.StateUnread, message.StateRead, message.StateQuarantined:
		return nil
	}
	return fmt.Errorf("%w: unknown state %q", ErrInvalid, st)
}

func insertMessage(ctx context.Context, st *sql.Stmt, r *addRequest) error {
	m := &r.msg
	var a message.Alert
	if m.Alert != nil {
		a = *m.Alert
	}
	res, err := st.ExecContext(ctx, m.From, m.To, m.Text, m.Time.UnixNano(),
		string(m.Transport), m.Source, string(m.State), m.Rule, m.Explanation,
		a.Source, string(a.Severity), string(a.Status), a.Title, a.Key, m.HubID, m.Verified, m.LocalUser, sentAt(m.SentAt))
	if err = r.inserted(res, err); err != nil {
		return fmt.Errorf("store: inserting message: %w", err)
	}
	return nil
}

// inserted records what an INSERT ... ON CONFLICT (hub_id) DO NOTHING
// did for r: the new row's id, or that the hub id was there already.
func (r *addRequest) inserted(res sql.Result, err error) error {
	n, err := affected(res, err)
	if err != nil {
		return err
	}
	// Nothing inserted means the hub id's conflict was skipped;
	// LastInsertId would then be some earlier row's.
	r.dup = n == 0
	if !r.dup {
		r.id, err = res.LastInsertId()
	}
	return err
}

// affected returns how many rows the statement that gave res and err
// changed, or its error.
func affected(res sql.Result, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// sentAt stores a missing sending time as 0, which scanMessage reads back
// as nil.
func sentAt(t *time.Time) int64 {
	if t == nil || t.IsZero() {
		return 0
	}
	return t.UnixNano()
}
