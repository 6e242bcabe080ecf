package notice

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/netsend/messenger/internal/ipp"
	"github.com/netsend/messenger/internal/message"
)

// How cupsd hands events to a notifier, from CUPS's notifier(7) and its
// scheduler (scheduler/subscriptions.c: cupsd_start_notifier and
// cupsdAddEvent, CUPS 2.4): for a subscription whose
// notify-recipient-uri has the scheme "messenger", cupsd runs
// ServerBin/notifier/messenger with argv[1] the recipient URI and argv[2]
// the subscription's notify-user-data in Base64 (empty when there is
// none), and writes each event to its standard input as one IPP message
// with a single event-notification group. Every event carries
// notify-subscribed-event and notify-text; events about a printer add
// printer-name, printer-state and printer-state-reasons; events about a
// job add the job's id (notify-job-id, or job-id for printer
// subscriptions in CUPS 2.5), job-state and job-name. No event says who
// submitted the job: the notifier asks cupsd for the job's
// job-originating-user-name when it needs it (see CUPSJobID).

// SourceCUPS is the Source of alerts from the CUPS notifier.
const SourceCUPS = "cups"

// CUPSScheme is the notify-recipient-uri scheme cupsd runs us for: the
// notifier's file name in ServerBin/notifier.
const CUPSScheme = "messenger"

// Job states (RFC 8011 section 5.3.7).
const (
	cupsJobCanceled  = 7
	cupsJobAborted   = 8
	cupsJobCompleted = 9
)

// CUPSRecipient reads the recipient from a notify-recipient-uri:
// "messenger://NAME" names NAME (a messenger name or an alert group);
// "messenger://" and "messenger:///" name nobody, which means the job's
// owner (and, for an event that is not about a job, the alert routing).
func CUPSRecipient(uri string) (string, error) {
	u, err := url.Parse(uri)
	if err != nil {
		return "", fmt.Errorf("cups: recipient URI %q: %w", uri, err)
	}
	switch {
	case !strings.EqualFold(u.Scheme, CUPSScheme):
		return "", fmt.Errorf("cups: recipient URI %q: scheme is not %s", uri, CUPSScheme)
	case u.Opaque != "":
		return "", fmt.Errorf("cups: recipient URI %q: write %s://NAME", uri, CUPSScheme)
	case u.User != nil, u.Port() != "", u.RawQuery != "", u.Fragment != "":
		return "", fmt.Errorf("cups: recipient URI %q: only %s://NAME, with no user, port, query or fragment", uri, CUPSScheme)
	case u.Path != "" && u.Path != "/":
		return "", fmt.Errorf("cups: recipient URI %q: path %q; the name goes where the host would, %s://NAME", uri, u.Path, CUPSScheme)
	}
	name := u.Hostname()
	if len(name) > message.MaxNameLen {
		return "", fmt.Errorf("cups: recipient URI %q: name longer than %d bytes", uri, message.MaxNameLen)
	}
	return name, nil
}

// CUPSJobID returns the id of the job an event is about, if it is about
// one.
func CUPSJobID(ev ipp.Message) (int, bool) {
	for _, name := range []string{"notify-job-id", "job-id"} {
		if id, err := ev.Int(name); err == nil && id > 0 {
			return int(id), true
		}
	}
	return 0, false
}

