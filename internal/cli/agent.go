package cli

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/netsend/messenger/internal/agent"
	"github.com/netsend/messenger/internal/cli/cmdutil"
)

func newAgentCmd(g *cmdutil.Globals) *cobra.Command {
	var names []string
	var all bool
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "show messages as desktop notifications in this user's session",
		Long: "Runs in a desktop session (the systemd --user unit or the XDG autostart entry start it), follows the " +
			"daemon's event stream and shows each unread message you may read (your names, and the host's messages " +
			"and alerts when you may read them) as a freedesktop notification with a \"Mark read\" action. What is " +
			"unread when it starts is one notification (\"37 unread messages\") that opens the web inbox. It " +
			"reconnects when the daemon restarts and then shows what arrived meanwhile the same way.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			c, err := g.Client()
			if err != nil {
				return err
			}
			// No names: every message the daemon shows this caller, which
			// it already limits to what the caller may read. Watching the
			// user's own name alone left root's host messages and every
			// alert unseen.
			if all {
				names = nil
			}
			n, err := agent.Connect()
			if err != nil {
				return err
			}
			defer n.Close()
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			go func() {
				n.Actions(ctx, func(id int64) {
					rctx, cancel := context.WithTimeout(ctx, cmdutil.RequestTimeout)
					defer cancel()
					if _, err := c.MarkRead(rctx, id); err != nil {
						log.Warn("agent: marking read", slog.Int64("id", id), slog.Any("err", err))
					}
				}, func() {
					rctx, cancel := context.WithTimeout(ctx, cmdutil.RequestTimeout)
					defer cancel()
					in, err := c.WebSignIn(rctx)
					if err != nil {
						log.Warn("agent: no sign-in link for the web inbox", slog.Any("err", err))
						return
					}
					// The link goes to xdg-open as one argument, no shell
					// between; it is a secret, so it is not logged.
					if err := exec.CommandContext(ctx, "xdg-open", in.URL).Run(); err != nil {
						log.Warn("agent: opening the web inbox with xdg-open", slog.Any("err", err))
					}
				})
			}()
			log.Info("agent started", slog.Any("names", names))
			a := &agent.Agent{Client: c, Names: names, Notifier: n, Log: log, Retry: 10 * time.Second}
			if err := a.Run(ctx); err != nil && ctx.Err() == nil {
				return err
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&names, "name", nil, "messenger name to show messages for (repeatable; default every name you may read)")
	cmd.Flags().BoolVar(&all, "all", false, "show messages to every name you may read (the default; overrides --name)")
	return cmd
}
