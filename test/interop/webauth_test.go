package interop

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/netsend/messenger/internal/api"
	"github.com/netsend/messenger/internal/apitype"
	"github.com/netsend/messenger/internal/message"
	"github.com/netsend/messenger/internal/webauth"
)

// testLogin is a login for the test's own account, unique to this
// process: other runs of the suite on the machine make theirs.
func testLogin(name string) string {
	return fmt.Sprintf("mt%d_%s", os.Getpid(), name)
}

// addAlias gives the alias name to login, as an admin does.
func (d *daemon) addAlias(name, login string) {
	d.t.Helper()
	if _, err := d.cli("name", "add", name, "--user", login); err != nil {
		d.t.Fatal(err)
	}
}

// webAuthDaemon starts a daemon with an HTTP listener on loopback in a
// data directory local accounts can reach, with the aliases MSGT_ALICE
// and MSGT_BOB given to alice and bob and one message to each.
func webAuthDaemon(t *testing.T, alice, bob account) (*daemon, string) {
	t.Helper()
	httpAddr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	d := startDaemon(t, sharedDir(t), "--http-addr", httpAddr)
	d.addAlias("MSGT_ALICE", alice.login)
	d.addAlias("MSGT_BOB", bob.login)
	smbclientSend(t, d, "MSGT_ALICE", "carol", []byte("for alice only\n"))
	smbclientSend(t, d, "MSGT_BOB", "carol", []byte("for bob only\n"))
	waitUntil(t, "both messages stored", func() bool { return len(d.inbox()) == 2 })
	return d, httpAddr
}

func messageID(t *testing.T, d *daemon, to string) int64 {
	t.Helper()
	for _, m := range d.inbox() {
		if m.To == to {
			return m.ID
		}
	}
	t.Fatalf("no message to %s in %+v", to, d.inbox())
	return 0
}

