package notice

import (
	"errors"
	"fmt"
	"strings"

	"github.com/netsend/messenger/internal/message"
)

// How upsmon runs NOTIFYCMD, from NUT's upsmon(8) ("NOTIFYCMD", "the
// program you run as your NOTIFYCMD can use the environment variables
// NOTIFYTYPE and UPSNAME ... It also receives the notification message
// ... as the first (and only) argument") and upsmon.conf(5) (NOTIFYCMD,
// NOTIFYMSG with the list of types, NOTIFYFLAG ... EXEC); see also
// clients/upsmon.c, notify(): it sets UPSNAME to "" for the events that
// are about upsmon or the host rather than one UPS (SHUTDOWN,
// SHUTDOWN_HOSTSYNC, NOPARENT, SUSPEND_STARTING, SUSPEND_FINISHED).
// Up to NUT 2.8.5 upsmon hands `NOTIFYCMD "message"` to /bin/sh; later
// releases exec NOTIFYCMD's tokens with the message as the last argv
// element.

// nutEvent is what one NOTIFYTYPE means. Events of one group share a key,
// so that ONLINE resolves ONBATT (and LOWBATT and FSD), COMMOK resolves
// COMMBAD and NOCOMM, NOTCAL resolves CAL, and so on; a resolving event
// keeps the severity of what it resolves.
type nutEvent struct {
	group    string
	status   message.AlertStatus
	severity message.Severity
	// title has one %s for the UPS name, or none for an upsmon event.
	title string
	// upsmon marks events about upsmon or the host, which come with an
	// empty UPSNAME.
	upsmon bool
}

// nutEvents lists the NOTIFYTYPE values of upsmon.conf(5). A type not in
// it (newer NUT releases add some) is info, with no status.
var nutEvents = map[string]nutEvent{
	"ONLINE":  {"power", message.AlertResolved, message.SeverityWarning, "UPS %s on line power", false},
	"ONBATT":  {"power", message.AlertFiring, message.SeverityWarning, "UPS %s on battery", false},
	"LOWBATT": {"power", message.AlertFiring, message.SeverityCritical, "UPS %s battery low", false},
	"FSD":     {"power", message.AlertFiring, message.SeverityCritical, "UPS %s forced shutdown", false},

	"COMMOK":  {"comm", message.AlertResolved, message.SeverityCritical, "UPS %s communication restored", false},
	"COMMBAD": {"comm", message.AlertFiring, message.SeverityCritical, "UPS %s communication lost", false},
	"NOCOMM":  {"comm", message.AlertFiring, message.SeverityCritical, "UPS %s unavailable", false},

	"REPLBATT": {"replbatt", "", message.SeverityCritical, "UPS %s battery needs replacing", false},

	"CAL":    {"cal", message.AlertFiring, message.SeverityInfo, "UPS %s calibrating", false},
	"NOTCAL": {"cal", message.AlertResolved, message.SeverityInfo, "UPS %s calibration finished", false},

	"OFF":    {"off", message.AlertFiring, message.SeverityWarning, "UPS %s off", false},
	"NOTOFF": {"off", message.AlertResolved, message.SeverityWarning, "UPS %s no longer off", false},

	"BYPASS":    {"bypass", message.AlertFiring, message.SeverityWarning, "UPS %s on bypass", false},
	"NOTBYPASS": {"bypass", message.AlertResolved, message.SeverityWarning, "UPS %s off bypass", false},

	"ECO":    {"eco", message.AlertFiring, message.SeverityInfo, "UPS %s in ECO mode", false},
	"NOTECO": {"eco", message.AlertResolved, message.SeverityInfo, "UPS %s out of ECO mode", false},

	"ALARM":    {"alarm", message.AlertFiring, message.SeverityWarning, "UPS %s alarm", false},
	"NOTALARM": {"alarm", message.AlertResolved, message.SeverityWarning, "UPS %s alarm cleared", false},

	"OVER":    {"over", message.AlertFiring, message.SeverityWarning, "UPS %s overloaded", false},
	"NOTOVER": {"over", message.AlertResolved, message.SeverityWarning, "UPS %s no longer overloaded", false},

	"TRIM":    {"trim", message.AlertFiring, message.SeverityInfo, "UPS %s trimming voltage", false},
	"NOTTRIM": {"trim", message.AlertResolved, message.SeverityInfo, "UPS %s no longer trimming voltage", false},

	"BOOST":    {"boost", message.AlertFiring, message.SeverityInfo, "UPS %s boosting voltage", false},
	"NOTBOOST": {"boost", message.AlertResolved, message.SeverityInfo, "UPS %s no longer boosting voltage", false},

	"OTHER":    {"other", message.AlertFiring, message.SeverityInfo, "UPS %s unclassified status", false},
	"NOTOTHER": {"other", message.AlertResolved, message.SeverityInfo, "UPS %s unclassified status cleared", false},

	"SHUTDOWN":          {"shutdown", "", message.SeverityCritical, "System shutting down on UPS power", true},
	"SHUTDOWN_HOSTSYNC": {"shutdown", "", message.SeverityCritical, "System shutting down, waiting for secondaries", true},
	"NOPARENT":          {"noparent", "", message.SeverityCritical, "upsmon parent process died: shutdown impossible", true},
	"SUSPEND_STARTING":  {"suspend", "", message.SeverityInfo, "System going to sleep", true},
	"SUSPEND_FINISHED":  {"suspend", "", message.SeverityInfo, "System woke up", true},
}

