package notice

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/netsend/messenger/internal/message"
)

// AlertmanagerVersion is the only webhook payload version understood: the
// "version" field Alertmanager's webhook notifier (notify/webhook) has sent
// since 0.9, documented with the payload at
// https://prometheus.io/docs/alerting/latest/configuration/#webhook_config.
const AlertmanagerVersion = "4"

// maxAlertEntryLen is where one alert's entry in the text is cut, so that
// a single long description cannot crowd out the others.
const maxAlertEntryLen = 600

// alertmanagerMessage is the webhook body: Alertmanager's template data
// (receiver, status, alerts, group/common labels and annotations,
// externalURL) plus version, groupKey and truncatedAlerts.
type alertmanagerMessage struct {
	Version           string              `json:"version"`
	GroupKey          string              `json:"groupKey"`
	TruncatedAlerts   uint64              `json:"truncatedAlerts"`
	Receiver          string              `json:"receiver"`
	Status            string              `json:"status"`
	Alerts            []alertmanagerAlert `json:"alerts"`
	GroupLabels       map[string]string   `json:"groupLabels"`
	CommonLabels      map[string]string   `json:"commonLabels"`
	CommonAnnotations map[string]string   `json:"commonAnnotations"`
	ExternalURL       string              `json:"externalURL"`
}

type alertmanagerAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     string            `json:"startsAt"`
	EndsAt       string            `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// DecodeAlertmanager reads one call of Alertmanager's webhook notifier:
// one notification for one group of alerts, which becomes one Notice.
//
//   - Status is the notification's status: "firing" while any alert of
//     the group fires, "resolved" when all have.
//   - Severity is the highest `severity` label among the firing alerts
//     (among all alerts of a resolved notification, so that the
//     resolution carries the severity the alerts had), mapped by
//     alertmanagerSeverity.
//   - Title is the group's common alertname, else the values of its
//     group labels (as in Alertmanager's default title), else "N alerts".
//   - Key is groupKey, which Alertmanager keeps for the group's whole
//     life, so the resolved notification clears the firing one; when a
//     sender leaves it out, the receiver and group labels stand in.
//   - Text starts "[FIRING:2] HighLoad" and lists each alert's summary
//     (or description, or alertname) with its instance and job, cut to
//     message.MaxTextLen with a "… and N more" line that also counts the
//     alerts Alertmanager left out (truncatedAlerts, from max_alerts).
func DecodeAlertmanager(body []byte) (Notice, error) {
	const what = "alertmanager webhook"
	if err := checkBodyLen(what, body); err != nil {
		return Notice{}, err
	}
	var m alertmanagerMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return Notice{}, fmt.Errorf("%s: not the webhook JSON: %w", what, err)
	}
	if m.Version != AlertmanagerVersion {
		if m.Version == "" {
			return Notice{}, fmt.Errorf("%s: version is missing; want %q", what, AlertmanagerVersion)
		}
		return Notice{}, fmt.Errorf("%s: version %q is not %q", what, cut(m.Version, 20), AlertmanagerVersion)
	}
	status, err := alertmanagerStatus(m.Status)
	if err != nil {
		return Notice{}, fmt.Errorf("%s: %w", what, err)
	}
	if len(m.Alerts) == 0 {
		return Notice{}, fmt.Errorf("%s: alerts is empty; a notification has at least one", what)
	}
	firing := 0
	for i, a := range m.Alerts {
		if len(a.Labels) == 0 {
			return Notice{}, fmt.Errorf("%s: alerts[%d] has no labels", what, i)
		}
		st, err := alertmanagerStatus(a.Status)
		if err != nil {
			return Notice{}, fmt.Errorf("%s: alerts[%d]: %w", what, i, err)
		}
		if st == message.AlertFiring {
			firing++
		}
	}

	severity := message.SeverityInfo
	for _, a := range m.Alerts {
		if status == message.AlertFiring && a.Status != string(message.AlertFiring) {
			continue
		}
		if s := alertmanagerSeverity(a.Labels["severity"]); s.Rank() > severity.Rank() {
			severity = s
		}
	}

	// A count no Alertmanager sends is held down so that sums cannot wrap.
	m.TruncatedAlerts = min(m.TruncatedAlerts, math.MaxUint32)
	total := uint64(len(m.Alerts)) + m.TruncatedAlerts
	title := oneLine(m.CommonLabels["alertname"])
	if title == "" {
		title = oneLine(labelValues(m.GroupLabels))
	}
	if title == "" {
		title = strconv.FormatUint(total, 10) + " alerts"
	}

	groupKey := m.GroupKey
	if groupKey == "" {
		groupKey = m.Receiver + ":" + formatLabels(m.GroupLabels)
	}

	n := Notice{
		Alert: message.Alert{
			Source:   SourceAlertmanager,
			Severity: severity,
			Status:   status,
			Title:    title,
			Key:      key("", groupKey),
		},
		Text: alertmanagerText(&m, status, title, firing),
	}
	return finish(n)
}

func alertmanagerStatus(s string) (message.AlertStatus, error) {
	switch message.AlertStatus(s) {
	case message.AlertFiring, message.AlertResolved:
		return message.AlertStatus(s), nil
	case "":
		return "", fmt.Errorf("status is missing; want firing or resolved")
	}
	return "", fmt.Errorf("status %q is not firing or resolved", cut(s, 20))
}

// alertmanagerSeverity maps a `severity` label. Prometheus leaves its
// values to each rule's author; these are the words in common use (the
// kube-prometheus, PagerDuty and Opsgenie vocabularies), checked without
// regard to case. Anything else, or no label, is info.
func alertmanagerSeverity(label string) message.Severity {
	switch strings.ToLower(strings.TrimSpace(label)) {
	case "critical", "page", "emergency", "alert", "error", "high", "fatal", "disaster":
		return message.SeverityCritical
	case "warning", "warn", "medium", "average":
		return message.SeverityWarning
	}
	return message.SeverityInfo
}

// labelValues is the values of a label set, by label name, separated by
// spaces.
func labelValues(labels map[string]string) string {
	names := make([]string, 0, len(labels))
	for k := range labels {
		names = append(names, k)
	}
	slices.Sort(names)
	values := make([]string, 0, len(names))
	for _, k := range names {
		if v := labels[k]; v != "" {
			values = append(values, v)
		}
	}
	return strings.Join(values, " ")
}

// formatLabels writes a label set as Alertmanager writes one in a group
// key: {a="1", b="2"}, sorted by name.
func formatLabels(labels map[string]string) string {
	names := make([]string, 0, len(labels))
	for k := range labels {
		names = append(names, k)
	}
	slices.Sort(names)
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range names {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(strconv.Quote(labels[k]))
	}
	b.WriteByte('}')
	return b.String()
}

// alertmanagerText writes the pop-up: a header in the manner of
// Alertmanager's own default title, then one entry per alert, firing
// alerts first. Entries are added while they fit; the room for the
// closing "… and N more" line is kept free from the start.
func alertmanagerText(m *alertmanagerMessage, status message.AlertStatus, title string, firing int) string {
	var b strings.Builder
	if status == message.AlertFiring {
		fmt.Fprintf(&b, "[FIRING:%d] %s", firing, title)
	} else {
		fmt.Fprintf(&b, "[RESOLVED] %s", title)
	}
	used := utf8.RuneCountInString(b.String())

	total := uint64(len(m.Alerts)) + m.TruncatedAlerts
	tailRoom := utf8.RuneCountInString(moreLine(total, m.TruncatedAlerts))

	order := make([]int, 0, len(m.Alerts))
	for i, a := range m.Alerts {
		if a.Status == string(message.AlertFiring) {
			order = append(order, i)
		}
	}
	for i, a := range m.Alerts {
		if a.Status != string(message.AlertFiring) {
			order = append(order, i)
		}
	}

	shown := 0
	for _, i := range order {
		entry := alertEntry(&m.Alerts[i], status == message.AlertFiring)
		n := 1 + utf8.RuneCountInString(entry) // with its line break
		if used+n+tailRoom > message.MaxTextLen {
			break
		}
		b.WriteByte('\n')
		b.WriteString(entry)
		used += n
		shown++
	}
	if more := total - uint64(shown); more > 0 {
		b.WriteByte('\n')
		b.WriteString(moreLine(more, m.TruncatedAlerts))
	}
	return b.String()
}

// moreLine says how many alerts the text does not show, and how many of
// those Alertmanager did not send at all (max_alerts).
func moreLine(more, truncated uint64) string {
	s := "… and " + strconv.FormatUint(more, 10) + " more"
	if truncated > 0 {
		s += " (" + strconv.FormatUint(truncated, 10) + " left out by Alertmanager's max_alerts)"
	}
	return s
}

// alertEntry is one alert's lines: "- " and its summary, with where it
// fires, then its description when it has both. In a firing
// notification, the alerts of the group that have resolved are marked.
func alertEntry(a *alertmanagerAlert, markResolved bool) string {
	summary := normalizeText(a.Annotations["summary"])
	description := normalizeText(a.Annotations["description"])
	if summary == "" {
		summary, description = description, ""
	}
	if summary == "" {
		summary = normalizeText(a.Annotations["message"])
	}
	if summary == "" {
		summary = a.Labels["alertname"]
	}
	var where []string
	if v := a.Labels["instance"]; v != "" {
		where = append(where, "instance "+v)
	}
	if v := a.Labels["job"]; v != "" {
		where = append(where, "job "+v)
	}
	if summary == "" {
		summary = formatLabels(a.Labels)
	}

	var b strings.Builder
	b.WriteString("- ")
	if markResolved && a.Status == string(message.AlertResolved) {
		b.WriteString("[resolved] ")
	}
	b.WriteString(indent(summary))
	if len(where) > 0 {
		b.WriteString(" (")
		b.WriteString(strings.Join(where, ", "))
		b.WriteString(")")
	}
	if description != "" && description != summary {
		b.WriteString("\n  ")
		b.WriteString(indent(description))
	}
	return cut(b.String(), maxAlertEntryLen)
}

// indent keeps a multi-line annotation inside its entry.
func indent(s string) string {
	if strings.IndexByte(s, '\n') < 0 {
		return s
	}
	return strings.ReplaceAll(s, "\n", "\n  ")
}
