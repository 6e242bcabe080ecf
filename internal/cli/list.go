package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/netsend/messenger/internal/api"
	"github.com/netsend/messenger/internal/cli/cmdutil"
	"github.com/netsend/messenger/internal/config"
	"github.com/netsend/messenger/internal/message"
)

// listFlags are the selection every message list (inbox, spam list)
// takes; the daemon filters, and the CLI pages through its answers.
type listFlags struct {
	asJSON bool
	limit  int
	after  int64
	grep   string
	from   string
	to     string
	since  string
}

func (f *listFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.BoolVar(&f.asJSON, "json", false, "one JSON object per message per line, every field")
	fl.IntVar(&f.limit, "limit", 0, "only the newest this many messages, still listed oldest first (0 = all)")
	fl.Int64Var(&f.after, "after", 0, "only messages with an id above this (paging on from the last id seen)")
	fl.StringVar(&f.grep, "grep", "", "only messages whose text, sender, recipient or alert contain TEXT (any case)")
	fl.StringVar(&f.from, "from", "", "only messages from this sender (any case)")
	fl.StringVar(&f.to, "to", "", "only messages to this name (any case)")
	fl.StringVar(&f.since, "since", "", "only messages received since DURATION ago (90m, 36h, 7d) or TIME (2006-01-02, \"2006-01-02 15:04\", RFC 3339)")
}

// query is the daemon's selection for these flags.
func (f *listFlags) query(state message.State, now time.Time) (api.ListQuery, error) {
	if f.limit < 0 {
		return api.ListQuery{}, cmdutil.Exit(cmdutil.ExitUsage, fmt.Errorf("--limit %d: give a positive number, or 0 for all", f.limit))
	}
	q := api.ListQuery{State: state, After: f.after, Text: f.grep, From: f.from, To: f.to}
	if f.since != "" {
		t, err := parseSince(f.since, now)
		if err != nil {
			return q, cmdutil.Exit(cmdutil.ExitUsage, err)
		}
		q.Since = t
	}
	return q, nil
}

// parseSince reads --since: a duration back from now (with d for days
// and w for weeks, which time.ParseDuration lacks) or a local time.
func parseSince(s string, now time.Time) (time.Time, error) {
	if d, err := config.ParseAge(s); err == nil {
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("--since %q is neither a duration (90m, 36h, 7d, 2w) nor a time (2006-01-02, \"2006-01-02 15:04\", RFC 3339)", s)
}

// listWriter prints messages as they come: JSON lines, or a table
// flushed every page so that its memory stays bounded (columns line up
// within a page of api.MaxPage rows).
type listWriter struct {
	w      io.Writer
	asJSON bool
	enc    *json.Encoder
	tw     *tabwriter.Writer
	rows   int
	n      int // messages written
	table  func(tw io.Writer, m message.Message)
	header string
}

func newListWriter(w io.Writer, asJSON bool, header string, row func(io.Writer, message.Message)) *listWriter {
	lw := &listWriter{w: w, asJSON: asJSON, header: header, table: row}
	if asJSON {
		lw.enc = json.NewEncoder(w)
		lw.enc.SetEscapeHTML(false)
	}
	return lw
}

func (lw *listWriter) write(m message.Message) error {
	lw.n++
	if lw.asJSON {
		return lw.enc.Encode(m)
	}
	if lw.tw == nil {
		lw.tw = tabwriter.NewWriter(lw.w, 0, 8, 2, ' ', 0)
		if lw.n == 1 {
			fmt.Fprintln(lw.tw, lw.header)
		}
	}
	lw.table(lw.tw, m)
	if lw.rows++; lw.rows >= api.MaxPage {
		return lw.flush()
	}
	return nil
}

func (lw *listWriter) flush() error {
	if lw.tw == nil {
		return nil
	}
	err := lw.tw.Flush()
	lw.tw, lw.rows = nil, 0
	return err
}

// listMessages prints what q selects, oldest first; with limit, only the
// newest limit of them. It returns the highest id printed (0: none).
func listMessages(ctx context.Context, c *api.Client, q api.ListQuery, limit int, lw *listWriter, each func(message.Message) error) (int64, error) {
	if limit > 0 {
		start, err := c.NewestStart(ctx, q, limit)
		if err != nil {
			return 0, err
		}
		q.After = max(q.After, start)
	}
	q.Limit = limit
	var last int64
	err := c.ListEach(ctx, q, func(m message.Message) error {
		last = m.ID
		if err := lw.write(m); err != nil {
			return err
		}
		if each != nil {
			return each(m)
		}
		return nil
	})
	if ferr := lw.flush(); err == nil {
		err = ferr
	}
	return last, err
}

// errUsage is a usage error with cmdutil.ExitUsage.
func errUsage(format string, a ...any) error {
	return cmdutil.Exit(cmdutil.ExitUsage, fmt.Errorf(format, a...))
}
