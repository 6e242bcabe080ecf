package desktop

import (
	"strings"
	"testing"
	"time"

	"github.com/netsend/messenger/internal/message"
)

func TestSummaryAndBodyAreSafe(t *testing.T) {
	m := message.Message{From: "EVIL\x1b[2J", To: "BOB", Time: time.Unix(0, 0),
		Text: "<a href='x'>click</a> & \x1b]0;title\x07 " + strings.Repeat("y", 5000) + "\xff"}
	s, b := Summary(m), Body(m)
	if strings.ContainsAny(s+b, "\x1b\x07<>") {
		t.Errorf("control characters or markup left: %q / %q", s, b[:80])
	}
	if !strings.Contains(b, "&lt;a href='x'&gt;click&lt;/a&gt; &amp;") {
		t.Errorf("body not escaped: %q", b[:80])
	}
	if n := len([]rune(b)); n > maxBody+200 {
		t.Errorf("body of %d runes", n)
	}
	if Urgency(m) != UrgencyNormal {
		t.Error("urgency")
	}
}
