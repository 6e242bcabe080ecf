package notice

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/netsend/messenger/internal/message"
)

// The environments below are the ones the tools set: upsmon's notify()
// sets NOTIFYTYPE and UPSNAME (empty for events not about one UPS) and
// passes its stock NOTIFYMSG text; clamd's virusaction() sets PATH and
// the two CLAM_VIRUSEVENT_ variables; systemd sets the MONITOR_ variables
// as in the example of systemd.exec(5).

func TestFromNUT(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		msg  string
		want Notice
	}{
		{map[string]string{"NOTIFYTYPE": "ONBATT", "UPSNAME": "ups1@localhost"}, "UPS ups1@localhost on battery",
			Notice{Alert: message.Alert{Source: "nut", Severity: "warning", Status: "firing", Title: "UPS ups1@localhost on battery", Key: "nut:ups1@localhost:power"},
				Text: "UPS ups1@localhost on battery"}},
		{map[string]string{"NOTIFYTYPE": "ONLINE", "UPSNAME": "ups1@localhost"}, "UPS ups1@localhost on line power",
			Notice{Alert: message.Alert{Source: "nut", Severity: "warning", Status: "resolved", Title: "UPS ups1@localhost on line power", Key: "nut:ups1@localhost:power"},
				Text: "UPS ups1@localhost on line power"}},
		{map[string]string{"NOTIFYTYPE": "LOWBATT", "UPSNAME": "rack"}, "UPS rack battery is low",
			Notice{Alert: message.Alert{Source: "nut", Severity: "critical", Status: "firing", Title: "UPS rack battery low", Key: "nut:rack:power"},
				Text: "UPS rack battery is low"}},
		{map[string]string{"NOTIFYTYPE": "FSD", "UPSNAME": "rack"}, "UPS rack: forced shutdown in progress",
			Notice{Alert: message.Alert{Source: "nut", Severity: "critical", Status: "firing", Title: "UPS rack forced shutdown", Key: "nut:rack:power"},
				Text: "UPS rack: forced shutdown in progress"}},
		{map[string]string{"NOTIFYTYPE": "COMMBAD", "UPSNAME": "rack@nas:3493"}, "Communications with UPS rack@nas:3493 lost",
			Notice{Alert: message.Alert{Source: "nut", Severity: "critical", Status: "firing", Title: "UPS rack@nas:3493 communication lost", Key: "nut:rack@nas:3493:comm"},
				Text: "Communications with UPS rack@nas:3493 lost"}},
		{map[string]string{"NOTIFYTYPE": "COMMOK", "UPSNAME": "rack@nas:3493"}, "Communications with UPS rack@nas:3493 established",
			Notice{Alert: message.Alert{Source: "nut", Severity: "critical", Status: "resolved", Title: "UPS rack@nas:3493 communication restored", Key: "nut:rack@nas:3493:comm"},
				Text: "Communications with UPS rack@nas:3493 established"}},
		{map[string]string{"NOTIFYTYPE": "NOCOMM", "UPSNAME": "rack"}, "UPS rack is unavailable",
			Notice{Alert: message.Alert{Source: "nut", Severity: "critical", Status: "firing", Title: "UPS rack unavailable", Key: "nut:rack:comm"},
				Text: "UPS rack is unavailable"}},
		{map[string]string{"NOTIFYTYPE": "REPLBATT", "UPSNAME": "rack"}, "UPS rack battery needs to be replaced",
			Notice{Alert: message.Alert{Source: "nut", Severity: "critical", Title: "UPS rack battery needs replacing", Key: "nut:rack:replbatt"},
				Text: "UPS rack battery needs to be replaced"}},
		{map[string]string{"NOTIFYTYPE": "NOTCAL", "UPSNAME": "rack"}, "UPS rack calibration finished",
			Notice{Alert: message.Alert{Source: "nut", Severity: "info", Status: "resolved", Title: "UPS rack calibration finished", Key: "nut:rack:cal"},
				Text: "UPS rack calibration finished"}},
		{map[string]string{"NOTIFYTYPE": "SHUTDOWN", "UPSNAME": ""}, "Auto logout and shutdown proceeding",
			Notice{Alert: message.Alert{Source: "nut", Severity: "critical", Title: "System shutting down on UPS power", Key: "nut::shutdown"},
				Text: "Auto logout and shutdown proceeding"}},
		{map[string]string{"NOTIFYTYPE": "NOPARENT"}, "upsmon parent process died - shutdown impossible",
			Notice{Alert: message.Alert{Source: "nut", Severity: "critical", Title: "upsmon parent process died: shutdown impossible", Key: "nut::noparent"},
				Text: "upsmon parent process died - shutdown impossible"}},
		// A type from a newer NUT is info, not an error.
		{map[string]string{"NOTIFYTYPE": "SUSPEND_TIMEJUMP_UNEXPECTED", "UPSNAME": "rack"}, "UPS rack: unexpected time jump",
			Notice{Alert: message.Alert{Source: "nut", Severity: "info", Title: "UPS rack: SUSPEND_TIMEJUMP_UNEXPECTED", Key: "nut:rack:suspend_timejump_unexpected"},
				Text: "UPS rack: unexpected time jump"}},
		{map[string]string{"NOTIFYTYPE": "HOSTWIDE_THING"}, "something about this host",
			Notice{Alert: message.Alert{Source: "nut", Severity: "info", Title: "upsmon: HOSTWIDE_THING", Key: "nut::hostwide_thing"},
				Text: "something about this host"}},
		// A NOTIFYMSG in Latin-1 and a UPS name with a space stay readable.
		{map[string]string{"NOTIFYTYPE": "ONBATT", "UPSNAME": "salle serveurs"}, "L'onduleur est sur batterie \xe0 100%",
			Notice{Alert: message.Alert{Source: "nut", Severity: "warning", Status: "firing", Title: "UPS salle serveurs on battery", Key: "nut:salle serveurs:power"},
				Text: `L'onduleur est sur batterie \xe0 100%`}},
	} {
		t.Run(tc.env["NOTIFYTYPE"], func(t *testing.T) {
			got, err := FromNUT(env(tc.env), []string{tc.msg})
			if err != nil {
				t.Fatal(err)
			}
			checkNotice(t, got, SourceNUT)
			if got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", render(got), render(tc.want))
			}
		})
	}
}

