package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/netsend/messenger/internal/cli/cmdutil"
	"github.com/netsend/messenger/internal/config"
)

func defaultConfigHelp() string {
	if p := config.DefaultPath(); p != "" {
		return p
	}
	return "none"
}

func newConfigCmd(g *cmdutil.Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Show the configuration",
	}
	var flags *config.Flags
	printCmd := &cobra.Command{
		Use:   "print",
		Short: "Print the effective configuration as TOML (defaults, file, environment and flags combined)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.Load()
			if err != nil {
				return err
			}
			flags.Apply(&cfg)
			if err := cfg.Validate(); err != nil {
				return fmt.Errorf("invalid configuration:\n%w", err)
			}
			// The values in force, defaults filled in, not the file's blanks.
			inForce := cfg.InForce()
			out, err := inForce.Encode()
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(out)
			return err
		},
	}
	flags = config.AddDaemonFlags(printCmd.Flags())
	cmd.AddCommand(printCmd)
	return cmd
}
