package interop

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/netsend/messenger/internal/agent"
	"github.com/netsend/messenger/internal/alert"
	"github.com/netsend/messenger/internal/api"
	"github.com/netsend/messenger/internal/message"
	"github.com/netsend/messenger/internal/syncbuf"
)

// sessionBus starts a private D-Bus session bus and returns its address.
func sessionBus(t *testing.T) string {
	t.Helper()
	requirePeer(t, "dbus-daemon")
	cmd := exec.Command("dbus-daemon", "--session", "--nofork", "--print-address")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("dbus-daemon printed no address: %v", err)
	}
	return strings.TrimSpace(line)
}

// startXvfb starts a virtual X server on a free display, which it picks
// and reports itself (-displayfd), and returns the display.
func startXvfb(t *testing.T) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cmd := exec.Command("Xvfb", "-displayfd", "3", "-nolisten", "tcp", "-screen", "0", "640x480x24")
	cmd.ExtraFiles = []*os.File{w}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil {
		t.Fatalf("Xvfb reported no display: %v", err)
	}
	return ":" + strings.TrimSpace(line)
}

// background runs a helper program until the test ends.
func background(t *testing.T, env []string, name string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}

// A message sent by smbclient reaches a real notification server (dunst
// under Xvfb) through `messenger agent`: dbus-monitor sees the Notify
// call with the header as summary and the text, escaped, as body; the
// "Mark read" action marks the message read; a missing session bus is a
// clear error.
func TestDesktopAgentNotifies(t *testing.T) {
	requirePeer(t, "Xvfb")
	requirePeer(t, "dunst")
	requirePeer(t, "dbus-monitor")
	// HTTP on, for the backlog notification's sign-in link.
	d := startDaemon(t, "", "--http-addr", "127.0.0.1:0")
	bus := sessionBus(t)
	display := startXvfb(t)
	env := []string{"DBUS_SESSION_BUS_ADDRESS=" + bus, "DISPLAY=" + display}
	mon := exec.Command("dbus-monitor", "--address", bus, "type='method_call',interface='org.freedesktop.Notifications',member='Notify'")
	var monOut syncbuf.Buffer
	mon.Stdout = &monOut
	if err := mon.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mon.Process.Kill(); mon.Wait() })
	// dunst needs the X display; wait until it owns the notification name.
	background(t, env, "dunst")
	conn, err := dbus.Connect(bus)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	waitUntil(t, "dunst on the session bus", func() bool {
		var has bool
		conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, "org.freedesktop.Notifications").Store(&has)
		return has
	})

	// A backlog: two unread messages before the agent starts are one
	// notification, whose action opens the web inbox through xdg-open (a
	// stand-in here that records its arguments).
	smbclientSend(t, d, "MSGHOST", "early", []byte("backlog one\n"))
	smbclientSend(t, d, "MSGHOST", "early", []byte("backlog two\n"))
	fakeBin := t.TempDir()
	opened := filepath.Join(fakeBin, "opened")
	if err := os.WriteFile(filepath.Join(fakeBin, "xdg-open"), []byte("#!/bin/sh\nprintf '%s\\n' \"$#\" \"$@\" > "+opened+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	env = append(env, "PATH="+fakeBin+":"+os.Getenv("PATH"))

	// No --name: every name the caller (root) may read.
	agentErr := &syncbuf.Buffer{}
	agent := exec.Command(binary, "--data-dir", d.dataDir, "agent")
	agent.Env = append(os.Environ(), env...)
	agent.Stderr = agentErr
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { agent.Process.Kill(); agent.Wait() })
	waitUntil(t, "the agent to start", func() bool { return strings.Contains(agentErr.String(), "agent started") })
	waitUntil(t, "the backlog's Notify call", func() bool { return strings.Contains(monOut.String(), `"2 unread messages"`) })
	if strings.Contains(monOut.String(), "backlog one") {
		t.Errorf("a backlog message was notified on its own:\n%s", monOut.String())
	}
	waitUntil(t, "the backlog's notification id", func() bool { return strings.Contains(agentErr.String(), "unread=2 notification=") })
	var bid uint32
	if s := agentErr.String(); strings.Contains(s, "unread=2 notification=") {
		fmt.Sscan(s[strings.Index(s, "unread=2 notification=")+len("unread=2 notification="):], &bid)
	}
	if err := conn.Emit("/org/freedesktop/Notifications", "org.freedesktop.Notifications.ActionInvoked", bid, "default"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "xdg-open with the sign-in link", func() bool {
		b, _ := os.ReadFile(opened)
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		return len(lines) == 2 && lines[0] == "1" && strings.HasPrefix(lines[1], "http://127.0.0.1:")
	})
	for _, m := range d.inbox() {
		if _, err := d.cli("read", strconv.FormatInt(m.ID, 10)); err != nil {
			t.Fatal(err)
		}
	}

	smbclientSend(t, d, "MSGHOST", "alice", []byte("Printer out of paper <b>now</b>\n"))
	waitUntil(t, "the Notify call", func() bool {
		s := monOut.String()
		return strings.Contains(s, "Message from alice to MSGHOST") && strings.Contains(s, "Printer out of paper &lt;b&gt;now&lt;/b&gt;")
	})

	// The user clicks "Mark read": the server emits ActionInvoked.
	unread := func() []message.Message {
		var out []message.Message
		for _, m := range d.inbox() {
			if m.State == message.StateUnread {
				out = append(out, m)
			}
		}
		return out
	}
	msgs := unread()
	if len(msgs) != 1 {
		t.Fatalf("unread %+v", msgs)
	}
	key := fmt.Sprintf("id=%d notification=", msgs[0].ID)
	waitUntil(t, "the agent's notification id", func() bool { return strings.Contains(agentErr.String(), key) })
	var nid uint32
	if i := strings.Index(agentErr.String(), key); i >= 0 {
		fmt.Sscan(agentErr.String()[i+len(key):], &nid)
	}
	if err := conn.Emit("/org/freedesktop/Notifications", "org.freedesktop.Notifications.ActionInvoked", nid, "mark-read"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("agent:\n%s\nmonitor:\n%s", agentErr, monOut.String())
		}
	})
	waitUntil(t, "the message marked read", func() bool { return len(unread()) == 0 })

	// The daemon restarts; what arrives while the agent reconnects is shown.
	d.stop()
	d.start()
	smbclientSend(t, d, "MSGHOST", "bob", []byte("sent while the agent was away\n"))
	waitUntil(t, "the Notify call after the restart", func() bool {
		return strings.Contains(monOut.String(), "sent while the agent was away")
	})

	// An alert raised in the daemon reaches the agent through the event
	// stream and the server as a critical notification under its mark.
	actx, acancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer acancel()
	if _, err := api.NewClient(filepath.Join(d.dataDir, "messenger.sock")).Alert(actx, alert.Request{
		Alert: message.Alert{Source: "nut", Severity: message.SeverityCritical, Title: "On battery"}, Text: "ups1 on battery"}); err != nil {
		t.Fatalf("raising an alert: %v", err)
	}
	waitUntil(t, "the alert's Notify call", func() bool { return strings.Contains(monOut.String(), `"ALERT critical nut: On battery"`) })
	if u := notifiedUrgency(monOut.String(), `"ALERT critical nut: On battery"`); u != "2" {
		t.Errorf("the alert was notified with urgency %q, want 2 (critical)", u)
	}

	// Without a session bus the agent says so and exits non-zero.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	noBus := exec.CommandContext(ctx, binary, "--data-dir", d.dataDir, "agent")
	noBus.Env = append(os.Environ(), "DBUS_SESSION_BUS_ADDRESS=unix:path=/nonexistent/bus", "DISPLAY=")
	out, err := noBus.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "no D-Bus session bus") {
		t.Errorf("agent without a bus: %v\n%s", err, out)
	}
}

