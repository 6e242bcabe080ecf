package store

import (
	"context"
	"fmt"
	"time"
)

// Policy lists that operators extend at run time.
const (
	ListTrust = "trust"
	ListBlock = "block"
)

// PolicyEntry is a sender or network added to a list at run time.
type PolicyEntry struct {
	List  string
	Value string
	Added time.Time
}

// AddPolicyEntry remembers value in list; remembering it twice is no
// error.
func (s *Store) AddPolicyEntry(ctx context.Context, list, value string) error {
	if s.closed() {
		return ErrClosed
	}
	if list != ListTrust && list != ListBlock {
		return fmt.Errorf("store: policy list %q: %w", list, ErrInvalid)
	}
	_, err := s.execWrite(ctx, `INSERT OR IGNORE INTO policy_entries (list, value, added) VALUES (?, ?, ?)`,
		list, value, time.Now().UnixNano())
	if err != nil {
		return fmt.Errorf("store: adding %q to %s: %w", value, list, err)
	}
	return nil
}

// DeletePolicyEntry forgets value in list; ErrNotFound if it was not there.
func (s *Store) DeletePolicyEntry(ctx context.Context, list, value string) error {
	if s.closed() {
		return ErrClosed
	}
	res, err := s.execWrite(ctx, `DELETE FROM policy_entries WHERE list = ? AND value = ?`, list, value)
	if err != nil {
		return fmt.Errorf("store: deleting %q from %s: %w", value, list, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return fmt.Errorf("store: deleting %q from %s: %w", value, list, ErrNotFound)
	}
	return nil
}

// PolicyEntries lists what was added at run time, oldest first.
func (s *Store) PolicyEntries(ctx context.Context) ([]PolicyEntry, error) {
	if s.closed() {
		return nil, ErrClosed
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT list, value, added FROM policy_entries ORDER BY added, list, value`)
	if err != nil {
		return nil, fmt.Errorf("store: listing policy entries: %w", err)
	}
	defer rows.Close()
	var out []PolicyEntry
	for rows.Next() {
		var e PolicyEntry
		var added int64
		if err := rows.Scan(&e.List, &e.Value, &added); err != nil {
			return nil, fmt.Errorf("store: listing policy entries: %w", err)
		}
		e.Added = time.Unix(0, added).UTC()
		out = append(out, e)
	}
	return out, rows.Err()
}
