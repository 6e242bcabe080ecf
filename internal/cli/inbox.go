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

	"github.com/spf13/cobra"

	"github.com/netsend/messenger/internal/api"
	"github.com/netsend/messenger/internal/apitype"
	"github.com/netsend/messenger/internal/message"
	"github.com/netsend/messenger/internal/sink/popup"
)

func newInboxCmd(g *globalFlags) *cobra.Command {
	var asJSON, unread, quarantined bool
	var limit int
	cmd := &cobra.Command{
		Use:   "inbox",
		Short: "List received messages",
		Long: `List the messages the daemon has stored, oldest first. With --json, print every
message in full as one JSON object per line (id, from, to, text, time,
transport, source, state, rule for quarantined ones, alert with source,
severity, status, title and key for alerts, and hub_id and verified for
messages that came through the hub), for scripts. In the table an alert's
text starts with its mark: "!critical nut", or "resolved critical
alertmanager" once resolved; the sender of a message the hub proved
reads "bob (verified HOSTA)".`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), requestTimeout)
			defer cancel()
			var state message.State
			switch {
			case unread && quarantined:
				return &exitError{exitUsage, errors.New("--unread and --quarantined exclude each other")}
			case unread:
				state = message.StateUnread
			case quarantined:
				state = message.StateQuarantined
			}
			msgs, err := c.List(ctx, state, 0, limit)
			if err != nil {
				return daemonError(err, g.dataDirHint())
			}
			if asJSON {
				return writeJSONLines(cmd.OutOrStdout(), msgs)
			}
			return writeTable(cmd.OutOrStdout(), msgs)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "one JSON object per message per line, every field")
	cmd.Flags().BoolVar(&unread, "unread", false, "only unread messages")
	cmd.Flags().BoolVar(&quarantined, "quarantined", false, "the quarantine instead: messages the policy held back, with the rule")
	cmd.Flags().IntVar(&limit, "limit", 0, "at most this many messages (0 = all)")
	return cmd
}

func writeJSONLines(w io.Writer, msgs []message.Message) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, m := range msgs {
		if err := enc.Encode(m); err != nil {
			return err
		}
	}
	return nil
}

func writeTable(w io.Writer, msgs []message.Message) error {
	if len(msgs) == 0 {
		_, err := fmt.Fprintln(w, "No messages.")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tTIME\tFROM\tTO\tTEXT")
	for _, m := range msgs {
		state := string(m.State)
		if m.Rule != "" {
			state += " (" + m.Rule + ")"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", m.ID, state, m.Time.Local().Format("2006-01-02 15:04:05"),
			popup.OneLine(popup.Sender(m)), popup.OneLine(m.To), listedText(m))
	}
	return tw.Flush()
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

func newReadCmd(g *globalFlags) *cobra.Command {
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
			if err := g.call(cmd, func(ctx context.Context, c *api.Client) (err error) {
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

func newDeleteCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "delete ID...",
		Short: "Delete messages from the inbox",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ids := make([]int64, len(args))
			for i, a := range args {
				id, err := parseID(a)
				if err != nil {
					return err
				}
				ids[i] = id
			}
			return g.call(cmd, func(ctx context.Context, c *api.Client) error {
				for _, id := range ids {
					if err := c.Delete(ctx, id); err != nil {
						return plainError(err)
					}
					fmt.Fprintf(cmd.OutOrStdout(), "Message %d deleted.\n", id)
				}
				return nil
			})
		},
	}
}

func newStatusCmd(g *globalFlags) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show whether the daemon runs, its names and its listeners",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var s apitype.Status
			if err := g.call(cmd, func(ctx context.Context, c *api.Client) (err error) {
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
