// Package agent is `messenger agent`: a client of the daemon's API that
// runs inside a user's desktop session, follows the daemon's event stream
// and shows messages as freedesktop notifications over the user's D-Bus
// session bus, which a system daemon cannot reach.
package agent

import (
	"context"
	"log/slog"
	"time"

	"github.com/netsend/messenger/internal/api"
	"github.com/netsend/messenger/internal/message"
)

// Agent follows the daemon's event stream and notifies of every unread
// message to Names, reconnecting when the daemon restarts and showing what
// arrived meanwhile.
type Agent struct {
	Client   *api.Client
	Names    []string
	Notifier interface {
		NotifyID(ctx context.Context, m message.Message) (uint32, error)
	}
	// Skipped counts messages not shown, by reason.
	Skipped func(reason string)
	Log     *slog.Logger
	// Retry is the longest wait between reconnections.
	Retry time.Duration
}

// Run follows the stream until ctx ends. Only unread messages are shown,
// so starting the agent does not replay the read history.
func (a *Agent) Run(ctx context.Context) error {
	var last int64
	wait := 250 * time.Millisecond
	for {
		err := a.Client.Events(ctx, last, a.Names, func(e api.Event) error {
			wait = 250 * time.Millisecond
			if e.Kind != api.EventMessage {
				return nil
			}
			last = e.ID
			if e.Message.State != message.StateUnread {
				return nil
			}
			nid, err := a.Notifier.NotifyID(ctx, *e.Message)
			if err != nil {
				if a.Skipped != nil {
					a.Skipped("notify")
				}
				a.Log.Warn("agent: notification not shown", slog.Int64("id", e.ID), slog.Any("err", err))
				return nil
			}
			a.Log.Info("agent: notified", slog.Int64("id", e.ID), slog.Uint64("notification", uint64(nid)))
			return nil
		})
		if ctx.Err() != nil {
			return ctx.Err()
		}
		a.Log.Info("agent: event stream ended; reconnecting", slog.Any("err", err), slog.Duration("in", wait))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(wait*2, a.Retry)
	}
}
