package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/netsend/messenger/internal/api"
	"github.com/netsend/messenger/internal/apitype"
	"github.com/netsend/messenger/internal/cli/cmdutil"
	"github.com/netsend/messenger/internal/message"
	"github.com/netsend/messenger/internal/sink/popup"
)

func newInboxCmd(g *cmdutil.Globals) *cobra.Command {
	var lf listFlags
	var unread, quarantined, follow, markRead, all bool
	cmd := &cobra.Command{
		Use:   "inbox",
		Short: "List received messages",
		Long: `List the messages the daemon has stored, oldest first. With --json, print every
message in full as one JSON object per line (id, from, to, text, time,
sent_at for hub messages, transport, source, state, rule for quarantined
ones, alert with source, severity, status, title and key for alerts, and
hub_id and verified for messages that came through the hub), for scripts.
In the table an alert's text starts with its mark: "!critical nut", or
"resolved critical alertmanager" once resolved; the sender of a message
the hub proved reads "bob (verified HOSTA)".

The daemon filters (--grep, --from, --to, --since, --unread) and answers a
page at a time, which the CLI prints as it comes: an inbox of any size
lists in constant memory. --limit N is the newest N, still oldest first.

--follow keeps printing each new message as it arrives, like tail -f.
--mark-read marks read what was listed (saying how many on standard
error); --mark-read --all marks every unread message read at once and
lists nothing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var state message.State
			switch {
			case unread && quarantined:
				return errUsage("--unread and --quarantined exclude each other")
			case all && !markRead:
				return errUsage("--all goes with --mark-read: mark every unread message read")
			case all && follow:
				return errUsage("--mark-read --all lists nothing to follow")
			case unread:
				state = message.StateUnread
			case quarantined:
				state = message.StateQuarantined
			}
			q, err := lf.query(state, time.Now())
			if err != nil {
				return err
			}
			c, err := g.Client()
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if all {
				return cmdutil.DaemonError(markAllRead(cmd.Context(), c, w), g.DataDirHint())
			}
			return cmdutil.DaemonError(runInbox(cmd, c, q, &lf, follow, markRead), g.DataDirHint())
		},
	}
	lf.add(cmd)
	cmd.Flags().BoolVar(&unread, "unread", false, "only unread messages")
	cmd.Flags().BoolVar(&quarantined, "quarantined", false, "the quarantine instead: messages the policy held back, with the rule")
	cmd.Flags().BoolVar(&follow, "follow", false, "after the list, print each new message as it arrives until interrupted")
	cmd.Flags().BoolVar(&markRead, "mark-read", false, "mark the listed messages read")
	cmd.Flags().BoolVar(&all, "all", false, "with --mark-read: mark every unread message read, listing nothing")
	return cmd
}

// markAllRead marks every unread message the caller may read as read.
func markAllRead(ctx context.Context, c *api.Client, w io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, cmdutil.RequestTimeout)
	defer cancel()
	ids, err := c.ReadAll(ctx)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s marked read.\n", plural(len(ids), "message"))
	return err
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// runInbox lists, then with follow prints what arrives; the listing is
// bounded by cmdutil.RequestTimeout per page, not as a whole, so that any inbox
// size finishes.
func runInbox(cmd *cobra.Command, c *api.Client, q api.ListQuery, lf *listFlags, follow, markRead bool) error {
	ctx := cmd.Context()
	w := cmd.OutOrStdout()
	lw := newListWriter(w, lf.asJSON, inboxHeader, writeRow)
	marked := 0
	var each func(message.Message) error
	if markRead {
		each = func(m message.Message) error {
			if m.State != message.StateUnread {
				return nil
			}
			pctx, cancel := context.WithTimeout(ctx, cmdutil.RequestTimeout)
			defer cancel()
			if _, err := c.MarkRead(pctx, m.ID); err != nil && !errors.Is(err, api.ErrNotFound) {
				return err
			}
			marked++
			return nil
		}
	}
	// Where following starts: the newest message now, so that the stream
	// neither repeats the list nor replays a whole inbox that the filters
	// left out.
	var top int64
	if follow {
		pctx, cancel := context.WithTimeout(ctx, cmdutil.RequestTimeout)
		page, err := c.ListPage(pctx, api.ListQuery{State: q.State, Newest: true, Limit: 1})
		cancel()
		if err != nil {
			return err
		}
		if len(page) > 0 {
			top = page[0].ID
		}
	}
	last, err := listMessages(ctx, c, q, lf.limit, lw, each)
	if err != nil {
		return err
	}
	if markRead {
		fmt.Fprintf(cmd.ErrOrStderr(), "%s marked read.\n", plural(marked, "message"))
	}
	if !follow {
		if lw.n == 0 && !lf.asJSON {
			_, err := fmt.Fprintln(w, "No messages.")
			return err
		}
		return nil
	}
	return followInbox(ctx, c, q, max(top, last), lw, each)
}

// followInbox prints each new message the filters of q select, from the
// event stream (which replays from the store what came after from).
func followInbox(ctx context.Context, c *api.Client, q api.ListQuery, from int64, lw *listWriter, each func(message.Message) error) error {
	match := func(m *message.Message) bool {
		switch {
		case m == nil, m.ID <= from:
			return false
		case q.State != "" && m.State != q.State,
			q.State == "" && m.State == message.StateQuarantined:
			return false
		case q.From != "" && !strings.EqualFold(m.From, q.From),
			q.To != "" && !strings.EqualFold(m.To, q.To),
			!q.Since.IsZero() && m.Time.Before(q.Since):
			return false
		case q.Text != "":
			t := strings.ToLower(q.Text)
			hay := []string{m.Text, m.From, m.To}
			if m.Alert != nil {
				hay = append(hay, m.Alert.Source, m.Alert.Title)
			}
			for _, h := range hay {
				if strings.Contains(strings.ToLower(h), t) {
					return true
				}
			}
			return false
		}
		return true
	}
	return c.Events(ctx, from, nil, func(e api.Event) error {
		if e.Kind != api.EventMessage || !match(e.Message) {
			return nil
		}
		if err := lw.write(*e.Message); err != nil {
			return err
		}
		// A line at a time: whoever follows wants it now.
		if err := lw.flush(); err != nil {
			return err
		}
		if each != nil {
			return each(*e.Message)
		}
		return nil
	})
}

// writeJSONLines prints items as JSON Lines, one object a line, with <, >
// and & left as they are so that texts read as they were sent.
func writeJSONLines[T any](w io.Writer, items []T) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, item := range items {
		if err := enc.Encode(item); err != nil {
			return err
		}
	}
	return nil
}

// writeTable prints msgs as the inbox's table.
func writeTable(w io.Writer, msgs []message.Message) error {
	lw := newListWriter(w, false, inboxHeader, writeRow)
	for _, m := range msgs {
		if err := lw.write(m); err != nil {
			return err
		}
	}
	return lw.flush()
}

const inboxHeader = "ID\tSTATE\tTIME\tFROM\tTO\tTEXT"

func writeRow(tw io.Writer, m message.Message) {
	state := string(m.State)
	if m.Rule != "" {
		state += " (" + m.Rule + ")"
	}
	fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", m.ID, state, m.Time.Local().Format("2006-01-02 15:04:05"),
		popup.OneLine(popup.Sender(m)), popup.OneLine(m.To), listedText(m))
}

// listedText is the TEXT column: the summary of the text, and for an
// alert its mark first ("!critical nut", "resolved warning alertmanager")
// and its title, which says more than the text's first line.
func listedText(m message.Message) string {
	a := m.Alert
	if a == nil {
		return summary(m.Text, 50)
	}
	mark := "!" + string(a.Severity)
	if a.Status == message.AlertResolved {
		mark = "resolved " + string(a.Severity)
	}
	mark = popup.OneLine(mark + " " + a.Source)
	text := m.Text
	if a.Title != "" {
		text = popup.OneLine(a.Title) + ": " + text
	}
	return mark + "  " + summary(text, 50)
}

// summary is the first line of text, cut to n characters and then made
// printable on one line (a tab would break the table's columns; cutting
// first never halves an escape).
func summary(text string, n int) string {
	line, rest, _ := strings.Cut(strings.TrimRight(text, "\n"), "\n")
	more := rest != ""
	r := []rune(line)
	if len(r) > n {
		return popup.OneLine(string(r[:n-1])) + "…"
	}
	if more {
		return popup.OneLine(line) + " …"
	}
	return popup.OneLine(line)
}

func parseID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("%q is not a message id (a positive number, as \"messenger inbox\" shows)", s)
	}
	return id, nil
}

// parseIDs reads the message ids of a verb that takes several, all
// before any is acted on.
func parseIDs(args []string) ([]int64, error) {
	ids := make([]int64, len(args))
	for i, a := range args {
		id, err := parseID(a)
		if err != nil {
			return nil, err
		}
		ids[i] = id
	}
	return ids, nil
}

func newReadCmd(g *cmdutil.Globals) *cobra.Command {
	var asJSON, keepUnread bool
	cmd := &cobra.Command{
		Use:   "read ID",
		Short: "Show one message as the pop-up showed it, and mark it read",
		Long: `Show one message as the pop-up showed it: the header line, a blank line, the
text. An alert's header names its source, severity and status ("Alert from
nut (critical) to ALICE on ..."), and its title comes before the text; a
message through the hub names the host the hub verified ("Message from bob
(verified HOSTA) to ALICE on ..."). The message is marked read unless
--keep-unread.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseID(args[0])
			if err != nil {
				return err
			}
			var m message.Message
			if err := g.Call(cmd, func(ctx context.Context, c *api.Client) (err error) {
				if keepUnread {
					m, err = c.Get(ctx, id)
				} else {
					m, err = c.MarkRead(ctx, id)
				}
				return err
			}); err != nil {
				return err
			}
			if asJSON {
				return writeJSONLines(cmd.OutOrStdout(), []message.Message{m})
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), popup.Block(m))
			return err
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the message as one JSON object")
	cmd.Flags().BoolVar(&keepUnread, "keep-unread", false, "do not mark the message read")
	return cmd
}

func newDeleteCmd(g *cmdutil.Globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "delete ID...",
		Short: "Delete messages from the inbox",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ids, err := parseIDs(args)
			if err != nil {
				return err
			}
			return g.Call(cmd, func(ctx context.Context, c *api.Client) error {
				for _, id := range ids {
					if err := c.Delete(ctx, id); err != nil {
						return plainError(err)
					}
					if asJSON {
						if err := writeJSON(cmd.OutOrStdout(), map[string]any{"id": id, "deleted": true}); err != nil {
							return err
						}
						continue
					}
					fmt.Fprintf(cmd.OutOrStdout(), "Message %d deleted.\n", id)
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, `print {"id", "deleted": true} per message, one JSON object per line`)
	return cmd
}

func newStatusCmd(g *cmdutil.Globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show whether the daemon runs, its names and its listeners",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var s apitype.Status
			if err := g.Call(cmd, func(ctx context.Context, c *api.Client) (err error) {
				s, err = c.Status(ctx)
				return err
			}); err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if asJSON {
				return json.NewEncoder(w).Encode(s)
			}
			fmt.Fprintf(w, "messenger %s running, pid %d\n\nNames:\n", s.Version, s.PID)
			tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
			for _, n := range s.Names {
				fmt.Fprintf(tw, "  %s\t<%s>\t%s\n", n.Name, n.Suffix, n.Source)
			}
			tw.Flush()
			fmt.Fprintln(w, "\nListeners:")
			for _, l := range s.Listeners {
				fmt.Fprintf(tw, "  %s\t%s\t%s\n", l.Transport, l.Network, l.Addr)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the status as JSON")
	return cmd
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintln(cmd.OutOrStdout(), "messenger", daemonVersion())
		},
	}
}
