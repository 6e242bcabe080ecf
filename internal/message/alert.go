package message

import (
	"fmt"
	"strings"
)

// TransportAlert marks a message raised as an administrative alert
// (messenger alert, the ingest listener, the CUPS notifier): the Alerter
// service's messages, with Alert saying which tool raised it and how bad.
const TransportAlert Transport = "alert"

// Severity is how urgent an alert is. Every sink shows it; the desktop
// sink maps it to the notification urgency.
type Severity string

// Severities, from least to most urgent.
const (
	SeverityInfo     Severity = "info"
	SeverityWarning  Severity = "warning"
	SeverityCritical Severity = "critical"
)

// ParseSeverity reads "info", "warning" or "critical" (any case).
func ParseSeverity(s string) (Severity, error) {
	switch sv := Severity(strings.ToLower(strings.TrimSpace(s))); sv {
	case SeverityInfo, SeverityWarning, SeverityCritical:
		return sv, nil
	}
	return "", fmt.Errorf("severity %q is not info, warning or critical", s)
}

// Rank orders severities: info 0, warning 1, critical 2; anything else -1.
func (s Severity) Rank() int {
	switch s {
	case SeverityInfo:
		return 0
	case SeverityWarning:
		return 1
	case SeverityCritical:
		return 2
	}
	return -1
}

// AlertStatus is where an alert with a resolved state stands.
type AlertStatus string

// Alert statuses. An alert whose source has no resolved state (a print
// job finished, a virus found) has the empty status.
const (
	AlertFiring   AlertStatus = "firing"
	AlertResolved AlertStatus = "resolved"
)

// Limits of the alert fields, checked by Validate.
const (
	MaxAlertSourceLen = 64
	MaxAlertTitleLen  = 255
	MaxAlertKeyLen    = 512
)

// Alert is what marks a message as an administrative alert.
type Alert struct {
	// Source is the tool that raised it: nut, cups, alertmanager, clamav,
	// systemd, ntfy, gotify, or what `messenger alert --source` said.
	Source   string      `json:"source"`
	Severity Severity    `json:"severity"`
	Status   AlertStatus `json:"status,omitempty"`
	// Title is the alert's one-line summary when its source has one
	// (ntfy's Title header, Gotify's title, Alertmanager's alertname).
	Title string `json:"title,omitempty"`
	// Key is what repeats of the same alert share: de-duplication and the
	// resolved state go by it. Empty means source, title and text.
	Key string `json:"key,omitempty"`
}

// Label is the short mark sinks put before an alert, e.g.
// "ALERT critical nut" or "RESOLVED warning alertmanager".
func (a *Alert) Label() string {
	word := "ALERT"
	if a.Status == AlertResolved {
		word = "RESOLVED"
	}
	return word + " " + string(a.Severity) + " " + a.Source
}

// ValidateAlert checks an alert's fields.
func ValidateAlert(a *Alert) error {
	if a.Source == "" {
		return fmt.Errorf("%w: alert source is empty", ErrInvalid)
	}
	for _, f := range []struct {
		name, v string
		limit   int
	}{
		{"alert source", a.Source, MaxAlertSourceLen},
		{"alert title", a.Title, MaxAlertTitleLen},
		{"alert key", a.Key, MaxAlertKeyLen},
	} {
		if err := checkField(f.name, f.v, f.limit); err != nil {
			return err
		}
	}
	if a.Severity.Rank() < 0 {
		return fmt.Errorf("%w: alert severity %q is not info, warning or critical", ErrInvalid, a.Severity)
	}
	switch a.Status {
	case "", AlertFiring, AlertResolved:
	default:
		return fmt.Errorf("%w: alert status %q is not firing or resolved", ErrInvalid, a.Status)
	}
	return nil
}