// Every type of upsmon.conf(5) is in the table, and every resolving type
// shares its key and severity with a firing one.
func TestNUTEventsPairUp(t *testing.T) {
	documented := []string{"ONLINE", "ONBATT", "LOWBATT", "FSD", "COMMOK", "COMMBAD", "SHUTDOWN", "SHUTDOWN_HOSTSYNC",
		"REPLBATT", "NOCOMM", "NOPARENT", "CAL", "NOTCAL", "OFF", "NOTOFF", "BYPASS", "NOTBYPASS", "ECO", "NOTECO",
		"ALARM", "NOTALARM", "OVER", "NOTOVER", "TRIM", "NOTTRIM", "BOOST", "NOTBOOST", "OTHER", "NOTOTHER",
		"SUSPEND_STARTING", "SUSPEND_FINISHED"}
	for _, ty := range documented {
		if _, ok := nutEvents[ty]; !ok {
			t.Errorf("%s is not in nutEvents", ty)
		}
	}
	for ty, ev := range nutEvents {
		if !slices.Contains(documented, ty) {
			t.Errorf("%s is in nutEvents but not in upsmon.conf(5)", ty)
		}
		if ev.upsmon == strings.Contains(ev.title, "%s") {
			t.Errorf("%s: title %q and upsmon %v disagree", ty, ev.title, ev.upsmon)
		}
		if ev.status != message.AlertResolved {
			continue
		}
		paired := false
		for _, ev2 := range nutEvents {
			if ev2.status == message.AlertFiring && ev2.group == ev.group && ev2.severity == ev.severity {
				paired = true
			}
		}
		if !paired {
			t.Errorf("%s resolves nothing of group %s and severity %s", ty, ev.group, ev.severity)
		}
	}
}

func TestFromNUTErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		env   map[string]string
		args  []string
		words []string
	}{
		{"no NOTIFYTYPE", map[string]string{"UPSNAME": "ups"}, []string{"m"}, []string{"NOTIFYTYPE is not set"}},
		{"no UPSNAME", map[string]string{"NOTIFYTYPE": "ONBATT"}, []string{"m"}, []string{"UPSNAME is not set", "ONBATT"}},
		{"no argument", map[string]string{"NOTIFYTYPE": "ONBATT", "UPSNAME": "ups"}, nil, []string{"NOTIFYCMD gives the message as the only argument", "0 arguments"}},
		{"two arguments", map[string]string{"NOTIFYTYPE": "ONBATT", "UPSNAME": "ups"}, []string{"a", "b"}, []string{"only argument", "2 arguments"}},
		{"empty message", map[string]string{"NOTIFYTYPE": "ONBATT", "UPSNAME": "ups"}, []string{" "}, []string{"message argument is empty"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := FromNUT(env(tc.env), tc.args)
			wantErr(t, err, tc.words...)
			if n != (Notice{}) {
				t.Errorf("an error came with a notice: %+v", n)
			}
		})
	}
}

func TestFromClamAV(t *testing.T) {
	for _, tc := range []struct {
		name        string
		file, virus string
		want        Notice
	}{
		{"EICAR", "/home/ann/Downloads/eicar.com", "Win.Test.EICAR_HDB-1",
			Notice{Alert: message.Alert{Source: "clamav", Severity: "critical", Title: "Virus found: Win.Test.EICAR_HDB-1",
				Key: "clamav:Win.Test.EICAR_HDB-1:/home/ann/Downloads/eicar.com"},
				Text: "clamd found a virus.\nVirus: Win.Test.EICAR_HDB-1\nFile: /home/ann/Downloads/eicar.com"}},
		{"Latin-1 file name", "/srv/share/Factur\xe9.pdf.exe", "Win.Trojan.Agent-1",
			Notice{Alert: message.Alert{Source: "clamav", Severity: "critical", Title: "Virus found: Win.Trojan.Agent-1",
				Key: `clamav:Win.Trojan.Agent-1:/srv/share/Factur\xe9.pdf.exe`},
				Text: "clamd found a virus.\nVirus: Win.Trojan.Agent-1\nFile: /srv/share/Factur\\xe9.pdf.exe"}},
		{"a file name that fakes a line", "/tmp/x\nFile: /etc/passwd", "Eicar-Signature",
			Notice{Alert: message.Alert{Source: "clamav", Severity: "critical", Title: "Virus found: Eicar-Signature",
				Key: `clamav:Eicar-Signature:/tmp/x\x0aFile: /etc/passwd`},
				Text: "clamd found a virus.\nVirus: Eicar-Signature\nFile: /tmp/x\\x0aFile: /etc/passwd"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := FromClamAV(env(map[string]string{"PATH": "/usr/bin:/bin", ClamAVFileVar: tc.file, ClamAVVirusVar: tc.virus}))
			if err != nil {
				t.Fatal(err)
			}
			checkNotice(t, got, SourceClamAV)
			if got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", render(got), render(tc.want))
			}
		})
	}
}

func TestFromClamAVLongNames(t *testing.T) {
	file := "/" + strings.Repeat("\xff", 4000) // escapes to 16,000 characters
	virus := strings.Repeat("V", 1000)
	n, err := FromClamAV(env(map[string]string{ClamAVFileVar: file, ClamAVVirusVar: virus}))
	if err != nil {
		t.Fatal(err)
	}
	checkNotice(t, n, SourceClamAV)
	other, err := FromClamAV(env(map[string]string{ClamAVFileVar: file + "x", ClamAVVirusVar: virus}))
	if err != nil {
		t.Fatal(err)
	}
	if n.Alert.Key == other.Alert.Key {
		t.Error("two files whose names differ only past the key limit share a key")
	}
}

func TestFromClamAVErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		env   map[string]string
		words []string
	}{
		{"no file", map[string]string{ClamAVVirusVar: "Eicar"}, []string{"CLAM_VIRUSEVENT_FILENAME is not set"}},
		{"no virus", map[string]string{ClamAVFileVar: "/tmp/x"}, []string{"CLAM_VIRUSEVENT_VIRUSNAME is not set"}},
		{"neither", map[string]string{"PATH": "/bin"}, []string{"CLAM_VIRUSEVENT_FILENAME", "CLAM_VIRUSEVENT_VIRUSNAME"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := FromClamAV(env(tc.env))
			wantErr(t, err, tc.words...)
			if n != (Notice{}) {
				t.Errorf("an error came with a notice: %+v", n)
			}
		})
	}
}

