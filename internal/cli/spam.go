package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/netsend/messenger/internal/api"
	"github.com/netsend/messenger/internal/cli/cmdutil"
	"github.com/netsend/messenger/internal/message"
	"github.com/netsend/messenger/internal/sink/popup"
)

func newSpamCmd(g *cmdutil.Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "spam",
		Short: "The quarantine and the spam defence: list, explain, release, block, trust",
		Long: `Messages the policy held back wait in the quarantine, each with the rule
that fired and what it matched. List them, see why one was held, deliver it
anyway, or block or trust a sender or a network from now on (kept across
restarts), list those lists ("spam entries") and undo an entry ("spam
unblock", "spam untrust"). "spam reload" puts the configuration file's
[policy] in force, as SIGHUP does.`,
	}
	cmd.AddCommand(newSpamListCmd(g), newSpamExplainCmd(g), newSpamReleaseCmd(g),
		newSpamEntryCmd(g, "block", "Drop every message from a sender or network from now on"),
		newSpamEntryCmd(g, "trust", "Always deliver messages from a sender or network from now on"),
		newSpamEntriesCmd(g),
		newSpamRemoveCmd(g, "unblock", "block", "Take a sender or network off the block list (one added with \"spam block\")"),
		newSpamRemoveCmd(g, "untrust", "trust", "Take a sender or network off the trust list (one added with \"spam trust\")"),
		newSpamReloadCmd(g))
	return cmd
}

func newSpamListCmd(g *cmdutil.Globals) *cobra.Command {
	var lf listFlags
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the quarantine, oldest first",
		Long: `List the messages the policy held back, oldest first, with the rule that
fired. With --json, one JSON object per line: id, from, to, text, time,
transport, source, state, rule and explanation. --limit N lists the newest
N; --grep, --from, --to and --since filter as in "messenger inbox".`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q, err := lf.query(message.StateQuarantined, time.Now())
			if err != nil {
				return err
			}
			c, err := g.Client()
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			lw := newListWriter(w, lf.asJSON, "ID\tRULE\tTIME\tTRANSPORT\tSOURCE\tFROM\tTO\tTEXT", writeSpamRow)
			if _, err := listMessages(cmd.Context(), c, q, lf.limit, lw, nil); err != nil {
				return cmdutil.DaemonError(err, g.DataDirHint())
			}
			if lw.n == 0 && !lf.asJSON {
				_, err = fmt.Fprintln(w, "The quarantine is empty.")
			}
			return err
		},
	}
	lf.add(cmd)
	return cmd
}

func writeSpamRow(tw io.Writer, m message.Message) {
	fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.ID, m.Rule, m.Time.Local().Format("2006-01-02 15:04:05"),
		m.Transport, popup.OneLine(m.Source), popup.OneLine(m.From), popup.OneLine(m.To), summary(m.Text, 40))
}

