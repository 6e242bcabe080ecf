package store

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations[i] takes the schema from version i to i+1; the version lives
// in PRAGMA user_version. Only ever append: a database in the field is at
// some version and replays the rest, so an entry, once released, is frozen.
var migrations = [][]string{
	// 1: the inbox.
	{
		// AUTOINCREMENT, not just INTEGER PRIMARY KEY, so that the id of a
		// deleted message is never handed out again: receipts, the web
		// inbox and "messenger read ID" name a message by id.
		//
		// received is Unix nanoseconds in UTC: it orders like time, round
		// trips a time.Time exactly, and needs no parsing.
		//
		// state and transport are checked in Go, not by CHECK constraints,
		// because SQLite cannot alter a constraint without rebuilding the
		// table and later versions add values to both.
		`CREATE TABLE messages (
			id        INTEGER PRIMARY KEY AUTOINCREMENT,
			sender    TEXT    NOT NULL,
			recipient TEXT    NOT NULL,
			text      TEXT    NOT NULL,
			received  INTEGER NOT NULL,
			transport TEXT    NOT NULL,
			source    TEXT    NOT NULL,
			state     TEXT    NOT NULL
		)`,
		// The inbox is listed by state in id order ("what is unread").
		`CREATE INDEX messages_state_id ON messages (state, id)`,
		// Retention and "since" queries go by time.
		`CREATE INDEX messages_received ON messages (received)`,
	},
	// 2: message aliases added at run time (messenger name add), which
	// must outlive a restart as net name /add did.
	{
		`CREATE TABLE aliases (
			name  TEXT    PRIMARY KEY,
			added INTEGER NOT NULL
		)`,
	},
	// 3: the policy rule that quarantined a message.
	{
		`ALTER TABLE messages ADD COLUMN rule TEXT NOT NULL DEFAULT ''`,
	},
	// 4: why the policy held a message back, as it was decided (a later
	// reload must not rewrite history), and the senders and networks
	// blocked or trusted at run time (messenger spam block/trust), which
	// must outlive a restart.
	{
		`ALTER TABLE messages ADD COLUMN explanation TEXT NOT NULL DEFAULT ''`,
		`CREATE TABLE policy_entries (
			list  TEXT    NOT NULL,
			value TEXT    NOT NULL,
			added INTEGER NOT NULL,
			PRIMARY KEY (list, value)
		)`,
	},
	// 5: administrative alerts: the tool that raised one, how bad, firing
	// or resolved, its one-line title and its de-duplication key. Empty
	// source means the message is no alert.
	{
		`ALTER TABLE messages ADD COLUMN alert_source TEXT NOT NULL DEFAULT ''`,
		`ALTER TABLE messages ADD COLUMN alert_severity TEXT NOT NULL DEFAULT ''`,
		`ALTER TABLE messages ADD COLUMN alert_status TEXT NOT NULL DEFAULT ''`,
		`ALTER TABLE messages ADD COLUMN alert_title TEXT NOT NULL DEFAULT ''`,
		`ALTER TABLE messages ADD COLUMN alert_key TEXT NOT NULL DEFAULT ''`,
	},
	// 6: the NATS hub. A message that came through the hub keeps the id
	// it was sent under, unique so that the hub redelivering it (after a
	// lost ack) stores nothing twice, and the sending host the hub's
	// permissions proved. Empty for every other transport, which the
	// partial index leaves out.
	//
	// sent is this host's side: every message it sent through the hub,
	// the queued ones being the outbox (published in id order), with the
	// receipts that came back. Times are Unix nanoseconds, 0 for none.
	{
		`ALTER TABLE messages ADD COLUMN hub_id TEXT NOT NULL DEFAULT ''`,
		`ALTER TABLE messages ADD COLUMN verified TEXT NOT NULL DEFAULT ''`,
		`CREATE UNIQUE INDEX messages_hub_id ON messages (hub_id) WHERE hub_id != ''`,
		`CREATE TABLE sent (
			id           INTEGER PRIMARY KEY AUTOINCREMENT,
			hub_id       TEXT    NOT NULL UNIQUE,
			recipient    TEXT    NOT NULL,
			host         TEXT    NOT NULL,
			sender       TEXT    NOT NULL,
			text         TEXT    NOT NULL,
			created      INTEGER NOT NULL,
			expires      INTEGER NOT NULL,
			state        TEXT    NOT NULL,
			updated      INTEGER NOT NULL,
			delivered_at INTEGER NOT NULL,
			read_at      INTEGER NOT NULL,
			detail       TEXT    NOT NULL
		)`,
		// The outbox is read by state in id order.
		`CREATE INDEX sent_state_id ON sent (state, id)`,
	},
	// 7: receipts this host owes the hosts that sent it messages through
	// the hub, kept until the hub takes them (it may be away when the
	// user reads). One row per message and state, as the hub keeps one
	// receipt per pair; paid in id order, the order they were owed.
	// recipient is the name the message was addressed to; at, Unix
	// nanoseconds, when it was read.
	{
		`CREATE TABLE receipts_owed (
			id        INTEGER PRIMARY KEY,
			hub_id    TEXT    NOT NULL,
			state     TEXT    NOT NULL,
			host      TEXT    NOT NULL,
			recipient TEXT    NOT NULL,
			at        INTEGER NOT NULL,
			UNIQUE (hub_id, state)
		)`,
	},
	// 8: who is asking. local_user is the local account that sent a
	// message through the daemon (empty for the network's messages); an
	// alias's owner is the account its messages belong to (empty: a host
	// name, as every alias was before). Messages are listed by recipient
	// for a caller who may read only some names.
	{
		`ALTER TABLE messages ADD COLUMN local_user TEXT NOT NULL DEFAULT ''`,
		`ALTER TABLE sent ADD COLUMN local_user TEXT NOT NULL DEFAULT ''`,
		`ALTER TABLE aliases ADD COLUMN owner TEXT NOT NULL DEFAULT ''`,
		`CREATE INDEX messages_recipient_id ON messages (recipient, id)`,
	},
	// 9: when a message was sent, as its sender's host says (the hub
	// envelope's time), for a message that waited in the hub while this
	// host was offline; 0 where unknown (every other path).
	{
		`ALTER TABLE messages ADD COLUMN sent_at INTEGER NOT NULL DEFAULT 0`,
	},
}

// schemaVersion is the version this build writes.
func schemaVersion() int { return len(migrations) }

// migrate brings the database to schemaVersion in one transaction, so a
// crash mid-migration leaves the old version intact, and returns the
// version it ended at.
func migrate(ctx context.Context, db *sql.DB) (int, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("beginning: %w", err)
	}
	defer tx.Rollback() // after Commit, a no-op

	var v int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return 0, fmt.Errorf("reading schema version: %w", err)
	}
	if v > schemaVersion() {
		return 0, fmt.Errorf("schema version %d is newer than this build's %d", v, schemaVersion())
	}
	if v == schemaVersion() {
		return v, nil
	}
	for i := v; i < schemaVersion(); i++ {
		for _, stmt := range migrations[i] {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return 0, fmt.Errorf("to version %d: %w", i+1, err)
			}
		}
	}
	// PRAGMA takes no parameters; the value is our own integer.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", schemaVersion())); err != nil {
		return 0, fmt.Errorf("setting schema version: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("committing: %w", err)
	}
	return schemaVersion(), nil
}
