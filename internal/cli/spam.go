package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/netsend/messenger/internal/api"
	"github.com/netsend/messenger/internal/message"
	"github.com/netsend/messenger/internal/sink/popup"
)

func newSpamCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "spam",
		Short: "The quarantine and the spam defence: list, explain, release, block, trust",
		Long: `Messages the policy held back wait in the quarantine, each with the rule
that fired and what it matched. List them, see why one was held, deliver it
anyway, or block or trust a sender or a network from now on (kept across
restarts). "spam reload" puts the configuration file's [policy] in force,
as SIGHUP does.`,
	}
	cmd.AddCommand(newSpamListCmd(g), newSpamExplainCmd(g), newSpamReleaseCmd(g),
		newSpamEntryCmd(g, "block", "Drop every message from a sender or network from now on"),
		newSpamEntryCmd(g, "trust", "Always deliver messages from a sender or network from now on"),
		newSpamReloadCmd(g))
	return cmd
}

func newSpamListCmd(g *globalFlags) *cobra.Command {
	var asJSON bool
	var limit int
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the quarantine, oldest first",
		Long: `List the messages the policy held back, oldest first, with the rule that
fired. With --json, one JSON object per line: id, from, to, text, time,
transport, source, state, rule and explanation.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.call(cmd, func(ctx context.Context, c *api.Client) error {
				msgs, err := c.Spam(ctx, limit)
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSONLines(cmd.OutOrStdout(), msgs)
				}
				return writeSpamTable(cmd.OutOrStdout(), msgs)
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "one JSON object per message per line, every field")
	cmd.Flags().IntVar(&limit, "limit", 0, "at most this many messages (0 = all)")
	return cmd
}

func writeSpamTable(w io.Writer, msgs []message.Message) error {
	if len(msgs) == 0 {
		_, err := fmt.Fprintln(w, "The quarantine is empty.")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tRULE\tTIME\tTRANSPORT\tSOURCE\tFROM\tTO\tTEXT")
	for _, m := range msgs {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.ID, m.Rule, m.Time.Local().Format("2006-01-02 15:04:05"),
			m.Transport, popup.OneLine(m.Source), popup.OneLine(m.From), popup.OneLine(m.To), summary(m.Text, 40))
	}
	return tw.Flush()
}

func newSpamExplainCmd(g *globalFlags) *cobra.Command {
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
			return g.call(cmd, func(ctx context.Context, c *api.Client) error {
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

func newSpamReleaseCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "release ID...",
		Short: "Deliver quarantined messages now, as if the policy had let them through",
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
					if _, err := c.Release(ctx, id); err != nil {
						return err
					}
				}
				return nil
			})
		},
	}
}

func newSpamEntryCmd(g *globalFlags, list, short string) *cobra.Command {
	return &cobra.Command{
		Use:   list + " SENDER|CIDR",
		Short: short,
		Long: short + `. A CIDR (192.0.2.0/24), an address or "local" names a network;
anything else a sender, compared without regard to case. Applied at once
and kept across restarts; refused if it contradicts the configuration
(trusting what is blocked, or the other way round).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.call(cmd, func(ctx context.Context, c *api.Client) error {
				e, err := c.AddPolicyEntry(ctx, list, args[0])
				if err != nil {
					return err
				}
				_, err = fmt.Fprintf(cmd.OutOrStdout(), "%s: %s\n", e.List, e.Value)
				return err
			})
		},
	}
}

func newSpamReloadCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "reload",
		Short: "Put the configuration file's policy in force (as SIGHUP); a bad one changes nothing",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.call(cmd, func(ctx context.Context, c *api.Client) error { return c.ReloadPolicy(ctx) })
		},
	}
}