// systemdEnv is the environment of the example in systemd.exec(5).
func systemdEnv() map[string]string {
	return map[string]string{
		"MONITOR_SERVICE_RESULT": "exit-code",
		"MONITOR_EXIT_CODE":      "exited",
		"MONITOR_EXIT_STATUS":    "1",
		"MONITOR_INVOCATION_ID":  "cc8fdc149b2b4ca698d4f259f4054236",
		"MONITOR_UNIT":           "myfailer.service",
	}
}

func TestFromSystemd(t *testing.T) {
	logLines := []string{
		"Starting myfailer...",
		"myprogram: cannot open /etc/myprogram.conf: No such file or directory",
		"myfailer.service: Main process exited, code=exited, status=1/FAILURE",
		"myfailer.service: Failed with result 'exit-code'.",
		"",
	}
	n, err := FromSystemd(env(systemdEnv()), "myfailer.service", logLines)
	if err != nil {
		t.Fatal(err)
	}
	checkNotice(t, n, SourceSystemd)
	want := Notice{
		Alert: message.Alert{Source: "systemd", Severity: "critical", Status: "firing", Title: "myfailer.service failed", Key: "systemd:myfailer.service"},
		Text: "Result: exit-code (the service exited with a non-zero exit code)\n" +
			"Exit: exited with status 1\n" +
			"Invocation: cc8fdc149b2b4ca698d4f259f4054236\n" +
			"Last log lines:\n" +
			"Starting myfailer...\n" +
			"myprogram: cannot open /etc/myprogram.conf: No such file or directory\n" +
			"myfailer.service: Main process exited, code=exited, status=1/FAILURE\n" +
			"myfailer.service: Failed with result 'exit-code'.",
	}
	if n != want {
		t.Errorf("got\n%s\nwant\n%s", render(n), render(want))
	}
}

func TestFromSystemdVariants(t *testing.T) {
	for _, tc := range []struct {
		name     string
		env      map[string]string
		unit     string
		logLines []string
		title    string
		status   message.AlertStatus
		text     string
	}{
		{"no MONITOR_ variables (systemd before 251)", nil, "backup.service", nil,
			"backup.service failed", "firing", "(The unit's log was not available.)"},
		{"MONITOR_UNIT wins over %i", map[string]string{"MONITOR_UNIT": "getty@tty1.service"}, "getty-tty1", nil,
			"getty@tty1.service failed", "firing", "(The unit's log was not available.)"},
		{"killed by a signal", map[string]string{"MONITOR_SERVICE_RESULT": "signal", "MONITOR_EXIT_CODE": "killed", "MONITOR_EXIT_STATUS": "KILL"}, "db.service", []string{"  "},
			"db.service failed", "firing", "Result: signal (a service process was killed by a signal)\nExit: killed by signal KILL\n(The unit's log was not available.)"},
		{"core dump", map[string]string{"MONITOR_SERVICE_RESULT": "core-dump", "MONITOR_EXIT_CODE": "dumped", "MONITOR_EXIT_STATUS": "SEGV"}, "db.service", nil,
			"db.service failed", "firing", "Result: core-dump (a service process was killed by a signal and dumped core)\nExit: dumped core on signal SEGV\n(The unit's log was not available.)"},
		{"unknown result", map[string]string{"MONITOR_SERVICE_RESULT": "new-thing"}, "x.service", nil,
			"x.service failed", "firing", "Result: new-thing\n(The unit's log was not available.)"},
		{"OnSuccess=", map[string]string{"MONITOR_SERVICE_RESULT": "success", "MONITOR_EXIT_CODE": "exited", "MONITOR_EXIT_STATUS": "0"}, "backup.service", []string{"done"},
			"backup.service succeeded", "resolved", "Result: success\nExit: exited with status 0\nLast log lines:\ndone"},
		{"root mount", nil, "-.mount", []string{"mount: /: bad option"},
			"-.mount failed", "firing", "Last log lines:\nmount: /: bad option"},
		{"the longest unit name", nil, strings.Repeat("u", 247) + ".service", nil,
			strings.Repeat("u", 247) + ".servic…", "firing", "(The unit's log was not available.)"},
		{"escapes in the log", nil, "x.service", []string{"\x1b[31merror\x1b[0m\tin C:\\path \xff"},
			"x.service failed", "firing", "Last log lines:\n\\x1b[31merror\\x1b[0m\tin C:\\path \\xff"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := FromSystemd(env(tc.env), tc.unit, tc.logLines)
			if err != nil {
				t.Fatal(err)
			}
			checkNotice(t, n, SourceSystemd)
			if n.Alert.Title != tc.title || n.Alert.Status != tc.status || n.Text != tc.text {
				t.Errorf("got\n%s\nwant title %q, status %q, text\n%s", render(n), tc.title, tc.status, tc.text)
			}
		})
	}
}

