package interop

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"

	"github.com/netsend/messenger/internal/message"
)

// runLikeHook runs `messenger alert` the way a tool's hook runner does:
// through /bin/sh -c with the configured line as the command (clamd's
// VirusEvent and upsmon up to NUT 2.8.5 both do), and with nothing in the
// environment but what the tool sets.
func runLikeHook(t *testing.T, line string, env []string, args ...string) (string, string, error) {
	t.Helper()
	cmd := exec.Command("/bin/sh", append([]string{"-c", line, "sh"}, args...)...)
	cmd.Env = env
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	return o.String(), e.String(), err
}

// clamd runs VirusEvent with /bin/sh -c, an environment of PATH and its two
// variables only (clamd.conf(5), VirusEvent; clamd/clamd_others.c), and
// waits. The file name is the scanned file's, any bytes at all; it stays in
// the environment and never reaches a shell.
func TestAlertFromClamAVAsClamdRunsIt(t *testing.T) {
	d := startDaemon(t, "")
	line := binary + " --data-dir " + d.dataDir + " alert --from-clamav"
	file := "/srv/upload/$(touch pwned) \xff.exe"
	env := []string{"PATH=/usr/bin:/bin", "CLAM_VIRUSEVENT_FILENAME=" + file, "CLAM_VIRUSEVENT_VIRUSNAME=Win.Test.EICAR_HDB-1"}
	out, errOut, err := runLikeHook(t, line, env)
	if err != nil || out != "MSGHOST: delivered\n" {
		t.Fatalf("clamd's VirusEvent line: %v, stdout %q, stderr %q", err, out, errOut)
	}
	got := d.alerts()
	if len(got) != 1 {
		t.Fatalf("inbox holds %d alerts, want 1", len(got))
	}
	a, text := got[0].Alert, got[0].Text
	if a.Source != "clamav" || a.Severity != message.SeverityCritical || !strings.Contains(a.Title, "Win.Test.EICAR_HDB-1") {
		t.Errorf("alert %+v; want clamav, critical, the virus in the title", *a)
	}
	if !strings.Contains(text, "/srv/upload/$(touch pwned) \\xff.exe") {
		t.Errorf("text %q does not show the file name with its bad byte escaped", text)
	}

	// Without the variables (VirusEvent run by hand, or an old clamd that
	// only had %f), nothing is raised and the exit status says why.
	_, errOut, err = runLikeHook(t, line, []string{"PATH=/usr/bin:/bin"})
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(errOut, "CLAM_VIRUSEVENT_FILENAME") {
		t.Errorf("without clamd's environment: %v, stderr %q; want exit 2 naming the variable", err, errOut)
	}
	if n := len(d.alerts()); n != 1 {
		t.Errorf("inbox holds %d alerts after the refused run, want still 1", n)
	}
}

// upsmon (NUT ≤ 2.8.5) runs `NOTIFYCMD "message"` through the shell with
// NOTIFYTYPE and UPSNAME set (upsmon(8), NOTIFYCMD). The message is NUT's
// text; the line from upsmon.conf ends in "--" so that a NOTIFYMSG starting
// with "-" is not an option.
func TestAlertFromNUTAsUpsmonRunsIt(t *testing.T) {
	d := startDaemon(t, "")
	line := binary + ` --data-dir ` + d.dataDir + ` alert --from-nut -- "$1"`
	for _, ev := range []struct{ typ, msg string }{
		{"LOWBATT", "UPS ups1@localhost battery is low"},
		{"FSD", "-UPS ups1@localhost: forced shutdown in progress"},
	} {
		out, errOut, err := runLikeHook(t, line, []string{"PATH=/usr/bin:/bin", "NOTIFYTYPE=" + ev.typ, "UPSNAME=ups1@localhost"}, ev.msg)
		if err != nil || out != "MSGHOST: delivered\n" {
			t.Fatalf("%s: %v, stdout %q, stderr %q", ev.typ, err, out, errOut)
		}
	}
	got := d.alerts()
	if len(got) != 2 || got[1].Text != "-UPS ups1@localhost: forced shutdown in progress" {
		t.Fatalf("inbox %+v; want the two NUT messages, the second with its leading '-'", got)
	}
	for _, m := range got {
		if m.Alert.Source != "nut" || m.Alert.Severity != message.SeverityCritical {
			t.Errorf("alert %+v; want nut, critical", *m.Alert)
		}
	}
}

// systemd starts OnFailure=messenger-alert@%n.service with the failed
// unit as the instance and $MONITOR_* set (systemd.exec(5), "Environment
// Variables in Spawned Processes"). Here no journal holds the unit's log,
// so the alert says the log is unavailable rather than failing.
func TestAlertFromSystemdAsOnFailureRunsIt(t *testing.T) {
	d := startDaemon(t, "")
	env := []string{"PATH=/usr/bin:/bin", "MONITOR_SERVICE_RESULT=exit-code", "MONITOR_EXIT_CODE=exited",
		"MONITOR_EXIT_STATUS=3", "MONITOR_UNIT=backup.service", "MONITOR_INVOCATION_ID=0123456789abcdef0123456789abcdef"}
	cmd := exec.Command(binary, "--data-dir", d.dataDir, "alert", "--from-systemd", "backup.service")
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil || string(out) != "MSGHOST: delivered\n" {
		t.Fatalf("--from-systemd: %v, output %q", err, out)
	}
	got := d.alerts()
	if len(got) != 1 {
		t.Fatalf("inbox holds %d alerts, want 1", len(got))
	}
	a, text := got[0].Alert, got[0].Text
	if a.Source != "systemd" || a.Severity != message.SeverityCritical || a.Title != "backup.service failed" {
		t.Errorf("alert %+v; want systemd, critical, \"backup.service failed\"", *a)
	}
	for _, want := range []string{"exit-code", "3"} {
		if !strings.Contains(text, want) {
			t.Errorf("text %q lacks %q", text, want)
		}
	}
	// A unit name that would be an option of journalctl is refused.
	cmd = exec.Command(binary, "--data-dir", d.dataDir, "alert", "--from-systemd", "--since=yesterday")
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Errorf("--from-systemd --since=yesterday was accepted: %q", out)
	}
}
