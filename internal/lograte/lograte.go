// Package lograte keeps a flood of bad packets from becoming a flood of
// log lines: warnings and errors above a rate are counted, not written, and
// the count is reported once the flood eases.
package lograte

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Handler passes at most Burst records of level Warn and above per
// Interval to the next handler; lower levels always pass. It is safe for
// concurrent use, like the handlers it wraps.
type Handler struct {
	next  slog.Handler
	state *state
}

type state struct {
	burst    int
	interval time.Duration
	now      func() time.Time

	mu         sync.Mutex
	windowFrom time.Time
	passed     int
	suppressed int
}

// New wraps next: at most burst warnings or errors per interval.
func New(next slog.Handler, burst int, interval time.Duration) *Handler {
	return &Handler{next: next, state: &state{burst: burst, interval: interval, now: time.Now}}
}

// Enabled implements slog.Handler.
func (h *Handler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

// Handle implements slog.Handler.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < slog.LevelWarn {
		return h.next.Handle(ctx, r)
	}
	pass, suppressed := h.state.take()
	if suppressed > 0 {
		// The first line of a new window says what the last one hid.
		note := slog.NewRecord(r.Time, slog.LevelWarn, "log lines suppressed: too many warnings", 0)
		note.AddAttrs(slog.Int("suppressed", suppressed), slog.Duration("per", h.state.interval))
		h.next.Handle(ctx, note)
	}
	if !pass {
		return nil
	}
	return h.next.Handle(ctx, r)
}

// take decides for one record and hands over the count of the records
// suppressed in the window that just ended.
func (s *state) take() (pass bool, suppressedBefore int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if now.Sub(s.windowFrom) >= s.interval {
		suppressedBefore = s.suppressed
		s.windowFrom, s.passed, s.suppressed = now, 0, 0
	}
	if s.passed < s.burst {
		s.passed++
		return true, suppressedBefore
	}
	s.suppressed++
	return false, suppressedBefore
}

// WithAttrs implements slog.Handler; the limit is shared with the parent.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &Handler{next: h.next.WithAttrs(attrs), state: h.state}
}

// WithGroup implements slog.Handler; the limit is shared with the parent.
func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{next: h.next.WithGroup(name), state: h.state}
}