// An alert's severity reaches a real notification server as the urgency
// hint, and the server acts on it: dunst, configured with a different
// timeout per urgency, keeps each notification with the timeout of the
// urgency it understood, which its history (dunstctl) shows along with
// the summary and category.
func TestDesktopAlertUrgency(t *testing.T) {
	requirePeer(t, "Xvfb")
	requirePeer(t, "dunst")
	dunstctl := requirePeer(t, "dunstctl")
	bus := sessionBus(t)
	display := startXvfb(t)
	env := []string{"DBUS_SESSION_BUS_ADDRESS=" + bus, "DISPLAY=" + display}
	rc := filepath.Join(t.TempDir(), "dunstrc")
	if err := os.WriteFile(rc, []byte("[urgency_low]\ntimeout = 11\n[urgency_normal]\ntimeout = 12\n[urgency_critical]\ntimeout = 13\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	background(t, env, "dunst", "-config", rc)
	conn, err := dbus.Connect(bus)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	waitUntil(t, "dunst on the session bus", func() bool {
		var has bool
		conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, "org.freedesktop.Notifications").Store(&has)
		return has
	})
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", bus)
	n, err := agent.Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()

	alert := func(a message.Alert) message.Message {
		return message.Message{From: "HOST1", To: "ALICE", Text: "details", Time: time.Now(), Transport: message.TransportAlert, Alert: &a}
	}
	const second = int64(time.Second / time.Microsecond) // dunst keeps timeouts in microseconds
	want := []struct {
		m                 message.Message
		summary, category string
		timeout           int64
	}{
		{message.Message{From: "BOB", To: "ALICE", Text: "hello", Time: time.Now()}, "Message from BOB to ALICE", "im.received", 12 * second},
		{alert(message.Alert{Source: "cups", Severity: message.SeverityInfo, Title: "Job done"}), "ALERT info cups: Job done", "x-messenger.alert", 11 * second},
		{alert(message.Alert{Source: "ntfy", Severity: message.SeverityWarning}), "ALERT warning ntfy", "x-messenger.alert", 12 * second},
		{alert(message.Alert{Source: "nut", Severity: message.SeverityCritical, Title: "On battery"}), "ALERT critical nut: On battery", "x-messenger.alert", 13 * second},
		{alert(message.Alert{Source: "alertmanager", Severity: message.SeverityCritical, Status: message.AlertResolved, Title: "DiskFull"}),
			"RESOLVED critical alertmanager: DiskFull", "x-messenger.alert", 12 * second},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, w := range want {
		if _, err := n.NotifyID(ctx, w.m); err != nil {
			t.Fatalf("notifying %q: %v", w.summary, err)
		}
	}
	// Closed notifications go to dunst's history, which dunstctl reads.
	ctl := func(args ...string) []byte {
		cmd := exec.CommandContext(ctx, dunstctl, args...)
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("dunstctl %v: %v", args, err)
		}
		return out
	}
	type field struct {
		Data json.RawMessage `json:"data"`
	}
	var history []map[string]field
	waitUntil(t, "every notification in dunst's history", func() bool {
		ctl("close-all")
		var h struct {
			Data [][]map[string]field `json:"data"`
		}
		if err := json.Unmarshal(ctl("history"), &h); err != nil {
			t.Fatalf("dunstctl history: %v", err)
		}
		if len(h.Data) == 1 {
			history = h.Data[0]
		}
		return len(history) >= len(want)
	})
	seen := map[string]bool{}
	for _, e := range history {
		var summary, category string
		var timeout int64
		json.Unmarshal(e["summary"].Data, &summary)
		json.Unmarshal(e["category"].Data, &category)
		json.Unmarshal(e["timeout"].Data, &timeout)
		for _, w := range want {
			if !strings.HasPrefix(summary, w.summary) {
				continue
			}
			seen[w.summary] = true
			if timeout != w.timeout || category != w.category {
				t.Errorf("%q: dunst kept timeout %dµs and category %q; want %dµs (the urgency's) and %q", summary, timeout, category, w.timeout, w.category)
			}
		}
	}
	for _, w := range want {
		if !seen[w.summary] {
			t.Errorf("no notification %q in dunst's history", w.summary)
		}
	}
}

// notifiedUrgency finds, in dbus-monitor's output, the Notify call whose
// summary is the quoted string and returns its urgency hint's byte.
func notifiedUrgency(monitor, summary string) string {
	i := strings.Index(monitor, summary)
	if i < 0 {
		return ""
	}
	call := monitor[i:]
	if end := strings.Index(call, "method call"); end >= 0 {
		call = call[:end]
	}
	j := strings.Index(call, `string "urgency"`)
	if j < 0 {
		return ""
	}
	var u string
	fmt.Sscanf(strings.TrimSpace(call[j+len(`string "urgency"`):]), "variant byte %s", &u)
	return u
}
