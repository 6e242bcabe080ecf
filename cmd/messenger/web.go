package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/netsend/messenger/internal/api"
)

func newWebCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "web",
		Short: "The web page and API off loopback",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "token",
		Short: "Make the token that opens the web page and API on a non-loopback http_addr",
		Long: `Make a new random token, store its SHA-256 in the data directory, and print
the token once. On an http_addr that is not loopback the daemon serves the
API and the web page only to requests carrying it (Authorization: Bearer
TOKEN, or the cookie the page's sign-in form sets). A new token replaces
the old one; restart the daemon to use it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.load()
			if err != nil {
				return err
			}
			if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
				return err
			}
			token, err := api.NewToken(cfg.DataDir)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "%s\n", token)
			fmt.Fprintln(cmd.ErrOrStderr(), "Keep this token: only its hash is stored. Restart the daemon to use it.")
			return err
		},
	})
	return cmd
}