// nutMessageUsage is the error for a call without the message argument.
const nutMessageUsage = "NOTIFYCMD gives the message as the only argument"

// FromNUT reads what upsmon gives its NOTIFYCMD: the environment
// variables NOTIFYTYPE and UPSNAME, and the message as the only argument.
// The Title and Key come from the type (the table nutEvents: key
// "nut:UPSNAME:power" for ONLINE/ONBATT/LOWBATT/FSD, "nut:UPSNAME:comm"
// for COMMOK/COMMBAD/NOCOMM, ...), the Text is the message. UPSNAME may
// be empty only for the upsmon events (SHUTDOWN, NOPARENT, ...) and for
// types this table does not know, since upsmon empties it for events not
// about one UPS.
func FromNUT(getenv func(string) string, args []string) (Notice, error) {
	const what = "nut"
	ntype := getenv("NOTIFYTYPE")
	if ntype == "" {
		return Notice{}, errors.New("nut: NOTIFYTYPE is not set; upsmon sets it when it runs NOTIFYCMD")
	}
	if len(args) != 1 {
		return Notice{}, fmt.Errorf("nut: %s; got %d arguments", nutMessageUsage, len(args))
	}
	text := cut(normalizeText(escapeInvalid(args[0])), message.MaxTextLen)
	if text == "" {
		return Notice{}, fmt.Errorf("nut: the message argument is empty; %s", nutMessageUsage)
	}
	ups := escapeName(getenv("UPSNAME"))

	shownType := cut(escapeName(ntype), 40)
	ev, known := nutEvents[ntype]
	if !known {
		ev = nutEvent{group: strings.ToLower(shownType), severity: message.SeverityInfo, upsmon: ups == ""}
		if ups == "" {
			ev.title = "upsmon: " + shownType
		} else {
			ev.title = "UPS %s: " + shownType
		}
	}
	if ups == "" && !ev.upsmon {
		return Notice{}, fmt.Errorf("nut: UPSNAME is not set; upsmon sets it for %s", shownType)
	}

	title := ev.title
	k := ":" + ev.group // an upsmon event: no UPS between the colons
	if !ev.upsmon {
		title = strings.Replace(ev.title, "%s", ups, 1)
		k = ups + k
	}
	return finish(Notice{
		Alert: message.Alert{
			Source:   SourceNUT,
			Severity: ev.severity,
			Status:   ev.status,
			Title:    oneLine(title),
			Key:      key(what+":", k),
		},
		Text: text,
	})
}
