// Package cupsnotify is the CUPS notifier: cupsd runs the messenger
// binary as ServerBin/notifier/messenger for every subscription whose
// recipient is messenger://NAME, and the notifier turns the job and
// printer events on its standard input into alerts.
package cupsnotify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/user"
	"strconv"
	"strings"
	"time"

	"github.com/netsend/messenger/internal/alert"
	"github.com/netsend/messenger/internal/alert/notice"
	"github.com/netsend/messenger/internal/ipp"
)

// The CUPS notifier. cupsd runs ServerBin/notifier/messenger (a symlink
// to this binary) for every subscription whose notify-recipient-uri is
// messenger://NAME, with argv[1] that URI and argv[2] the subscription's
// user data, and writes the subscribed events to its standard input as
// IPP messages until it closes the pipe (notifier(7)). What the notifier
// writes to standard error goes to cupsd's error_log, at the level its
// "ERROR:", "WARNING:", "INFO:" or "DEBUG:" prefix names (filter(7)).

// cupsNotifierTimeout bounds the work on one event: asking cupsd for the
// job's owner and raising the alert.
const cupsNotifierTimeout = 30 * time.Second

// defaultCUPSServer is where cupsd listens when CUPS_SERVER does not say
// (cupsd sets it for its children to its first domain socket).
const defaultCUPSServer = "/run/cups/cups.sock"

// IsNotifier tells cupsd's way of running us from a command line:
// exactly a recipient URI with our scheme and the user data. No verb
// starts with "messenger:", so nothing else is taken for it.
func IsNotifier(args []string) bool {
	prefix := notice.CUPSScheme + ":"
	return len(args) == 3 && len(args[1]) >= len(prefix) && strings.EqualFold(args[1][:len(prefix)], prefix)
}

// Raise raises an alert with the daemon: api.Client.Alert.
type Raise func(ctx context.Context, req alert.Request) (alert.Result, error)

// Run is the notifier's main, with the daemon reached through raise (nil
// when it could not be found, which err says): the exit status is 0 when
// cupsd closed the pipe, 1 when the notifier could not start or lost
// track of the stream (cupsd then starts it again for the next event).
func Run(recipientURI string, stdin io.Reader, stderr io.Writer, raise Raise, daemonAddr string, err error) int {
	n := &cupsNotifier{recipientURI: recipientURI, log: stderr}
	if _, err := notice.CUPSRecipient(recipientURI); err != nil {
		n.logf("ERROR", "%v", err)
		return 1
	}
	if err != nil {
		n.logf("ERROR", "messenger notifier: configuration: %v", err)
		return 1
	}
	n.logf("DEBUG", "messenger notifier: reaching the daemon at %s", daemonAddr)
	n.raise = raise
	n.owner = cupsJobOwner(os.Getenv("CUPS_SERVER"), os.Getenv("IPP_PORT"))
	if err := n.run(context.Background(), stdin); err != nil {
		return 1
	}
	return 0
}

// cupsNotifier turns the events on its input into alerts.
type cupsNotifier struct {
	recipientURI string
	// raise is api.Client.Alert of the daemon found from the environment.
	raise func(ctx context.Context, req alert.Request) (alert.Result, error)
	// owner asks cupsd who submitted a job.
	owner func(ctx context.Context, jobID int) (string, error)
	log   io.Writer
}

func (n *cupsNotifier) logf(level, format string, args ...any) {
	// One line per message: cupsd reads its children's stderr by lines.
	line := strings.ReplaceAll(fmt.Sprintf(format, args...), "\n", " ")
	fmt.Fprintf(n.log, "%s: %s\n", level, line)
}

// run handles events until the input ends. An event that cannot be
// mapped or delivered is logged and skipped; a stream that stops being
// IPP is the end, as notifier(7) asks, since the next message cannot be
// found in it.
func (n *cupsNotifier) run(ctx context.Context, stdin io.Reader) error {
	// ipp.Reader buffers what it reads itself.
	r := ipp.NewReader(stdin)
	for {
		ev, err := r.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			n.logf("ERROR", "messenger notifier: reading the event stream from cupsd: %v", err)
			return err
		}
		n.handle(ctx, ev)
	}
}

