package interop

import (
	"bufio"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestCLIWithoutDaemon(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(binary, "inbox", "--data-dir", dir)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("inbox without a daemon succeeded: %s", out)
	}
	if !strings.Contains(string(out), "not running") || !strings.Contains(string(out), "messenger serve --data-dir "+dir) {
		t.Errorf("inbox without a daemon says %q; want it to say the daemon is not running and how to start it", out)
	}
	// MESSENGER_DATA_DIR finds the daemon too.
	d := startDaemon(t, "")
	cmd = exec.Command(binary, "status")
	cmd.Env = append(os.Environ(), "MESSENGER_DATA_DIR="+d.dataDir)
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "MSGHOST") {
		t.Errorf("status via MESSENGER_DATA_DIR: %v\n%s", err, out)
	}
	for _, args := range [][]string{{"read", "abc"}, {"read", "999"}, {"delete", "0"}} {
		if out, err := d.cli(args...); err == nil {
			t.Errorf("messenger %v succeeded: %s", args, out)
		}
	}
}

func TestConfigPrint(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "m.toml")
	os.WriteFile(conf, []byte("names = [\"helpdesk\"]\nsmb_port = 1139\n"), 0o644)
	out, err := exec.Command(binary, "config", "print", "--config", conf, "--smb-port", "2139", "--name", "ops").CombinedOutput()
	if err != nil {
		t.Fatalf("config print: %v\n%s", err, out)
	}
	for _, want := range []string{"smb_port = 2139", `names = ["helpdesk", "ops"]`, "nbns_port = 137", `code_page = "CP850"`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("config print lacks %q:\n%s", want, out)
		}
	}
	os.WriteFile(conf, []byte("smb_port = 1139\nbogus = 1\n"), 0o644)
	out, err = exec.Command(binary, "config", "print", "--config", conf).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "unknown setting bogus") {
		t.Errorf("config print with an unknown key: %v %s", err, out)
	}
}

// A port below 1024 without the privilege to bind it gets advice, not a
// bare EACCES.
func TestPrivilegedPortError(t *testing.T) {
	requireRoot(t, "dropping to an unprivileged user")
	setpriv := requirePeer(t, "setpriv")
	dir := t.TempDir()
	os.Chmod(filepath.Dir(dir), 0o755)
	os.Chmod(dir, 0o777)
	os.Chmod(binary, 0o755)
	os.Chmod(filepath.Dir(binary), 0o755)
	cmd := exec.Command(setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", binary, "serve",
		"--data-dir", filepath.Join(dir, "data"), "--smb-port", "139", "--nbns-port", "0", "--dgram-port", "0", "--rpc-port", "0",
		"--http-addr", "", "--bind", "127.0.0.1", "--host-name", "X")
	cmd.Env = append(os.Environ(), "HOME="+dir)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("serve on port 139 as nobody succeeded: %s", out)
	}
	for _, want := range []string{"permission denied", "CAP_NET_BIND_SERVICE", "--smb-port"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("error %q does not mention %q", out, want)
		}
	}
}

func TestMetrics(t *testing.T) {
	port := freePort(t)
	d := startDaemon(t, "", "--http-addr", "127.0.0.1:"+strconv.Itoa(port))
	smbclientSend(t, d, "MSGHOST", "alice", []byte("counted\n"))
	smbclientSend(t, d, "WRONGNAME", "alice", []byte("refused\n"))
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	want := map[string]bool{
		`messenger_messages_received_total{transport="smb"} 1`:                           false,
		`messenger_messages_rejected_total{reason="name_not_present",transport="smb"} 1`: false,
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if _, ok := want[sc.Text()]; ok {
			want[sc.Text()] = true
		}
	}
	for line, seen := range want {
		if !seen {
			t.Errorf("/metrics lacks %s", line)
		}
	}
	// /metrics is open on loopback; the API wants a credential there too.
	if r, err := c.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/v1/status"); err != nil || r.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /v1/status without a credential on the loopback HTTP listener: %v %v, want 401", r, err)
	}
}
