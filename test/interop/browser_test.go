package interop

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The web inbox in a real headless Chromium: a message smbclient sends
// appears without a reload, one sent with the compose form arrives, and an
// XSS payload is shown as text. Screenshots go to a temporary directory,
// or to docs/ with MESSENGER_UPDATE_SCREENSHOTS=1.
func TestWebInboxInChromium(t *testing.T) {
	chromium := requirePeer(t, "chromium")
	port, httpPort := freePort(t), freePort(t)
	lmhosts := filepath.Join(t.TempDir(), "lmhosts")
	if err := os.WriteFile(lmhosts, []byte("127.0.0.1  MSGHOST\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d := startDaemonAt(t, "", port, "--http-addr", "127.0.0.1:"+strconv.Itoa(httpPort),
		"--lmhosts", lmhosts, "--resolve-order", "lmhosts", "--send-smb-port", strconv.Itoa(port))
	smbclientSend(t, d, "MSGHOST", "alice", []byte("Welcome to the live inbox.\nThe UPS is on battery: 12 minutes left.\n"))

	shots := t.TempDir()
	if os.Getenv("MESSENGER_UPDATE_SCREENSHOTS") != "" {
		shots = filepath.Join("..", "..", "docs", "screenshots")
		os.MkdirAll(shots, 0o755)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.WindowSize(1100, 700),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	defer cancelTimeout()

	base := "http://127.0.0.1:" + strconv.Itoa(httpPort) + "/"
	if err := chromedp.Do(ctx, chromedp.Navigate(base),
		chromedp.WaitVisible(chromedp.CSS(`#messages li`)),
		chromedp.WaitVisible(chromedp.CSS(`#live.on`))); err != nil {
		t.Fatalf("loading the inbox: %v", err)
	}

	// Sent while the page is open: it must appear without a reload.
	payload := "<img src=x onerror=\"document.title='pwned'\"><script>document.title='pwned'</script> \x1b[31mred"
	smbclientSend(t, d, "MSGHOST", "mallory", []byte(payload+"\n"))
	if err := chromedp.Do(ctx,
		chromedp.WaitVisible(chromedp.CSS(`#messages li:nth-child(2)`)),
		chromedp.Click(chromedp.CSS(`#messages li:first-child`)),
		chromedp.WaitVisible(chromedp.CSS(`#reader`))); err != nil {
		t.Fatalf("live message: %v", err)
	}
	title, err := chromedp.Run(ctx, chromedp.Title())
	if err != nil {
		t.Fatal(err)
	}
	readerText, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#reader-text`)))
	if err != nil {
		t.Fatal(err)
	}
	if title != "Messenger" {
		t.Errorf("page title %q: the payload ran", title)
	}
	if !strings.Contains(readerText, `<img src=x onerror="document.title='pwned'">`) || !strings.Contains(readerText, "^[[31mred") {
		t.Errorf("payload not shown as text: %q", readerText)
	}
	made, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#messages img, #reader img, body script:not([src])").length`))
	if err != nil {
		t.Fatal(err)
	}
	if made != 0 {
		t.Errorf("%d elements made from message text", made)
	}
	waitUntil(t, "the opened message to be marked read", func() bool {
		for _, m := range d.inbox() {
			if m.From == "mallory" {
				return m.State == "read"
			}
		}
		return false
	})
	screenshot(t, ctx, filepath.Join(shots, "inbox.png"))

	// The compose form sends through the daemon's send endpoint.
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`nav button[data-tab="compose"]`)),
		chromedp.SendKeys(chromedp.CSS(`#compose input[name="to"]`), "MSGHOST"),
		chromedp.SendKeys(chromedp.CSS(`#compose input[name="from"]`), "browser"),
		chromedp.SendKeys(chromedp.CSS(`#compose textarea[name="text"]`), "Sent from the web page"),
		chromedp.Click(chromedp.CSS(`#compose button[type="submit"]`))); err != nil {
		t.Fatalf("compose: %v", err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`/^(sent|[A-Z].*:)/.test(document.getElementById("compose-result").textContent)`)); err != nil {
		t.Fatalf("compose result: %v", err)
	}
	result, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#compose-result`)))
	if !strings.HasPrefix(result, "sent") {
		t.Fatalf("compose result %q", result)
	}
	screenshot(t, ctx, filepath.Join(shots, "compose.png"))
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`nav button[data-tab="inbox"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#messages li:nth-child(3)`))); err != nil {
		t.Fatalf("the composed message did not appear: %v", err)
	}
	found := false
	for _, m := range d.inbox() {
		found = found || (m.From == "browser" && m.Text == "Sent from the web page")
	}
	if !found {
		t.Errorf("composed message not stored: %+v", d.inbox())
	}
	screenshot(t, ctx, filepath.Join(shots, "inbox-after-send.png"))
}

func screenshot(t *testing.T, ctx context.Context, path string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s", path)
}
