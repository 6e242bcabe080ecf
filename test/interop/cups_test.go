package interop

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/netsend/messenger/internal/message"
	"github.com/netsend/messenger/internal/syncbuf"
)

// cupsServerBin is where Debian's cups-daemon keeps its backends, filters
// and notifiers; the test's cupsd sees them through symlinks, beside our
// notifier.
const cupsServerBin = "/usr/lib/cups"

// cups is a private cupsd run by the test: its own configuration, spool,
// logs and notifiers, listening on a loopback port and a domain socket.
type cups struct {
	host     string // 127.0.0.1:PORT for the clients' -h
	errorLog string
}

// notifierLog is what our notifier wrote to cupsd's error_log, for
// failure messages.
func (c *cups) notifierLog() string {
	b, _ := os.ReadFile(c.errorLog)
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, "[Notifier]") || strings.Contains(l, "otifier") {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "\n")
}

// startCUPS runs cupsd in the foreground with everything under dir, which
// the lp user must be able to traverse. setEnv ("NAME VALUE") tells the
// notifier where the daemon is, as docs/alerts.md has an administrator do;
// JobPrivateAccess lets the notifier (running as lp) learn a job's owner.
func startCUPS(t *testing.T, dir, setEnv string) *cups {
	t.Helper()
	cupsd := requirePeer(t, "cupsd")
	if _, err := os.Stat(filepath.Join(cupsServerBin, "notifier")); err != nil {
		t.Fatalf("cupsd is installed but %s is not its ServerBin: %v", cupsServerBin, err)
	}
	root := filepath.Join(dir, "cups")
	bin := filepath.Join(dir, "cups-bin")
	for _, d := range []string{root, bin, filepath.Join(bin, "notifier"), filepath.Join(dir, "cups-log")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := os.ReadDir(cupsServerBin)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() == "notifier" {
			continue
		}
		if err := os.Symlink(filepath.Join(cupsServerBin, e.Name()), filepath.Join(bin, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	// cupsd checks that a notifier and its directory belong to root and
	// that lp may run it: the harness's binary sits in a directory only
	// root can enter, so the notifier is a copy.
	cupsCopy(t, binary, filepath.Join(bin, "notifier", "messenger"), 0o755)

	port := freePort(t)
	c := &cups{host: "127.0.0.1:" + strconv.Itoa(port), errorLog: filepath.Join(dir, "cups-log", "error_log")}
	filesConf := filepath.Join(root, "cups-files.conf")
	cupsWrite(t, filesConf, fmt.Sprintf(`ServerRoot %[1]s/cups
ServerBin %[1]s/cups-bin
RequestRoot %[1]s/cups-spool
CacheDir %[1]s/cups-cache
StateDir %[1]s/cups-state
Printcap %[1]s/cups-state/printcap
ErrorLog %[1]s/cups-log/error_log
AccessLog %[1]s/cups-log/access_log
PageLog %[1]s/cups-log/page_log
User lp
Group lp
FileDevice Yes
SetEnv %[2]s
`, dir, setEnv))
	conf := filepath.Join(root, "cupsd.conf")
	cupsWrite(t, conf, fmt.Sprintf(`LogLevel debug
Listen 127.0.0.1:%d
Listen %s/cups.sock
ServerName 127.0.0.1
Browsing No
<Location />
  Order allow,deny
  Allow all
</Location>
<Policy default>
  JobPrivateAccess @OWNER @SYSTEM lp
  JobPrivateValues default
  SubscriptionPrivateAccess default
  SubscriptionPrivateValues default
  <Limit All>
    Order deny,allow
  </Limit>
</Policy>
`, port, dir))

	cmd := exec.Command(cupsd, "-f", "-c", conf, "-s", filesConf)
	var out syncbuf.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-done
			t.Errorf("cupsd did not stop within 15s of SIGTERM")
		}
	})
	waitFor(t, 20*time.Second, func() string {
		select {
		case <-done:
			t.Fatalf("cupsd exited: %v\n%s", cmd.ProcessState, out.String())
		default:
		}
		conn, err := net.Dial("tcp", c.host)
		if err != nil {
			return "cupsd does not listen on " + c.host + " yet"
		}
		conn.Close()
		return ""
	})
	return c
}

func cupsCopy(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_EXCL, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}

