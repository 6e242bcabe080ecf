// Command messenger is the Messenger service: `messenger serve` runs the
// daemon, the other verbs talk to it.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/netsend/messenger/internal/api"
)

// exitError carries a specific exit status up to main.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func main() {
	// cupsd runs this binary as its "messenger" notifier (see cups.go)
	// with argv that no verb has, before any flag is parsed.
	if isCUPSNotifier(os.Args) {
		os.Exit(runCUPSNotifier(os.Args[1], os.Stdin, os.Stderr))
	}
	root := newRootCmd()
	if err := root.Execute(); err != nil {
		// A refusal keeps the daemon's sentence, whichever verb met it.
		if api.IsForbidden(err) && !errors.As(err, new(*exitError)) {
			err = &exitError{exitForbidden, err}
		}
		var ee *exitError
		var re *api.RequestError
		if !errors.As(err, &ee) && errors.As(err, &re) && re.Code == api.CodeForbidden {
			// A refusal, whatever the verb, so that scripts can tell "not
			// allowed" from "failed"; the daemon's sentence says who may.
			ee = &exitError{exitForbidden, err}
		}
		if !errors.As(err, &ee) || ee.err.Error() != "" {
			fmt.Fprintln(os.Stderr, "messenger:", err)
		}
		if ee != nil {
			os.Exit(ee.code)
		}
		os.Exit(1)
	}
}

// globalFlags are the flags every verb has: where the configuration and
// the daemon's data directory are.
type globalFlags struct {
	configPath string
	dataDir    string
}

func newRootCmd() *cobra.Command {
	g := &globalFlags{}
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
	root.PersistentFlags().StringVar(&g.configPath, "config", "", "configuration file (default "+defaultConfigHelp()+", or $MESSENGER_CONFIG)")
	root.PersistentFlags().StringVar(&g.dataDir, "data-dir", "", "data directory of the daemon (default from the configuration, or $MESSENGER_DATA_DIR)")
	root.AddCommand(newServeCmd(g), newInboxCmd(g), newReadCmd(g), newDeleteCmd(g), newNameCmd(g), newSendCmd(g), newStatusCmd(g), newConfigCmd(g), newVersionCmd(), newFirewallCmd(), newAuditCmd(g), newSpamCmd(g), newAgentCmd(g), newWebCmd(g), newTokenCmd(g), newAlertCmd(g), newSentCmd(g), newHubCmd(g))
	return root
}