// FromCUPSEvent turns one event notification from cupsd into a Notice
// for the recipient its subscription names (recipientURI, the notifier's
// argv[1]).
//
//   - job-completed is "job completed" (info) when the job printed, "job
//     canceled" or "job aborted" (warning) with cupsd's reason when it did
//     not; the text has the job's name, id and printer.
//   - printer-stopped is "printer stopped" (warning: the queue holds its
//     jobs until someone acts) with cupsd's message and the
//     printer-state-reasons. Its Key, cups:printer:NAME:stopped, lets the
//     de-duplication hold back a printer that stops again and again.
//     There is no resolved state: the event that would clear it,
//     printer-state-changed to idle, also follows every job.
//   - every other event is info with cupsd's notify-text.
//
// To is the name in the URI; when the URI names nobody it is empty, and
// the caller puts the job's owner there (see CUPSJobID).
func FromCUPSEvent(ev ipp.Message, recipientURI string) (Notice, error) {
	to, err := CUPSRecipient(recipientURI)
	if err != nil {
		return Notice{}, err
	}
	event, err := ev.Text("notify-subscribed-event")
	if err != nil {
		return Notice{}, fmt.Errorf("cups: event: %w", err)
	}
	if event == "" || len(event) > 64 {
		return Notice{}, fmt.Errorf("cups: event: notify-subscribed-event %q is not an event name", cupsLine(event, 64))
	}
	e, err := readCUPSEvent(ev)
	if err != nil {
		return Notice{}, fmt.Errorf("cups: %s event: %w", event, err)
	}
	n := Notice{Alert: message.Alert{Source: SourceCUPS, Severity: message.SeverityInfo}, To: to}
	var b strings.Builder
	switch event {
	case "job-completed":
		what := "job completed"
		switch e.jobState {
		case cupsJobCanceled:
			what, n.Alert.Severity = "job canceled", message.SeverityWarning
		case cupsJobAborted:
			what, n.Alert.Severity = "job aborted", message.SeverityWarning
		case cupsJobCompleted:
		default:
			what = fmt.Sprintf("job completed (job-state %d)", e.jobState)
		}
		b.WriteString(what)
		b.WriteString(": ")
		e.writeJob(&b)
		if e.jobState != cupsJobCompleted {
			e.writeText(&b)
		}
		if e.jobID > 0 {
			n.Alert.Key = key("cups:job:", e.printer+":"+strconv.Itoa(e.jobID))
		}
	case "printer-stopped":
		n.Alert.Severity = message.SeverityWarning
		b.WriteString("printer stopped: ")
		b.WriteString(cupsOr(e.printer, "(no printer name)"))
		e.writeText(&b)
		if reasons := e.reasons(); reasons != "" {
			b.WriteString("\nreasons: ")
			b.WriteString(reasons)
		}
		if e.printer != "" {
			n.Alert.Key = key("cups:printer:", e.printer+":stopped")
		}
	default:
		b.WriteString(event)
		switch {
		case e.jobID > 0:
			b.WriteString(": ")
			e.writeJob(&b)
		case e.printer != "":
			b.WriteString(": ")
			b.WriteString(e.printer)
		}
		e.writeText(&b)
	}
	n.Text = cut(b.String(), message.MaxTextLen)
	return finish(n)
}

// cupsEvent is what FromCUPSEvent uses of an event, made safe to show:
// the job name is the submitter's to choose, so no field may break or
// reorder the line it is shown on (the job name is quoted with Go's
// escapes, the rest made one line by cupsLine).
type cupsEvent struct {
	printer, jobName, text string
	jobID, jobState        int
	stateReasons           []string
}

func readCUPSEvent(ev ipp.Message) (cupsEvent, error) {
	var e cupsEvent
	var err error
	if e.printer, err = cupsOptionalText(ev, "printer-name"); err != nil {
		return e, err
	}
	// The job name is quoted when shown, which escapes it; cleaning it
	// first would escape it twice.
	if e.jobName, err = ev.Text("job-name"); err != nil && !errors.Is(err, ipp.ErrNotFound) {
		return e, err
	}
	if len(e.jobName) > 255 {
		e.jobName = e.jobName[:255]
	}
	if e.text, err = cupsOptionalText(ev, "notify-text"); err != nil {
		return e, err
	}
	e.jobID, _ = CUPSJobID(ev)
	if st, err := ev.Int("job-state"); err == nil {
		e.jobState = int(st)
	} else if !errors.Is(err, ipp.ErrNotFound) {
		return e, err
	}
	if rs, err := ev.Texts("printer-state-reasons"); err == nil {
		for _, r := range rs {
			e.stateReasons = append(e.stateReasons, cupsLine(r, 64))
		}
	} else if !errors.Is(err, ipp.ErrNotFound) {
		return e, err
	}
	return e, nil
}

func cupsOptionalText(ev ipp.Message, name string) (string, error) {
	s, err := ev.Text(name)
	if errors.Is(err, ipp.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return cupsLine(s, 1023), nil
}

// writeJob writes `"NAME" (job ID) on PRINTER`.
func (e *cupsEvent) writeJob(b *strings.Builder) {
	if e.jobName != "" {
		b.WriteString(strconv.Quote(e.jobName))
		b.WriteString(" ")
	}
	if e.jobID > 0 {
		fmt.Fprintf(b, "(job %d)", e.jobID)
	}
	if e.printer != "" {
		b.WriteString(" on ")
		b.WriteString(e.printer)
	}
}

// writeText adds cupsd's own sentence on a line of its own.
func (e *cupsEvent) writeText(b *strings.Builder) {
	if e.text != "" {
		b.WriteString("\n")
		b.WriteString(e.text)
	}
}

// reasons lists the printer-state-reasons worth reading: "none" is not.
func (e *cupsEvent) reasons() string {
	var rs []string
	for _, r := range e.stateReasons {
		if r != "none" && r != "" {
			rs = append(rs, r)
		}
	}
	return strings.Join(rs, ", ")
}

// cupsLine makes a string from cupsd one safe line of at most limit
// characters (escapeName: line breaks, control characters and
// bidirectional overrides escaped).
func cupsLine(s string, limit int) string { return cut(escapeName(s), limit) }

func cupsOr(s, otherwise string) string {
	if s == "" {
		return otherwise
	}
	return s
}
