package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/netsend/messenger/internal/message"
)

const selectColumns = `SELECT id, sender, recipient, text, received, transport, source, state, rule, explanation,
	alert_source, alert_severity, alert_status, alert_title, alert_key, hub_id, verified, local_user, sent_at FROM messages`

// ListOptions select messages for List.
type ListOptions struct {
	State   message.State // "" lists the inbox: unread and read, not quarantined
	AfterID int64         // only ids greater than this: the cursor for paging
	Limit   int           // at most this many; 0 means no limit
	// To, when not nil, keeps only messages to these recipients (names
	// as stored); an empty, non-nil To selects nothing.
	To []string
	// BeforeID, when positive, keeps only ids less than it: the cursor
	// for paging back from the newest, which a long inbox shows first.
	BeforeID int64
	// Newest lists in descending id order, so that a page with a limit
	// is the newest messages rather than the oldest.
	Newest bool
	// Text, when not empty, keeps only messages whose text, sender,
	// recipient, or alert source or title contain it (ASCII letters in
	// any case, as SQLite's LIKE compares them); % and _ in it are
	// literal.
	Text string
	// Sender and Recipient, when not empty, keep only messages from or
	// to that name, compared without regard to ASCII case (names are
	// typed by people; NetBIOS names are upper case on the wire).
	Sender, Recipient string
	// Since, when not zero, keeps only messages received at or after it.
	Since time.Time
}

