package cli

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/netsend/messenger/internal/config"
)

func defaultConfigHelp() string {
	if p := config.DefaultPath(); p != "" {
		return p
	}
	return "none"
}

// load reads the configuration the way every verb sees it: defaults, file,
// environment, then --data-dir. Daemon flags are applied by serve.
func (g *globalFlags) load() (config.Config, error) {
	path, explicit := g.configPath, g.configPath != ""
	if !explicit {
		if p := os.Getenv(config.EnvConfig); p != "" {
			path, explicit = p, true
		}
	}
	cfg, err := config.Load(path, explicit)
	if err != nil {
		return cfg, err
	}
	if g.dataDir != "" {
		cfg.DataDir = g.dataDir
	}
	return cfg, nil
}

// explicitConfig says whether a configuration file was named (--config
// or $MESSENGER_CONFIG) rather than found at the default path.
func (g *globalFlags) explicitConfig() bool {
	return g.configPath != "" || os.Getenv(config.EnvConfig) != ""
}

func newConfigCmd(g *globalFlags) *cobra.Command {
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
			cfg, err := g.load()
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
