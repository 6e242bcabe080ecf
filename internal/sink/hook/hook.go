// Package hook is the sink that runs a configured program for each
// message: the message goes in its arguments (placeholders), its
// environment (MESSENGER_*) and its standard input (the text). The program
// is started directly, never through a shell, in a process group of its
// own, and the whole group is killed after a timeout or when the daemon
// stops, so that nothing it started outlives it.
//
// A value a sender chooses never becomes an option: before the first "--"
// of the command, an argument that a value would make begin with "-"
// keeps the hook from running for that message (counted as
// "unsafe_argument"). Put "--" before positional placeholders, or write
// "--from={from}"; Unguarded names the arguments at start.
package hook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/netsend/messenger/internal/message"
)

// Sink runs Command for each message.
type Sink struct {
	// Command is the program, an absolute path, and its arguments, which
	// may hold {id}, {from}, {to}, {time}, {transport}, {source}; empty
	// unless the message is an alert, {alert_source}, {severity},
	// {alert_status}, {alert_title}; and empty unless the message came
	// through the hub, {verified}, the sending host the hub proved.
	Command []string
	Timeout time.Duration
	// Ctx is the daemon's lifetime: when it ends, a running hook's
	// process group is killed and no further hook starts. Nil is
	// context.Background.
	Ctx context.Context
	// Skipped counts messages the hook failed on, by reason.
	Skipped func(reason string)
	Log     *slog.Logger
}

// Name identifies the sink in metrics.
func (s *Sink) Name() string { return "hook" }

// Show runs the program for m and waits for it (or the timeout).
func (s *Sink) Show(m message.Message) {
	parent := s.Ctx
	if parent == nil {
		parent = context.Background()
	}
	ctx, cancel := context.WithTimeout(parent, s.Timeout)
	defer cancel()
	fields := Fields(m)
	args, err := expandArgs(s.Command[1:], fields)
	if err != nil {
		s.skip("unsafe_argument")
		s.Log.Warn("hook not run", slog.Int64("id", m.ID), slog.String("program", s.Command[0]), slog.Any("err", err))
		return
	}
	cmd := exec.CommandContext(ctx, s.Command[0], args...)
	cmd.Env = append(baseEnv(), Env(fields)...)
	cmd.Stdin = strings.NewReader(m.Text)
	var stderr bytes.Buffer
	cmd.Stderr = &limited{w: &stderr, n: 4096}
	// Its own process group, so that the timeout ends what the hook
	// started too (a shell's background job, a pipeline), not just the
	// hook: killing the child alone left those running.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return killGroup(cmd.Process.Pid) }
	cmd.WaitDelay = time.Second
	err = cmd.Run()
	if err == nil {
		return
	}
	reason := "error"
	var exit *exec.ExitError
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		reason = "timeout"
	case parent.Err() != nil:
		reason = "stopped"
	case errors.As(err, &exit):
		reason = "exit_status"
	}
	s.skip(reason)
	s.Log.Warn("hook failed", slog.Int64("id", m.ID), slog.String("program", s.Command[0]),
		slog.String("reason", reason), slog.Any("err", err), slog.String("stderr", strings.TrimSpace(stderr.String())))
}

func (s *Sink) skip(reason string) {
	if s.Skipped != nil {
		s.Skipped(reason)
	}
}

// killGroup kills the process group the hook leads. The group outlives
// its leader while any member lives, and its id is not reused meanwhile.
func killGroup(pgid int) error {
	err := syscall.Kill(-pgid, syscall.SIGKILL)
	if errors.Is(err, syscall.ESRCH) {
		return os.ErrProcessDone
	}
	return err
}

// errUnsafeArgument: a message value would begin an argument with "-"
// where the program could take it for an option.
var errUnsafeArgument = errors.New("a message value would begin an argument before \"--\" with \"-\"")

// expandArgs fills in the placeholders of the command's arguments and
// refuses when a value makes an argument before the first literal "--"
// begin with "-" though its template does not: a sender named "-rf" or
// "--config=/tmp/x" must reach the program as data, and only "--" (or
// "--opt={from}") tells every option parser so. Refusing, rather than
// altering the value, keeps what the hook receives true.
func expandArgs(tmpl []string, f map[string]string) ([]string, error) {
	args := make([]string, len(tmpl))
	guarded := false
	for i, a := range tmpl {
		args[i] = expand(a, f)
		if !guarded && strings.HasPrefix(args[i], "-") && !strings.HasPrefix(a, "-") {
			return nil, fmt.Errorf("argument %d (%q): %w", i+1, a, errUnsafeArgument)
		}
		guarded = guarded || a == "--"
	}
	return args, nil
}

