// Package agent is `messenger agent`: a client of the daemon's API that
// runs inside a user's desktop session, follows the daemon's event stream
// and shows messages as freedesktop notifications over the user's D-Bus
// session bus, which a system daemon cannot reach.
package agent

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/netsend/messenger/internal/api"
	"github.com/netsend/messenger/internal/message"
)

// Daemon is what the agent needs of the daemon's API; *api.Client has it.
type Daemon interface {
	List(ctx context.Context, state message.State, after int64, limit int) ([]message.Message, error)
	Events(ctx context.Context, after int64, to []string, fn func(api.Event) error) error
}

// Notifications shows notifications; *Notifier is the desktop's.
type Notifications interface {
	NotifyID(ctx context.Context, m message.Message) (uint32, error)
	// NotifyBacklog shows one notification for n unread messages, whose
	// action opens the web inbox.
	NotifyBacklog(ctx context.Context, n int) (uint32, error)
}

// Agent follows the daemon's event stream and notifies of every unread
// message the caller may read (or, with Names, of those to Names),
// reconnecting when the daemon restarts. What is unread when it connects
// (the backlog) is one summary notification, not one each: a machine's
// host name can hold dozens of unread messages, and a screenful of
// notifications at login helps no one.
type Agent struct {
	Client Daemon
	// Names limits the notifications to these recipients; empty follows
	// every message the daemon shows the caller: own names, and the
	// host's and alerts when the caller may read them.
	Names    []string
	Notifier Notifications
	// Skipped counts messages not shown, by reason.
	Skipped func(reason string)
	Log     *slog.Logger
	// Retry is the longest wait between reconnections.
	Retry time.Duration
}

// backlogPage is how many unread messages one List call reads while the
// backlog is counted.
const backlogPage = 500

// Run follows the stream until ctx ends. Only unread messages are shown,
// so starting the agent does not replay the read history.
func (a *Agent) Run(ctx context.Context) error {
	var last int64
	wait := 250 * time.Millisecond
	for {
		var err error
		last, err = a.backlog(ctx, last)
		if err == nil {
			err = a.Client.Events(ctx, last, a.Names, func(e api.Event) error {
				wait = 250 * time.Millisecond
				if e.Kind != api.EventMessage || e.ID <= last {
					return nil
				}
				last = e.ID
				if e.Message.State != message.StateUnread {
					return nil
				}
				a.notify(ctx, *e.Message)
				return nil
			})
		}
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

// backlog shows what is unread after the id after, as one summary when
// there are several, and returns the id to follow the stream from.
func (a *Agent) backlog(ctx context.Context, after int64) (int64, error) {
	var unread []message.Message
	last := after
	for {
		page, err := a.Client.List(ctx, message.StateUnread, last, backlogPage)
		if err != nil {
			return after, err
		}
		for _, m := range page {
			last = max(last, m.ID)
			if a.wanted(m) {
				unread = append(unread, m)
			}
		}
		if len(page) < backlogPage {
			break
		}
	}
	switch len(unread) {
	case 0:
	case 1:
		a.notify(ctx, unread[0])
	default:
		nid, err := a.Notifier.NotifyBacklog(ctx, len(unread))
		if err != nil {
			a.skipped("notify")
			a.Log.Warn("agent: backlog notification not shown", slog.Int("unread", len(unread)), slog.Any("err", err))
		} else {
			a.Log.Info("agent: notified of the backlog", slog.Int("unread", len(unread)), slog.Uint64("notification", uint64(nid)))
		}
	}
	return last, nil
}

// wanted reports whether m is to one of Names (every message without
// Names); the stream filters the same way with its to parameter.
func (a *Agent) wanted(m message.Message) bool {
	return len(a.Names) == 0 || slices.ContainsFunc(a.Names, func(n string) bool { return strings.EqualFold(n, m.To) })
}

func (a *Agent) notify(ctx context.Context, m message.Message) {
	nid, err := a.Notifier.NotifyID(ctx, m)
	if err != nil {
		a.skipped("notify")
		a.Log.Warn("agent: notification not shown", slog.Int64("id", m.ID), slog.Any("err", err))
		return
	}
	a.Log.Info("agent: notified", slog.Int64("id", m.ID), slog.Uint64("notification", uint64(nid)))
}

func (a *Agent) skipped(reason string) {
	if a.Skipped != nil {
		a.Skipped(reason)
	}
}
