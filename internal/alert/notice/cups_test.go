package notice

import (
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/netsend/messenger/internal/ipp"
	"github.com/netsend/messenger/internal/message"
)

// cupsEventMsg builds an event the way cupsdAddEvent does: one
// event-notification group, the common attributes first.
func cupsEventMsg(event string, attrs ...ipp.Attribute) ipp.Message {
	base := []ipp.Attribute{
		{Name: "notify-charset", Values: []ipp.Value{ipp.String(ipp.TagCharset, "utf-8")}},
		{Name: "notify-natural-language", Values: []ipp.Value{ipp.String(ipp.TagNaturalLanguage, "en-us")}},
		{Name: "notify-subscription-id", Values: []ipp.Value{ipp.Integer(ipp.TagInteger, 1)}},
		{Name: "notify-subscribed-event", Values: []ipp.Value{ipp.String(ipp.TagKeyword, event)}},
	}
	return ipp.Message{Version: ipp.Version{Major: 2}, Groups: []ipp.Group{{Tag: ipp.TagEventNotification, Attributes: append(base, attrs...)}}}
}

func cupsText(name, v string) ipp.Attribute {
	tag := ipp.TagName
	switch name {
	case "notify-text":
		tag = ipp.TagText
	case "printer-state-reasons":
		tag = ipp.TagKeyword
	}
	return ipp.Attribute{Name: name, Values: []ipp.Value{ipp.String(tag, v)}}
}

func cupsInt(name string, tag ipp.Tag, n int32) ipp.Attribute {
	return ipp.Attribute{Name: name, Values: []ipp.Value{ipp.Integer(tag, n)}}
}

func cupsJob(id, state int32, name, text string) []ipp.Attribute {
	return []ipp.Attribute{
		cupsText("notify-text", text),
		cupsText("printer-name", "LASER1"),
		cupsInt("printer-state", ipp.TagEnum, 3),
		cupsInt("notify-job-id", ipp.TagInteger, id),
		cupsInt("job-state", ipp.TagEnum, state),
		cupsText("job-name", name),
	}
}

func TestFromCUPSEvent(t *testing.T) {
	stopped := cupsEventMsg("printer-stopped",
		cupsText("notify-text", `Printer "LASER1" state changed to stopped.`),
		cupsText("printer-name", "LASER1"),
		cupsInt("printer-state", ipp.TagEnum, 5),
		ipp.Attribute{Name: "printer-state-reasons", Values: []ipp.Value{ipp.String(ipp.TagKeyword, "paused"), ipp.String(ipp.TagKeyword, "media-empty-error")}},
	)
	tests := []struct {
		name     string
		ev       ipp.Message
		uri      string
		text     string
		severity message.Severity
		key      string
		to       string
	}{
		{"completed to a name", cupsEventMsg("job-completed", cupsJob(12, 9, "report.pdf", "Job completed.")...), "messenger://ALICE",
			`job completed: "report.pdf" (job 12) on LASER1`, message.SeverityInfo, "cups:job:LASER1:12", "ALICE"},
		{"completed to the owner", cupsEventMsg("job-completed", cupsJob(12, 9, "report.pdf", "Job completed.")...), "messenger://",
			`job completed: "report.pdf" (job 12) on LASER1`, message.SeverityInfo, "cups:job:LASER1:12", ""},
		{"canceled", cupsEventMsg("job-completed", cupsJob(13, 7, "x", "Job canceled by user.")...), "messenger:///",
			"job canceled: \"x\" (job 13) on LASER1\nJob canceled by user.", message.SeverityWarning, "cups:job:LASER1:13", ""},
		{"aborted", cupsEventMsg("job-completed", cupsJob(14, 8, "x", "Job stopped due to filter errors.")...), "messenger://OPS",
			"job aborted: \"x\" (job 14) on LASER1\nJob stopped due to filter errors.", message.SeverityWarning, "cups:job:LASER1:14", "OPS"},
		{"job name that forges a line", cupsEventMsg("job-completed", cupsJob(15, 9, "a\nALERT critical: b\u202e", "Job completed.")...), "messenger://ALICE",
			`job completed: "a\nALERT critical: b\u202e" (job 15) on LASER1`, message.SeverityInfo, "cups:job:LASER1:15", "ALICE"},
		{"printer stopped", stopped, "messenger://OPS",
			"printer stopped: LASER1\nPrinter \"LASER1\" state changed to stopped.\nreasons: paused, media-empty-error", message.SeverityWarning, "cups:printer:LASER1:stopped", "OPS"},
		{"other printer event", cupsEventMsg("printer-state-changed", cupsText("notify-text", `Printer "LASER1" state changed to idle.`), cupsText("printer-name", "LASER1")), "messenger://OPS",
			"printer-state-changed: LASER1\nPrinter \"LASER1\" state changed to idle.", message.SeverityInfo, "", "OPS"},
		{"other job event, job-id of CUPS 2.5", cupsEventMsg("job-created", cupsText("notify-text", "Job created."), cupsText("printer-name", "LASER1"), cupsInt("job-id", ipp.TagInteger, 3), cupsText("job-name", "j")), "messenger://OPS",
			"job-created: \"j\" (job 3) on LASER1\nJob created.", message.SeverityInfo, "", "OPS"},
		{"server event", cupsEventMsg("server-restarted", cupsText("notify-text", "Scheduler restarted.")), "messenger://OPS",
			"server-restarted\nScheduler restarted.", message.SeverityInfo, "", "OPS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := FromCUPSEvent(tt.ev, tt.uri)
			if err != nil {
				t.Fatal(err)
			}
			if n.Text != tt.text {
				t.Errorf("text\n%s\nwant\n%s", n.Text, tt.text)
			}
			if n.Alert.Source != SourceCUPS || n.Alert.Severity != tt.severity || n.Alert.Key != tt.key || n.Alert.Status != "" {
				t.Errorf("alert %+v, want source cups, severity %s, key %q, no status", n.Alert, tt.severity, tt.key)
			}
			if n.To != tt.to {
				t.Errorf("To = %q, want %q", n.To, tt.to)
			}
		})
	}
}