// freeFields are the placeholders whose values a sender chooses; the
// others are numbers, times or fixed words.
var freeFields = []string{"from", "to", "source", "alert_source", "alert_title", "verified"}

// Unguarded lists the arguments of command (a hook's program and its
// arguments) that a sender's value could make begin with "-": those
// before the first "--" that start with a placeholder of a value a sender
// chooses. The daemon warns of them at start; a message that does it
// is not handed to the hook.
func Unguarded(command []string) []string {
	probe := map[string]string{}
	for _, k := range freeFields {
		probe[k] = "-"
	}
	var out []string
	for _, a := range command[min(1, len(command)):] {
		if a == "--" {
			break
		}
		if !strings.HasPrefix(a, "-") && strings.HasPrefix(expand(a, probe), "-") {
			out = append(out, a)
		}
	}
	return out
}

// Fields are the message's values as the hook sees them: valid UTF-8,
// without NUL bytes (which argv and the environment cannot carry). The
// alert fields are always there, empty for an ordinary message, so that a
// hook tells the two apart by {severity} alone; so is "verified", empty
// unless the hub proved the sending host — a hook may trust it, since
// only hub messages carry it.
func Fields(m message.Message) map[string]string {
	clean := func(s string) string {
		return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
	}
	var a message.Alert
	if m.Alert != nil {
		a = *m.Alert
	}
	var verified string
	if m.Transport == message.TransportHub {
		verified = m.Verified
	}
	return map[string]string{
		"id":           strconv.FormatInt(m.ID, 10),
		"from":         clean(m.From),
		"to":           clean(m.To),
		"time":         m.Time.UTC().Format(time.RFC3339),
		"transport":    string(m.Transport),
		"source":       clean(m.Source),
		"text":         clean(m.Text),
		"alert_source": clean(a.Source),
		"severity":     clean(string(a.Severity)),
		"alert_status": clean(string(a.Status)),
		"alert_title":  clean(a.Title),
		"verified":     clean(verified),
	}
}

// Env is the MESSENGER_* environment of a hook.
func Env(f map[string]string) []string {
	return []string{
		"MESSENGER_ID=" + f["id"], "MESSENGER_FROM=" + f["from"], "MESSENGER_TO=" + f["to"],
		"MESSENGER_TIME=" + f["time"], "MESSENGER_TRANSPORT=" + f["transport"],
		"MESSENGER_SOURCE=" + f["source"], "MESSENGER_TEXT=" + f["text"],
		"MESSENGER_ALERT_SOURCE=" + f["alert_source"], "MESSENGER_SEVERITY=" + f["severity"],
		"MESSENGER_ALERT_STATUS=" + f["alert_status"], "MESSENGER_ALERT_TITLE=" + f["alert_title"],
		"MESSENGER_VERIFIED=" + f["verified"],
	}
}

// expand replaces the placeholders of one argument in a single pass, so a
// value that itself reads "{to}" stays as it is.
func expand(arg string, f map[string]string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(arg, '{')
		if i < 0 {
			b.WriteString(arg)
			return b.String()
		}
		j := strings.IndexByte(arg[i:], '}')
		if j < 0 {
			b.WriteString(arg)
			return b.String()
		}
		key := arg[i+1 : i+j]
		v, ok := f[key]
		if !ok || key == "text" {
			b.WriteString(arg[:i+j+1])
		} else {
			b.WriteString(arg[:i])
			b.WriteString(v)
		}
		arg = arg[i+j+1:]
	}
}

// baseEnv is what a hook inherits: only what a program needs to run.
func baseEnv() []string {
	var env []string
	for _, k := range []string{"PATH", "HOME", "LANG", "LC_ALL", "TZ"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// limited keeps the first n bytes written and discards the rest.
type limited struct {
	w *bytes.Buffer
	n int
}

func (l *limited) Write(p []byte) (int, error) {
	if room := l.n - l.w.Len(); room > 0 {
		l.w.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}
