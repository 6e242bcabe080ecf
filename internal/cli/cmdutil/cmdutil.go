// Package cmdutil is what every verb of the messenger command shares:
// the global flags and the configuration they find, the way to the
// daemon and the advice when it does not answer, and the exit statuses
// scripts rely on. The verbs live in internal/cli and its packages.
package cmdutil

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/netsend/messenger/internal/api"
	"github.com/netsend/messenger/internal/apitype"
	"github.com/netsend/messenger/internal/config"
)

// ExitError carries a specific exit status up to Main.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// Exit ends the command with status code and err's message.
func Exit(code int, err error) error { return &ExitError{Code: code, Err: err} }

// Exit statuses, for scripts (docs/cli.md, "Exit status").
const (
	ExitFailed       = 1 // other failures
	ExitUsage        = 2 // bad arguments or message
	ExitNameNotFound = 3 // the message alias could not be found
	ExitNotAccepting = 4 // the recipient refused or is not listening
	ExitNetwork      = 5 // network error or timeout
	// ExitForbidden is every verb's: the daemon refused the caller (HTTP
	// 403), which trying again will not change.
	ExitForbidden = 7
)

// ExitCodeFor is the exit status of a daemon's answer code.
func ExitCodeFor(code string) int {
	switch code {
	case apitype.CodeBadRequest, apitype.CodeTooLong, apitype.CodeUnencodable:
		return ExitUsage
	case apitype.CodeNameNotFound:
		return ExitNameNotFound
	case apitype.CodeNotAccepting:
		return ExitNotAccepting
	case apitype.CodeTimeout, apitype.CodeNetwork:
		return ExitNetwork
	case apitype.CodeForbidden:
		return ExitForbidden
	}
	return ExitFailed
}

// SilentError ends the command with a status; the messages are printed.
type SilentError struct{}

func (SilentError) Error() string { return "" }

// RequestTimeout bounds every CLI call to the daemon.
const RequestTimeout = 30 * time.Second

// Globals are the flags every verb has: where the configuration and the
// daemon's data directory are.
type Globals struct {
	ConfigPath string
	DataDir    string
}

// GlobalsOf reads --config and --data-dir from cmd's inherited flags, for
// a verb whose constructor does not take the Globals.
func GlobalsOf(cmd *cobra.Command) *Globals {
	g := &Globals{}
	if f := cmd.Flags().Lookup("config"); f != nil {
		g.ConfigPath = f.Value.String()
	}
	if f := cmd.Flags().Lookup("data-dir"); f != nil {
		g.DataDir = f.Value.String()
	}
	return g
}

// Load reads the configuration the way every verb sees it: defaults,
// file, environment, then --data-dir. Daemon flags are applied by serve.
func (g *Globals) Load() (config.Config, error) {
	path, explicit := g.ConfigPath, g.ConfigPath != ""
	if !explicit {
		if p := os.Getenv(config.EnvConfig); p != "" {
			path, explicit = p, true
		}
	}
	cfg, err := config.Load(path, explicit)
	if err != nil {
		return cfg, err
	}
	if g.DataDir != "" {
		cfg.DataDir = g.DataDir
	}
	return cfg, nil
}

// ExplicitConfig says whether a configuration file was named (--config
// or $MESSENGER_CONFIG) rather than found at the default path.
func (g *Globals) ExplicitConfig() bool {
	return g.ConfigPath != "" || os.Getenv(config.EnvConfig) != ""
}

// Client is the way to the daemon the configuration names.
func (g *Globals) Client() (*api.Client, error) {
	cfg, err := g.Load()
	if err != nil {
		return nil, err
	}
	return ClientFor(cfg), nil
}

// Call runs f against the daemon within RequestTimeout; a daemon that is
// not running is told how to start it.
func (g *Globals) Call(cmd *cobra.Command, f func(ctx context.Context, c *api.Client) error) error {
	c, err := g.Client()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), RequestTimeout)
	defer cancel()
	return DaemonError(f(ctx, c), g.DataDirHint())
}

// DataDirHint is the --data-dir to repeat in advice, if one was given.
func (g *Globals) DataDirHint() string {
	if g.DataDir != "" {
		return " --data-dir " + g.DataDir
	}
	return ""
}

// ClientFor picks the daemon's socket: the configured data directory's,
// or — for an account that named none — the system daemon's at
// config.SystemSocket when it runs, so that the hooks of NUT, clamd and
// cupsd, which run as their own accounts with their own $HOME, find it.
// The daemon knows each caller by the socket's peer credentials.
func ClientFor(cfg config.Config) *api.Client {
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

// DaemonError turns what the daemon answered into what the CLI says. A
// refusal of the caller needs nothing here: Main gives every verb's the
// same exit status, ExitForbidden.
func DaemonError(err error, dataDirHint string) error {
	if errors.Is(err, api.ErrDaemonNotRunning) {
		// The error names the socket it tried; say how to name another.
		return fmt.Errorf("%w; start it with \"messenger serve%s\", or point at another daemon's data directory with --data-dir DIR or $%s",
			err, dataDirHint, config.EnvDataDir)
	}
	return err
}