// Get returns the message with id, or an error wrapping ErrNotFound.
func (s *Store) Get(ctx context.Context, id int64) (message.Message, error) {
	if s.closed() {
		return message.Message{}, ErrClosed
	}
	m, err := scanMessage(s.rdb.QueryRowContext(ctx, selectColumns+` WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return message.Message{}, fmt.Errorf("store: message %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return message.Message{}, fmt.Errorf("store: getting message %d: %w", id, err)
	}
	return m, nil
}

// List returns the messages opt selects in ascending id order, or
// descending with opt.Newest.
func (s *Store) List(ctx context.Context, opt ListOptions) ([]message.Message, error) {
	if s.closed() {
		return nil, ErrClosed
	}
	if opt.Limit < 0 {
		return nil, fmt.Errorf("store: listing: %w: limit %d is negative", ErrInvalid, opt.Limit)
	}
	if opt.State != "" {
		if err := validState(opt.State); err != nil {
			return nil, fmt.Errorf("store: listing: %w", err)
		}
	}
	if opt.To != nil && len(opt.To) == 0 {
		return nil, nil
	}
	limit := sqlLimit(opt.Limit)
	// Two texts rather than "(? = '' OR state = ?)", which would keep
	// SQLite from using the (state, id) index.
	query, args := selectColumns+` WHERE state IN ('unread', 'read')`, []any{}
	if opt.State != "" {
		query, args = selectColumns+` WHERE state = ?`, append(args, string(opt.State))
	}
	if opt.To != nil {
		query += ` AND recipient IN (?` + strings.Repeat(`, ?`, len(opt.To)-1) + `)`
		for _, n := range opt.To {
			args = append(args, n)
		}
	}
	if opt.Text != "" {
		// Bound, and escaped, so that the searcher's % and _ match
		// themselves and nothing in it is SQL.
		pat := "%" + likeEscaper.Replace(opt.Text) + "%"
		query += ` AND (text LIKE ? ESCAPE '\' OR sender LIKE ? ESCAPE '\' OR recipient LIKE ? ESCAPE '\'` +
			` OR alert_source LIKE ? ESCAPE '\' OR alert_title LIKE ? ESCAPE '\')`
		args = append(args, pat, pat, pat, pat, pat)
	}
	if opt.Sender != "" {
		query, args = query+` AND sender = ? COLLATE NOCASE`, append(args, opt.Sender)
	}
	if opt.Recipient != "" {
		query, args = query+` AND recipient = ? COLLATE NOCASE`, append(args, opt.Recipient)
	}
	if !opt.Since.IsZero() {
		query, args = query+` AND received >= ?`, append(args, opt.Since.UnixNano())
	}
	query, args = query+` AND id > ?`, append(args, opt.AfterID)
	if opt.BeforeID > 0 {
		query, args = query+` AND id < ?`, append(args, opt.BeforeID)
	}
	order := ` ORDER BY id LIMIT ?`
	if opt.Newest {
		order = ` ORDER BY id DESC LIMIT ?`
	}
	rows, err := s.rdb.QueryContext(ctx, query+order, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("store: listing: %w", err)
	}
	defer rows.Close()
	var out []message.Message
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, fmt.Errorf("store: listing: %w", err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: listing: %w", err)
	}
	return out, nil
}

// likeEscaper escapes LIKE's wildcards and its escape character.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// Recipients returns every recipient name messages are stored under, so
// that a caller who may read only some names can be given those.
func (s *Store) Recipients(ctx context.Context) ([]string, error) {
	if s.closed() {
		return nil, ErrClosed
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT DISTINCT recipient FROM messages`)
	if err != nil {
		return nil, fmt.Errorf("store: listing recipients: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, fmt.Errorf("store: listing recipients: %w", err)
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// Count returns how many messages are stored.
func (s *Store) Count(ctx context.Context) (int64, error) {
	if s.closed() {
		return 0, ErrClosed
	}
	var n int64
	if err := s.rdb.QueryRowContext(ctx, `SELECT count(*) FROM messages`).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: counting: %w", err)
	}
	return n, nil
}

// SetState marks message id read or unread. It returns an error wrapping
// ErrNotFound if there is no such message.
func (s *Store) SetState(ctx context.Context, id int64, st message.State) error {
	if err := validState(st); err != nil {
		return fmt.Errorf("store: setting state of message %d: %w", id, err)
	}
	return s.changeOne(ctx, id, "setting state of", `UPDATE messages SET state = ? WHERE id = ?`, string(st), id)
}

// Release delivers a quarantined message: it becomes unread, as if the
// policy had let it through. It returns an error wrapping ErrNotFound if
// there is no quarantined message id.
func (s *Store) Release(ctx context.Context, id int64) (message.Message, error) {
	if err := s.changeOne(ctx, id, "releasing", `UPDATE messages SET state = 'unread' WHERE id = ? AND state = 'quarantined'`, id); err != nil {
		return message.Message{}, err
	}
	return s.Get(ctx, id)
}

// CountState returns how many messages are in state st.
func (s *Store) CountState(ctx context.Context, st message.State) (int64, error) {
	if s.closed() {
		return 0, ErrClosed
	}
	var n int64
	if err := s.rdb.QueryRowContext(ctx, `SELECT count(*) FROM messages WHERE state = ?`, string(st)).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: counting %s: %w", st, err)
	}
	return n, nil
}

// Delete removes message id for good; its id is not reused. It returns an
// error wrapping ErrNotFound if there is no such message.
func (s *Store) Delete(ctx context.Context, id int64) error {
	return s.changeOne(ctx, id, "deleting", `DELETE FROM messages WHERE id = ?`, id)
}

// changeOne runs a write that must touch exactly the row id. It waits its
// turn on the single write connection between the writer's batches; these
// are user actions, rare next to Adds, and need no batching of their own.
func (s *Store) changeOne(ctx context.Context, id int64, op, query string, args ...any) error {
	if s.closed() {
		return ErrClosed
	}
	res, err := s.execWrite(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("store: %s message %d: %w", op, id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("store: %s message %d: %w", op, id, err)
	}
	if n == 0 {
		return fmt.Errorf("store: %s message %d: %w", op, id, ErrNotFound)
	}
	return nil
}

// scanner is what *sql.Row and *sql.Rows have in common.
type scanner interface {
	Scan(dest ...any) error
}

func scanMessage(sc scanner) (message.Message, error) {
	var (
		m         message.Message
		received  int64
		transport string
		state     string
		a         message.Alert
		severity  string
		status    string
		sent      int64
	)
	if err := sc.Scan(&m.ID, &m.From, &m.To, &m.Text, &received, &transport, &m.Source, &state, &m.Rule, &m.Explanation,
		&a.Source, &severity, &status, &a.Title, &a.Key, &m.HubID, &m.Verified, &m.LocalUser, &sent); err != nil {
		return message.Message{}, err
	}
	// Every alert has a source (ValidateAlert insists), so an empty one
	// is a plain message, including every row from before version 5.
	if a.Source != "" {
		a.Severity, a.Status = message.Severity(severity), message.AlertStatus(status)
		m.Alert = &a
	}
	m.Time = time.Unix(0, received).UTC()
	if sent != 0 {
		t := time.Unix(0, sent).UTC()
		m.SentAt = &t
	}
	m.Transport = message.Transport(transport)
	m.State = message.State(state)
	return m, nil
}

// sqlLimit turns a limit of 0, which callers mean as none, into SQLite's
// "no limit".
func sqlLimit(limit int) int64 {
	if limit == 0 {
		return -1
	}
	return int64(limit)
}

// LastID returns the highest message id stored, 0 when there is none: where
// a follower that wants only what comes next starts.
func (s *Store) LastID(ctx context.Context) (int64, error) {
	if s.closed() {
		return 0, ErrClosed
	}
	var id int64
	if err := s.rdb.QueryRowContext(ctx, `SELECT coalesce(max(id), 0) FROM messages`).Scan(&id); err != nil {
		return 0, fmt.Errorf("store: last id: %w", err)
	}
	return id, nil
}
