package interop

import (
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Off loopback the API and the page need the token `messenger web token`
// made; /metrics stays open. The test reaches the all-addresses listener
// through 127.0.0.1 only.
func TestWebTokenOffLoopback(t *testing.T) {
	dataDir := t.TempDir()
	cmd := exec.Command(binary, "web", "token", "--data-dir", dataDir)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(string(out))
	if b, _ := os.ReadFile(filepath.Join(dataDir, "web-token.sha256")); len(b) == 0 || strings.Contains(string(b), token) {
		t.Fatalf("token file %q: want the hash, not the token", b)
	}
	// The listener binds every address, so its port must be free on all of
	// them, not only on 127.0.0.1 where the tests' own client sockets take
	// ephemeral ports; a port lost to a race in between is picked again.
	var port int
	for try := 0; ; try++ {
		ln, err := net.Listen("tcp", ":0")
		if err != nil {
			t.Fatal(err)
		}
		port = ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		if err := tryDaemon(t, dataDir, "--http-addr", "0.0.0.0:"+strconv.Itoa(port)); err == nil {
			break
		} else if try == 2 || !strings.Contains(err.Error(), "address already in use") {
			t.Fatal(err)
		}
	}
	c := &http.Client{Timeout: 5 * time.Second}
	get := func(path, bearer string) int {
		req, _ := http.NewRequest("GET", "http://127.0.0.1:"+strconv.Itoa(port)+path, nil)
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get("/metrics", ""); code != 200 {
		t.Errorf("/metrics: %d", code)
	}
	if code := get("/v1/status", ""); code != http.StatusUnauthorized {
		t.Errorf("/v1/status without the token: %d, want 401", code)
	}
	if code := get("/v1/status", "not-the-token"); code != http.StatusUnauthorized {
		t.Errorf("/v1/status with a wrong token: %d, want 401", code)
	}
	if code := get("/v1/status", token); code != 200 {
		t.Errorf("/v1/status with the token: %d, want 200", code)
	}
}
