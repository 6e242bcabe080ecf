package cli

import (
	"context"
	"fmt"
	"os"
	"os/exec"

	"github.com/spf13/cobra"

	"github.com/netsend/messenger/internal/api"
	"github.com/netsend/messenger/internal/apitype"
	"github.com/netsend/messenger/internal/cli/cmdutil"
	"github.com/netsend/messenger/internal/webauth"
)

func newWebCmd(g *cmdutil.Globals) *cobra.Command {
	var open bool
	cmd := &cobra.Command{
		Use:   "web",
		Short: "Print a one-time link that signs you in to the web inbox",
		Long: `Ask the daemon, over its local socket, for a link that signs you in to the
web inbox as yourself: the daemon knows who you are by the socket's peer
credentials. The link works once, within two minutes, and opens a session
that lasts [web] session_ttl (or until you sign out, or the daemon
restarts). It points at http_addr, or at [web] external_url when set.
--open hands it to xdg-open.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var in apitype.SignIn
			if err := g.Call(cmd, func(ctx context.Context, c *api.Client) (err error) {
				in, err = c.WebSignIn(ctx)
				return err
			}); err != nil {
				return err
			}
			if _, err := fmt.Fprintln(cmd.OutOrStdout(), in.URL); err != nil {
				return err
			}
			if !open {
				return nil
			}
			// The link goes to xdg-open as one argument, no shell between.
			x := exec.CommandContext(cmd.Context(), "xdg-open", in.URL)
			x.Stdout, x.Stderr = cmd.ErrOrStderr(), cmd.ErrOrStderr()
			if err := x.Run(); err != nil {
				return fmt.Errorf("opening the link with xdg-open: %w", err)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&open, "open", false, "open the link in the desktop's browser (xdg-open)")
	cmd.AddCommand(&cobra.Command{
		Use:   "token",
		Short: "Make the admin web token (a credential acting as root over HTTP)",
		Long: `Make a new random token, store its SHA-256 in the data directory, and print
the token once. Over HTTP the daemon takes it as root's credential
(Authorization: Bearer TOKEN, or the sign-in page's form, which opens a
session). Prefer "messenger web" and "messenger token create", which are
bound to your own account. A new token replaces the old one; restart the
daemon to use it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.Load()
			if err != nil {
				return err
			}
			if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
				return err
			}
			token, err := webauth.NewToken(cfg.DataDir)
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
