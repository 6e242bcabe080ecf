package notice

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/netsend/messenger/internal/message"
)

func TestDecodeAlertmanagerGolden(t *testing.T) {
	for _, name := range []string{"alertmanager_firing", "alertmanager_resolved", "alertmanager_mixed"} {
		t.Run(name, func(t *testing.T) {
			n, err := DecodeAlertmanager(readTestdata(t, name+".json"))
			if err != nil {
				t.Fatal(err)
			}
			checkNotice(t, n, SourceAlertmanager)
			checkGolden(t, name+".golden", render(n))
		})
	}
}

func TestDecodeAlertmanagerFields(t *testing.T) {
	firing, err := DecodeAlertmanager(readTestdata(t, "alertmanager_firing.json"))
	if err != nil {
		t.Fatal(err)
	}
	resolved, err := DecodeAlertmanager(readTestdata(t, "alertmanager_resolved.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := message.Alert{Source: "alertmanager", Severity: message.SeverityCritical, Status: message.AlertFiring,
		Title: "HighLoad", Key: `{}:{alertname="HighLoad"}`}
	if firing.Alert != want {
		t.Errorf("firing alert %+v, want %+v", firing.Alert, want)
	}
	if !strings.HasPrefix(firing.Text, "[FIRING:2] HighLoad\n") {
		t.Errorf("firing text starts %q", firing.Text)
	}
	// The resolution clears the firing alert: same key, and it keeps the
	// severity the alerts had.
	want.Status = message.AlertResolved
	if resolved.Alert != want {
		t.Errorf("resolved alert %+v, want %+v", resolved.Alert, want)
	}
	if !strings.HasPrefix(resolved.Text, "[RESOLVED] HighLoad\n") {
		t.Errorf("resolved text starts %q", resolved.Text)
	}

	// A firing notification's severity is that of the alerts still
	// firing: the resolved "page" alert of the mixed group does not count.
	mixed, err := DecodeAlertmanager(readTestdata(t, "alertmanager_mixed.json"))
	if err != nil {
		t.Fatal(err)
	}
	if mixed.Alert.Severity != message.SeverityWarning || mixed.Alert.Title != "storage" {
		t.Errorf("mixed alert %+v, want warning titled by its group label, \"storage\"", mixed.Alert)
	}
	if !strings.Contains(mixed.Text, "- [resolved] Filesystem /dev/sda1") || !strings.Contains(mixed.Text, "3 left out by Alertmanager's max_alerts") {
		t.Errorf("mixed text:\n%s", mixed.Text)
	}
}

func TestAlertmanagerSeverity(t *testing.T) {
	for label, want := range map[string]message.Severity{
		"critical": message.SeverityCritical, "CRITICAL": message.SeverityCritical, "page": message.SeverityCritical,
		"emergency": message.SeverityCritical, "alert": message.SeverityCritical, "error": message.SeverityCritical,
		"high": message.SeverityCritical, "warning": message.SeverityWarning, " Warn ": message.SeverityWarning,
		"medium": message.SeverityWarning, "info": message.SeverityInfo, "low": message.SeverityInfo,
		"none": message.SeverityInfo, "": message.SeverityInfo, "whatever": message.SeverityInfo,
	} {
		if got := alertmanagerSeverity(label); got != want {
			t.Errorf("alertmanagerSeverity(%q) = %s, want %s", label, got, want)
		}
	}
}

// amPayload builds a webhook body from the firing example with edit
// applied to its decoded form.
func amPayload(t testing.TB, edit func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(readTestdata(t, "alertmanager_firing.json"), &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeAlertmanagerErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		body  []byte
		words []string
	}{
		{"empty", nil, []string{"not the webhook JSON"}},
		{"not JSON", []byte("status=firing"), []string{"not the webhook JSON"}},
		{"JSON array", []byte(`[{"labels":{"alertname":"x"}}]`), []string{"not the webhook JSON"}},
		{"no version", amPayload(t, func(m map[string]any) { delete(m, "version") }), []string{"version is missing"}},
		{"version 1 (Grafana)", amPayload(t, func(m map[string]any) { m["version"] = "1" }), []string{`version "1"`, `"4"`}},
		{"version as number", amPayload(t, func(m map[string]any) { m["version"] = 4 }), []string{"not the webhook JSON", "version"}},
		{"no status", amPayload(t, func(m map[string]any) { delete(m, "status") }), []string{"status is missing"}},
		{"unknown status", amPayload(t, func(m map[string]any) { m["status"] = "pending" }), []string{`status "pending"`}},
		{"no alerts", amPayload(t, func(m map[string]any) { delete(m, "alerts") }), []string{"alerts is empty"}},
		{"zero alerts", amPayload(t, func(m map[string]any) { m["alerts"] = []any{} }), []string{"alerts is empty"}},
		{"alert without labels", amPayload(t, func(m map[string]any) {
			m["alerts"].([]any)[1].(map[string]any)["labels"] = map[string]any{}
		}), []string{"alerts[1] has no labels"}},
		{"alert with unknown status", amPayload(t, func(m map[string]any) {
			m["alerts"].([]any)[0].(map[string]any)["status"] = "silenced"
		}), []string{"alerts[0]", `status "silenced"`}},
		{"label not a string", amPayload(t, func(m map[string]any) {
			m["alerts"].([]any)[0].(map[string]any)["labels"] = map[string]any{"alertname": 5}
		}), []string{"not the webhook JSON"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := DecodeAlertmanager(tc.body)
			wantErr(t, err, tc.words...)
			if n != (Notice{}) {
				t.Errorf("an error came with a notice: %+v", n)
			}
		})
	}
}

func TestDecodeAlertmanagerTooLarge(t *testing.T) {
	body := amPayload(t, func(m map[string]any) { m["externalURL"] = strings.Repeat("x", MaxBodyLen) })
	_, err := DecodeAlertmanager(body)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("error %v, want ErrTooLarge", err)
	}
	// Exactly MaxBodyLen is still read.
	body = amPayload(t, func(m map[string]any) { m["externalURL"] = "" })
	pad := MaxBodyLen - len(body)
	body = append(body[:len(body)-1], []byte(`,"pad":"`+strings.Repeat("p", pad-9)+`"}`)...)
	if len(body) != MaxBodyLen {
		t.Fatalf("test body is %d bytes", len(body))
	}
	if _, err := DecodeAlertmanager(body); err != nil {
		t.Fatalf("a body of exactly MaxBodyLen: %v", err)
	}
}