// TestFromCUPSEventGolden maps the events a real cupsd 2.4.2 wrote to a
// notifier while one job printed.
func TestFromCUPSEventGolden(t *testing.T) {
	f, err := os.Open("../../ipp/testdata/cupsd-2.4.2-events.bin")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := ipp.NewReader(f)
	var texts []string
	for {
		ev, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n, err := FromCUPSEvent(ev, "messenger://")
		if err != nil {
			t.Fatal(err)
		}
		if id, ok := CUPSJobID(ev); ok != strings.HasPrefix(n.Text, "job") || (ok && id != 1) {
			t.Errorf("CUPSJobID = %d, %v for %q", id, ok, n.Text)
		}
		texts = append(texts, n.Text)
	}
	want := []string{
		"printer-state-changed: TESTPRN\nPrinter \"TESTPRN\" state changed to processing.",
		`job completed: "myjob" (job 1) on TESTPRN`,
		"printer-state-changed: TESTPRN\nPrinter \"TESTPRN\" state changed to idle.",
	}
	if strings.Join(texts, "|") != strings.Join(want, "|") {
		t.Errorf("texts\n%q\nwant\n%q", texts, want)
	}
}

func TestFromCUPSEventRefuses(t *testing.T) {
	tests := []struct {
		name string
		ev   ipp.Message
		uri  string
		want string
	}{
		{"no event name", ipp.Message{Groups: []ipp.Group{{Tag: ipp.TagEventNotification, Attributes: []ipp.Attribute{cupsText("notify-text", "x")}}}}, "messenger://A", "notify-subscribed-event: attribute not present"},
		{"event name of the wrong type", ipp.Message{Groups: []ipp.Group{{Tag: ipp.TagEventNotification, Attributes: []ipp.Attribute{cupsInt("notify-subscribed-event", ipp.TagInteger, 1)}}}}, "messenger://A", "notify-subscribed-event: value is integer"},
		{"job-state not an enum", cupsEventMsg("job-completed", cupsText("job-state", "completed")), "messenger://A", "job-state: value is nameWithoutLanguage"},
		{"printer name not a string", cupsEventMsg("printer-stopped", cupsInt("printer-name", ipp.TagInteger, 1)), "messenger://A", "printer-name: value is integer"},
		{"other scheme", cupsEventMsg("job-completed"), "mailto:alice@example.com", "scheme is not messenger"},
		{"opaque", cupsEventMsg("job-completed"), "messenger:ALICE", "write messenger://NAME"},
		{"path", cupsEventMsg("job-completed"), "messenger://host/ALICE", `path "/ALICE"`},
		{"port", cupsEventMsg("job-completed"), "messenger://ALICE:99", "no user, port"},
		{"user", cupsEventMsg("job-completed"), "messenger://bob@ALICE", "no user, port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := FromCUPSEvent(tt.ev, tt.uri)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one saying %q", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "cups: ") {
				t.Errorf("error %q does not say it is about cups", err)
			}
			if n != (Notice{}) {
				t.Errorf("a refused event gave %+v", n)
			}
		})
	}
}

