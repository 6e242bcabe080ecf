package interop

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/netsend/messenger/internal/netbios"
	"github.com/netsend/messenger/internal/transport/smbmsg"
)

// openFDs counts the daemon's open descriptors.
func openFDs(t *testing.T, pid int) int {
	t.Helper()
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// Issue 16: one source (127.0.0.2) opens 1,000 keep-alive HTTP
// connections and 1,100 NetBIOS sessions it keeps alive; the daemon holds
// only its per-source share of each, and meanwhile the real smbclient
// from 127.0.0.1 delivers, /metrics answers there and counts the refusals,
// and the daemon's descriptors and memory stay bounded.
func TestHostileSourceHoldsOnlyItsShare(t *testing.T) {
	requirePeer(t, "smbclient")
	httpPort := freePort(t)
	d := startDaemon(t, "", "--http-addr", "127.0.0.1:"+strconv.Itoa(httpPort))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	fromHog := net.Dialer{LocalAddr: &net.TCPAddr{IP: hogAddr.AsSlice()}, Timeout: 10 * time.Second}

	// HTTP: each connection asks for the health answer and keeps the
	// connection open; those past the share are closed unread.
	httpHeld := 0
	for i := 0; i < 1000; i++ {
		c, err := fromHog.DialContext(ctx, "tcp", "127.0.0.1:"+strconv.Itoa(httpPort))
		if err != nil {
			t.Fatalf("HTTP connection %d: %v", i+1, err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(c, "GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n", httpPort)
		if resp, err := http.ReadResponse(bufio.NewReader(c), nil); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			httpHeld++
		}
	}
	// NetBIOS: a session request each, then a keep-alive on those held.
	called, _ := netbios.NewName("MSGHOST", 0x03)
	calling, _ := netbios.NewName("HOG", 0x00)
	var sessions []*smbmsg.Client
	for i := 0; i < 1100; i++ {
		c, err := smbmsg.DialFrom(ctx, hogAddr, d.addr(), called, calling)
		if err == nil {
			sessions = append(sessions, c)
			t.Cleanup(func() { c.Close() })
		}
	}
	for _, c := range sessions {
		if err := c.KeepAlive(); err != nil {
			t.Fatalf("keep-alive on a held session: %v", err)
		}
	}
	if httpHeld != 64 || len(sessions) != 16 {
		t.Errorf("the hog holds %d HTTP connections and %d sessions; want its shares, 64 and 16", httpHeld, len(sessions))
	}

	// Another source is served.
	out := smbclientSend(t, d, "MSGHOST", "bystander", []byte("still heard\n"))
	if findMessage(d.inbox(), "bystander", "still heard\n") == nil {
		t.Fatalf("smbclient's message not stored while the hog held its share; smbclient said:\n%s", out)
	}
	resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(httpPort) + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `messenger_http_connections_refused_total{listener="http",reason="per_source"} 936`) {
		t.Errorf("/metrics: %s, want 936 HTTP connections refused per source:\n%.2000s", resp.Status, grepLines(string(body), "refused"))
	}
	fds, rss := openFDs(t, d.cmd.Process.Pid), rssKB(t, d.cmd.Process.Pid)
	t.Logf("while the hog holds its share: daemon descriptors %d, RSS %d KiB", fds, rss)
	if fds >= 600 || rss >= 128<<10 {
		t.Errorf("daemon has %d descriptors and %d KiB resident; want under 600 and 128 MiB", fds, rss)
	}
}
