package cli

import "github.com/spf13/cobra"

// Command returns the messenger command tree, as Main runs it, for
// tools/gendocs to write man pages and shell completions from.
func Command() *cobra.Command { return newRootCmd() }