func cupsWrite(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func cupsRun(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestCUPSNotifier prints a job as alice on a real cupsd whose printer has
// two subscriptions for job-completed, one to messenger:// (the job's
// owner) and one to messenger://BOB, and waits for both to reach the
// daemon's inbox as cups alerts saying the job completed. The notifier,
// running as lp, reaches the daemon over its socket, found through
// SetEnv MESSENGER_DATA_DIR as docs/alerts.md has an administrator do.
func TestCUPSNotifier(t *testing.T) {
	requireRoot(t, "cupsd runs as root and starts its notifiers as lp")
	requirePeer(t, "cupsd")
	requirePeer(t, "lpadmin")
	requirePeer(t, "lp")
	requirePeer(t, "ipptool")
	// The data directory is under one lp may traverse; the daemon makes
	// it 0711 and its socket 0666, and knows the notifier is lp (a
	// default alert sender) by the socket's peer credentials.
	dir := cupsTempDir(t)
	dataDir := filepath.Join(dir, "data")
	d := startDaemon(t, dataDir, "--name", "ALICE", "--name", "BOB")
	c := startCUPS(t, dir, "MESSENGER_DATA_DIR "+dataDir)
	printAndWait(t, d, c, dir)
	if log := c.notifierLog(); !strings.Contains(log, "reaching the daemon at "+filepath.Join(dataDir, "messenger.sock")) {
		t.Errorf("the notifier did not say it used the daemon's socket:\n%s", log)
	}
}

// cupsTempDir makes a directory lp may traverse; t.TempDir's parents are
// root's alone.
func cupsTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "messenger-cups-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// printAndWait adds a raw printer, subscribes messenger:// and
// messenger://BOB, prints as alice and waits for both alerts.
func printAndWait(t *testing.T, d *daemon, c *cups, dir string) {
	t.Helper()
	// A raw queue needs no filter, so the job goes straight to /dev/null.
	cupsRun(t, "lpadmin", "-h", c.host, "-p", "TESTPRN", "-E", "-v", "file:/dev/null", "-m", "raw")
	subscribe := filepath.Join(dir, "subscribe.test")
	cupsWrite(t, subscribe, `{
  NAME "Create-Printer-Subscriptions for $recipient"
  OPERATION Create-Printer-Subscriptions
  GROUP operation-attributes-tag
  ATTR charset attributes-charset utf-8
  ATTR naturalLanguage attributes-natural-language en
  ATTR uri printer-uri $uri
  ATTR name requesting-user-name root
  GROUP subscription-attributes-tag
  ATTR uri notify-recipient-uri $recipient
  ATTR keyword notify-events job-completed
  ATTR integer notify-lease-duration 0
  STATUS successful-ok
  EXPECT notify-subscription-id
}
`)
	for _, recipient := range []string{"messenger://", "messenger://BOB"} {
		cupsRun(t, "ipptool", "-t", "-d", "recipient="+recipient, "ipp://"+c.host+"/printers/TESTPRN", subscribe)
	}
	doc := filepath.Join(dir, "report.txt")
	cupsWrite(t, doc, "Q3 figures\n")
	cupsRun(t, "lp", "-h", c.host, "-d", "TESTPRN", "-U", "alice", "-t", "quarterly report", doc)

	var got map[string]message.Message
	waitFor(t, 30*time.Second, func() string {
		got = map[string]message.Message{}
		for _, m := range d.inbox() {
			if m.Alert != nil && m.Alert.Source == "cups" && strings.Contains(m.Text, "job completed") {
				got[strings.ToUpper(m.To)] = m
			}
		}
		_, alice := got["ALICE"]
		_, bob := got["BOB"]
		if !alice || !bob {
			return fmt.Sprintf("job completed alerts to %v, want ALICE (the owner) and BOB; notifier log:\n%s", recipientsOf(got), c.notifierLog())
		}
		return ""
	})
	for _, to := range []string{"ALICE", "BOB"} {
		m := got[to]
		if !strings.Contains(m.Text, `"quarterly report"`) || !strings.Contains(m.Text, "on TESTPRN") {
			t.Errorf("alert to %s says %q, want the job's name and printer", to, m.Text)
		}
		if m.Transport != message.TransportAlert || m.Alert.Severity != message.SeverityInfo {
			t.Errorf("alert to %s: transport %s, severity %s; want alert, info", to, m.Transport, m.Alert.Severity)
		}
	}
}

func recipientsOf(m map[string]message.Message) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
