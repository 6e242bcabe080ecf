// Package lograte keeps a flood of bad packets from becoming a flood of
// log lines: records above a rate are counted, not written, and the count
// is reported in one summary line at the end of each window that
// suppressed any.
package lograte

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Handler passes at most Burst records at or above its level per
// Interval to the next handler; lower levels always pass. It is safe for
// concurrent use, like the handlers it wraps.
type Handler struct {
	next  slog.Handler
	state *state
}

type state struct {
	min      slog.Level
	burst    int
	interval time.Duration
	now      func() time.Time
	// afterFunc schedules the summary at the end of a window; tests
	// replace it with a clock of their own.
	afterFunc func(time.Duration, func()) *time.Timer

	mu         sync.Mutex
	windowFrom time.Time
	passed     int
	suppressed int
	// summary is the handler the summary line goes to: the one whose
	// record was first suppressed in the window, with its attributes.
	summary slog.Handler
	pending bool // a summary is scheduled
}

// New wraps next: at most burst warnings or errors per interval.
func New(next slog.Handler, burst int, interval time.Duration) *Handler {
	return NewLevel(next, slog.LevelWarn, burst, interval)
}

// NewLevel wraps next: at most burst records of level min and above per
// interval. Per-packet logs use it with min = Info, since a packet a
// stranger can send a thousand times a second must not be able to write
// a thousand lines, at any level.
func NewLevel(next slog.Handler, min slog.Level, burst int, interval time.Duration) *Handler {
	return &Handler{next: next, state: &state{min: min, burst: burst, interval: interval, now: time.Now, afterFunc: time.AfterFunc}}
}

// Enabled implements slog.Handler.
func (h *Handler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

// Handle implements slog.Handler.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < h.state.min {
		return h.next.Handle(ctx, r)
	}
	pass, suppressed, to := h.state.take(h.next)
	if suppressed > 0 {
		// The first line of a new window says what the last one hid,
		// unless the timer said it already.
		h.state.report(ctx, to, suppressed)
	}
	if !pass {
		return nil
	}
	return h.next.Handle(ctx, r)
}

// take decides for one record and hands over the count of the records
// suppressed in the window that just ended, with where to report it.
func (s *state) take(next slog.Handler) (pass bool, suppressedBefore int, to slog.Handler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if now.Sub(s.windowFrom) >= s.interval {
		suppressedBefore, to = s.suppressed, s.summary
		s.windowFrom, s.passed, s.suppressed, s.summary = now, 0, 0, nil
	}
	if s.passed < s.burst {
		s.passed++
		return true, suppressedBefore, to
	}
	s.suppressed++
	if s.summary == nil {
		s.summary = next
	}
	if !s.pending {
		// A flood that stops must still be reported: the summary goes
		// out when the window ends, whether or not another record comes.
		s.pending = true
		s.afterFunc(s.windowFrom.Add(s.interval).Sub(now), s.flush)
	}
	return false, suppressedBefore, to
}

// flush reports the records suppressed in a window that has ended and
// no record has reported yet.
func (s *state) flush() {
	s.mu.Lock()
	s.pending = false
	n, to := 0, s.summary
	if s.now().Sub(s.windowFrom) >= s.interval {
		n = s.suppressed
		s.suppressed, s.summary = 0, nil
	} else if s.suppressed > 0 {
		// Woken early (a clock step): try again at the window's end.
		s.pending = true
		s.afterFunc(s.windowFrom.Add(s.interval).Sub(s.now()), s.flush)
	}
	s.mu.Unlock()
	if n > 0 {
		s.report(context.Background(), to, n)
	}
}

func (s *state) report(ctx context.Context, to slog.Handler, n int) {
	note := slog.NewRecord(s.now(), slog.LevelWarn, "log lines suppressed: too many in a row", 0)
	note.AddAttrs(slog.Int("suppressed", n), slog.Duration("per", s.interval))
	to.Handle(ctx, note)
}

// WithAttrs implements slog.Handler; the limit is shared with the parent.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &Handler{next: h.next.WithAttrs(attrs), state: h.state}
}

// WithGroup implements slog.Handler; the limit is shared with the parent.
func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{next: h.next.WithGroup(name), state: h.state}
}