func newSpamExplainCmd(g *cmdutil.Globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "explain ID",
		Short: "Say which rule held a message back, and which of its values matched",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseID(args[0])
			if err != nil {
				return err
			}
			return g.Call(cmd, func(ctx context.Context, c *api.Client) error {
				m, err := c.Explain(ctx, id)
				if err != nil {
					return err
				}
				w := cmd.OutOrStdout()
				if asJSON {
					return json.NewEncoder(w).Encode(m)
				}
				fmt.Fprintf(w, "%s\n", popup.OneLine(m.Header()))
				fmt.Fprintf(w, "transport %s, source %s, now %s\n", m.Transport, popup.OneLine(m.Source), m.State)
				fmt.Fprintf(w, "rule:    %s\n", m.Rule)
				if m.Explanation != "" {
					fmt.Fprintf(w, "why:     %s\n", popup.Printable(m.Explanation))
				}
				_, err = fmt.Fprintf(w, "\n%s\n", popup.Printable(m.Text))
				return err
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the message, rule and explanation as one JSON object")
	return cmd
}

func newSpamReleaseCmd(g *cmdutil.Globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "release ID...",
		Short: "Deliver quarantined messages now, as if the policy had let them through",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ids, err := parseIDs(args)
			if err != nil {
				return err
			}
			return g.Call(cmd, func(ctx context.Context, c *api.Client) error {
				for _, id := range ids {
					m, err := c.Release(ctx, id)
					if err != nil {
						return plainError(err)
					}
					if asJSON {
						if err := writeJSON(cmd.OutOrStdout(), m); err != nil {
							return err
						}
						continue
					}
					fmt.Fprintf(cmd.OutOrStdout(), "Message %d released: delivered to %s.\n", m.ID, popup.OneLine(m.To))
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print each released message as one JSON object per line")
	return cmd
}

func newSpamEntryCmd(g *cmdutil.Globals, list, short string) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   list + " SENDER|CIDR",
		Short: short,
		Long: short + `. A CIDR (192.0.2.0/24), an address or "local" names a network;
anything else a sender, compared without regard to case. Applied at once
and kept across restarts; refused if it contradicts the configuration
(trusting what is blocked, or the other way round).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.Call(cmd, func(ctx context.Context, c *api.Client) error {
				e, err := c.AddPolicyEntry(ctx, list, args[0])
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSON(cmd.OutOrStdout(), e)
				}
				_, err = fmt.Fprintf(cmd.OutOrStdout(), "%s: %s\n", e.List, e.Value)
				return err
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, `print {"list", "value"} as one JSON object`)
	return cmd
}

// writeJSON prints v as one JSON object on one line: every single answer
// of every verb's --json.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

func newSpamEntriesCmd(g *cmdutil.Globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "entries",
		Short: "List the block and trust lists: the configuration file's and those added at run time",
		Long: `List every blocked and trusted sender or network. ORIGIN "config" entries
come from the configuration file's [policy] (trust, block_senders) and are
changed only there, then "messenger spam reload"; "runtime" entries were
added with "spam block" or "spam trust" and are undone with "spam unblock"
or "spam untrust". With --json, one JSON object per line: list, value,
origin and, for runtime entries, added.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.Call(cmd, func(ctx context.Context, c *api.Client) error {
				entries, err := c.PolicyEntries(ctx)
				if err != nil {
					return err
				}
				w := cmd.OutOrStdout()
				if asJSON {
					return writeJSONLines(w, entries)
				}
				if len(entries) == 0 {
					_, err := fmt.Fprintln(w, "Nothing is blocked or trusted.")
					return err
				}
				tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
				fmt.Fprintln(tw, "LIST\tVALUE\tORIGIN\tADDED")
				for _, e := range entries {
					added := "-"
					if e.Added != nil {
						added = e.Added.Local().Format(time.DateTime)
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.List, popup.OneLine(e.Value), e.Origin, added)
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "one JSON object per entry per line")
	return cmd
}

func newSpamRemoveCmd(g *cmdutil.Globals, verb, list, short string) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   verb + " SENDER|CIDR",
		Short: short,
		Long: short + `. Applied at once and kept across restarts. An entry of the
configuration file cannot be removed at run time: remove it from the file
and run "messenger spam reload".`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.Call(cmd, func(ctx context.Context, c *api.Client) error {
				e, err := c.RemovePolicyEntry(ctx, list, args[0])
				if err != nil {
					return plainError(err)
				}
				if asJSON {
					return writeJSON(cmd.OutOrStdout(), e)
				}
				_, err = fmt.Fprintf(cmd.OutOrStdout(), "%s is no longer on the %s list.\n", e.Value, e.List)
				return err
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, `print {"list", "value"} removed as one JSON object`)
	return cmd
}

// plainError drops the client's "not found: " and "conflict: " from the
// daemon's sentence, which says it better on its own.
func plainError(err error) error {
	for _, sentinel := range []error{api.ErrNotFound, api.ErrConflict} {
		if errors.Is(err, sentinel) {
			return errors.New(strings.TrimPrefix(err.Error(), sentinel.Error()+": "))
		}
	}
	return err
}

func newSpamReloadCmd(g *cmdutil.Globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "reload",
		Short: "Put the configuration file's policy in force (as SIGHUP); a bad one changes nothing",
		Long: `Put the daemon's configuration file's [policy] in force, as SIGHUP does; a
file that does not load changes nothing. The daemon reads its own file (the
one it was started with): --config, if given, must name that same file, or
the reload is refused. A daemon started without a configuration file has
nothing to reload and says so (exit 1).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// The CLI loads --config itself (a bad path fails here) and
			// sends it, so that the daemon can refuse a file it does not
			// read instead of silently reloading its own.
			cfg, err := g.Load()
			if err != nil {
				return err
			}
			var file string
			if g.ExplicitConfig() {
				if file, err = filepath.Abs(cfg.Source()); err != nil {
					return err
				}
			}
			return g.Call(cmd, func(ctx context.Context, c *api.Client) error {
				out, err := c.ReloadPolicy(ctx, file)
				if err != nil {
					return plainError(err)
				}
				if asJSON {
					return writeJSON(cmd.OutOrStdout(), out)
				}
				_, err = fmt.Fprintf(cmd.OutOrStdout(), "Policy reloaded from %s: %d rules in force.\n", out.Config, out.Rules)
				return err
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, `print {"status", "config", "rules"} as one JSON object`)
	return cmd
}
