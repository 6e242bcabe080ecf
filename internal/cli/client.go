package cli

import (
	"io"

	"github.com/netsend/messenger/internal/alert/cupsnotify"
	"github.com/netsend/messenger/internal/cli/cmdutil"
)

// runCUPSNotifier runs the CUPS notifier (cupsd's notifier/messenger)
// against the daemon found as every verb finds it.
func runCUPSNotifier(recipientURI string, stdin io.Reader, stderr io.Writer) int {
	cfg, err := (&cmdutil.Globals{}).Load()
	if err != nil {
		return cupsnotify.Run(recipientURI, stdin, stderr, nil, "", err)
	}
	client := cmdutil.ClientFor(cfg)
	return cupsnotify.Run(recipientURI, stdin, stderr, client.Alert, client.Addr(), nil)
}
