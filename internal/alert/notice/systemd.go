package notice

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/netsend/messenger/internal/message"
)

// The environment systemd (251 and later) gives the ExecStart= processes
// of a unit started by OnFailure= or OnSuccess=, per systemd.exec(5),
// "Environment Variables in Spawned Processes": $MONITOR_SERVICE_RESULT,
// $MONITOR_EXIT_CODE and $MONITOR_EXIT_STATUS take the values
// $SERVICE_RESULT, $EXIT_CODE and $EXIT_STATUS have for ExecStopPost=;
// $MONITOR_INVOCATION_ID and $MONITOR_UNIT are the invocation id and name
// of the unit that triggered the dependency. They are not passed when
// several units trigger the same handler, hence the template unit
// messenger-alert@.service, one instance per failing unit.
const (
	SystemdResultVar       = "MONITOR_SERVICE_RESULT"
	SystemdExitCodeVar     = "MONITOR_EXIT_CODE"
	SystemdExitStatusVar   = "MONITOR_EXIT_STATUS"
	SystemdInvocationIDVar = "MONITOR_INVOCATION_ID"
	SystemdUnitVar         = "MONITOR_UNIT"
)

// Limits of the failed unit's log in an alert: its last lines, each cut.
const (
	SystemdLogLines   = 10
	maxSystemdLogLine = 300
)

// MaxSystemdUnitLen is the longest unit name systemd accepts
// (UNIT_NAME_MAX in systemd's unit-name.h).
const MaxSystemdUnitLen = 255

// systemdResults explains the values of $SERVICE_RESULT, from the table
// "Defined $SERVICE_RESULT values" in systemd.exec(5).
var systemdResults = map[string]string{
	"protocol":        "the service did not take the steps its Type= requires",
	"timeout":         "one of the steps timed out",
	"exit-code":       "the service exited with a non-zero exit code",
	"signal":          "a service process was killed by a signal",
	"core-dump":       "a service process was killed by a signal and dumped core",
	"watchdog":        "the watchdog keep-alive deadline was missed",
	"start-limit-hit": "the start limit was hit",
	"resources":       "a system operation failed",
	"oom-kill":        "a service process was killed by the out-of-memory killer",
}

// FromSystemd builds the alert of messenger-alert@.service, run as
// `messenger alert --from-systemd %i` by OnFailure=messenger-alert@%n.service.
// The unit is $MONITOR_UNIT when systemd set it (it is exact, where %i of
// a templated unit's handler is not), else the unit argument; either way
// it must be a valid unit name. The alert is critical and firing, titled
// "UNIT failed", keyed "systemd:UNIT"; its text gives the result, exit
// code and status when systemd set them, then the log lines (the last
// SystemdLogLines, each cut), or says the log was not available. Run by
// OnSuccess= ($MONITOR_SERVICE_RESULT "success"), the same key is
// resolved: "UNIT succeeded".
func FromSystemd(getenv func(string) string, unit string, logLines []string) (Notice, error) {
	if mu := getenv(SystemdUnitVar); mu != "" {
		if err := checkUnitName(mu); err != nil {
			return Notice{}, fmt.Errorf("systemd: %s: %w", SystemdUnitVar, err)
		}
		unit = mu
	} else if unit == "" {
		return Notice{}, fmt.Errorf("systemd: no unit: give the failed unit's name (%%i of messenger-alert@.service), or run under OnFailure= where systemd sets %s", SystemdUnitVar)
	} else if err := checkUnitName(unit); err != nil {
		return Notice{}, fmt.Errorf("systemd: %w", err)
	}

	result := getenv(SystemdResultVar)
	var b strings.Builder
	if result != "" {
		b.WriteString("Result: ")
		b.WriteString(cut(escapeName(result), 40))
		if why, ok := systemdResults[result]; ok {
			b.WriteString(" (" + why + ")")
		}
		b.WriteByte('\n')
	}
	if exit := systemdExit(getenv(SystemdExitCodeVar), getenv(SystemdExitStatusVar)); exit != "" {
		b.WriteString("Exit: " + exit + "\n")
	}
	if id := getenv(SystemdInvocationIDVar); isInvocationID(id) {
		b.WriteString("Invocation: " + id + "\n")
	}
	writeLogLines(&b, logLines, message.MaxTextLen-utf8.RuneCountInString(b.String()))

	n := Notice{
		Alert: message.Alert{
			Source:   SourceSystemd,
			Severity: message.SeverityCritical,
			Status:   message.AlertFiring,
			Title:    cut(unit+" failed", message.MaxAlertTitleLen),
			Key:      "systemd:" + unit,
		},
		Text: strings.TrimSuffix(b.String(), "\n"),
	}
	if result == "success" {
		n.Alert.Status = message.AlertResolved
		n.Alert.Title = cut(unit+" succeeded", message.MaxAlertTitleLen)
	}
	return finish(n)
}

