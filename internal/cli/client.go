package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/netsend/messenger/internal/alert/cupsnotify"
	"github.com/netsend/messenger/internal/api"
	"github.com/netsend/messenger/internal/apitype"
	"github.com/netsend/messenger/internal/config"
)

// exitError carries a specific exit status up to Main.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// Exit statuses of `messenger send`, for scripts.
const (
	exitSendFailed   = 1 // other failures
	exitUsage        = 2 // bad arguments or message
	exitNameNotFound = 3 // the message alias could not be found
	exitNotAccepting = 4 // the recipient refused or is not listening
	exitNetwork      = 5 // network error or timeout
	// exitForbidden is every verb's: the daemon refused the caller (HTTP
	// 403), which trying again will not change.
	exitForbidden = 7
)

func exitCodeFor(code string) int {
	switch code {
	case apitype.CodeBadRequest, apitype.CodeTooLong, apitype.CodeUnencodable:
		return exitUsage
	case apitype.CodeNameNotFound:
		return exitNameNotFound
	case apitype.CodeNotAccepting:
		return exitNotAccepting
	case apitype.CodeTimeout, apitype.CodeNetwork:
		return exitNetwork
	case apitype.CodeForbidden:
		return exitForbidden
	}
	return exitSendFailed
}

// silentError ends the command with a status; the messages are printed.
type silentError struct{}

func (silentError) Error() string { return "" }

// requestTimeout bounds every CLI call to the daemon.
const requestTimeout = 30 * time.Second

func (g *globalFlags) client() (*api.Client, error) {
	cfg, err := g.load()
	if err != nil {
		return nil, err
	}
	return clientFor(cfg), nil
}

// call runs f against the daemon within requestTimeout; a daemon that is
// not running is told how to start it.
func (g *globalFlags) call(cmd *cobra.Command, f func(ctx context.Context, c *api.Client) error) error {
	c, err := g.client()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), requestTimeout)
	defer cancel()
	return daemonError(f(ctx, c), g.dataDirHint())
}

// clientFor picks the daemon's socket: the configured data directory's,
// or — for an account that named none — the system daemon's at
// config.SystemSocket when it runs, so that the hooks of NUT, clamd and
// cupsd, which run as their own accounts with their own $HOME, find it.
// The daemon knows each caller by the socket's peer credentials.
func clientFor(cfg config.Config) *api.Client {
	socket := cfg.SocketPath()
	if cfg.DataDir == config.Default().DataDir && socket != config.SystemSocket {
		if _, err := os.Stat(config.SystemSocket); err == nil {
			if _, err := os.Stat(socket); err != nil {
				socket = config.SystemSocket
			}
		}
	}
	return api.NewClient(socket)
}

// daemonError turns what the daemon answered into what the CLI says. A
// refusal of the caller needs nothing here: Main gives every verb's the
// same exit status, exitForbidden.
func daemonError(err error, dataDirHint string) error {
	if errors.Is(err, api.ErrDaemonNotRunning) {
		// The error names the socket it tried; say how to name another.
		return fmt.Errorf("%w; start it with \"messenger serve%s\", or point at another daemon's data directory with --data-dir DIR or $%s",
			err, dataDirHint, config.EnvDataDir)
	}
	return err
}

func (g *globalFlags) dataDirHint() string {
	if g.dataDir != "" {
		return " --data-dir " + g.dataDir
	}
	return ""
}

// runCUPSNotifier runs the CUPS notifier (cupsd's notifier/messenger)
// against the daemon found as every verb finds it.
func runCUPSNotifier(recipientURI string, stdin io.Reader, stderr io.Writer) int {
	cfg, err := (&globalFlags{}).load()
	if err != nil {
		return cupsnotify.Run(recipientURI, stdin, stderr, nil, "", err)
	}
	client := clientFor(cfg)
	return cupsnotify.Run(recipientURI, stdin, stderr, client.Alert, client.Addr(), nil)
}