func TestFromSystemdCapsLog(t *testing.T) {
	var lines []string
	for i := range 500 {
		lines = append(lines, strings.Repeat(string(rune('a'+i%26)), 1000))
	}
	lines[len(lines)-1] = "the last line"
	n, err := FromSystemd(env(systemdEnv()), "", lines)
	if err != nil {
		t.Fatal(err)
	}
	checkNotice(t, n, SourceSystemd)
	shown := strings.Split(n.Text[strings.Index(n.Text, "Last log lines:\n")+len("Last log lines:\n"):], "\n")
	if len(shown) != SystemdLogLines {
		t.Errorf("%d log lines shown, want the last %d", len(shown), SystemdLogLines)
	}
	if shown[len(shown)-1] != "the last line" {
		t.Errorf("the log does not end with the last line but %q", cut(shown[len(shown)-1], 40))
	}
	for _, l := range shown[:len(shown)-1] {
		if utf8.RuneCountInString(l) != maxSystemdLogLine || !strings.HasSuffix(l, "…") {
			t.Errorf("a long line is not cut to %d: %q", maxSystemdLogLine, cut(l, 40))
		}
	}
}

func TestFromSystemdErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		env   map[string]string
		unit  string
		words []string
	}{
		{"no unit", nil, "", []string{"no unit", "MONITOR_UNIT"}},
		{"slash", nil, "../../etc/passwd", []string{"unit name", `"/"`}},
		{"space", nil, "a b.service", []string{"unit name", `" "`}},
		{"control character", nil, "a\nb.service", []string{"unit name", `"\n"`}},
		{"too long", nil, strings.Repeat("a", 256), []string{"256 bytes, limit 255"}},
		{"bad MONITOR_UNIT", map[string]string{"MONITOR_UNIT": "x;rm -rf /"}, "ok.service", []string{"MONITOR_UNIT", `";"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := FromSystemd(env(tc.env), tc.unit, []string{"log"})
			wantErr(t, err, tc.words...)
			if n != (Notice{}) {
				t.Errorf("an error came with a notice: %+v", n)
			}
		})
	}
}

func TestSystemdJournalArgs(t *testing.T) {
	base := []string{"journalctl", "--no-pager", "--quiet", "--output=cat", "--lines=10"}
	for _, tc := range []struct {
		name string
		env  map[string]string
		unit string
		want []string
	}{
		{"by invocation", systemdEnv(), "myfailer.service",
			append(base, "_SYSTEMD_INVOCATION_ID=cc8fdc149b2b4ca698d4f259f4054236", "+", "INVOCATION_ID=cc8fdc149b2b4ca698d4f259f4054236")},
		{"by unit", nil, "backup.service", append(base, "--unit=backup.service")},
		{"MONITOR_UNIT", map[string]string{"MONITOR_UNIT": "getty@tty1.service"}, "getty-tty1", append(base, "--unit=getty@tty1.service")},
		{"a unit that looks like an option stays a value", nil, "-.mount", append(base, "--unit=-.mount")},
		{"an option is not a unit", nil, "--since=yesterday", nil},
		{"a bad invocation id is not used", map[string]string{"MONITOR_INVOCATION_ID": "x --all"}, "a.service", append(base, "--unit=a.service")},
		{"nothing to go by", nil, "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := SystemdJournalArgs(env(tc.env), tc.unit)
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %q\nwant %q", got, tc.want)
			}
		})
	}
}
