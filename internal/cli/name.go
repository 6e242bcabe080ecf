package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/netsend/messenger/internal/api"
	"github.com/netsend/messenger/internal/apitype"
	"github.com/netsend/messenger/internal/cli/cmdutil"
)

func newNameCmd(g *cmdutil.Globals) *cobra.Command {
	var asJSON, all bool
	cmd := &cobra.Command{
		Use:   "name",
		Short: "List the message aliases this host answers to (like net name)",
		Long: `List the names this host answers to as a messenger: the computer name, the
names of logged-in users and the aliases added with "messenger name add",
each with its state on the network (registering, registered, conflict,
releasing). --all also lists the other NetBIOS names (workstation <00>,
workgroup group name).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var list []apitype.Name
			if err := g.Call(cmd, func(ctx context.Context, c *api.Client) (err error) {
				list, err = c.Names(ctx)
				return err
			}); err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(w)
				for _, n := range list {
					if all || n.Suffix == "03" {
						if err := enc.Encode(n); err != nil {
							return err
						}
					}
				}
				return nil
			}
			tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tTYPE\tSTATE\tSOURCE")
			for _, n := range list {
				if !all && n.Suffix != "03" {
					continue
				}
				kind := "unique"
				if n.Group {
					kind = "group"
				}
				source := n.Source
				if n.Owner != "" {
					source += ", owner " + n.Owner
				}
				fmt.Fprintf(tw, "%s\t<%s> %s\t%s\t%s\n", n.Name, n.Suffix, kind, n.State, source)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "one JSON object per name per line")
	cmd.Flags().BoolVar(&all, "all", false, "list every NetBIOS name, not only messenger names <03>")

	var owner string
	add := &cobra.Command{
		Use:   "add NAME [--user LOGIN]",
		Short: "Add a message alias and register it on the network (net name /add); admins only",
		Long: `Adds a message alias. With --user LOGIN the alias belongs to that local
account: its messages are that user's to read, and the user may send under
it. Without --user it is a host name, whose messages every local user reads
(unless [access] host_messages = "admins").`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var n apitype.Name
			if err := g.Call(cmd, func(ctx context.Context, c *api.Client) (err error) {
				n, err = c.AddName(ctx, args[0], owner)
				return err
			}); err != nil {
				return err
			}
			whose := "a host name"
			if n.Owner != "" {
				whose = "owned by " + n.Owner
			}
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "The message alias %s was added (%s, %s).\n", n.Name, n.State, whose)
			return err
		},
	}
	add.Flags().StringVar(&owner, "user", "", "the local account (login) the alias belongs to")
	del := &cobra.Command{
		Use:     "del NAME",
		Aliases: []string{"delete"},
		Short:   "Delete a message alias and release it on the network (net name /delete)",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := g.Call(cmd, func(ctx context.Context, c *api.Client) error {
				return c.DeleteName(ctx, args[0])
			}); err != nil {
				return err
			}
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "The message alias %s was deleted.\n", args[0])
			return err
		},
	}
	cmd.AddCommand(add, del)
	return cmd
}