// Real local accounts sign in to the web page with `messenger web` links
// and use their own API tokens over loopback HTTP; each sees only their
// own messages, and cannot touch another's tokens.
func TestWebSessionsAndTokensAsLocalUsers(t *testing.T) {
	requireRoot(t, "makes local accounts with useradd")
	curl := requirePeer(t, "curl")
	requirePeer(t, "setpriv")
	alice, bob := addAccount(t, testLogin("alice")), addAccount(t, testLogin("bob"))
	d, httpAddr := webAuthDaemon(t, alice, bob)
	base := "http://" + httpAddr
	bobsID := messageID(t, d, "MSGT_BOB")

	noRedirect := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	do := func(method, path string, hdr map[string]string, cookies ...*http.Cookie) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		for _, c := range cookies {
			req.AddCookie(c)
		}
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	recipients := func(body string) []string {
		t.Helper()
		var msgs []message.Message
		if err := json.Unmarshal([]byte(body), &msgs); err != nil {
			t.Fatalf("messages %q: %v", body, err)
		}
		var to []string
		for _, m := range msgs {
			to = append(to, m.To)
		}
		return to
	}

	// Without a credential: only the health answer.
	for path, want := range map[string]int{"/v1/messages": 401, "/v1/events": 401, "/v1/health": 200} {
		if resp, _ := do("GET", path, nil); resp.StatusCode != want {
			t.Errorf("GET %s without a credential: %d, want %d", path, resp.StatusCode, want)
		}
	}

	// alice's sign-in link.
	out, stderr, code := d.cliAs(alice, "web")
	link := strings.TrimSpace(out)
	if code != 0 || !strings.HasPrefix(link, base+"/signin?code=") {
		t.Fatalf("messenger web as alice: %d %q %s", code, out, stderr)
	}
	resp, page := do("GET", strings.TrimPrefix(link, base), nil)
	var session *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == webauth.SessionCookie {
			session = c
		}
	}
	if resp.StatusCode != 200 || session == nil || !strings.Contains(page, alice.login) {
		t.Fatalf("following alice's link: %d %v\n%s", resp.StatusCode, resp.Cookies(), page)
	}
	setCookie := resp.Header.Get("Set-Cookie")
	if !strings.Contains(setCookie, "HttpOnly") || !strings.Contains(setCookie, "SameSite=Strict") || strings.Contains(setCookie, "Secure") {
		t.Errorf("session cookie attributes: %s", setCookie)
	}
	if resp, body := do("GET", "/v1/messages", nil, session); resp.StatusCode != 200 || fmt.Sprint(recipients(body)) != "[MSGT_ALICE]" {
		t.Errorf("alice's session lists %d %s, want only MSGT_ALICE's message", resp.StatusCode, body)
	}
	if resp, _ := do("GET", "/v1/messages/"+strconv.FormatInt(bobsID, 10), nil, session); resp.StatusCode != http.StatusForbidden {
		t.Errorf("alice's session reads bob's message: %d, want 403", resp.StatusCode)
	}
	if resp, body := do("GET", "/v1/whoami", nil, session); !strings.Contains(body, `"via":"session"`) || !strings.Contains(body, `"login":"`+alice.login+`"`) {
		t.Errorf("whoami with alice's session: %d %s", resp.StatusCode, body)
	}
	// The link works once.
	if resp, _ := do("GET", strings.TrimPrefix(link, base), nil); resp.StatusCode != http.StatusUnauthorized || len(resp.Cookies()) != 0 {
		t.Errorf("alice's link a second time: %d %v", resp.StatusCode, resp.Cookies())
	}
	// Sign-out ends the session.
	if resp, _ := do("POST", webauth.SignOutPath, map[string]string{"Origin": base}, session); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("sign-out: %d", resp.StatusCode)
	}
	if resp, _ := do("GET", "/v1/messages", nil, session); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("alice's session after sign-out: %d, want 401", resp.StatusCode)
	}

	// alice's API token, with curl.
	out, stderr, code = d.cliAs(alice, "token", "create", "x")
	token := strings.TrimSpace(out)
	if code != 0 || token == "" || strings.Count(out, "\n") != 1 {
		t.Fatalf("token create as alice: %d %q %s", code, out, stderr)
	}
	curlGet := func(path string) (int, string) {
		t.Helper()
		out, err := exec.Command(curl, "-s", "-w", "\n%{http_code}", "-H", "Authorization: Bearer "+token, base+path).Output()
		if err != nil {
			t.Fatalf("curl %s: %v", path, err)
		}
		i := bytes.LastIndexByte(out, '\n')
		n, _ := strconv.Atoi(string(out[i+1:]))
		return n, string(out[:max(i, 0)])
	}
	if status, body := curlGet("/v1/messages"); status != 200 || fmt.Sprint(recipients(body)) != "[MSGT_ALICE]" {
		t.Errorf("curl with alice's token: %d %s", status, body)
	}
	if status, body := curlGet("/v1/messages/" + strconv.FormatInt(bobsID, 10)); status != http.StatusForbidden || !strings.Contains(body, "forbidden") {
		t.Errorf("curl for bob's message with alice's token: %d %s, want 403", status, body)
	}
	if status, body := curlGet("/v1/whoami"); !strings.Contains(body, `"via":"token"`) || !strings.Contains(body, `"token":"x"`) {
		t.Errorf("whoami with alice's token: %d %s", status, body)
	}
	msgs, err := api.NewHTTPClient(httpAddr, token).List(context.Background(), "", 0, 0)
	if err != nil || len(msgs) != 1 || msgs[0].To != "MSGT_ALICE" {
		t.Errorf("api.NewHTTPClient with alice's token: %v %+v", err, msgs)
	}

	// bob can neither see nor revoke alice's token: exit 7 and the
	// daemon's sentence.
	if _, stderr, code := d.cliAs(bob, "token", "revoke", "x", "--user", alice.login); code != 7 || !strings.Contains(stderr, bob.login+" may not") {
		t.Errorf("bob revoking alice's token: exit %d %s, want 7 and a refusal", code, stderr)
	}
	if _, _, code := d.cliAs(bob, "token", "revoke", "x"); code == 0 {
		t.Error("bob revoked a token x of his own, which he has not")
	}
	if out, _, code := d.cliAs(bob, "token", "list", "--json"); code != 0 || strings.TrimSpace(out) != "" {
		t.Errorf("bob's token list: %d %q", code, out)
	}
	out, stderr, code = d.cliAs(alice, "token", "list", "--json")
	var info apitype.TokenInfo
	if code != 0 || json.Unmarshal([]byte(out), &info) != nil || info.Name != "x" || info.User != alice.login || info.LastUsed == nil || strings.Contains(out, token) {
		t.Errorf("alice's token list: %d %q %s", code, out, stderr)
	}
	b, err := os.ReadFile(filepath.Join(d.dataDir, webauth.TokensFileName))
	if err != nil || strings.Contains(string(b), token) {
		t.Errorf("token file: %v, or it holds the token", err)
	}
	if fi, err := os.Stat(filepath.Join(d.dataDir, webauth.TokensFileName)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("token file mode: %v %v", fi.Mode(), err)
	}
	if _, stderr, code := d.cliAs(alice, "token", "revoke", "x"); code != 0 {
		t.Errorf("alice revoking her token: %d %s", code, stderr)
	}
	if status, _ := curlGet("/v1/messages"); status != http.StatusUnauthorized {
		t.Errorf("curl with a revoked token: %d, want 401", status)
	}
}