func (n *cupsNotifier) handle(ctx context.Context, ev ipp.Message) {
	ctx, cancel := context.WithTimeout(ctx, cupsNotifierTimeout)
	defer cancel()
	note, err := notice.FromCUPSEvent(ev, n.recipientURI)
	if err != nil {
		n.logf("ERROR", "messenger notifier: %v", err)
		return
	}
	seq, _ := ev.Int("notify-sequence-number")
	event, _ := ev.Text("notify-subscribed-event")
	if note.To == "" {
		if id, ok := notice.CUPSJobID(ev); ok {
			owner, err := n.owner(ctx, id)
			if err != nil {
				n.logf("ERROR", "messenger notifier: the owner of job %d: %v; the alert goes where the alert routes send cups alerts", id, err)
			} else {
				note.To = owner
			}
		}
	}
	req := alert.Request{Alert: note.Alert, Text: note.Text}
	if note.To != "" {
		req.To = []string{note.To}
	}
	res, err := n.raise(ctx, req)
	if err != nil {
		n.logf("ERROR", "messenger notifier: event %d (%s) for %q: %v", seq, event, note.To, err)
		return
	}
	for _, d := range res.Deliveries {
		if !d.OK() {
			n.logf("ERROR", "messenger notifier: event %d (%s) to %s: %s %s", seq, event, d.To, d.Code, d.Error)
		} else {
			n.logf("DEBUG", "messenger notifier: event %d (%s) delivered to %s via %s", seq, event, d.To, d.Via)
		}
	}
	for _, s := range res.Suppressed {
		n.logf("DEBUG", "messenger notifier: event %d (%s) held back from %s: a repeat", seq, event, s)
	}
}

// cupsJobOwner returns a function that asks cupsd for a job's
// job-originating-user-name with Get-Job-Attributes (RFC 8011 section
// 4.3.4). server is CUPS_SERVER as cupsd sets it for its children: the
// path of its domain socket, or HOST[:PORT]. No event names the job's
// owner, and cupsd treats it as private (JobPrivateValues): it tells the
// owner, the system group, and whoever its JobPrivateAccess lists. On the
// domain socket the notifier proves who it is (cupsd's User, lp) with
// peer credentials, so listing that user there is what owner routing
// needs.
func cupsJobOwner(server, ippPort string) func(ctx context.Context, jobID int) (string, error) {
	if server == "" {
		server = defaultCUPSServer
	}
	network, addr := "unix", server
	if !strings.HasPrefix(server, "/") {
		network, addr = "tcp", server
		if _, _, err := net.SplitHostPort(server); err != nil {
			port := ippPort
			if port == "" {
				port = "631"
			}
			addr = net.JoinHostPort(server, port)
		}
	}
	hc := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}}
	username := "lp"
	if u, err := user.Current(); err == nil {
		username = u.Username
	}
	return func(ctx context.Context, jobID int) (string, error) {
		req := ipp.Message{
			Version:   ipp.Version{Major: 2},
			Code:      ipp.OpGetJobAttributes,
			RequestID: 1,
			Groups: []ipp.Group{{Tag: ipp.TagOperation, Attributes: []ipp.Attribute{
				{Name: "attributes-charset", Values: []ipp.Value{ipp.String(ipp.TagCharset, "utf-8")}},
				{Name: "attributes-natural-language", Values: []ipp.Value{ipp.String(ipp.TagNaturalLanguage, "en")}},
				{Name: "job-uri", Values: []ipp.Value{ipp.String(ipp.TagURI, "ipp://localhost/jobs/"+strconv.Itoa(jobID))}},
				{Name: "requesting-user-name", Values: []ipp.Value{ipp.String(ipp.TagName, username)}},
				{Name: "requested-attributes", Values: []ipp.Value{ipp.String(ipp.TagKeyword, "job-originating-user-name")}},
			}}},
		}
		body, err := req.Marshal()
		if err != nil {
			return "", err
		}
		hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://localhost/jobs/", bytes.NewReader(body))
		if err != nil {
			return "", err
		}
		hreq.Header.Set("Content-Type", "application/ipp")
		if network == "unix" {
			hreq.Header.Set("Authorization", "PeerCred "+username)
		}
		resp, err := hc.Do(hreq)
		if err != nil {
			return "", fmt.Errorf("asking cupsd at %s: %w", server, err)
		}
		defer resp.Body.Close()
		raw, err := io.ReadAll(io.LimitReader(resp.Body, ipp.MaxStreamMessage))
		if err != nil {
			return "", fmt.Errorf("reading cupsd's answer: %w", err)
		}
		if resp.StatusCode != http.StatusOK {
			return "", fmt.Errorf("cupsd at %s answered %s", server, resp.Status)
		}
		m, _, err := ipp.Decode(raw)
		if err != nil {
			return "", fmt.Errorf("cupsd's answer: %w", err)
		}
		if m.Code >= 0x0100 {
			msg, _ := m.Text("status-message")
			return "", fmt.Errorf("cupsd refused Get-Job-Attributes: status 0x%04X %s", m.Code, msg)
		}
		owner, err := m.Text("job-originating-user-name")
		if errors.Is(err, ipp.ErrNotFound) {
			return "", fmt.Errorf("cupsd withheld job-originating-user-name from %s: list %s in JobPrivateAccess of cupsd.conf", username, username)
		}
		if err != nil {
			return "", fmt.Errorf("cupsd's answer: %w", err)
		}
		if owner == "" {
			return "", errors.New("cupsd gave an empty job-originating-user-name")
		}
		return owner, nil
	}
}
