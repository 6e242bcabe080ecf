package daemon

import (
	"encoding/hex"
	"log/slog"
	"strings"
	"time"

	"github.com/netsend/messenger/internal/alert"
	"github.com/netsend/messenger/internal/alert/httpingest"
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

// ingestConfig turns the [alert] tokens and topics into what the ingest
// listener checks requests against. cfg has been validated, so every
// hash is 64 hexadecimal digits.
func ingestConfig(cfg config.Config, log *slog.Logger) httpingest.Config {
	ic := httpingest.Config{Topics: cfg.Alert.Topics, Log: log}
	for _, t := range cfg.Alert.Tokens {
		tok := httpingest.Token{Name: t.Name, To: t.To, Source: t.Source}
		raw, _ := hex.DecodeString(t.SHA256)
		copy(tok.Hash[:], raw)
		ic.Tokens = append(ic.Tokens, tok)
	}
	if cfg.Alert.RateLimit > 0 {
		// A refused tool should come back when the bucket has a token again.
		ic.RetryAfter = time.Minute / time.Duration(cfg.Alert.RateLimit)
	}
	return ic
}
