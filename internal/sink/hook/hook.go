// Package hook is the sink that runs a configured program for each
// message: the message goes in its arguments (placeholders), its
// environment (MESSENGER_*) and its standard input (the text). The program
// is started directly, never through a shell, and killed after a timeout.
package hook

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
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
	// Skipped counts messages the hook failed on, by reason.
	Skipped func(reason string)
	Log     *slog.Logger
}

// Name identifies the sink in metrics.
func (s *Sink) Name() string { return "hook" }

// Show runs the program for m and waits for it (or the timeout).
func (s *Sink) Show(m message.Message) {
	ctx, cancel := context.WithTimeout(context.Background(), s.Timeout)
	defer cancel()
	fields := Fields(m)
	args := make([]string, len(s.Command)-1)
	for i, a := range s.Command[1:] {
		args[i] = expand(a, fields)
	}
	cmd := exec.CommandContext(ctx, s.Command[0], args...)
	cmd.Env = append(baseEnv(), Env(fields)...)
	cmd.Stdin = strings.NewReader(m.Text)
	var stderr bytes.Buffer
	cmd.Stderr = &limited{w: &stderr, n: 4096}
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if err == nil {
		return
	}
	reason := "error"
	var exit *exec.ExitError
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		reason = "timeout"
	case errors.As(err, &exit):
		reason = "exit_status"
	}
	if s.Skipped != nil {
		s.Skipped(reason)
	}
	s.Log.Warn("hook failed", slog.Int64("id", m.ID), slog.String("program", s.Command[0]),
		slog.String("reason", reason), slog.Any("err", err), slog.String("stderr", strings.TrimSpace(stderr.String())))
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