// systemdExit words $EXIT_CODE and $EXIT_STATUS: a number after
// "exited", a signal name after "killed" and "dumped".
func systemdExit(code, status string) string {
	code, status = cut(escapeName(code), 20), cut(escapeName(status), 20)
	switch {
	case code == "" && status == "":
		return ""
	case code == "exited":
		return "exited with status " + status
	case code == "killed":
		return "killed by signal " + status
	case code == "dumped":
		return "dumped core on signal " + status
	case status == "":
		return code
	}
	return code + ", status " + status
}

// writeLogLines adds the log under its heading: the last SystemdLogLines
// non-empty lines that fit in room characters, each cut and escaped (a
// service's output may hold terminal escapes and any bytes).
func writeLogLines(b *strings.Builder, lines []string, room int) {
	const heading = "Last log lines:\n"
	const none = "(The unit's log was not available.)"
	var kept []string
	used := utf8.RuneCountInString(heading)
	for i := len(lines) - 1; i >= 0 && len(kept) < SystemdLogLines; i-- {
		line := strings.TrimRight(lines[i], " \t\r\n")
		if line == "" {
			continue
		}
		line = cut(escapeLogLine(line), maxSystemdLogLine)
		n := utf8.RuneCountInString(line) + 1
		if used+n > room {
			break
		}
		kept = append(kept, line)
		used += n
	}
	if len(kept) == 0 {
		b.WriteString(none)
		return
	}
	b.WriteString(heading)
	for i := len(kept) - 1; i >= 0; i-- {
		b.WriteString(kept[i])
		b.WriteByte('\n')
	}
}

// escapeLogLine is escapeName that keeps tabs and backslashes: a log
// line is read, not matched, and both are common in one.
func escapeLogLine(s string) string { return escapeUnprintable(s, true) }

// checkUnitName accepts what systemd's unit_name_is_valid accepts in its
// characters and length: 1 to 255 of A-Z, a-z, 0-9 and ":-_.\@". That
// rules out slashes, spaces and control characters; a leading "-" is
// valid ("-.mount" is the root file system), which is why
// SystemdJournalArgs never passes a name as an argument of its own.
func checkUnitName(u string) error {
	if u == "" {
		return fmt.Errorf("the unit name is empty")
	}
	if len(u) > MaxSystemdUnitLen {
		return fmt.Errorf("the unit name is %d bytes, limit %d", len(u), MaxSystemdUnitLen)
	}
	for i, r := range u {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(`:-_.\@`, r)) {
			_, size := utf8.DecodeRuneInString(u[i:])
			return fmt.Errorf("unit name %q holds %q at byte %d; a unit name is made of A-Z, a-z, 0-9 and :-_.\\@", cut(u, 64), u[i:i+size], i)
		}
	}
	return nil
}

// isInvocationID accepts systemd's invocation ids: 128 bits as 32
// lower-case hexadecimal digits.
func isInvocationID(s string) bool {
	if len(s) != 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// SystemdJournalArgs is the argv (starting with "journalctl", to run
// without a shell) that reads the failed run's last log lines: by its
// invocation id when systemd gave one (the run's own output and
// systemd's messages about it), else by unit. The unit ($MONITOR_UNIT,
// else the argument) goes into a single "--unit=" argument, so that a
// name starting with "-" cannot be read as an option; an invalid name
// gives nil, and FromSystemd then reports why.
func SystemdJournalArgs(getenv func(string) string, unit string) []string {
	args := []string{"journalctl", "--no-pager", "--quiet", "--output=cat", "--lines=" + strconv.Itoa(SystemdLogLines)}
	if id := getenv(SystemdInvocationIDVar); isInvocationID(id) {
		return append(args, "_SYSTEMD_INVOCATION_ID="+id, "+", "INVOCATION_ID="+id)
	}
	if mu := getenv(SystemdUnitVar); mu != "" {
		unit = mu
	}
	if checkUnitName(unit) != nil {
		return nil
	}
	return append(args, "--unit="+unit)
}
