package daemon

import (
	"log/slog"
	"strings"

	"github.com/netsend/messenger/internal/alert"
	"github.com/netsend/messenger/internal/config"
	"github.com/netsend/messenger/internal/message"
	"github.com/netsend/messenger/internal/names"
)

// newAlerter builds the Alerter service of the [alert] table: this
// host's names through the pipeline, other hosts' through the sender.
// cfg has been validated.
func newAlerter(cfg config.Config, cp message.CodePage, table *names.Table, local alert.Local, remote alert.Remote, log *slog.Logger) *alert.Alerter {
	a := &alert.Alerter{
		Local:   local,
		Remote:  remote,
		IsLocal: table.HasString,
		CheckName: func(n string) error {
			_, err := names.Messenger(n, cp)
			return err
		},
		HostName:    strings.ToUpper(cfg.HostName),
		From:        cfg.Alert.From,
		Groups:      cfg.Alert.Groups,
		DedupWindow: cfg.Alert.DedupWindow.Duration,
		RateLimit:   cfg.Alert.RateLimit,
		Log:         log,
	}
	for _, r := range cfg.Alert.Routes {
		route := alert.Route{Sources: r.Sources, To: r.To}
		if r.Severity != "" {
			// Validated with the configuration.
			route.MinSeverity, _ = message.ParseSeverity(r.Severity)
		}
		a.Routes = append(a.Routes, route)
	}
	return a
}
