package hook

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
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

// running lists the processes among pids, and those of group pgid, that
// still run (zombies are dead and only wait to be reaped, perhaps by
// nobody in a container without an init).
func running(t *testing.T, pgid int, pids []int) []int {
	t.Helper()
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var live []int
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", d.Name(), "stat"))
		if err != nil {
			continue // gone meanwhile
		}
		// pid (comm) state ppid pgrp ...; comm may hold spaces and ")".
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(f) > 2 && f[0] != "Z" && (f[2] == strconv.Itoa(pgid) || slices.Contains(pids, pid)) {
			live = append(live, pid)
		}
	}
	return live
}

// hookTree is what groupHook started: the shell, which leads the group,
// and its two sleeps.
type hookTree struct{ shell, first, second int }

// waitGone waits until nothing of the hook's tree runs, killing what
// still does at the deadline so that a failure leaves nothing behind.
func waitGone(t *testing.T, h hookTree) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		live := running(t, h.shell, []int{h.shell, h.first, h.second})
		if len(live) == 0 {
			return
		}
		if time.Now().After(deadline) {
			for _, pid := range live {
				syscall.Kill(pid, syscall.SIGKILL)
			}
			t.Fatalf("processes %v of the hook (shell %d) outlived it", live, h.shell)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// groupHook is a hook that starts two sleeps in the background, writes
// its own process id and theirs to a file, and waits for them: killing
// the shell alone would leave both running.
func groupHook(t *testing.T) (command []string, started func() hookTree) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "pids")
	command = []string{"/bin/sh", "-c", `sleep 300 & b=$!; sleep 300 & echo "$$ $b $!" > "$1.tmp" && mv "$1.tmp" "$1"; wait`, "sh", file}
	return command, func() hookTree {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			data, err := os.ReadFile(file)
			if err == nil {
				var h hookTree
				if _, err := fmt.Sscan(string(data), &h.shell, &h.first, &h.second); err != nil {
					t.Fatal(err)
				}
				return h
			}
			if time.Now().After(deadline) {
				t.Fatal("the hook never started")
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// On timeout the hook's whole process group is killed: the shell and both
// of its sleeps, not the shell alone.
func TestHookTimeoutKillsItsProcessGroup(t *testing.T) {
	command, started := groupHook(t)
	var skipped []string
	s := &Sink{Command: command, Timeout: 300 * time.Millisecond, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Skipped: func(r string) { skipped = append(skipped, r) }}
	start := time.Now()
	s.Show(message.Message{ID: 1, Text: "x"})
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Show took %v", d)
	}
	if len(skipped) != 1 || skipped[0] != "timeout" {
		t.Errorf("skipped %v; want [timeout]", skipped)
	}
	waitGone(t, started())
}

// When the daemon stops (Ctx ends) a running hook's group is killed at
// once, long before its timeout, and no further hook starts.
func TestHookStopKillsItsProcessGroup(t *testing.T) {
	command, started := groupHook(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var skipped []string
	s := &Sink{Command: command, Timeout: time.Minute, Ctx: ctx, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Skipped: func(r string) { mu.Lock(); skipped = append(skipped, r); mu.Unlock() }}
	done := make(chan struct{})
	go func() { s.Show(message.Message{ID: 1, Text: "x"}); close(done) }()
	h := started()
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Show did not return when the daemon stopped")
	}
	waitGone(t, h)
	s.Show(message.Message{ID: 2, Text: "y"})
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(skipped, ",") != "stopped,stopped" {
		t.Errorf("skipped %v; want [stopped stopped]", skipped)
	}
}

// A sender's name beginning with "-" reaches the program as data or not
// at all: after "--", or inside an argument ("--from={from}"), it passes
// as it is; where it would begin an argument before "--", the hook does
// not run.
func TestHookValuesNeverBecomeOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want []string // nil: not run
	}{
		{"positional before --", []string{"{from}"}, nil},
		{"option value before --", []string{"--from", "{from}"}, nil},
		{"a value inside the argument", []string{"--from={from}", "x{to}"}, []string{"--from=-rf", "x--help"}},
		{"after --", []string{"--to={to}", "--", "{from}", "{to}"}, []string{"--to=--help", "--", "-rf", "--help"}},
		{"a template that is an option itself", []string{"-f{from}"}, []string{"-f-rf"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.json")
			var skipped []string
			s := &Sink{Command: append([]string{os.Args[0], "hook-helper", out, "ok"}, tc.args...),
				Timeout: 10 * time.Second, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
				Skipped: func(r string) { skipped = append(skipped, r) }}
			s.Show(message.Message{ID: 1, From: "-rf", To: "--help", Text: "x", Time: time.Unix(0, 0)})
			data, err := os.ReadFile(out)
			if tc.want == nil {
				if err == nil || strings.Join(skipped, ",") != "unsafe_argument" {
					t.Errorf("ran (%v) or skipped %v; want not run, [unsafe_argument]", err == nil, skipped)
				}
				return
			}
			if err != nil {
				t.Fatalf("hook did not run: %v (skipped %v)", err, skipped)
			}
			var r result
			if err := json.Unmarshal(data, &r); err != nil {
				t.Fatal(err)
			}
			if strings.Join(r.Args, "|") != strings.Join(tc.want, "|") {
				t.Errorf("args = %q; want %q", r.Args, tc.want)
			}
		})
	}
}

func TestUnguarded(t *testing.T) {
	for _, tc := range []struct {
		command []string
		want    []string
	}{
		{[]string{"/bin/page", "--", "{from}", "{to}"}, nil},
		{[]string{"/bin/page", "--from={from}", "{id}", "{time}", "{transport}", "{severity}"}, nil},
		{[]string{"/bin/page", "--from", "{from}", "{alert_title}: {to}", "--", "{source}"}, []string{"{from}", "{alert_title}: {to}"}},
		{[]string{"/bin/page", "{verified}", "{alert_source}", "{source}"}, []string{"{verified}", "{alert_source}", "{source}"}},
		{[]string{"/bin/page"}, nil},
	} {
		if got := Unguarded(tc.command); strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("Unguarded(%q) = %q, want %q", tc.command, got, tc.want)
		}
	}
}
