package cli

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"os/user"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/netsend/messenger/internal/agent"
)

func newAgentCmd(g *globalFlags) *cobra.Command {
	var names []string
	var all bool
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "show messages as desktop notifications in this user's session",
		Long: "Runs in a desktop session (the systemd --user unit or the XDG autostart entry start it), follows the " +
			"daemon's event stream and shows each unread message to your names as a freedesktop notification " +
			"with a \"Mark read\" action. It reconnects when the daemon restarts and then shows what arrived meanwhile.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			c, err := g.client()
			if err != nil {
				return err
			}
			if len(names) == 0 && !all {
				u, err := user.Current()
				if err != nil {
					return err
				}
				n := strings.ToUpper(u.Username)
				if len(n) > 15 {
					n = n[:15]
				}
				names = []string{n}
			}
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
					rctx, cancel := context.WithTimeout(ctx, requestTimeout)
					defer cancel()
					if _, err := c.MarkRead(rctx, id); err != nil {
						log.Warn("agent: marking read", slog.Int64("id", id), slog.Any("err", err))
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
	cmd.Flags().StringArrayVar(&names, "name", nil, "messenger name to show messages for (repeatable; default your user name)")
	cmd.Flags().BoolVar(&all, "all", false, "show messages to every name of the daemon")
	return cmd
}
