package interop

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/netsend/messenger/internal/api"
)

// streamIDs is what one client of the event stream saw: the message ids in
// the order they came.
type streamIDs struct {
	mu  sync.Mutex
	ids []int64
}

func (s *streamIDs) add(id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ids = append(s.ids, id)
}

func (s *streamIDs) last() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.ids) == 0 {
		return 0
	}
	return s.ids[len(s.ids)-1]
}

// check fails unless the ids are exactly want (ascending): each once, in
// order.
func (s *streamIDs) check(t *testing.T, who string, want []int64) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := map[int64]int{}
	disorder := 0
	for i, id := range s.ids {
		seen[id]++
		if i > 0 && id <= s.ids[i-1] {
			disorder++
		}
	}
	missing, twice := 0, 0
	for _, id := range want {
		switch seen[id] {
		case 0:
			missing++
		case 1:
		default:
			twice++
		}
	}
	if missing > 0 || twice > 0 || disorder > 0 || len(s.ids) != len(want) {
		t.Errorf("%s: %d events for %d stored messages: %d missing, %d twice, %d out of order",
			who, len(s.ids), len(want), missing, twice, disorder)
	}
}

// followRaw reads GET /v1/events over the daemon's socket as a browser's
// EventSource would, parsing the text itself, until ctx ends.
func followRaw(ctx context.Context, sock string, s *streamIDs) error {
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://messenger/v1/events?after=0", nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /v1/events: %s", resp.Status)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	var id, kind string
	for sc.Scan() {
		field, value, _ := strings.Cut(sc.Text(), ":")
		switch field {
		case "id":
			id = strings.TrimSpace(value)
		case "event":
			kind = strings.TrimSpace(value)
		case "":
			if kind == api.EventMessage {
				n, err := strconv.ParseInt(id, 10, 64)
				if err != nil {
					return fmt.Errorf("message event with id %q", id)
				}
				s.add(n)
			}
			id, kind = "", ""
		}
	}
	return ctx.Err()
}

// Sixteen ntfy publishers post 200 alerts each to the real daemon's ingest
// listener, every one from its own request, while two raw event streams and
// the agent's client follow over the socket: each sees every stored message
// exactly once, in id order.
func TestEventStreamUnderIngestLoad(t *testing.T) {
	requireRoot(t, "the socket admits callers by their peer credentials; root reads every name")
	const publishers, each = 16, 200
	dir := t.TempDir()
	token, sum := ingestToken(t)
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	conf := filepath.Join(dir, "messenger.toml")
	// No rate limit and no de-duplication: every publish is stored.
	if err := os.WriteFile(conf, []byte(`[alert]
ingest_addr = "`+addr+`"
rate_limit = 0
dedup_window = "0s"

[[alert.token]]
name = "scripts"
sha256 = "`+sum+`"
to = ["BOB"]
`), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, "", "--config", conf, "--name", "BOB")
	sock := filepath.Join(d.dataDir, "messenger.sock")
	client := api.NewClient(sock)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var follow sync.WaitGroup
	raw := []*streamIDs{{}, {}}
	for i, s := range raw {
		follow.Add(1)
		go func() {
			defer follow.Done()
			if err := followRaw(ctx, sock, s); err != nil && ctx.Err() == nil {
				t.Errorf("stream %d: %v", i, err)
			}
		}()
	}
	agent := &streamIDs{}
	follow.Add(1)
	go func() {
		defer follow.Done()
		err := client.Events(ctx, 0, nil, func(e api.Event) error {
			if e.Kind == api.EventMessage {
				agent.add(e.ID)
			}
			return nil
		})
		if err != nil && ctx.Err() == nil {
			t.Errorf("agent's stream: %v", err)
		}
	}()

	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: publishers}, Timeout: 30 * time.Second}
	var pubs sync.WaitGroup
	for p := range publishers {
		pubs.Add(1)
		go func() {
			defer pubs.Done()
			for i := range each {
				req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/load",
					strings.NewReader(fmt.Sprintf("publisher %d message %d", p, i)))
				if err != nil {
					t.Error(err)
					return
				}
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("Title", fmt.Sprintf("p%d-%d", p, i))
				resp, err := hc.Do(req)
				if err != nil {
					t.Errorf("publish: %v", err)
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Errorf("publish %d/%d: %s %s", p, i, resp.Status, body)
					return
				}
			}
		}()
	}
	pubs.Wait()
	if t.Failed() {
		t.FailNow()
	}

	// What the streams must show: every stored message.
	var want []int64
	for after := int64(0); ; {
		lctx, lcancel := context.WithTimeout(context.Background(), 30*time.Second)
		page, err := client.List(lctx, "", after, 500)
		lcancel()
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range page {
			want = append(want, m.ID)
		}
		if len(page) < 500 {
			break
		}
		after = page[len(page)-1].ID
	}
	if len(want) != publishers*each {
		t.Fatalf("%d messages stored, want %d", len(want), publishers*each)
	}
	// The streams send in id order, so one that reached the last id has
	// sent all it will; the deadline only guards against a hang.
	deadline := time.Now().Add(2 * time.Minute)
	for _, s := range append(raw, agent) {
		for s.last() < want[len(want)-1] && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
	}
	cancel()
	follow.Wait()
	raw[0].check(t, "first stream", want)
	raw[1].check(t, "second stream", want)
	agent.check(t, "agent's client", want)
}
