package hook

import (
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/netsend/messenger/internal/message"
)

// TestMain doubles as the hook program: "hook-helper OUT MODE ARGS..."
// writes what it was given to OUT as JSON.
func TestMain(m *testing.M) {
	if len(os.Args) > 3 && os.Args[1] == "hook-helper" {
		if os.Args[3] == "sleep" {
			time.Sleep(time.Minute)
		}
		stdin, _ := io.ReadAll(os.Stdin)
		out, _ := json.Marshal(map[string]any{"args": os.Args[4:], "env": os.Environ(), "stdin": string(stdin)})
		os.WriteFile(os.Args[2], out, 0o600)
		if os.Args[3] == "fail" {
			os.Exit(3)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

type result struct {
	Args  []string `json:"args"`
	Env   []string `json:"env"`
	Stdin string   `json:"stdin"`
}

func TestHookGetsMessageWithoutShell(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out.json")
	var skipped []string
	s := &Sink{
		Command: []string{os.Args[0], "hook-helper", out, "ok", "{from}", "to={to}", "{id}", "{text}", "{nope}", "$(id)"},
		Timeout: 10 * time.Second, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Skipped: func(r string) { skipped = append(skipped, r) },
	}
	text := "hi; rm -rf / `id` $(id)\n<script>alert(1)</script>\x1b[31m\x00end\xff"
	s.Show(message.Message{ID: 7, From: "ALICE;ls", To: "{from}", Text: text, Time: time.Unix(0, 0), Transport: message.TransportSMB})
	var r result
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("hook did not run: %v (skipped %v)", err, skipped)
	}
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	want := []string{"ALICE;ls", "to={from}", "7", "{text}", "{nope}", "$(id)"}
	if strings.Join(r.Args, "|") != strings.Join(want, "|") {
		t.Errorf("args = %q; want %q", r.Args, want)
	}
	// JSON, not the hook, turns the invalid byte into U+FFFD.
	if r.Stdin != strings.ToValidUTF8(text, "\uFFFD") {
		t.Errorf("stdin = %q; want the text unchanged", r.Stdin)
	}
	env := strings.Join(r.Env, "\n")
	for _, w := range []string{"MESSENGER_ID=7", "MESSENGER_FROM=ALICE;ls", "MESSENGER_TO={from}", "MESSENGER_TRANSPORT=smb", "MESSENGER_TEXT=hi; rm"} {
		if !strings.Contains(env, w) {
			t.Errorf("environment lacks %q", w)
		}
	}
	if strings.Contains(env, "\x00") {
		t.Error("NUL in the environment")
	}
	if len(skipped) != 0 {
		t.Errorf("skipped %v", skipped)
	}
}

// An alert's source, severity, status and title reach the hook in its
// arguments and its environment; an ordinary message gives them empty.
func TestHookGetsAlertFields(t *testing.T) {
	for _, tc := range []struct {
		name  string
		alert *message.Alert
		want  []string // source, severity, status, title
	}{
		{"ordinary message", nil, []string{"", "", "", ""}},
		{"info", &message.Alert{Source: "cups", Severity: message.SeverityInfo}, []string{"cups", "info", "", ""}},
		{"warning with title", &message.Alert{Source: "ntfy", Severity: message.SeverityWarning, Title: "Backup late"},
			[]string{"ntfy", "warning", "", "Backup late"}},
		{"critical firing", &message.Alert{Source: "nut", Severity: message.SeverityCritical, Status: message.AlertFiring},
			[]string{"nut", "critical", "firing", ""}},
		{"resolved with a hostile title", &message.Alert{Source: "alertmanager", Severity: message.SeverityCritical,
			Status: message.AlertResolved, Title: "$(id) {to} `id`\x00"},
			[]string{"alertmanager", "critical", "resolved", "$(id) {to} `id`\uFFFD"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.json")
			var skipped []string
			s := &Sink{
				Command: []string{os.Args[0], "hook-helper", out, "ok",
					"src={alert_source}", "sev={severity}", "status={alert_status}", "title={alert_title}"},
				Timeout: 10 * time.Second, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
				Skipped: func(r string) { skipped = append(skipped, r) },
			}
			m := message.Message{ID: 9, From: "HOST1", To: "ALICE", Text: "body", Time: time.Unix(0, 0), Transport: message.TransportSMB}
			if tc.alert != nil {
				m.Transport, m.Alert = message.TransportAlert, tc.alert
			}
			s.Show(m)
			data, err := os.ReadFile(out)
			if err != nil {
				t.Fatalf("hook did not run: %v (skipped %v)", err, skipped)
			}
			var r result
			if err := json.Unmarshal(data, &r); err != nil {
				t.Fatal(err)
			}
			wantArgs := []string{"src=" + tc.want[0], "sev=" + tc.want[1], "status=" + tc.want[2], "title=" + tc.want[3]}
			if strings.Join(r.Args, "|") != strings.Join(wantArgs, "|") {
				t.Errorf("args = %q; want %q", r.Args, wantArgs)
			}
			env := map[string]string{}
			for _, kv := range r.Env {
				k, v, _ := strings.Cut(kv, "=")
				env[k] = v
			}
			for i, k := range []string{"MESSENGER_ALERT_SOURCE", "MESSENGER_SEVERITY", "MESSENGER_ALERT_STATUS", "MESSENGER_ALERT_TITLE"} {
				v, ok := env[k]
				if !ok || v != tc.want[i] {
					t.Errorf("%s = %q (set %v); want %q", k, v, ok, tc.want[i])
				}
			}
			if r.Stdin != "body" {
				t.Errorf("stdin = %q", r.Stdin)
			}
		})
	}
}

func TestHookFailureAndTimeoutAreCounted(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ mode, reason string }{{"fail", "exit_status"}, {"sleep", "timeout"}} {
		var skipped []string
		s := &Sink{
			Command: []string{os.Args[0], "hook-helper", filepath.Join(dir, tc.mode), tc.mode},
			Timeout: 300 * time.Millisecond, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
			Skipped: func(r string) { skipped = append(skipped, r) },
		}
		start := time.Now()
		s.Show(message.Message{ID: 1, Text: "x"})
		if len(skipped) != 1 || skipped[0] != tc.reason {
			t.Errorf("%s: skipped %v; want [%s]", tc.mode, skipped, tc.reason)
		}
		if time.Since(start) > 5*time.Second {
			t.Errorf("%s: took %v", tc.mode, time.Since(start))
		}
	}
}

// The host the hub verified reaches the hook as {verified} and
// MESSENGER_VERIFIED; empty for every other message, even one whose
// Verified field was set off the hub.
func TestHookGetsVerifiedSender(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    message.Message
		want string
	}{
		{"hub message", message.Message{Transport: message.TransportHub, Source: "hub:HOSTA", HubID: "ab", Verified: "HOSTA"}, "HOSTA"},
		{"hub message with a hostile host", message.Message{Transport: message.TransportHub, Verified: "H{to}$(id)\x00"}, "H{to}$(id)\uFFFD"},
		{"ordinary message", message.Message{Transport: message.TransportSMB}, ""},
		{"a verified field off the hub", message.Message{Transport: message.TransportSMB, Verified: "HOSTA"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.json")
			var skipped []string
			s := &Sink{
				Command: []string{os.Args[0], "hook-helper", out, "ok", "verified={verified}", "{from}"},
				Timeout: 10 * time.Second, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
				Skipped: func(r string) { skipped = append(skipped, r) },
			}
			m := tc.m
			m.ID, m.From, m.To, m.Text, m.Time = 3, "bob", "ALICE", "lunch?", time.Unix(0, 0)
			s.Show(m)
			data, err := os.ReadFile(out)
			if err != nil {
				t.Fatalf("hook did not run: %v (skipped %v)", err, skipped)
			}
			var r result
			if err := json.Unmarshal(data, &r); err != nil {
				t.Fatal(err)
			}
			if want := []string{"verified=" + tc.want, "bob"}; strings.Join(r.Args, "|") != strings.Join(want, "|") {
				t.Errorf("args = %q; want %q", r.Args, want)
			}
			found := false
			for _, kv := range r.Env {
				if v, ok := strings.CutPrefix(kv, "MESSENGER_VERIFIED="); ok {
					found = true
					if v != tc.want {
						t.Errorf("MESSENGER_VERIFIED = %q, want %q", v, tc.want)
					}
				}
			}
			if !found {
				t.Error("MESSENGER_VERIFIED not set")
			}
		})
	}
}
