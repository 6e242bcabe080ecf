package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/netsend/messenger/internal/apitype"
	"github.com/netsend/messenger/internal/message"
)

// ErrDuplicate is returned by Add for a message whose HubID is already
// stored: the hub redelivered what this host had kept. Nothing changed.
var ErrDuplicate = errors.New("message already stored")

// SentListOptions select sent messages for ListSent.
type SentListOptions struct {
	State   apitype.SentState // "" lists every state
	Limit   int               // only the newest this many; 0 means no limit
	AfterID int64             // only ids greater than this: the cursor for following
	// LocalUser, when set, keeps only what that local account sent.
	LocalUser string
}

// sentRank orders the states a message moves through on its way; the
// ends (expired, failed) are not on it.
var sentRank = map[apitype.SentState]int{apitype.SentQueued: 0, apitype.SentSent: 1, apitype.SentDelivered: 2, apitype.SentRead: 3}

// sentFrom lists, for each state, the states a message may move to it
// from: only forward along queued → sent → delivered → read, and to
// expired or failed only while the hub has not yet handed it over.
// Receipts arrive late, twice or out of order; whatever is not listed
// here is one of those and changes nothing.
var sentFrom = map[apitype.SentState][]apitype.SentState{
	apitype.SentSent:      {apitype.SentQueued},
	apitype.SentDelivered: {apitype.SentQueued, apitype.SentSent},
	apitype.SentRead:      {apitype.SentQueued, apitype.SentSent, apitype.SentDelivered},
	apitype.SentExpired:   {apitype.SentQueued, apitype.SentSent},
	apitype.SentFailed:    {apitype.SentQueued, apitype.SentSent},
}

func validSentState(st apitype.SentState) error {
	if _, ok := sentRank[st]; ok || st == apitype.SentExpired || st == apitype.SentFailed {
		return nil
	}
	return fmt.Errorf("%w: unknown sent state %q", ErrInvalid, st)
}

const sentColumns = `SELECT id, hub_id, recipient, host, sender, text, created, expires, state, updated,
	delivered_at, read_at, detail, local_user FROM sent`

// AddSent records a message sent through the hub and sets s.ID. An empty
// State is queued; zero Created and Updated are now. A HubID already
// recorded returns an error wrapping ErrDuplicate; an invalid s one
// wrapping ErrInvalid; either way nothing changes. It returns once the
// row is committed with a full sync, a commit shared with whatever else
// was waiting for the writer.
func (s *Store) AddSent(ctx context.Context, snt *apitype.Sent) error {
	return s.AddSentBatch(ctx, []*apitype.Sent{snt})[0]
}

// AddSentBatch records rows as AddSent would each, in shared commits and
// ascending ids in the order given, and returns one error per row. An
// invalid row or a duplicate fails alone; once one cannot be handed to
// the writer (ctx, Close), it and the rest fail with that error.
func (s *Store) AddSentBatch(ctx context.Context, rows []*apitype.Sent) []error {
	now := time.Now()
	reqs, errs := s.handOver(ctx, len(rows), func(i int) (*addRequest, error) {
		v := *rows[i]
		if v.State == "" {
			v.State = apitype.SentQueued
		}
		if v.Created.IsZero() {
			v.Created = now
		}
		if v.Updated.IsZero() {
			v.Updated = now
		}
		if err := validateSent(&v); err != nil {
			return nil, fmt.Errorf("store: adding sent message: %w", err)
		}
		return &addRequest{sent: &v}, nil
	}, sameError)
	for i, r := range reqs {
		if r == nil {
			continue
		}
		res, err := s.answer(ctx, r)
		if errs[i] = err; err == nil {
			v := *r.sent
			v.ID = res.id
			*rows[i] = v
		}
	}
	return errs
}

const insertSentSQL = `INSERT INTO sent (hub_id, recipient, host, sender, text, created, expires, state, updated,
	delivered_at, read_at, detail, local_user) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (hub_id) DO NOTHING`

// insertSent runs in the writer's transaction.
func insertSent(ctx context.Context, w *writeStmts, r *addRequest) error {
	v := r.sent
	res, err := w.insertSent.ExecContext(ctx,
		v.HubID, v.To, v.Host, v.From, v.Text, nanos(v.Created), nanos(v.Expires), string(v.State), nanos(v.Updated),
		nanos(v.Delivered), nanos(v.Read), v.Detail, v.LocalUser)
	if err = r.inserted(res, err); err != nil {
		return fmt.Errorf("store: adding sent message %s: %w", v.HubID, err)
	}
	return nil
}

// validateSent checks a sent message against the limits every message
// keeps, so that the outbox never holds what no hub would take.
func validateSent(v *apitype.Sent) error {
	if v.HubID == "" {
		return fmt.Errorf("%w: sent message has no hub id", ErrInvalid)
	}
	m := message.Message{From: v.From, To: v.To, Text: v.Text, Transport: message.TransportHub, HubID: v.HubID}
	if err := message.Validate(&m); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if !utf8.ValidString(v.Host) || utf8.RuneCountInString(v.Host) > message.MaxNameLen {
		return fmt.Errorf("%w: host %q is not a host name", ErrInvalid, v.Host)
	}
	if err := validSentState(v.State); err != nil {
		return err
	}
	if err := checkDetail(v.Detail); err != nil {
		return err
	}
	for _, t := range []time.Time{v.Created, v.Expires, v.Updated, v.Delivered, v.Read} {
		if t.IsZero() {
			continue // stored as 0: none
		}
		if err := checkTime(t); err != nil {
			return err
		}
	}
	return nil
}

