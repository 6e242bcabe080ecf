package store

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/netsend/messenger/internal/apitype"
	"github.com/netsend/messenger/internal/message"
)

// DefaultReceiptsOwedMax is how many owed receipts are kept when
// Options.ReceiptsOwedMax is zero.
const DefaultReceiptsOwedMax = 10000

// OwedReceipt is a receipt this host owes the host a hub message came
// from, kept until the hub takes it.
type OwedReceipt struct {
	HubID string            `json:"hub_id"` // the message's id on the hub
	State apitype.SentState `json:"state"`  // what happened to it: SentRead
	// Host is where the receipt goes: the host the hub proved sent the
	// message (its Verified).
	Host string `json:"host"`
	// To is the name the message was addressed to, which the receipt
	// repeats.
	To string `json:"to"`
	// At is when it happened; OweReceipt makes a zero At now.
	At time.Time `json:"at"`
}

// ReceiptKey names an owed receipt: the hub keeps one receipt per
// message and state, and so does the store.
type ReceiptKey struct {
	HubID string
	State apitype.SentState
}

// Key returns r's key.
func (r OwedReceipt) Key() ReceiptKey { return ReceiptKey{HubID: r.HubID, State: r.State} }

// receiptWrite is one write of the owed receipts: a row owed, or the
// rows paid.
type receiptWrite struct {
	owe  *OwedReceipt
	paid []ReceiptKey
}

// OweReceipt records that r is owed, once: owing one already owed (same
// HubID and State) changes nothing and returns nil. Past
// Options.ReceiptsOwedMax rows the oldest are dropped, so that a hub gone
// for good cannot fill the disk. An invalid r returns an error wrapping
// ErrInvalid and changes nothing. It returns once the row is committed
// with a full sync, in a commit shared with whatever else waits for the
// writer.
func (s *Store) OweReceipt(ctx context.Context, r OwedReceipt) error {
	if r.At.IsZero() {
		r.At = time.Now()
	}
	if err := validateOwed(&r); err != nil {
		return fmt.Errorf("store: owing the %q receipt for %q: %w", r.State, r.HubID, err)
	}
	req, err := s.request(ctx, &addRequest{receipt: &receiptWrite{owe: &r}})
	if err != nil {
		return err
	}
	_, err = s.answer(ctx, req)
	return err
}

// PaidReceipts deletes the owed receipts keys name, in one commit; keys
// owed no longer (paid before) are skipped. An invalid key returns an
// error wrapping ErrInvalid and deletes nothing.
func (s *Store) PaidReceipts(ctx context.Context, keys []ReceiptKey) error {
	if len(keys) == 0 {
		return nil
	}
	for _, k := range keys {
		if err := validateReceiptKey(k); err != nil {
			return fmt.Errorf("store: paying the %q receipt for %q: %w", k.State, k.HubID, err)
		}
	}
	// A copy: the writer reads it later, on its own goroutine.
	req, err := s.request(ctx, &addRequest{receipt: &receiptWrite{paid: append([]ReceiptKey(nil), keys...)}})
	if err != nil {
		return err
	}
	_, err = s.answer(ctx, req)
	return err
}

