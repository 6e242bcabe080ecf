package cli

import (
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/netsend/messenger/internal/cli/cmdutil"
	"github.com/netsend/messenger/internal/config"
	"github.com/netsend/messenger/internal/daemon"
	"github.com/netsend/messenger/internal/lograte"
)

func newServeCmd(g *cmdutil.Globals) *cobra.Command {
	var flags *config.Flags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the Messenger daemon",
		Long: `Run the Messenger daemon: accept "net send" / "smbclient -M" messages on the
NetBIOS session port for this host's messenger names, store each durably
before acknowledging it, and show it as a pop-up block on standard output.
Stops cleanly on SIGINT or SIGTERM.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.Load()
			if err != nil {
				return err
			}
			flags.Apply(&cfg)
			log := newLogger(cfg.Log)
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			// The same reading, for reloads: file, environment, then flags.
			load := func() (config.Config, error) {
				c, err := g.Load()
				if err == nil {
					flags.Apply(&c)
				}
				return c, err
			}
			return daemon.Run(ctx, cfg, log, cmd.OutOrStdout(), load)
		},
	}
	flags = config.AddDaemonFlags(cmd.Flags())
	return cmd
}

func newLogger(c config.Log) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(os.Stderr, opts)
	if c.Format == "json" {
		h = slog.NewJSONHandler(os.Stderr, opts)
	}
	// Every bad packet is worth a warning, but a flood of them must not
	// become a flood of log lines.
	return slog.New(lograte.New(h, logWarnBurst, time.Second))
}

// logWarnBurst is how many warnings and errors a second reach the log.
const logWarnBurst = 50

func daemonVersion() string { return daemon.Version() }