// checkDetail bounds what a receipt may say about a message (a refusal's
// reason comes from another host).
func checkDetail(d string) error {
	if !utf8.ValidString(d) || utf8.RuneCountInString(d) > message.MaxSourceLen {
		return fmt.Errorf("%w: detail is not UTF-8 of at most %d characters", ErrInvalid, message.MaxSourceLen)
	}
	return nil
}

// QueuedSent returns the outbox: up to limit queued messages (0: all),
// oldest first, the order they must be published in.
func (s *Store) QueuedSent(ctx context.Context, limit int) ([]apitype.Sent, error) {
	return s.listSent(ctx, SentListOptions{State: apitype.SentQueued, Limit: limit}, false)
}

// SentUpdate is one move of a sent message: to State at At (zero: now),
// with Detail saying why (a refusal's reason; "" for none).
type SentUpdate struct {
	HubID  string
	State  apitype.SentState
	At     time.Time
	Detail string
}

// UpdateSent moves the sent message hubID to state at time at (zero:
// now), with detail saying why (a refusal's reason; "" for none). A
// message only moves forward — queued → sent → delivered → read, and to
// expired or failed only from queued or sent — so a receipt that arrives
// late or twice is a no-op that returns nil. Delivered is set by the
// delivered receipt, or by the read one if that came first (what was
// read was delivered); Read by the read receipt. An unknown hubID
// returns an error wrapping ErrNotFound.
func (s *Store) UpdateSent(ctx context.Context, hubID string, state apitype.SentState, at time.Time, detail string) error {
	return s.UpdateSentBatch(ctx, []SentUpdate{{HubID: hubID, State: state, At: at, Detail: detail}})[0]
}

// UpdateSentBatch makes the moves of ups as UpdateSent would each, in
// commits shared with each other and with whatever else waits for the
// writer, and returns one error per move (nil: made, or stale and
// ignored). An invalid move fails alone; once one cannot be handed to the
// writer (ctx, Close), it and the rest fail with that error.
func (s *Store) UpdateSentBatch(ctx context.Context, ups []SentUpdate) []error {
	reqs, errs := s.handOver(ctx, len(ups), func(i int) (*addRequest, error) {
		up := ups[i]
		if up.At.IsZero() {
			up.At = time.Now()
		}
		if err := checkUpdate(up); err != nil {
			return nil, fmt.Errorf("store: updating sent message %s: %w", up.HubID, err)
		}
		return &addRequest{update: &up}, nil
	}, sameError)
	for i, r := range reqs {
		if r != nil {
			_, errs[i] = s.answer(ctx, r)
		}
	}
	return errs
}

func checkUpdate(up SentUpdate) error {
	if err := validSentState(up.State); err != nil {
		return err
	}
	if err := checkDetail(up.Detail); err != nil {
		return err
	}
	return checkTime(up.At)
}

// updateSentSQL moves a row to state, but only from one of the states
// sentFrom lists for it: the check is in the UPDATE itself, so that of two
// receipts racing only one moves the row.
func updateSentSQL(state apitype.SentState) string {
	from := sentFrom[state]
	return `UPDATE sent SET state = ?, updated = ?, detail = ?,
		delivered_at = CASE WHEN ? IN ('delivered', 'read') AND delivered_at = 0 THEN ? ELSE delivered_at END,
		read_at = CASE WHEN ? = 'read' THEN ? ELSE read_at END
		WHERE hub_id = ? AND state IN (?` + strings.Repeat(", ?", len(from)-1) + `)`
}

const sentExistsSQL = `SELECT 1 FROM sent WHERE hub_id = ?`

// updateSent runs in the writer's transaction.
func updateSent(ctx context.Context, w *writeStmts, r *addRequest) error {
	up := r.update
	if st := w.updateSent[up.State]; st != nil {
		t := up.At.UnixNano()
		args := []any{string(up.State), t, up.Detail, string(up.State), t, string(up.State), t, up.HubID}
		for _, f := range sentFrom[up.State] {
			args = append(args, string(f))
		}
		n, err := affected(st.ExecContext(ctx, args...))
		if err != nil {
			return fmt.Errorf("store: updating sent message %s: %w", up.HubID, err)
		}
		if n > 0 {
			return nil
		}
	}
	// Nothing moved: a stale receipt, or no such message.
	var one int
	err := w.sentExists.QueryRowContext(ctx, up.HubID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		r.missing = true
		return nil
	}
	if err != nil {
		return fmt.Errorf("store: updating sent message %s: %w", up.HubID, err)
	}
	return nil
}

