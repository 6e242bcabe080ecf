package cli

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/netsend/messenger/internal/api"
	"github.com/netsend/messenger/internal/apitype"
	"github.com/netsend/messenger/internal/cli/cmdutil"
)

func newTokenCmd(g *cmdutil.Globals) *cobra.Command {
	var user string
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Manage your API tokens, for scripts and phones over HTTP",
		Long: `API tokens let a script or a phone use the daemon's HTTP API as you:
"Authorization: Bearer TOKEN" (or Basic with the token as password, or
ntfy's ?auth=). Each token is bound to the account that made it and
stored only as its SHA-256. Admins may add --user LOGIN to manage another
account's tokens; users manage only their own.`,
	}
	cmd.PersistentFlags().StringVar(&user, "user", "", "the account whose tokens (admins only; list takes \"*\" for every account)")
	cmd.AddCommand(&cobra.Command{
		Use:   "create NAME",
		Short: "Make a token and print it, alone on a line, this once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var made apitype.NewTokenResponse
			if err := g.Call(cmd, func(ctx context.Context, c *api.Client) (err error) {
				made, err = c.CreateToken(ctx, args[0], user)
				return err
			}); err != nil {
				return err
			}
			_, err := fmt.Fprintln(cmd.OutOrStdout(), made.Token)
			return err
		},
	})
	var asJSON bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List tokens: name, user, when made and last used",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var tokens []apitype.TokenInfo
			if err := g.Call(cmd, func(ctx context.Context, c *api.Client) (err error) {
				tokens, err = c.Tokens(ctx, user)
				return err
			}); err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if asJSON {
				return writeJSONLines(w, tokens)
			}
			tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tUSER\tCREATED\tLAST USED")
			for _, t := range tokens {
				used := "never"
				if t.LastUsed != nil {
					used = t.LastUsed.Local().Format(time.DateTime)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.Name, t.User, t.Created.Local().Format(time.DateTime), used)
			}
			return tw.Flush()
		},
	}
	list.Flags().BoolVar(&asJSON, "json", false, "one JSON object per token per line")
	cmd.AddCommand(list, &cobra.Command{
		Use:   "revoke NAME",
		Short: "Delete a token: it stops working at once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.Call(cmd, func(ctx context.Context, c *api.Client) error {
				return c.RevokeToken(ctx, args[0], user)
			})
		},
	})
	return cmd
}
