package lograte

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestHandler(t *testing.T) {
	var buf bytes.Buffer
	h := New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}), 3, time.Second)
	clock := time.Unix(1000, 0)
	h.state.now = func() time.Time { return clock }
	h.state.afterFunc = func(time.Duration, func()) *time.Timer { return nil }
	log := slog.New(h).With(slog.String("transport", "nbns"))
	for i := 0; i < 10; i++ {
		log.Warn("bad packet")
		log.Info("still informed")
	}
	if n := strings.Count(buf.String(), "bad packet"); n != 3 {
		t.Fatalf("%d warnings written in one window, want 3:\n%s", n, buf.String())
	}
	if n := strings.Count(buf.String(), "still informed"); n != 10 {
		t.Errorf("%d info lines, want all 10", n)
	}
	clock = clock.Add(2 * time.Second)
	log.Warn("after the flood")
	out := buf.String()
	if !strings.Contains(out, "suppressed=7") || !strings.Contains(out, "after the flood") {
		t.Errorf("no report of the 7 suppressed lines, or the next warning lost:\n%s", out)
	}
}

// A flood that stops is reported when its window ends, with no further
// record to carry the count; Info records count when the level says so.
func TestSummaryAfterFlood(t *testing.T) {
	var buf bytes.Buffer
	h := NewLevel(slog.NewTextHandler(&buf, nil), slog.LevelInfo, 2, time.Second)
	clock := time.Unix(1000, 0)
	var timers []func()
	var waits []time.Duration
	h.state.now = func() time.Time { return clock }
	h.state.afterFunc = func(d time.Duration, f func()) *time.Timer {
		waits, timers = append(waits, d), append(timers, f)
		return nil
	}
	log := slog.New(h).With(slog.String("transport", "nbns"))
	for i := 0; i < 500; i++ {
		log.Info("node status refused")
	}
	if n := strings.Count(buf.String(), "node status refused"); n != 2 {
		t.Fatalf("%d lines for 500 refusals, want 2:\n%s", n, buf.String())
	}
	if len(timers) != 1 || waits[0] != time.Second {
		t.Fatalf("%d summaries scheduled (%v), want one at the window's end", len(timers), waits)
	}
	clock = clock.Add(time.Second)
	timers[0]()
	out := buf.String()
	if !strings.Contains(out, "suppressed=498") || !strings.Contains(out, "transport=nbns") {
		t.Fatalf("no summary of the 498 suppressed lines:\n%s", out)
	}
	// The count was reported once: the next window starts clean.
	log.Info("later")
	if strings.Count(buf.String(), "suppressed=") != 1 {
		t.Errorf("the summary was written twice:\n%s", buf.String())
	}
}
