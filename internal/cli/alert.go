package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"time"

	"github.com/spf13/cobra"

	"github.com/netsend/messenger/internal/alert"
	"github.com/netsend/messenger/internal/alert/notice"
	"github.com/netsend/messenger/internal/api"
	"github.com/netsend/messenger/internal/apitype"
	"github.com/netsend/messenger/internal/cli/cmdutil"
	"github.com/netsend/messenger/internal/message"
	"github.com/netsend/messenger/internal/webauth"
)

// exitRateLimited is the exit status of `messenger alert` when the caller
// raised more alerts from the source than alert.rate_limit allows; the
// others are send's.
const exitRateLimited = 6

// journalTimeout bounds the journalctl run of --from-systemd: the alert
// matters more than its log lines.
const journalTimeout = 5 * time.Second

// maxJournalOutput bounds what is read of journalctl's output.
const maxJournalOutput = 1 << 20

// alertExitCode maps a refusal's or a failed delivery's code to an exit
// status: send's, plus the alert's own.
func alertExitCode(code string) int {
	switch code {
	case apitype.CodeRateLimited:
		return exitRateLimited
	case apitype.CodeNoRecipient, apitype.CodeTooLarge:
		return cmdutil.ExitUsage
	}
	return cmdutil.ExitCodeFor(code)
}

// alertFlags are the flags of `messenger alert`.
type alertFlags struct {
	source, severity, title, key string
	to                           []string
	resolved, firing, asJSON     bool
	fromNUT, fromClamAV          bool
	fromSystemd                  string
}

func newAlertCmd(g *cmdutil.Globals) *cobra.Command {
	var f alertFlags
	cmd := &cobra.Command{
		Use:   "alert --source S --severity info|warning|critical [--to NAME]... [TEXT...]",
		Short: "Raise an administrative alert, like the Alerter service",
		Long: `Raise an administrative alert. The daemon routes it by its source and
severity to the names and groups of [[alert.route]] (everything to the host
name when no route is configured), or to --to NAME instead; holds back a
repeat (same --key, or same source, title and text, in the same state)
shown to a recipient within alert.dedup_window; and refuses a caller
raising more than alert.rate_limit alerts a minute from one source. Each
caller (account, or API token) has its own budget and repeat memory.

Without TEXT the alert is read from standard input. --resolved says the
condition is over; it clears the repeat memory, so that the next firing is
shown again.

Adapters read what a tool gives its hook instead of --source, --severity
and TEXT (flags given explicitly still win):
  --from-nut           upsmon's NOTIFYCMD: NOTIFYTYPE and UPSNAME from the
                       environment, the message as arguments
  --from-clamav        clamd's VirusEvent: CLAM_VIRUSEVENT_FILENAME and
                       CLAM_VIRUSEVENT_VIRUSNAME from the environment
  --from-systemd UNIT  an OnFailure= unit: the failed unit and its last
                       journal lines

Prints one line per recipient: delivered, suppressed (a repeat) or failed
with the reason. Exit status: 0 every recipient got the alert or was spared
a repeat; 2 bad arguments, bad alert or nobody to tell; 3 a name could not
be found; 4 a recipient is not accepting messages; 5 network error or
timeout; 6 rate limited (try again later); 7 this account may not raise
alerts (only admins and [access] alert_senders may); 1 anything else.`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			req, err := f.request(cmd, args)
			if err != nil {
				return cmdutil.Exit(cmdutil.ExitUsage, err)
			}
			c, err := g.Client()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 2*cmdutil.RequestTimeout)
			defer cancel()
			res, err := c.Alert(ctx, req)
			var rerr *api.RequestError
			if errors.As(err, &rerr) {
				return cmdutil.Exit(alertExitCode(rerr.Code), errors.New(rerr.Msg))
			}
			if err != nil {
				return cmdutil.DaemonError(err, g.DataDirHint())
			}
			return printAlertResult(cmd, res, f.asJSON)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.source, "source", "", "the tool or check raising the alert, e.g. backup, nut, disk (routes match it)")
	fl.StringVar(&f.severity, "severity", "", "info, warning or critical")
	fl.StringArrayVar(&f.to, "to", nil, "send to this name or alert group instead of the routes (repeatable)")
	fl.StringVar(&f.title, "title", "", "one-line summary shown before the text")
	fl.StringVar(&f.key, "key", "", "what repeats of this alert share (default: source, title and text)")
	fl.BoolVar(&f.resolved, "resolved", false, "the condition is over")
	fl.BoolVar(&f.firing, "firing", false, "the condition holds (an alert that will be resolved later)")
	fl.BoolVar(&f.asJSON, "json", false, "print the outcome as a JSON object")
	fl.BoolVar(&f.fromNUT, "from-nut", false, "read a NUT upsmon notification (NOTIFYCMD)")
	fl.BoolVar(&f.fromClamAV, "from-clamav", false, "read a clamd VirusEvent")
	fl.StringVar(&f.fromSystemd, "from-systemd", "", "alert that systemd unit UNIT failed, with its last log lines (OnFailure=)")
	// Bad flags are usage errors, exit status 2, like a bad alert.
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return cmdutil.Exit(cmdutil.ExitUsage, err) })
	cmd.AddCommand(newAlertTokenCmd())
	return cmd
}

