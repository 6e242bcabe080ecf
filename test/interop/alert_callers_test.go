package interop

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/netsend/messenger/internal/ipp"
	"github.com/netsend/messenger/internal/message"
)

// callerRun is one run of a program as some account.
type callerRun struct {
	stdout, stderr string
	code           int
}

// runAs runs argv as acct (nil: as root, the test) with the environment
// a hook gets (PATH, and env) and stdin, and returns its output and exit
// status. setpriv gives the process the account's uid, gid and groups,
// as cupsd and upsmon do when they drop privileges.
func runAs(t *testing.T, acct *account, env []string, stdin io.Reader, argv ...string) callerRun {
	t.Helper()
	if acct != nil {
		requirePeer(t, "setpriv")
		argv = append([]string{"setpriv", "--reuid=" + strconv.Itoa(acct.uid), "--regid=" + strconv.Itoa(acct.gid), "--init-groups", "--"}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append([]string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/"}, env...)
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	cmd.Stdin = stdin
	var r callerRun
	r.stdout, r.stderr, r.code = runExit(t, cmd)
	return r
}

// TestAlertCallers runs the CLI, NUT's NOTIFYCMD line and the CUPS
// notifier as real accounts against a daemon whose [access]
// alert_senders names a nut-like account and a printing group: the
// senders' alerts are delivered, a plain user is refused with exit 7 and
// nothing stored, and a sender that floods the "nut" source uses up only
// its own budget — root's ONBATT from NUT still goes through, and is not
// taken for a repeat of the same alert the flooding account raised.
func TestAlertCallers(t *testing.T) {
	requireRoot(t, "makes accounts and runs the CLI as them")
	addGroup(t, "msgt_prn")
	nut := addAccount(t, "msgt_nut")
	plain := addAccount(t, "msgt_user")
	lp := addAccount(t, "msgt_lp", "msgt_prn")

	// The accounts must traverse to the socket and run the binary: a
	// parent of mode 0711 (t.TempDir's parents are root's alone), the
	// data directory the daemon makes 0711, and a copy of the binary,
	// which the harness keeps in a directory only root may enter.
	dir, err := os.MkdirTemp("", "messenger-callers-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o711); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "messenger")
	cupsCopy(t, binary, bin, 0o755)
	conf := filepath.Join(dir, "messenger.toml")
	const rateLimit = 10
	cupsWrite(t, conf, fmt.Sprintf("[access]\nalert_senders = [\"root\", \"msgt_nut\", \"@msgt_prn\"]\n\n[alert]\nrate_limit = %d\n", rateLimit))
	d := startDaemon(t, filepath.Join(dir, "data"), "--config", conf, "--name", "BOB")
	dataEnv := "MESSENGER_DATA_DIR=" + d.dataDir

	// upsmon (NUT ≤ 2.8.5) runs the NOTIFYCMD line of docs/alerts.md through the
	// shell with the message appended, as its own account.
	notifyCmd := bin + " alert --from-nut --"
	onbatt := []string{dataEnv, "NOTIFYTYPE=ONBATT", "UPSNAME=ups1@localhost"}
	const onbattMsg = "UPS ups1@localhost on battery"
	upsmon := func(acct *account) callerRun {
		return runAs(t, acct, onbatt, nil, "/bin/sh", "-c", notifyCmd+` "$1"`, "sh", onbattMsg)
	}
	if r := upsmon(&nut); r.code != 0 || r.stdout != "MSGHOST: delivered\n" {
		t.Fatalf("NOTIFYCMD as %s: exit %d, stdout %q, stderr %q", nut.login, r.code, r.stdout, r.stderr)
	}
	onbattStored := func() int {
		n := 0
		for _, m := range d.alerts() {
			if m.Text == onbattMsg && m.Alert.Source == "nut" && m.Alert.Severity == message.SeverityWarning {
				n++
			}
		}
		return n
	}
	if n := onbattStored(); n != 1 {
		t.Fatalf("after %s's ONBATT the inbox holds %d of it, want 1", nut.login, n)
	}

	// A plain user is refused, exit 7, in one sentence; nothing is stored.
	before := len(d.alerts())
	for i := range 3 {
		r := runAs(t, &plain, []string{dataEnv}, nil, bin, "alert", "--source", "nut", "--severity", "critical", fmt.Sprint("fake ", i))
		if r.code != 7 || !strings.Contains(r.stderr, "msgt_user may not raise alerts") || r.stdout != "" {
			t.Errorf("alert as %s: exit %d, stdout %q, stderr %q; want 7 and the refusal", plain.login, r.code, r.stdout, r.stderr)
		}
	}
	if r := upsmon(&plain); r.code != 7 {
		t.Errorf("NOTIFYCMD as %s: exit %d, stderr %q; want 7", plain.login, r.code, r.stderr)
	}
	if n := len(d.alerts()); n != before {
		t.Errorf("the refused user's alerts stored %d messages", n-before)
	}

	// The nut-like account floods the nut source: past its burst it is
	// rate limited (exit 6), and its own next ONBATT with it.
	codes := map[int]int{}
	for i := range 70 {
		r := runAs(t, &nut, []string{dataEnv}, nil, bin, "alert", "--source", "nut", "--severity", "warning", fmt.Sprint("flood ", i))
		codes[r.code]++
		if r.code != 0 && r.code != 6 {
			t.Fatalf("flood alert %d: exit %d, stderr %q; want 0 or 6", i, r.code, r.stderr)
		}
	}
	// The first ONBATT took one token; the bucket gains one back every
	// 60/rateLimit seconds, which a loaded machine's slow runs may see,
	// so only the shape is asserted: the burst delivered, most refused.
	if codes[6] < 30 || codes[0] < rateLimit-1 {
		t.Errorf("flood exit statuses %v; want about %d delivered and the rest rate limited", codes, rateLimit-1)
	}
	// Its own next ONBATT is rate limited too; a token regained since is
	// spent by one more flood alert first.
	limited := false
	for try := 0; try < 10 && !limited; try++ {
		r := upsmon(&nut)
		if r.code == 6 && strings.Contains(r.stderr, "rate limit") {
			limited = true
			break
		}
		if r.code != 0 {
			t.Fatalf("NOTIFYCMD as %s after its flood: exit %d, stderr %q; want 6 (or 0 with a regained token)", nut.login, r.code, r.stderr)
		}
		runAs(t, &nut, []string{dataEnv}, nil, bin, "alert", "--source", "nut", "--severity", "warning", "one more")
	}
	if !limited {
		t.Errorf("NOTIFYCMD as %s after its flood was never rate limited", nut.login)
	}

	// Root's ONBATT from NUT, the same alert the flooding account raised
	// first: its own budget, and not a repeat of another caller's.
	r := runAs(t, nil, onbatt, nil, bin, "alert", "--from-nut", "--", onbattMsg)
	if r.code != 0 || r.stdout != "MSGHOST: delivered\n" {
		t.Errorf("root's ONBATT after the flood: exit %d, stdout %q, stderr %q; want delivered", r.code, r.stdout, r.stderr)
	}
	if n := onbattStored(); n != 2 {
		t.Errorf("the inbox holds %d ONBATT alerts, want 2 (%s's and root's)", n, nut.login)
	}

	// cupsd runs the notifier as its User with argv[1] the recipient URI
	// and the events on standard input; MESSENGER_DATA_DIR is what the
	// SetEnv of docs/alerts.md gives it. An account in the msgt_prn group is an
	// alert sender through "@msgt_prn".
	ev := ipp.Message{Version: ipp.Version{Major: 2}, Groups: []ipp.Group{{Tag: ipp.TagEventNotification, Attributes: []ipp.Attribute{
		{Name: "notify-sequence-number", Values: []ipp.Value{ipp.Integer(ipp.TagInteger, 1)}},
		{Name: "notify-subscribed-event", Values: []ipp.Value{ipp.String(ipp.TagKeyword, "job-completed")}},
		{Name: "printer-name", Values: []ipp.Value{ipp.String(ipp.TagName, "LASER1")}},
		{Name: "notify-job-id", Values: []ipp.Value{ipp.Integer(ipp.TagInteger, 42)}},
		{Name: "job-state", Values: []ipp.Value{ipp.Integer(ipp.TagEnum, 9)}},
		{Name: "job-name", Values: []ipp.Value{ipp.String(ipp.TagName, "quarterly report")}},
	}}}}
	raw, err := ev.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	notifier := func(acct *account) callerRun {
		return runAs(t, acct, []string{dataEnv}, bytes.NewReader(raw), bin, "messenger://BOB", "")
	}
	cupsAlerts := func() int {
		n := 0
		for _, m := range d.alerts() {
			if m.Alert.Source == "cups" && m.To == "BOB" && strings.Contains(m.Text, `"quarterly report"`) {
				n++
			}
		}
		return n
	}
	if r := notifier(&lp); r.code != 0 || strings.Contains(r.stderr, "ERROR") {
		t.Errorf("the CUPS notifier as %s: exit %d, stderr %q", lp.login, r.code, r.stderr)
	}
	if n := cupsAlerts(); n != 1 {
		t.Errorf("after the notifier ran as %s the inbox holds %d job alerts to BOB, want 1", lp.login, n)
	}
	// The same notifier run as the plain user logs the refusal for
	// cupsd's error_log and delivers nothing.
	if r := notifier(&plain); !strings.Contains(r.stderr, "ERROR:") || !strings.Contains(r.stderr, "may not raise alerts") {
		t.Errorf("the CUPS notifier as %s: exit %d, stderr %q; want an ERROR line with the refusal", plain.login, r.code, r.stderr)
	}
	if n := cupsAlerts(); n != 1 {
		t.Errorf("the refused notifier stored an alert: %d job alerts to BOB, want 1", n)
	}
}
