package store

import (
	"context"
	"fmt"
	"time"

	"github.com/netsend/messenger/internal/names"
)

// AddAlias remembers a message alias added at run time; remembering one
// twice is no error.
func (s *Store) AddAlias(ctx context.Context, a names.Alias) error {
	if s.closed() {
		return ErrClosed
	}
	_, err := s.execWrite(ctx, `INSERT INTO aliases (name, added, owner) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET owner = excluded.owner`, a.Name, time.Now().UnixNano(), a.Owner)
	if err != nil {
		return fmt.Errorf("store: adding alias %q: %w", a.Name, err)
	}
	return nil
}

// DeleteAlias forgets an alias; ErrNotFound if it was not stored.
func (s *Store) DeleteAlias(ctx context.Context, name string) error {
	if s.closed() {
		return ErrClosed
	}
	res, err := s.execWrite(ctx, `DELETE FROM aliases WHERE name = ?`, name)
	if err != nil {
		return fmt.Errorf("store: deleting alias %q: %w", name, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return fmt.Errorf("store: deleting alias %q: %w", name, ErrNotFound)
	}
	return nil
}

// Aliases lists the stored aliases in the order they were added.
func (s *Store) Aliases(ctx context.Context) ([]names.Alias, error) {
	if s.closed() {
		return nil, ErrClosed
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT name, owner FROM aliases ORDER BY added, name`)
	if err != nil {
		return nil, fmt.Errorf("store: listing aliases: %w", err)
	}
	defer rows.Close()
	var out []names.Alias
	for rows.Next() {
		var a names.Alias
		if err := rows.Scan(&a.Name, &a.Owner); err != nil {
			return nil, fmt.Errorf("store: listing aliases: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}