// request builds the alert from the flags, an adapter and the text.
func (f *alertFlags) request(cmd *cobra.Command, args []string) (alert.Request, error) {
	var req alert.Request
	if f.resolved && f.firing {
		return req, errors.New("say --resolved or --firing, not both")
	}
	adapters := 0
	for _, on := range []bool{f.fromNUT, f.fromClamAV, f.fromSystemd != ""} {
		if on {
			adapters++
		}
	}
	if adapters > 1 {
		return req, errors.New("use one adapter: --from-nut, --from-clamav or --from-systemd")
	}
	if adapters == 1 {
		n, err := f.notice(cmd.Context(), args)
		if err != nil {
			return req, err
		}
		req.Alert, req.Text = n.Alert, n.Text
		if n.To != "" {
			req.To = []string{n.To}
		}
	} else {
		// Before standard input is read: a forgotten flag must not leave
		// the command waiting for a text.
		if f.source == "" || f.severity == "" {
			return req, errors.New("say --source and --severity (info, warning or critical), or use an adapter such as --from-nut")
		}
		text, err := messageText(cmd, args)
		if err != nil {
			return req, err
		}
		req.Text = text
	}
	changed := cmd.Flags().Changed
	if changed("source") {
		req.Alert.Source = f.source
	}
	if changed("severity") {
		sv, err := message.ParseSeverity(f.severity)
		if err != nil {
			return req, err
		}
		req.Alert.Severity = sv
	}
	if changed("title") {
		req.Alert.Title = f.title
	}
	if changed("key") {
		req.Alert.Key = f.key
	}
	switch {
	case f.resolved:
		req.Alert.Status = message.AlertResolved
	case f.firing:
		req.Alert.Status = message.AlertFiring
	}
	if len(f.to) > 0 {
		req.To = f.to
	}
	// Checked here too, so that a bad alert is a usage error before the
	// daemon is even asked.
	if err := message.ValidateAlert(&req.Alert); err != nil {
		return req, err
	}
	if req.Text == "" {
		return req, errors.New("the alert text is empty")
	}
	return req, nil
}

// notice runs the adapter the flags name.
func (f *alertFlags) notice(ctx context.Context, args []string) (notice.Notice, error) {
	switch {
	case f.fromNUT:
		return notice.FromNUT(os.Getenv, args)
	case len(args) > 0:
		return notice.Notice{}, errors.New("--from-clamav and --from-systemd take no TEXT: the alert comes from the environment")
	case f.fromClamAV:
		return notice.FromClamAV(os.Getenv)
	}
	return notice.FromSystemd(os.Getenv, f.fromSystemd, journalLines(ctx, f.fromSystemd))
}

// journalLines returns the unit's last log lines, or none when journalctl
// cannot give them: the alert then says the log was unavailable, and is
// raised anyway.
func journalLines(ctx context.Context, unit string) []string {
	argv := notice.SystemdJournalArgs(os.Getenv, unit)
	if len(argv) == 0 {
		return nil // not a unit name; FromSystemd says so
	}
	ctx, cancel := context.WithTimeout(ctx, journalTimeout)
	defer cancel()
	// argv, never a shell: the unit name is whatever systemd passed.
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var out limitedBuffer
	out.limit = maxJournalOutput
	cmd.Stdout = &out
	if err := cmd.Run(); err != nil {
		return nil
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(out.Bytes()))
	sc.Buffer(make([]byte, 64<<10), maxJournalOutput)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines
}

// limitedBuffer keeps the first limit bytes written to it and drops the
// rest, so a runaway journalctl cannot fill memory.
type limitedBuffer struct {
	bytes.Buffer
	limit int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.limit - b.Len(); room > 0 {
		b.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// printAlertResult prints one line per recipient and ends with the exit
// status of the worst failure.
func printAlertResult(cmd *cobra.Command, res alert.Result, asJSON bool) error {
	w := cmd.OutOrStdout()
	if asJSON {
		if err := json.NewEncoder(w).Encode(res); err != nil {
			return err
		}
	}
	worst := 0
	for _, d := range res.Deliveries {
		if d.OK() {
			if !asJSON {
				fmt.Fprintf(w, "%s: delivered\n", d.To)
			}
			continue
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "%s: failed: %s (%s)\n", d.To, d.Error, d.Code)
		worst = max(worst, alertExitCode(d.Code))
	}
	if !asJSON {
		for _, name := range res.Suppressed {
			fmt.Fprintf(w, "%s: suppressed (already shown within the de-duplication window)\n", name)
		}
	}
	if worst != 0 {
		return cmdutil.Exit(worst, cmdutil.SilentError{})
	}
	return nil
}

// tokenName is what `messenger alert token` accepts as a name: it goes
// into TOML unquoted by anything but its own quotes.
var tokenName = regexp.MustCompile(`^[-_.A-Za-z0-9]{1,64}$`)

func newAlertTokenCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "token NAME",
		Short: "Make a token for a tool that raises alerts through the ingest listener",
		Long: `Make a new random token for the tool NAME (e.g. grafana, uptime-kuma) and
print it once, followed by the [[alert.token]] lines to add to the
configuration file: only the token's SHA-256 is kept there. The tool sends
the token as ntfy and Gotify clients do (Authorization: Bearer TOKEN, or
Gotify's X-Gotify-Key). Restart the daemon after changing the file.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if !tokenName.MatchString(name) {
				return cmdutil.Exit(cmdutil.ExitUsage, fmt.Errorf("token name %q: use 1 to 64 letters, digits, '-', '_' or '.'", name))
			}
			token, hash, err := webauth.MakeToken()
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "%s\n\n# Add to the configuration file, then restart the daemon:\n[[alert.token]]\nname = %q\nsha256 = %q\n",
				token, name, hash)
			fmt.Fprintln(cmd.ErrOrStderr(), "Keep this token: it is shown only now, and only its hash goes into the configuration.")
			return err
		},
	}
}
