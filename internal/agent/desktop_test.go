package agent

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

// The summary and the body follow the one display rule: a sender's line
// break cannot add a line, and bidi, invisible and C1 characters are shown
// as <U+XXXX> (markup-escaped in the body) rather than obeyed.
func TestSummaryAndBodyShowHiddenCharacters(t *testing.T) {
	m := message.Message{From: "a\nMessage from ADMIN\u202E", To: "BOB\u2028X", Time: time.Unix(0, 0),
		Text: "line one\nevil\u202Etxt.exe \u009b2J \u2066\u200B\uFEFF\u061C\x1b[0m"}
	if s, want := Summary(m), "Message from a Message from ADMIN<U+202E> to BOB X on "; !strings.HasPrefix(s, want) {
		t.Errorf("Summary = %q, want it to start %q", s, want)
	}
	want := "line one\nevil&lt;U+202E&gt;txt.exe &lt;U+009B&gt;2J &lt;U+2066&gt;&lt;U+200B&gt;&lt;U+FEFF&gt;&lt;U+061C&gt;^[[0m"
	if b := Body(m); b != want {
		t.Errorf("Body = %q\nwant   %q", b, want)
	}
	// The body is cut before it is escaped, so an escape is never cut.
	long := message.Message{Text: strings.Repeat("x", maxBody-1) + "\u202E" + "tail"}
	if b, want := Body(long), strings.Repeat("x", maxBody-1)+"&lt;U+202E&gt;…"; b != want {
		t.Errorf("long Body ends %q, want %q", b[len(b)-20:], want[len(want)-20:])
	}
}

func TestAlertNotifications(t *testing.T) {
	alert := func(a message.Alert) message.Message {
		return message.Message{From: "HOST1", To: "ALICE", Text: "body <b>", Time: time.Unix(0, 0), Transport: message.TransportAlert, Alert: &a}
	}
	for _, tc := range []struct {
		name     string
		m        message.Message
		urgency  byte
		summary  string
		category string
		icon     string
	}{
		{"ordinary message unchanged", message.Message{From: "BOB", To: "ALICE", Text: "body <b>", Time: time.Unix(0, 0)},
			UrgencyNormal, "Message from BOB to ALICE on ", "im.received", "mail-message-new"},
		{"info", alert(message.Alert{Source: "cups", Severity: message.SeverityInfo}),
			UrgencyLow, "ALERT info cups", alertCategory, "dialog-information"},
		{"warning with title", alert(message.Alert{Source: "ntfy", Severity: message.SeverityWarning, Title: "Backup late"}),
			UrgencyNormal, "ALERT warning ntfy: Backup late", alertCategory, "dialog-warning"},
		{"critical firing with title", alert(message.Alert{Source: "nut", Severity: message.SeverityCritical, Status: message.AlertFiring, Title: "On battery"}),
			UrgencyCritical, "ALERT critical nut: On battery", alertCategory, "dialog-error"},
		{"critical without title", alert(message.Alert{Source: "clamav", Severity: message.SeverityCritical}),
			UrgencyCritical, "ALERT critical clamav", alertCategory, "dialog-error"},
		{"resolved critical is the all-clear", alert(message.Alert{Source: "alertmanager", Severity: message.SeverityCritical, Status: message.AlertResolved, Title: "DiskFull"}),
			UrgencyNormal, "RESOLVED critical alertmanager: DiskFull", alertCategory, "dialog-information"},
		{"resolved info stays low", alert(message.Alert{Source: "alertmanager", Severity: message.SeverityInfo, Status: message.AlertResolved}),
			UrgencyLow, "RESOLVED info alertmanager", alertCategory, "dialog-information"},
		{"hostile title on one line", alert(message.Alert{Source: "ntfy", Severity: message.SeverityWarning, Title: "a\nb\x1b[2J"}),
			UrgencyNormal, "ALERT warning ntfy: a b^[[2J", alertCategory, "dialog-warning"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if u := Urgency(tc.m); u != tc.urgency {
				t.Errorf("Urgency = %d, want %d", u, tc.urgency)
			}
			if s := Summary(tc.m); !strings.HasPrefix(s, tc.summary) || (tc.m.Alert != nil && s != tc.summary) {
				t.Errorf("Summary = %q, want %q", s, tc.summary)
			}
			h := Hints(tc.m)
			if u, ok := h["urgency"].Value().(byte); !ok || u != tc.urgency {
				t.Errorf("urgency hint %v, want byte %d", h["urgency"], tc.urgency)
			}
			if c, _ := h["category"].Value().(string); c != tc.category {
				t.Errorf("category hint %q, want %q", c, tc.category)
			}
			if i := Icon(tc.m); i != tc.icon {
				t.Errorf("Icon = %q, want %q", i, tc.icon)
			}
			if b := Body(tc.m); b != "body &lt;b&gt;" {
				t.Errorf("Body = %q", b)
			}
		})
	}
}

// A message the hub proved HOSTA sent says so in its summary; the mark
// cannot be had off the hub or spelled by a sender name.
func TestVerifiedSummary(t *testing.T) {
	at := time.Unix(0, 0)
	for _, tc := range []struct {
		name string
		m    message.Message
		want string
	}{
		{"hub message", message.Message{From: "bob", To: "ALICE", Time: at, Transport: message.TransportHub, HubID: "ab", Verified: "HOSTA"},
			"Message from bob (verified HOSTA) to ALICE on "},
		{"a verified field off the hub", message.Message{From: "bob", To: "ALICE", Time: at, Transport: message.TransportSMB, Verified: "HOSTA"},
			"Message from bob to ALICE on "},
		{"a sender spelling the mark", message.Message{From: "bob (verified HOSTA)", To: "ALICE", Time: at, Transport: message.TransportSMB},
			`Message from "bob (verified HOSTA)" to ALICE on `},
		{"a hostile host", message.Message{From: "bob", To: "ALICE", Time: at, Transport: message.TransportHub, Verified: "H\x1b[2J"},
			"Message from bob (verified H^[[2J) to ALICE on "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if s := Summary(tc.m); !strings.HasPrefix(s, tc.want) {
				t.Errorf("Summary = %q, want it to start %q", s, tc.want)
			}
		})
	}
}
