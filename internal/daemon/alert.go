package daemon

import (
	"log/slog"
	"strings"
	"time"

	"github.com/netsend/messenger/internal/alert"
	"github.com/netsend/messenger/internal/alert/httpingest"
	"github.com/netsend/messenger/internal/config"
	"github.com/netsend/messenger/internal/names"
)

// newAlerter builds the Alerter service of the [alert] table: this
// host's names through the pipeline, other hosts' through the sender.
// cfg has been validated.
func newAlerter(cfg config.Config, rt *config.Runtime, table *names.Table, local alert.Local, remote alert.Remote, log *slog.Logger) *alert.Alerter {
	a := &alert.Alerter{
		Local:   local,
		Remote:  remote,
		IsLocal: table.HasString,
		CheckName: func(n string) error {
			_, err := names.Messenger(n, rt.CodePage)
			return err
		},
		HostName:    strings.ToUpper(cfg.HostName),
		From:        cfg.Alert.From,
		Groups:      cfg.Alert.Groups,
		DedupWindow: cfg.Alert.DedupWindow.Duration,
		RateLimit:   cfg.Alert.RateLimit,
		Log:         log,
	}
	for i, r := range cfg.Alert.Routes {
		a.Routes = append(a.Routes, alert.Route{Sources: r.Sources, To: r.To, MinSeverity: rt.AlertSeverities[i]})
	}
	return a
}

// ingestConfig turns the [alert] tokens and topics into what the ingest
// listener checks requests against, with the hashes rt parsed.
func ingestConfig(cfg config.Config, rt *config.Runtime, log *slog.Logger) httpingest.Config {
	ic := httpingest.Config{Topics: cfg.Alert.Topics, Log: log}
	for i, t := range cfg.Alert.Tokens {
		ic.Tokens = append(ic.Tokens, httpingest.Token{Name: t.Name, To: t.To, Source: t.Source, Hash: rt.AlertTokenHashes[i]})
	}
	if cfg.Alert.RateLimit > 0 {
		// A refused tool should come back when the bucket has a token again.
		ic.RetryAfter = time.Minute / time.Duration(cfg.Alert.RateLimit)
	}
	return ic
}