// manyAlerts is a notification of n firing alerts with long descriptions,
// as a group of a big outage looks.
func manyAlerts(t testing.TB, n int, truncated int) []byte {
	t.Helper()
	return amPayload(t, func(m map[string]any) {
		alerts := make([]any, n)
		for i := range alerts {
			alerts[i] = map[string]any{
				"status": "firing",
				"labels": map[string]any{"alertname": "InstanceDown", "instance": fmt.Sprintf("node%03d:9100", i), "job": "node", "severity": "critical"},
				"annotations": map[string]any{
					"summary":     fmt.Sprintf("node%03d is down", i),
					"description": strings.Repeat("It has not answered a scrape for five minutes. ", 20),
				},
				"startsAt": "2026-11-29T10:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
				"generatorURL": "http://prometheus:9090/graph", "fingerprint": fmt.Sprintf("%016x", i),
			}
		}
		m["alerts"] = alerts
		m["commonLabels"] = map[string]any{"alertname": "InstanceDown", "job": "node", "severity": "critical"}
		m["truncatedAlerts"] = truncated
	})
}

func TestDecodeAlertmanagerCapsText(t *testing.T) {
	n, err := DecodeAlertmanager(manyAlerts(t, 200, 50))
	if err != nil {
		t.Fatal(err)
	}
	checkNotice(t, n, SourceAlertmanager)
	if !strings.HasPrefix(n.Text, "[FIRING:200] InstanceDown\n- node000 is down (instance node000:9100, job node)\n") {
		t.Errorf("text starts %q", n.Text[:120])
	}
	lines := strings.Split(n.Text, "\n")
	last := lines[len(lines)-1]
	shown := strings.Count(n.Text, "\n- ")
	want := fmt.Sprintf("… and %d more (50 left out by Alertmanager's max_alerts)", 250-shown)
	if last != want {
		t.Errorf("last line %q, want %q", last, want)
	}
	if shown < 3 {
		t.Errorf("only %d alerts shown", shown)
	}
	// The text is full: one more entry would not have fitted.
	if c := utf8.RuneCountInString(n.Text); c < message.MaxTextLen-maxAlertEntryLen {
		t.Errorf("text is %d characters; room was left for more alerts", c)
	}

	// Few alerts, nothing left out: no "more" line.
	n, err = DecodeAlertmanager(manyAlerts(t, 2, 0))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(n.Text, "more") {
		t.Errorf("a text with every alert says there are more:\n%s", n.Text)
	}
}

func TestDecodeAlertmanagerKeyWithoutGroupKey(t *testing.T) {
	body := amPayload(t, func(m map[string]any) {
		delete(m, "groupKey")
		m["groupLabels"] = map[string]any{"job": "node", "alertname": "HighLoad"}
	})
	n, err := DecodeAlertmanager(body)
	if err != nil {
		t.Fatal(err)
	}
	if want := `messenger:{alertname="HighLoad", job="node"}`; n.Alert.Key != want {
		t.Errorf("key %q, want %q", n.Alert.Key, want)
	}
}

func TestDecodeAlertmanagerLongFields(t *testing.T) {
	long := strings.Repeat("ü", 5000)
	body := amPayload(t, func(m map[string]any) {
		m["groupKey"] = long
		m["commonLabels"] = map[string]any{"alertname": long + "\n" + long}
		m["alerts"].([]any)[0].(map[string]any)["annotations"] = map[string]any{"summary": long}
	})
	n, err := DecodeAlertmanager(body)
	if err != nil {
		t.Fatal(err)
	}
	checkNotice(t, n, SourceAlertmanager)
	if !strings.HasPrefix(n.Alert.Key, "sha256:") {
		t.Errorf("a group key too long for a key is not hashed: %q", cut(n.Alert.Key, 40))
	}
}

func BenchmarkDecodeAlertmanager(b *testing.B) {
	for _, bc := range []struct {
		name string
		body []byte
	}{
		{"2alerts", readTestdata(b, "alertmanager_firing.json")},
		{"200alerts", manyAlerts(b, 200, 0)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.body)))
			for b.Loop() {
				if _, err := DecodeAlertmanager(bc.body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
