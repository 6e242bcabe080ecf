package store

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
)

// The WAL is checkpointed into the database by a goroutine of the store
// on a connection of its own, not inside the commit that crossed
// SQLite's wal_autocheckpoint mark: that commit's caller waited for a
// whole checkpoint (every page copied and the database synced, 4–13 ms
// once every ~200 one-message commits). docs/performance.md has the
// figures.
//
// A checkpoint runs after checkpointCommits commits or checkpointRows
// rows, whichever comes first (a one-message commit writes about five
// pages, so at one client that is about walCheckpointPages pages), and
// lets commits go on beside it (PASSIVE). SQLite writes the WAL again
// from its start only if a write transaction begins with every frame
// checkpointed, which the commits made during a PASSIVE checkpoint
// prevent; so the checkpointer then takes the write token for one more
// checkpoint of only what those commits added (a few pages and the
// database's sync). The WAL thus keeps its size and is overwritten in
// place.
const (
	checkpointCommits = 192
	checkpointRows    = 1000
)

// checkpointer is the store's checkpointing goroutine's state.
type checkpointer struct {
	db   *sql.DB       // one connection of its own
	kick chan struct{} // capacity 1: a checkpoint is due
	done chan struct{} // closed when the goroutine has returned

	// Commits and rows since a checkpoint was last due. Only the token
	// holder touches them.
	commits, rows int
}

func newCheckpointer(db *sql.DB) *checkpointer {
	return &checkpointer{db: db, kick: make(chan struct{}, 1), done: make(chan struct{})}
}

// noteCommit counts a commit of rows rows and wakes the checkpointer
// when a checkpoint is due. It never waits for the checkpoint. The
// caller holds the token.
func (c *checkpointer) noteCommit(rows int) {
	c.commits++
	c.rows += rows
	if c.commits < checkpointCommits && c.rows < checkpointRows {
		return
	}
	c.commits, c.rows = 0, 0
	select {
	case c.kick <- struct{}{}:
	default: // one is already due
	}
}

// checkpointLoop checkpoints whenever noteCommit says so, until quit.
func (s *Store) checkpointLoop() {
	c := s.ckpt
	defer close(c.done)
	for {
		select {
		case <-s.quit:
			return
		case <-c.kick:
		}
		if err := c.checkpoint(); err != nil {
			s.log.Warn("store: WAL checkpoint failed", slog.Any("error", err))
			continue
		}
		// Commits went on while it ran, and what they added is not in
		// the database yet: copy that with the commits held back, so
		// that the next commit writes the WAL from its start.
		select {
		case <-s.token:
		case <-s.quit:
			return
		}
		err := c.checkpoint()
		s.token <- struct{}{}
		if err != nil {
			s.log.Warn("store: WAL checkpoint failed", slog.Any("error", err))
		}
	}
}

// checkpoint runs one PASSIVE checkpoint.
func (c *checkpointer) checkpoint() error {
	if _, err := c.db.ExecContext(context.Background(), "PRAGMA wal_checkpoint(PASSIVE)"); err != nil {
		return fmt.Errorf("store: checkpointing the WAL: %w", err)
	}
	return nil
}