func TestCUPSRecipient(t *testing.T) {
	for uri, want := range map[string]string{
		"messenger://ALICE":  "ALICE",
		"messenger://alice/": "alice",
		"MESSENGER://Ops":    "Ops",
		"messenger://":       "",
		"messenger:///":      "",
	} {
		if got, err := CUPSRecipient(uri); err != nil || got != want {
			t.Errorf("CUPSRecipient(%q) = %q, %v; want %q", uri, got, err, want)
		}
	}
}

func TestFromCUPSEventLongFields(t *testing.T) {
	long := strings.Repeat("é", 5000)
	ev := cupsEventMsg("job-completed", cupsJob(1, 8, long, long)...)
	ev.Groups[0].Attributes = append(ev.Groups[0].Attributes, cupsText("printer-name", strings.Repeat("P", 600)))
	n, err := FromCUPSEvent(ev, "messenger://A")
	if err != nil {
		t.Fatal(err)
	}
	if c := len([]rune(n.Text)); c > message.MaxTextLen {
		t.Errorf("text of %d characters", c)
	}
	if err := message.ValidateAlert(&n.Alert); err != nil {
		t.Error(err)
	}
}

// FuzzFromCUPSEvent feeds decoded IPP messages to the mapping: it never
// panics, and what it accepts is a valid alert whose first line holds no
// line break smuggled in by a job name.
func FuzzFromCUPSEvent(f *testing.F) {
	for _, ev := range []ipp.Message{
		cupsEventMsg("job-completed", cupsJob(12, 9, "report.pdf", "Job completed.")...),
		cupsEventMsg("job-completed", cupsJob(14, 8, "a\nb", "Job stopped.")...),
		cupsEventMsg("printer-stopped", cupsText("printer-name", "P"), cupsText("printer-state-reasons", "paused")),
	} {
		b, err := ev.Marshal()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, "messenger://ALICE")
	}
	if raw, err := os.ReadFile("../../ipp/testdata/cupsd-2.4.2-events.bin"); err == nil {
		f.Add(raw, "messenger://")
	}
	f.Fuzz(func(t *testing.T, b []byte, uri string) {
		ev, _, err := ipp.Decode(b)
		if err != nil {
			return
		}
		n, err := FromCUPSEvent(ev, uri)
		if err != nil {
			return
		}
		if err := message.ValidateAlert(&n.Alert); err != nil {
			t.Fatalf("invalid alert %+v: %v", n.Alert, err)
		}
		if n.Text == "" || !utf8.ValidString(n.Text) || utf8.RuneCountInString(n.Text) > message.MaxTextLen {
			t.Fatalf("bad text %q", n.Text)
		}
		// The job name is the submitter's: on a job-completed event it
		// must appear quoted, with its line breaks escaped, on the first
		// line.
		kind, _ := ev.Text("notify-subscribed-event")
		if name, _ := ev.Text("job-name"); kind == "job-completed" && name != "" && len(name) <= 255 {
			first, _, _ := strings.Cut(n.Text, "\n")
			if !strings.Contains(first, strconv.Quote(name)) {
				t.Fatalf("job name %q not quoted on the first line of %q", name, n.Text)
			}
		}
	})
}
