package interop

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/netsend/messenger/internal/alert/notice"
	"github.com/netsend/messenger/internal/message"
	"github.com/netsend/messenger/internal/syncbuf"
)

// ingestToken makes a random token and the hex SHA-256 the configuration
// holds for it.
func ingestToken(t *testing.T) (token, sum string) {
	t.Helper()
	raw := make([]byte, 24)
	if _, err := rand.Read(raw); err != nil {
		t.Fatal(err)
	}
	token = hex.EncodeToString(raw)
	h := sha256.Sum256([]byte(token))
	return token, hex.EncodeToString(h[:])
}

// ingestDaemon is a daemon with the ingest listener on and two tokens:
// amToken without names (its alerts follow the routing: alertmanager to
// OPS) and scriptToken whose alerts go to BOB unless an ntfy topic says
// otherwise (backups to ALICE).
type ingestDaemon struct {
	*daemon
	base        string // http://127.0.0.1:PORT
	amToken     string
	scriptToken string
}

func startIngestDaemon(t *testing.T) *ingestDaemon {
	t.Helper()
	dir := t.TempDir()
	amToken, amSum := ingestToken(t)
	scriptToken, scriptSum := ingestToken(t)
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	conf := filepath.Join(dir, "messenger.toml")
	if err := os.WriteFile(conf, []byte(`[alert]
ingest_addr = "`+addr+`"

[[alert.route]]
sources = ["alertmanager"]
to = ["OPS"]

[[alert.token]]
name = "alertmanager"
sha256 = "`+amSum+`"

[[alert.token]]
name = "scripts"
sha256 = "`+scriptSum+`"
to = ["BOB"]

[alert.topics]
backups = ["ALICE"]
`), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, "", "--config", conf, "--name", "ALICE", "--name", "BOB", "--name", "OPS")
	base := "http://" + addr
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(base + "/v1/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the ingest listener at %s does not answer GET /v1/health (%v); [alert] ingest_addr is not served\nstderr:\n%s",
				addr, err, d.stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return &ingestDaemon{daemon: d, base: base, amToken: amToken, scriptToken: scriptToken}
}

// alerts returns the stored alert messages, oldest first.
func (d *ingestDaemon) alerts() []message.Message {
	var out []message.Message
	for _, m := range d.inbox() {
		if m.Alert != nil {
			out = append(out, m)
		}
	}
	return out
}

// curl runs curl with args and returns the HTTP status and body.
func curl(t *testing.T, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command("curl", append([]string{"-sS", "--max-time", "20", "-w", "\n%{http_code}"}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("curl %q: %v\n%s", args, err, stderr.String())
	}
	out := stdout.String()
	i := strings.LastIndexByte(out, '\n')
	code, err := strconv.Atoi(out[i+1:])
	if err != nil {
		t.Fatalf("curl %q: no status in %q", args, out)
	}
	return code, out[:i]
}

// lastAlert returns the newest alert and checks that there are want in all.
func (d *ingestDaemon) lastAlert(t *testing.T, want int) message.Message {
	t.Helper()
	got := d.alerts()
	if len(got) != want {
		t.Fatalf("the inbox holds %d alerts, want %d: %+v", len(got), want, got)
	}
	return got[len(got)-1]
}

func checkAlert(t *testing.T, m message.Message, to, source string, sev message.Severity, title, text string) {
	t.Helper()
	if m.Transport != message.TransportAlert || m.To != to || m.Alert.Source != source || m.Alert.Severity != sev ||
		m.Alert.Title != title || !strings.Contains(m.Text, text) || m.State == message.StateQuarantined {
		t.Errorf("stored %+v alert %+v; want an alert to %s from %s, %s, title %q, text with %q", m, *m.Alert, to, source, sev, title, text)
	}
	if !strings.HasPrefix(m.Source, "127.0.0.1:") {
		t.Errorf("message source %q; want the publisher's loopback address", m.Source)
	}
}

// curl publishes in ntfy's and in Gotify's shapes; the inbox holds each
// with its title and severity, sent to the name the topic or the token
// gives. What comes without a valid token, malformed or too large is
// refused and stores nothing.
func TestIngestCurl(t *testing.T) {
	requirePeer(t, "curl")
	d := startIngestDaemon(t)
	n := 0

	// ntfy, the topic mapped to ALICE; priority 5 is critical.
	code, body := curl(t, "-H", "Title: Backup", "-H", "Priority: 5", "-H", "Tags: warning,backup",
		"-H", "Authorization: Bearer "+d.scriptToken, "-d", "backup failed", d.base+"/backups")
	if code != http.StatusOK {
		t.Fatalf("ntfy publish: %d %s", code, body)
	}
	var reply struct{ ID, Event, Topic, Title string }
	if err := json.Unmarshal([]byte(body), &reply); err != nil || reply.Event != "message" || reply.Topic != "backups" || reply.ID == "" {
		t.Errorf("ntfy publish answered %q (%v); want ntfy's message object", body, err)
	}
	n++
	checkAlert(t, d.lastAlert(t, n), "ALICE", "ntfy", message.SeverityCritical, "Backup", "backup failed")

	// The same without a token, with a wrong one, and with the SHA-256
	// instead of the token: refused, nothing stored.
	for _, auth := range [][]string{nil, {"-H", "Authorization: Bearer wrong"}, {"-H", "Authorization: Bearer " + hashOf(d.scriptToken)}} {
		args := append(append([]string{"-H", "Title: Backup", "-d", "backup failed"}, auth...), d.base+"/backups")
		if code, body := curl(t, args...); code != http.StatusUnauthorized || !strings.Contains(body, `"error"`) {
			t.Errorf("ntfy publish with %q: %d %s; want 401 with a reason", auth, code, body)
		}
	}
	d.lastAlert(t, n)

	// ntfy's token as Basic password (curl -u :TOKEN) and its JSON
	// publish at the root, to a topic with no mapping: the token's name.
	code, body = curl(t, "-u", ":"+d.scriptToken, "-H", "Content-Type: application/json",
		"-d", `{"topic":"printer","message":"toner low","title":"Printer","priority":4}`, d.base+"/")
	if code != http.StatusOK {
		t.Fatalf("ntfy JSON publish: %d %s", code, body)
	}
	n++
	checkAlert(t, d.lastAlert(t, n), "BOB", "ntfy", message.SeverityWarning, "Printer", "toner low")

	// With a token that names nobody, an unmapped topic is the name.
	code, body = curl(t, "-H", "Authorization: Bearer "+d.amToken, "-H", "Title: Disk", "-H", "Priority: high",
		"-d", "disk 91% full", d.base+"/ops")
	if code != http.StatusOK {
		t.Fatalf("ntfy publish to /ops: %d %s", code, body)
	}
	n++
	checkAlert(t, d.lastAlert(t, n), "OPS", "ntfy", message.SeverityWarning, "Disk", "disk 91% full")

	// Gotify's form publish, token in the query; priority 8 is critical.
	code, body = curl(t, "-X", "POST", d.base+"/message?token="+d.scriptToken,
		"-F", "title=UPS", "-F", "message=on battery", "-F", "priority=8")
	if code != http.StatusOK {
		t.Fatalf("Gotify form publish: %d %s", code, body)
	}
	var greply struct {
		ID       int64
		Title    string
		Priority *int
		Date     string
	}
	if err := json.Unmarshal([]byte(body), &greply); err != nil || greply.ID == 0 || greply.Title != "UPS" || greply.Priority == nil || greply.Date == "" {
		t.Errorf("Gotify publish answered %q (%v); want Gotify's message object", body, err)
	}
	n++
	checkAlert(t, d.lastAlert(t, n), "BOB", "gotify", message.SeverityCritical, "UPS", "on battery")

	// Gotify's JSON publish, token in X-Gotify-Key; priority 5 is a warning.
	code, body = curl(t, "-H", "X-Gotify-Key: "+d.scriptToken, "-H", "Content-Type: application/json",
		"-d", `{"title":"Cert","message":"expires in 7 days","priority":5}`, d.base+"/message")
	if code != http.StatusOK {
		t.Fatalf("Gotify JSON publish: %d %s", code, body)
	}
	n++
	checkAlert(t, d.lastAlert(t, n), "BOB", "gotify", message.SeverityWarning, "Cert", "expires in 7 days")

	// Gotify with a wrong token, malformed JSON, and a body one byte over
	// the limit: refused with a reason, inbox unchanged.
	if code, body := curl(t, "-X", "POST", d.base+"/message?token=wrong", "-F", "title=x", "-F", "message=y"); code != http.StatusUnauthorized {
		t.Errorf("Gotify with a wrong token: %d %s", code, body)
	}
	if code, body := curl(t, "-H", "X-Gotify-Key: "+d.scriptToken, "-H", "Content-Type: application/json",
		"-d", `{"title":"Cert","message":`, d.base+"/message"); code != http.StatusBadRequest || !strings.Contains(body, `"error"`) {
		t.Errorf("malformed Gotify JSON: %d %s; want 400 with a reason", code, body)
	}
	big := filepath.Join(t.TempDir(), "big")
	if err := os.WriteFile(big, bytes.Repeat([]byte("x"), notice.MaxBodyLen+1), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, body := curl(t, "-H", "Authorization: Bearer "+d.scriptToken, "--data-binary", "@"+big, d.base+"/backups"); code != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized ntfy body: %d %s; want 413", code, body)
	}
	d.lastAlert(t, n)
}

func hashOf(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// alertmanager is one running prometheus-alertmanager on loopback.
type alertmanager struct {
	base   string
	stderr *syncbuf.Buffer
}

// startAlertmanager runs the real Alertmanager on loopback, clustering
// off, with one webhook receiver: url and the token as Bearer
// credentials, grouping and repeats fast enough for a test.
func startAlertmanager(t *testing.T, url, token string) *alertmanager {
	t.Helper()
	bin := requirePeer(t, "prometheus-alertmanager")
	dir := t.TempDir()
	conf := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(conf, []byte(`global:
  resolve_timeout: 1m
route:
  receiver: messenger
  group_by: ["alertname"]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: messenger
    webhook_configs:
      - url: "`+url+`"
        send_resolved: true
        http_config:
          authorization:
            credentials: "`+token+`"
`), 0o600); err != nil {
		t.Fatal(err)
	}
	am := &alertmanager{base: "http://127.0.0.1:" + strconv.Itoa(freePort(t)), stderr: &syncbuf.Buffer{}}
	cmd := exec.Command(bin, "--config.file="+conf, "--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+strings.TrimPrefix(am.base, "http://"), "--cluster.listen-address=", "--log.level=debug")
	cmd.Stdout, cmd.Stderr = am.stderr, am.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("alertmanager log:\n%s", am.stderr)
		}
	})
	waitFor(t, 20*time.Second, func() string {
		select {
		case <-done:
			t.Fatalf("alertmanager exited: %v\n%s", cmd.ProcessState, am.stderr)
		default:
		}
		resp, err := http.Get(am.base + "/-/ready")
		if err != nil {
			return "alertmanager not ready: " + err.Error()
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return "alertmanager not ready: " + resp.Status
		}
		return ""
	})
	return am
}

// post sends alerts through Alertmanager's API, as Prometheus does.
func (am *alertmanager) post(t *testing.T, alerts []map[string]any) {
	t.Helper()
	b, _ := json.Marshal(alerts)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", am.base+"/api/v2/alerts", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /api/v2/alerts: %s", resp.Status)
	}
}