// OwedReceipts returns up to limit owed receipts (0: all), oldest first.
func (s *Store) OwedReceipts(ctx context.Context, limit int) ([]OwedReceipt, error) {
	if s.closed() {
		return nil, ErrClosed
	}
	if limit < 0 {
		return nil, fmt.Errorf("store: listing owed receipts: %w: limit %d is negative", ErrInvalid, limit)
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT hub_id, state, host, recipient, at FROM receipts_owed ORDER BY id LIMIT ?`,
		sqlLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("store: listing owed receipts: %w", err)
	}
	defer rows.Close()
	var out []OwedReceipt
	for rows.Next() {
		var (
			r     OwedReceipt
			state string
			at    int64
		)
		if err := rows.Scan(&r.HubID, &state, &r.Host, &r.To, &at); err != nil {
			return nil, fmt.Errorf("store: listing owed receipts: %w", err)
		}
		r.State, r.At = apitype.SentState(state), time.Unix(0, at).UTC()
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: listing owed receipts: %w", err)
	}
	return out, nil
}

// CountOwedReceipts returns how many receipts are owed.
func (s *Store) CountOwedReceipts(ctx context.Context) (int, error) {
	if s.closed() {
		return 0, ErrClosed
	}
	var n int
	if err := s.rdb.QueryRowContext(ctx, `SELECT count(*) FROM receipts_owed`).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: counting owed receipts: %w", err)
	}
	return n, nil
}

// owedState accepts the states a receipt can be owed for. Only read:
// the other receipts go out while the hub still waits for this host to
// acknowledge the message, so that when they cannot be sent the hub
// redelivers the message and they are sent again. A read comes from the
// user, long after the hub forgot the message.
func owedState(st apitype.SentState) error {
	if st != apitype.SentRead {
		return fmt.Errorf("%w: state %q: only read receipts are owed", ErrInvalid, st)
	}
	return nil
}

func validateReceiptKey(k ReceiptKey) error {
	if k.HubID == "" {
		return fmt.Errorf("%w: no hub id", ErrInvalid)
	}
	m := message.Message{Transport: message.TransportHub, HubID: k.HubID}
	if err := message.Validate(&m); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return owedState(k.State)
}

// validateOwed checks what a receipt would carry against the limits a
// hub message keeps, so that nothing is owed that could never be paid.
func validateOwed(r *OwedReceipt) error {
	if err := validateReceiptKey(r.Key()); err != nil {
		return err
	}
	if r.Host == "" {
		return fmt.Errorf("%w: no host to send it to", ErrInvalid)
	}
	if r.To == "" {
		return fmt.Errorf("%w: no recipient", ErrInvalid)
	}
	m := message.Message{To: r.To, Transport: message.TransportHub, HubID: r.HubID, Verified: r.Host}
	if err := message.Validate(&m); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return checkTime(r.At)
}

// dropOwedSQL deletes the oldest owed receipts beyond the cap: the first
// one past it, counting back from the newest, and all older.
const dropOwedSQL = `DELETE FROM receipts_owed WHERE id <= (
	SELECT id FROM receipts_owed ORDER BY id DESC LIMIT 1 OFFSET ?)`

const (
	oweReceiptSQL = `INSERT INTO receipts_owed (hub_id, state, host, recipient, at)
	VALUES (?, ?, ?, ?, ?) ON CONFLICT (hub_id, state) DO NOTHING`
	paidReceiptSQL = `DELETE FROM receipts_owed WHERE hub_id = ? AND state = ?`
)

// writeReceipt runs in the writer's transaction. The cap is kept in the
// transaction that grew the table, so it holds at every commit.
func (s *Store) writeReceipt(ctx context.Context, w *writeStmts, rw *receiptWrite) error {
	if r := rw.owe; r != nil {
		n, err := affected(w.oweReceipt.ExecContext(ctx, r.HubID, string(r.State), r.Host, r.To, r.At.UnixNano()))
		if err != nil {
			return fmt.Errorf("store: owing the %s receipt for %s: %w", r.State, r.HubID, err)
		}
		if n == 0 {
			return nil // owed already
		}
		n, err = affected(w.dropOwed.ExecContext(ctx, s.receiptsOwedMax))
		if err != nil {
			return fmt.Errorf("store: keeping the owed receipts within %d: %w", s.receiptsOwedMax, err)
		}
		if n > 0 {
			s.log.Warn("too many receipts owed while the hub is away: the oldest are dropped",
				slog.Int64("dropped", n), slog.Int("max", s.receiptsOwedMax))
		}
		return nil
	}
	for _, k := range rw.paid {
		if _, err := w.paidReceipt.ExecContext(ctx, k.HubID, string(k.State)); err != nil {
			return fmt.Errorf("store: paying the %s receipt for %s: %w", k.State, k.HubID, err)
		}
	}
	return nil
}
