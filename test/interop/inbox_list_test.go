package interop

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/netsend/messenger/internal/message"
	"github.com/netsend/messenger/internal/store"
	"github.com/netsend/messenger/internal/syncbuf"
)

// seedStore stores n messages in dataDir before a daemon opens it: old
// ones from ALICE, every tenth from Bob, and the last five received now.
func seedStore(t *testing.T, dataDir string, n int) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, dataDir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	old := time.Now().Add(-72 * time.Hour)
	ms := make([]*message.Message, n)
	for i := range ms {
		from, when := "ALICE", old.Add(time.Duration(i)*time.Second)
		if i%10 == 0 {
			from = "Bob"
		}
		if i >= n-5 {
			when = time.Now()
		}
		ms[i] = &message.Message{From: from, To: "MSGHOST", Text: fmt.Sprintf("note %d", i), Transport: message.TransportSMB, Time: when}
	}
	for _, err := range st.AddBatch(ctx, ms) {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func texts(msgs []message.Message) string {
	var out []string
	for _, m := range msgs {
		out = append(out, m.Text)
	}
	return strings.Join(out, ",")
}

// Issue 20, items 9, 11 and 12 through the binary: an inbox past the
// daemon's page lists whole, --limit is the newest, the filters run on
// the daemon, --mark-read marks what was listed, --follow prints what
// arrives.
func TestInboxListVerbs(t *testing.T) {
	dataDir := t.TempDir()
	const n = 2500
	seedStore(t, dataDir, n)
	d := startDaemon(t, dataDir)

	all := d.inbox()
	if len(all) != n || all[0].Text != "note 0" || all[n-1].Text != fmt.Sprintf("note %d", n-1) {
		t.Fatalf("inbox --json: %d messages", len(all))
	}
	out, err := d.cli("inbox")
	if err != nil || strings.Count(out, "\n") != n+1 {
		t.Errorf("inbox table: %v, %d lines", err, strings.Count(out, "\n"))
	}
	check := func(want string, args ...string) {
		t.Helper()
		out, err := d.cli(append([]string{"inbox", "--json"}, args...)...)
		if err != nil {
			t.Fatal(err)
		}
		if got := texts(jsonMessages(t, "inbox --json", out)); got != want {
			t.Errorf("inbox %s = %s, want %s", strings.Join(args, " "), got, want)
		}
	}
	check("note 2497,note 2498,note 2499", "--limit", "3")
	check("note 2480,note 2490", "--from", "BOB", "--limit", "2")
	check("note 249,note 2490,note 2491,note 2492,note 2493,note 2494,note 2495,note 2496,note 2497,note 2498,note 2499", "--grep", "NOTE 249")
	check("note 2495,note 2496,note 2497,note 2498,note 2499", "--since", "1d")
	check("note 2498,note 2499", "--since", "1d", "--limit", "2")
	check("", "--to", "nobody")
	if _, err := d.cli("inbox", "--since", "yesterday-ish"); err == nil {
		t.Error("a bad --since was accepted")
	}

	// --mark-read marks what it lists, and says how many on stderr.
	cmd := exec.Command(binary, "--data-dir", dataDir, "inbox", "--mark-read", "--grep", "note 2495", "--since", "1d")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if out, err := cmd.Output(); err != nil || !strings.Contains(out2s(out), "note 2495") || stderr.String() != "1 message marked read.\n" {
		t.Errorf("inbox --mark-read: %v %q %q", err, out, stderr.String())
	}
	unread := func() int {
		out, err := d.cli("inbox", "--unread", "--json")
		if err != nil {
			t.Fatal(err)
		}
		return len(jsonMessages(t, "inbox --json", out))
	}
	if u := unread(); u != n-1 {
		t.Errorf("after --mark-read, %d unread; want %d", u, n-1)
	}
	if out, err := d.cli("inbox", "--mark-read", "--all"); err != nil || out != fmt.Sprintf("%d messages marked read.\n", n-1) {
		t.Errorf("inbox --mark-read --all: %v %q", err, out)
	}
	if u := unread(); u != 0 {
		t.Errorf("after --mark-read --all, %d unread", u)
	}

	// --follow: the list, then what arrives, a line each, as it comes.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	follow := exec.CommandContext(ctx, binary, "--data-dir", dataDir, "inbox", "--follow", "--json", "--grep", "fresh", "--limit", "1")
	var fout syncbuf.Buffer
	follow.Stdout = &fout
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); follow.Wait() }()
	time.Sleep(500 * time.Millisecond) // let it list and subscribe
	lo := netip.MustParseAddr("127.0.0.1")
	if err := smbSend(d, lo, "CAROL", "MSGHOST", "fresh one"); err != nil {
		t.Fatal(err)
	}
	if err := smbSend(d, lo, "CAROL", "MSGHOST", "stale one"); err != nil {
		t.Fatal(err)
	}
	if err := smbSend(d, lo, "CAROL", "MSGHOST", "fresh two"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, func() string {
		if got := texts(jsonMessages(t, "inbox --follow --json", fout.String())); got != "fresh one,fresh two" {
			return "inbox --follow printed " + got
		}
		return ""
	})
}

func out2s(b []byte) string { return string(b) }
