package store

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// Retention prunes old READ messages: unread and quarantined ones are
// never pruned (nobody has seen them yet, or an admin must decide).
type Retention struct {
	// Keep deletes read messages received longer ago than this; 0 keeps
	// them.
	Keep time.Duration
	// MaxMessages deletes the oldest read messages while the inbox
	// (unread and read) holds more than this; 0 means no cap.
	MaxMessages int
}

// PruneEvery is how often the store applies its Retention: often enough
// that an inbox never runs far past its cap, rarely enough to cost
// nothing.
const PruneEvery = time.Hour

// Prune applies r now and returns how many messages it deleted.
func (s *Store) Prune(ctx context.Context, r Retention, now time.Time) (int64, error) {
	if s.closed() {
		return 0, ErrClosed
	}
	var n int64
	if r.Keep > 0 {
		res, err := s.execWrite(ctx, `DELETE FROM messages WHERE state = 'read' AND received < ?`, now.Add(-r.Keep).UnixNano())
		if err != nil {
			return n, fmt.Errorf("store: pruning read messages older than %s: %w", r.Keep, err)
		}
		k, _ := res.RowsAffected()
		n += k
	}
	if r.MaxMessages > 0 {
		// The oldest read ones go first (ids ascend with arrival), by the
		// (state, id) index.
		res, err := s.execWrite(ctx, `DELETE FROM messages WHERE id IN (SELECT id FROM messages WHERE state = 'read' ORDER BY id
			LIMIT max(0, (SELECT count(*) FROM messages WHERE state IN ('unread', 'read')) - ?))`, r.MaxMessages)
		if err != nil {
			return n, fmt.Errorf("store: pruning read messages beyond %d: %w", r.MaxMessages, err)
		}
		k, _ := res.RowsAffected()
		n += k
	}
	return n, nil
}

// RunRetention applies r at once and then every PruneEvery until ctx
// ends or the store closes; a failure is logged and tried again later.
func (s *Store) RunRetention(ctx context.Context, r Retention) {
	if r.Keep <= 0 && r.MaxMessages <= 0 {
		return
	}
	t := time.NewTicker(PruneEvery)
	defer t.Stop()
	for {
		n, err := s.Prune(ctx, r, time.Now())
		switch {
		case err != nil && !s.closed():
			s.log.Warn("pruning old read messages", slog.Any("err", err))
		case n > 0:
			s.log.Info("pruned old read messages", slog.Int64("deleted", n), slog.Duration("keep", r.Keep), slog.Int("max_messages", r.MaxMessages))
		}
		select {
		case <-ctx.Done():
			return
		case <-s.quit:
			return
		case <-t.C:
		}
	}
}
