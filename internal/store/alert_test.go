package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/netsend/messenger/internal/message"
)

func alertSample(a *message.Alert) message.Message {
	return message.Message{
		From: "MSGHOST", To: "ALICE", Text: "UPS ups1 on battery",
		Time:      time.Date(2026, 11, 29, 11, 0, 0, 0, time.UTC),
		Transport: message.TransportAlert, Source: "local", Alert: a,
	}
}

func TestAlertRoundTrip(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{})
	full := &message.Alert{Source: "nut", Severity: message.SeverityCritical, Status: message.AlertFiring,
		Title: "ONBATT", Key: "nut/ups1/onbatt"}
	bare := &message.Alert{Source: "clamav", Severity: message.SeverityWarning}
	plain := add(t, s, sample("not an alert"))
	withFull := add(t, s, alertSample(full))
	withBare := add(t, s, alertSample(bare))
	// Add copied the alert; changing the caller's afterwards changes
	// nothing stored.
	full.Title = "changed"

	s = reopen(t, s, dir)
	for _, tc := range []struct {
		id   int64
		want *message.Alert
	}{
		{plain.ID, nil},
		{withFull.ID, &message.Alert{Source: "nut", Severity: message.SeverityCritical, Status: message.AlertFiring, Title: "ONBATT", Key: "nut/ups1/onbatt"}},
		{withBare.ID, &message.Alert{Source: "clamav", Severity: message.SeverityWarning}},
	} {
		got, err := s.Get(context.Background(), tc.id)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case tc.want == nil && got.Alert != nil:
			t.Errorf("message %d: alert %+v, want none", tc.id, *got.Alert)
		case tc.want != nil && (got.Alert == nil || *got.Alert != *tc.want):
			t.Errorf("message %d: alert %v, want %+v", tc.id, got.Alert, *tc.want)
		}
		if tc.want != nil && got.Transport != message.TransportAlert {
			t.Errorf("message %d: transport %q, want alert", tc.id, got.Transport)
		}
	}
	list, err := s.List(context.Background(), ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 3 || list[0].Alert != nil || list[1].Alert == nil || list[1].Alert.Key != "nut/ups1/onbatt" {
		t.Errorf("List does not carry the alert fields: %+v", list)
	}
}

func TestAlertInvalidNotStored(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{})
	for _, m := range []message.Message{
		alertSample(nil), // an alert message without alert fields
		alertSample(&message.Alert{Source: "", Severity: message.SeverityInfo}),
		alertSample(&message.Alert{Source: "nut", Severity: "loud"}),
		func() message.Message {
			m := sample("an SMB message posing as an alert")
			m.Alert = &message.Alert{Source: "nut", Severity: message.SeverityInfo}
			return m
		}(),
	} {
		if err := s.Add(context.Background(), &m); err == nil {
			t.Errorf("Add(%+v) accepted an invalid alert", m.Alert)
		}
	}
	if n := count(t, s); n != 0 {
		t.Errorf("%d messages stored, want 0", n)
	}
}

// A database written before alerts existed (schema version 4) is
// migrated on Open, and its messages read back as no alerts.
func TestAlertMigrationFromVersion4(t *testing.T) {
	s := openFromVersion(t, 4, func(exec func(string, ...any)) {
		exec(`INSERT INTO messages (sender, recipient, text, received, transport, source, state, rule, explanation)
			VALUES ('ALICE', 'BOB', 'from before alerts', ?, 'smb', '192.0.2.7:139', 'unread', '', '')`, time.Now().UnixNano())
	})
	ctx := context.Background()
	old, err := s.Get(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if old.Text != "from before alerts" || old.Alert != nil {
		t.Errorf("old message read back as %+v (alert %v), want its text and no alert", old, old.Alert)
	}
	m := add(t, s, alertSample(&message.Alert{Source: "systemd", Severity: message.SeverityCritical}))
	got, err := s.Get(ctx, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Alert == nil || got.Alert.Source != "systemd" {
		t.Errorf("alert added after the migration reads back as %v", fmt.Sprint(got.Alert))
	}
}
