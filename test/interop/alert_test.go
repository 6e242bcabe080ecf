package interop

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/netsend/messenger/internal/alert"
	"github.com/netsend/messenger/internal/message"
)

// alert runs `messenger alert` against daemon d with env added to the
// environment, and returns its output and exit status.
func (d *daemon) alert(env []string, args ...string) (stdout, stderr string, code int) {
	d.t.Helper()
	cmd := exec.Command(binary, append([]string{"--data-dir", d.dataDir, "alert"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader("")
	return runExit(d.t, cmd)
}

// alerts are the inbox's alerts, oldest first.
func (d *daemon) alerts() []message.Message {
	d.t.Helper()
	var out []message.Message
	for _, m := range d.inbox() {
		if m.Transport == message.TransportAlert {
			out = append(out, m)
		}
	}
	return out
}

// With no configuration, `messenger alert` reaches the host name: stored
// with its alert fields, a repeat suppressed, the resolved state shown,
// and the next firing shown again.
func TestAlertDefaultRouteDedupResolved(t *testing.T) {
	d := startDaemon(t, "")
	out, errOut, code := d.alert(nil, "--source", "test", "--severity", "critical", "disk full")
	if code != 0 || out != "MSGHOST: delivered\n" {
		t.Fatalf("alert: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	got := d.alerts()
	if len(got) != 1 {
		t.Fatalf("inbox holds %d alerts, want 1: %+v", len(got), got)
	}
	m := got[0]
	if m.From != "MSGHOST" || m.To != "MSGHOST" || m.Text != "disk full" || m.Source != "local" || m.State != message.StateUnread {
		t.Errorf("stored alert %+v", m)
	}
	if m.Alert == nil || *m.Alert != (message.Alert{Source: "test", Severity: message.SeverityCritical}) {
		t.Errorf("stored alert fields %+v", m.Alert)
	}

	// The same alert again is spared, and still exits 0.
	out, errOut, code = d.alert(nil, "--source", "test", "--severity", "critical", "disk full")
	if code != 0 || !strings.Contains(out, "MSGHOST: suppressed") {
		t.Errorf("repeat: exit %d, stdout %q, stderr %q; want suppressed", code, out, errOut)
	}
	if n := len(d.alerts()); n != 1 {
		t.Errorf("after the repeat the inbox holds %d alerts, want 1", n)
	}

	// Resolved, then firing again: both shown, from the JSON outcome.
	for _, status := range []string{"--resolved", "--firing"} {
		out, errOut, code = d.alert(nil, "--source", "test", "--severity", "critical", "--key", "sda1", status, "--json", "disk full")
		var res alert.Result
		if code != 0 || json.Unmarshal([]byte(out), &res) != nil || len(res.Deliveries) != 1 || !res.Deliveries[0].OK() {
			t.Fatalf("%s: exit %d, stdout %q, stderr %q", status, code, out, errOut)
		}
	}
	out, _, _ = d.alert(nil, "--source", "test", "--severity", "critical", "--key", "sda1", "--resolved", "disk full again")
	if !strings.Contains(out, "delivered") {
		t.Errorf("resolved after a new firing: %q, want it shown again", out)
	}
	out, _, _ = d.alert(nil, "--source", "test", "--severity", "critical", "--key", "sda1", "--resolved", "disk full again")
	if !strings.Contains(out, "suppressed") {
		t.Errorf("resolved twice: %q, want the second suppressed", out)
	}
	got = d.alerts()
	var statuses []string
	for _, m := range got {
		statuses = append(statuses, string(m.Alert.Status))
	}
	if want := []string{"", "resolved", "firing", "resolved"}; !slices.Equal(statuses, want) {
		t.Errorf("stored statuses %q, want %q", statuses, want)
	}
}

// Routes and groups from a --config file decide who gets what; --to
// overrides them; an alert no route takes is refused.
func TestAlertRoutesFromConfig(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "messenger.toml")
	if err := os.WriteFile(conf, []byte(`names = ["OPS2", "AUDIT"]

[alert]
from = "ALERTER"

[alert.groups]
ops = ["MSGHOST", "ops2"]

[[alert.route]]
sources = ["backup"]
severity = "warning"
to = ["ops"]

[[alert.route]]
severity = "critical"
to = ["AUDIT"]
`), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, "", "--config", conf)
	recipients := func(from int) []string {
		var out []string
		for _, m := range d.alerts()[from:] {
			out = append(out, m.To)
		}
		slices.Sort(out)
		return out
	}

	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"--source", "backup", "--severity", "critical", "no backup since Monday"}, []string{"AUDIT", "MSGHOST", "OPS2"}},
		{[]string{"--source", "backup", "--severity", "warning", "backup slow"}, []string{"MSGHOST", "OPS2"}},
		{[]string{"--source", "raid", "--severity", "critical", "disk 3 failed"}, []string{"AUDIT"}},
		{[]string{"--source", "raid", "--severity", "info", "--to", "ops2", "--to", "AUDIT", "scrub done"}, []string{"AUDIT", "OPS2"}},
	} {
		before := len(d.alerts())
		out, errOut, code := d.alert(nil, tc.args...)
		if code != 0 {
			t.Fatalf("%v: exit %d, stdout %q, stderr %q", tc.args, code, out, errOut)
		}
		if got := recipients(before); !slices.Equal(got, tc.want) {
			t.Errorf("%v reached %v, want %v", tc.args, got, tc.want)
		}
	}
	for _, m := range d.alerts() {
		if m.From != "ALERTER" {
			t.Errorf("alert signed %q, want alert.from ALERTER", m.From)
		}
	}

	before := len(d.alerts())
	_, errOut, code := d.alert(nil, "--source", "raid", "--severity", "info", "scrub done")
	if code != 2 || !strings.Contains(errOut, "no route") {
		t.Errorf("unrouted alert: exit %d, stderr %q; want 2 and no route", code, errOut)
	}
	if n := len(d.alerts()); n != before {
		t.Errorf("the unrouted alert stored %d messages", n-before)
	}
}

// A source past alert.rate_limit is refused with exit status 6, and
// nothing is delivered; other sources go on.
func TestAlertRateLimit(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "messenger.toml")
	if err := os.WriteFile(conf, []byte("[alert]\nrate_limit = 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, "", "--config", conf)
	if out, errOut, code := d.alert(nil, "--source", "flappy", "--severity", "warning", "first"); code != 0 {
		t.Fatalf("first alert: exit %d, %q %q", code, out, errOut)
	}
	out, errOut, code := d.alert(nil, "--source", "flappy", "--severity", "warning", "second")
	if code != 6 || !strings.Contains(errOut, "rate limit") || out != "" {
		t.Errorf("second alert of the minute: exit %d, stdout %q, stderr %q; want 6 and the rate limit", code, out, errOut)
	}
	if out, errOut, code := d.alert(nil, "--source", "steady", "--severity", "warning", "other source"); code != 0 {
		t.Errorf("another source: exit %d, %q %q", code, out, errOut)
	}
	var texts []string
	for _, m := range d.alerts() {
		texts = append(texts, m.Text)
	}
	if want := []string{"first", "other source"}; !slices.Equal(texts, want) {
		t.Errorf("stored %q, want %q", texts, want)
	}
}

// Bad arguments and bad alerts exit 2 and store nothing.
func TestAlertBadInput(t *testing.T) {
	d := startDaemon(t, "")
	for _, args := range [][]string{
		{"no flags"},
		{"--source", "test", "disk full"},
		{"--source", "test", "--severity", "loud", "disk full"},
		{"--source", "test", "--severity", "info"}, // empty standard input
		{"--source", "test", "--severity", "info", "--to", "bad*name", "x"},
		{"--source", "test", "--severity", "info", "--to", "*", "x"},
		{"--source", "test", "--severity", "info", "--resolved", "--firing", "x"},
		{"--source", strings.Repeat("s", message.MaxAlertSourceLen+1), "--severity", "info", "x"},
		{"--source", "test", "--severity", "info", strings.Repeat("x", message.MaxTextLen+1)},
		{"--from-clamav"}, // the environment clamd sets is missing
		{"--from-nut", "UPS ups1 on battery"},
		{"--from-nut", "--from-clamav", "x"},
		{"--no-such-flag", "x"},
	} {
		out, errOut, code := d.alert(nil, args...)
		if code != 2 || errOut == "" {
			t.Errorf("%.80q: exit %d, stdout %q, stderr %q; want 2 with a message", args, code, out, errOut)
		}
	}
	if n := len(d.inbox()); n != 0 {
		t.Errorf("bad input stored %d messages", n)
	}
}

// The NUT adapter reads what upsmon gives NOTIFYCMD: ONLINE resolves
// ONBATT of the same UPS.
func TestAlertFromNUT(t *testing.T) {
	d := startDaemon(t, "")
	for _, ev := range []struct{ typ, msg string }{{"ONBATT", "UPS ups1@localhost on battery"}, {"ONLINE", "UPS ups1@localhost on line power"}} {
		out, errOut, code := d.alert([]string{"NOTIFYTYPE=" + ev.typ, "UPSNAME=ups1@localhost"}, "--from-nut", ev.msg)
		if code != 0 || out != "MSGHOST: delivered\n" {
			t.Fatalf("%s: exit %d, stdout %q, stderr %q", ev.typ, code, out, errOut)
		}
	}
	got := d.alerts()
	if len(got) != 2 {
		t.Fatalf("inbox holds %d alerts, want 2", len(got))
	}
	on, off := got[0].Alert, got[1].Alert
	if on.Source != "nut" || on.Status != message.AlertFiring || off.Status != message.AlertResolved || on.Key == "" || on.Key != off.Key {
		t.Errorf("NUT alerts %+v then %+v; want nut firing then resolved under one key", *on, *off)
	}
	if got[0].Text != "UPS ups1@localhost on battery" {
		t.Errorf("text %q", got[0].Text)
	}
}

// `messenger alert token` prints a token and the [[alert.token]] lines
// with its SHA-256, which a configuration file accepts as they are.
func TestAlertToken(t *testing.T) {
	out, err := exec.Command(binary, "alert", "token", "grafana").Output()
	if err != nil {
		t.Fatal(err)
	}
	token, rest, _ := strings.Cut(string(out), "\n")
	if len(token) != 43 || strings.ContainsAny(token, "+/=") {
		t.Errorf("token %q is not 32 bytes of base64url", token)
	}
	conf := filepath.Join(t.TempDir(), "messenger.toml")
	if err := os.WriteFile(conf, []byte(rest), 0o600); err != nil {
		t.Fatal(err)
	}
	printed, err := exec.Command(binary, "config", "print", "--config", conf, "--host-name", "MSGHOST").CombinedOutput()
	if err != nil {
		t.Fatalf("the printed lines are not a valid configuration: %v\n%s\n%s", err, rest, printed)
	}
	if !strings.Contains(string(printed), `name = "grafana"`) || !strings.Contains(string(printed), "sha256 = ") {
		t.Errorf("config print lacks the token:\n%s", printed)
	}
	if _, err := exec.Command(binary, "alert", "token", "two words").Output(); err == nil {
		t.Error("a token name with a space was accepted")
	}
}