// The real Alertmanager fires an alert at our webhook and our inbox
// holds it, then the resolved notification when the alert ends.
func TestIngestAlertmanager(t *testing.T) {
	d := startIngestDaemon(t)
	am := startAlertmanager(t, d.base+"/alertmanager", d.amToken)

	labels := map[string]string{"alertname": "DiskFull", "severity": "critical", "instance": "db1:9100"}
	annotations := map[string]string{"summary": "Disk full on db1"}
	startsAt := time.Now().UTC()
	am.post(t, []map[string]any{{"labels": labels, "annotations": annotations, "startsAt": startsAt.Format(time.RFC3339Nano)}})

	find := func(status message.AlertStatus) *message.Message {
		for _, m := range d.alerts() {
			if m.Alert.Source == "alertmanager" && m.Alert.Status == status {
				return &m
			}
		}
		return nil
	}
	waitFor(t, 30*time.Second, func() string {
		if find(message.AlertFiring) == nil {
			return fmt.Sprintf("no firing alert in the inbox: %+v\nalertmanager:\n%s", d.alerts(), am.stderr)
		}
		return ""
	})
	firing := find(message.AlertFiring)
	if firing.To != "OPS" || firing.Alert.Severity != message.SeverityCritical || firing.Transport != message.TransportAlert ||
		!strings.Contains(firing.Alert.Title+firing.Text, "DiskFull") || !strings.HasPrefix(firing.Source, "127.0.0.1:") {
		t.Errorf("firing alert %+v %+v; want to OPS, critical, naming DiskFull, from loopback", *firing, *firing.Alert)
	}

	// An end time in the past resolves it.
	am.post(t, []map[string]any{{"labels": labels, "annotations": annotations,
		"startsAt": startsAt.Format(time.RFC3339Nano), "endsAt": time.Now().UTC().Format(time.RFC3339Nano)}})
	waitFor(t, 30*time.Second, func() string {
		if find(message.AlertResolved) == nil {
			return fmt.Sprintf("no resolved alert in the inbox: %+v\nalertmanager:\n%s", d.alerts(), am.stderr)
		}
		return ""
	})
	resolved := find(message.AlertResolved)
	if resolved.To != "OPS" || resolved.Alert.Severity != message.SeverityCritical || !strings.Contains(resolved.Alert.Title+resolved.Text, "DiskFull") {
		t.Errorf("resolved alert %+v %+v; want to OPS, critical, naming DiskFull", *resolved, *resolved.Alert)
	}
}

// Alertmanager without the token is refused and nothing reaches the inbox;
// its log shows the 401.
func TestIngestAlertmanagerWrongToken(t *testing.T) {
	d := startIngestDaemon(t)
	am := startAlertmanager(t, d.base+"/alertmanager", "not-the-token")
	am.post(t, []map[string]any{{"labels": map[string]string{"alertname": "Refused", "severity": "warning"},
		"startsAt": time.Now().UTC().Format(time.RFC3339Nano)}})
	waitFor(t, 30*time.Second, func() string {
		if !strings.Contains(am.stderr.String(), "401") {
			return "alertmanager has not logged a 401 from the webhook:\n" + am.stderr.String()
		}
		return ""
	})
	if got := d.alerts(); len(got) != 0 {
		t.Errorf("the inbox holds %+v; Alertmanager had no valid token", got)
	}
}