// Off loopback the admin web token of `messenger web token` still opens
// the API, and only the health answer is open: /metrics is served on a
// loopback listener only. The test reaches the all-addresses listener
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
	c := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
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
	if code := get("/v1/health", ""); code != 200 {
		t.Errorf("/v1/health: %d", code)
	}
	// Off loopback the network would read the counters: an admin's
	// credential is needed.
	if code := get("/metrics", ""); code != http.StatusUnauthorized {
		t.Errorf("/metrics off loopback without a credential: %d, want 401", code)
	}
	if code := get("/metrics", token); code != 200 {
		t.Errorf("/metrics off loopback with the admin token: %d, want 200", code)
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

// The web sign-in in Chromium, as a local account: alice's link opens
// her inbox (her message only, her name shown), the sign-out button ends
// the session, and the page then sends her to the sign-in page; the used
// link says so.
func TestWebSignInInChromium(t *testing.T) {
	requireRoot(t, "makes local accounts with useradd")
	chromium := requirePeer(t, "chromium")
	requirePeer(t, "setpriv")
	alice, bob := addAccount(t, testLogin("alice")), addAccount(t, testLogin("bob"))
	d, httpAddr := webAuthDaemon(t, alice, bob)
	out, stderr, code := d.cliAs(alice, "web")
	if code != 0 {
		t.Fatalf("messenger web as alice: %d %s", code, stderr)
	}
	link := strings.TrimSpace(out)
	ctx := newBrowser(t, chromium)
	if err := chromedp.Do(ctx, chromedp.Navigate(link),
		chromedp.WaitVisible(chromedp.CSS(`#messages li`)),
		chromedp.WaitVisible(chromedp.CSS(`#live.on`))); err != nil {
		t.Fatalf("signing in with alice's link: %v", err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.getElementById("whoami").textContent === `+strconv.Quote(alice.login))); err != nil {
		t.Errorf("the page does not show alice signed in: %v", err)
	}
	texts, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#messages li")].map((li) => li.textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	if len(texts) != 1 || !strings.Contains(texts[0], "for alice only") {
		t.Errorf("alice's inbox lists %q, want her message only", texts)
	}
	cookies, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.cookie`))
	if err != nil || cookies != "" {
		t.Errorf("the session cookie is readable by scripts: %q %v", cookies, err)
	}

	// Each step waits for the sign-in page's own element, as a poll
	// across a navigation loses its page.
	onSignIn := func(what string) string {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`main.signin`))); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.pathname + " " + document.body.textContent`))
		if err != nil {
			t.Fatal(err)
		}
		return text
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#signout button`))); err != nil {
		t.Fatal(err)
	}
	if text := onSignIn("sign-out"); !strings.HasPrefix(text, "/signin ") || !strings.Contains(text, "messenger web") {
		t.Errorf("sign-out landed on %q", text)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate("http://"+httpAddr+"/")); err != nil {
		t.Fatal(err)
	}
	if text := onSignIn("the inbox after sign-out"); !strings.HasPrefix(text, "/signin ") {
		t.Errorf("the inbox after sign-out shows %q", text)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(link)); err != nil {
		t.Fatal(err)
	}
	if text := onSignIn("the used link"); !strings.Contains(text, "expired or was used") {
		t.Errorf("the used link shows %q", text)
	}
}
