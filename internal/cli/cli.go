// Package cli is the messenger command: `messenger serve` runs the
// daemon, the other verbs talk to it over its API. cmd/messenger only
// calls Main.
package cli

import (
	"errors"
	"fmt"
	"io"

	"github.com/netsend/messenger/internal/alert/cupsnotify"
	"github.com/netsend/messenger/internal/cli/cmdutil"
	"github.com/netsend/messenger/internal/cli/hubcmd"

	"github.com/spf13/cobra"

	"github.com/netsend/messenger/internal/api"
)

// Main runs the messenger command with args (os.Args: the program's
// name first) and returns its exit status.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	// cupsd runs this binary as its "messenger" notifier (see cups.go)
	// with argv that no verb has, before any flag is parsed.
	if cupsnotify.IsNotifier(args) {
		return runCUPSNotifier(args[1], stdin, stderr)
	}
	root := newRootCmd()
	root.SetArgs(args[1:])
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if err := root.Execute(); err != nil {
		// A refusal, whatever the verb, so that scripts can tell "not
		// allowed" from "failed"; the daemon's sentence says who may.
		if api.IsForbidden(err) && !errors.As(err, new(*cmdutil.ExitError)) {
			err = cmdutil.Exit(cmdutil.ExitForbidden, err)
		}
		var ee *cmdutil.ExitError
		if !errors.As(err, &ee) || ee.Err.Error() != "" {
			fmt.Fprintln(stderr, "messenger:", err)
		}
		if ee != nil {
			return ee.Code
		}
		return 1
	}
	return 0
}

func newRootCmd() *cobra.Command {
	g := &cmdutil.Globals{}
	root := &cobra.Command{
		Use:   "messenger",
		Short: "The Messenger service: net send, done properly",
		Long: `messenger receives and sends "net send" messages the way the Windows
Messenger service did — SMB message commands over NetBIOS sessions — stores
every message durably, and shows it where its recipient is.

Run the daemon with "messenger serve"; the other verbs talk to it over its
local socket in the data directory.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&g.ConfigPath, "config", "", "configuration file (default "+defaultConfigHelp()+", or $MESSENGER_CONFIG)")
	root.PersistentFlags().StringVar(&g.DataDir, "data-dir", "", "data directory of the daemon (default from the configuration, or $MESSENGER_DATA_DIR)")
	root.AddCommand(newServeCmd(g), newInboxCmd(g), newReadCmd(g), newDeleteCmd(g), newNameCmd(g), newSendCmd(g), newStatusCmd(g), newConfigCmd(g), newVersionCmd(), newFirewallCmd(), newAuditCmd(g), newSpamCmd(g), newAgentCmd(g), newWebCmd(g), newTokenCmd(g), newAlertCmd(g), newSentCmd(g), hubcmd.NewCmd(g))
	return root
}
