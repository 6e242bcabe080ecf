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