// SentByHubID returns the sent message hubID, or an error wrapping
// ErrNotFound.
func (s *Store) SentByHubID(ctx context.Context, hubID string) (apitype.Sent, error) {
	if s.closed() {
		return apitype.Sent{}, ErrClosed
	}
	v, err := scanSent(s.rdb.QueryRowContext(ctx, sentColumns+` WHERE hub_id = ?`, hubID))
	if errors.Is(err, sql.ErrNoRows) {
		return apitype.Sent{}, fmt.Errorf("store: sent message %s: %w", hubID, ErrNotFound)
	}
	if err != nil {
		return apitype.Sent{}, fmt.Errorf("store: getting sent message %s: %w", hubID, err)
	}
	return v, nil
}

// ListSent returns the sent messages opt selects, in ascending id order
// (newest last). With a Limit, it is the newest Limit of them, as
// `messenger sent` shows; to follow everything, pass the last id seen as
// AfterID and no Limit.
func (s *Store) ListSent(ctx context.Context, opt SentListOptions) ([]apitype.Sent, error) {
	return s.listSent(ctx, opt, true)
}

// listSent lists in ascending id order; a Limit keeps the newest of the
// selection when newest is set, the oldest otherwise.
func (s *Store) listSent(ctx context.Context, opt SentListOptions, newest bool) ([]apitype.Sent, error) {
	if s.closed() {
		return nil, ErrClosed
	}
	if opt.Limit < 0 {
		return nil, fmt.Errorf("store: listing sent messages: %w: limit %d is negative", ErrInvalid, opt.Limit)
	}
	if opt.State != "" {
		if err := validSentState(opt.State); err != nil {
			return nil, fmt.Errorf("store: listing sent messages: %w", err)
		}
	}
	limit := sqlLimit(opt.Limit)
	// For the newest, read newest first so that LIMIT keeps those, and
	// turn them around below. Two texts rather than "(? = '' OR state =
	// ?)", which would keep SQLite from using the (state, id) index.
	order := ` ORDER BY id LIMIT ?`
	if newest {
		order = ` ORDER BY id DESC LIMIT ?`
	}
	query, args := sentColumns+` WHERE id > ?`, []any{opt.AfterID}
	if opt.State != "" {
		query, args = sentColumns+` WHERE state = ? AND id > ?`, []any{string(opt.State), opt.AfterID}
	}
	if opt.LocalUser != "" {
		query, args = query+` AND local_user = ?`, append(args, opt.LocalUser)
	}
	rows, err := s.rdb.QueryContext(ctx, query+order, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("store: listing sent messages: %w", err)
	}
	defer rows.Close()
	var out []apitype.Sent
	for rows.Next() {
		v, err := scanSent(rows)
		if err != nil {
			return nil, fmt.Errorf("store: listing sent messages: %w", err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: listing sent messages: %w", err)
	}
	if newest {
		slices.Reverse(out)
	}
	return out, nil
}

// SentHost returns the host the newest message sent to recipient (any
// case) went to: where the registry last put that name, for when the
// registry cannot be asked. An error wraps ErrNotFound when nothing was
// ever sent to it.
func (s *Store) SentHost(ctx context.Context, recipient string) (string, error) {
	if s.closed() {
		return "", ErrClosed
	}
	var host string
	err := s.rdb.QueryRowContext(ctx, `SELECT host FROM sent WHERE upper(recipient) = upper(?) AND host != ''
		ORDER BY id DESC LIMIT 1`, recipient).Scan(&host)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("store: nothing sent to %q: %w", recipient, ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("store: host of %q: %w", recipient, err)
	}
	return host, nil
}

// CountSent returns how many sent messages are in state ("" counts all):
// CountSent(ctx, SentQueued) is the outbox's size.
func (s *Store) CountSent(ctx context.Context, state apitype.SentState) (int, error) {
	if s.closed() {
		return 0, ErrClosed
	}
	var n int
	var err error
	if state == "" {
		err = s.rdb.QueryRowContext(ctx, `SELECT count(*) FROM sent`).Scan(&n)
	} else {
		if err := validSentState(state); err != nil {
			return 0, fmt.Errorf("store: counting sent messages: %w", err)
		}
		err = s.rdb.QueryRowContext(ctx, `SELECT count(*) FROM sent WHERE state = ?`, string(state)).Scan(&n)
	}
	if err != nil {
		return 0, fmt.Errorf("store: counting sent messages: %w", err)
	}
	return n, nil
}

func scanSent(sc scanner) (apitype.Sent, error) {
	var (
		v                                            apitype.Sent
		state                                        string
		created, expires, updated, delivered, readAt int64
	)
	if err := sc.Scan(&v.ID, &v.HubID, &v.To, &v.Host, &v.From, &v.Text, &created, &expires, &state, &updated,
		&delivered, &readAt, &v.Detail, &v.LocalUser); err != nil {
		return apitype.Sent{}, err
	}
	v.State = apitype.SentState(state)
	v.Created, v.Expires, v.Updated = fromNanos(created), fromNanos(expires), fromNanos(updated)
	v.Delivered, v.Read = fromNanos(delivered), fromNanos(readAt)
	return v, nil
}

// nanos stores a time as Unix nanoseconds, the zero time as 0.
func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}
