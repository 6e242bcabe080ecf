package interop

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/chromedp/chromedp"

	"github.com/netsend/messenger/internal/alert"
	"github.com/netsend/messenger/internal/api"
	"github.com/netsend/messenger/internal/apitype"
	"github.com/netsend/messenger/internal/message"
)

// screenshotDir is where a browser test saves its screenshots: a
// temporary directory, or docs/screenshots with
// MESSENGER_UPDATE_SCREENSHOTS set.
func screenshotDir(t *testing.T) string {
	if os.Getenv("MESSENGER_UPDATE_SCREENSHOTS") == "" {
		return t.TempDir()
	}
	shots := filepath.Join("..", "..", "docs", "screenshots")
	os.MkdirAll(shots, 0o755)
	return shots
}

// webLink is a `messenger web` link that signs the browser in to d as
// the test's account.
func (d *daemon) webLink() string {
	d.t.Helper()
	link, err := d.cli("web")
	if err != nil {
		d.t.Fatal(err)
	}
	return strings.TrimSpace(link)
}

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

	shots := screenshotDir(t)
	ctx := newBrowser(t, chromium)

	// Signed in as root (the test's account) through a `messenger web`
	// link: nothing over HTTP is open without a credential.
	if err := chromedp.Do(ctx, chromedp.Navigate(d.webLink()),
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
	// The title counts unread messages, "(1) Messenger"; the payload
	// would have made it "pwned".
	if !strings.HasSuffix(title, "Messenger") || strings.Contains(title, "pwned") {
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

	checkAlertBadges(t, ctx, d, filepath.Join(shots, "inbox-alerts.png"))
}

// newBrowser starts a headless Chromium for one test and returns its
// context, bounded to 90 seconds; the browser ends with the test.
func newBrowser(t *testing.T, chromium string) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.WindowSize(1100, 700),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(cancelTimeout)
	return ctx
}

// A message whose text holds a bidi override (U+202E), a C1 CSI (U+009B)
// and other invisible characters, from a sender whose name holds a line
// feed, is shown as the other sinks show it: each character escaped as
// <U+XXXX>, the header on one line, nothing raw in the page.
func TestBrowserShowsHiddenCharacters(t *testing.T) {
	chromium := requirePeer(t, "chromium")
	httpPort := freePort(t)
	d := startDaemonAt(t, "", freePort(t), "--http-addr", "127.0.0.1:"+strconv.Itoa(httpPort))
	client := api.NewClient(filepath.Join(d.dataDir, "messenger.sock"))
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	// MSGHOST is the daemon's own name, so the message is stored here as
	// sent, in UTF-8, with no code page in the way.
	res, err := client.Send(sctx, apitype.SendRequest{To: "MSGHOST", From: "eve\nADMIN",
		Text: "invoice\u202Efdp.exe \u009b31mred \u2066x\u2069\u200B\uFEFF\u061C\nline two"})
	cancel()
	if err != nil || len(res) != 1 || res[0].Code != "" {
		t.Fatalf("sending: %v %+v", err, res)
	}

	ctx := newBrowser(t, chromium)
	if err := chromedp.Do(ctx, chromedp.Navigate(d.webLink()),
		chromedp.WaitVisible(chromedp.CSS(`#messages li`)),
		chromedp.Click(chromedp.CSS(`#messages li:first-child`)),
		chromedp.WaitVisible(chromedp.CSS(`#reader`))); err != nil {
		t.Fatalf("opening the message: %v", err)
	}
	type shown struct {
		Header string `json:"header"`
		Text   string `json:"text"`
		Row    string `json:"row"`
	}
	got, err := chromedp.Run(ctx, chromedp.Evaluate[shown](`({header: document.getElementById("reader-header").textContent,
		text: document.getElementById("reader-text").textContent,
		row: document.querySelector("#messages li").textContent})`))
	if err != nil {
		t.Fatal(err)
	}
	if want := "Message from eve ADMIN (local user root) to MSGHOST on "; !strings.HasPrefix(got.Header, want) {
		t.Errorf("reader header %q, want it to start %q", got.Header, want)
	}
	if want := "invoice<U+202E>fdp.exe <U+009B>31mred <U+2066>x<U+2069><U+200B><U+FEFF><U+061C>\nline two"; got.Text != want {
		t.Errorf("reader text %q\nwant        %q", got.Text, want)
	}
	if !strings.Contains(got.Row, "eve ADMIN \u2192 MSGHOST") || !strings.Contains(got.Row, "invoice<U+202E>fdp.exe <U+009B>31mred") {
		t.Errorf("list row %q", got.Row)
	}
	for _, f := range []string{got.Header, got.Text, got.Row} {
		if i := strings.IndexFunc(f, func(r rune) bool {
			return r != '\n' && (unicode.IsControl(r) || unicode.Is(unicode.Cf, r))
		}); i >= 0 {
			t.Errorf("%q shows %U raw", f, []rune(f[i:])[0])
		}
	}
}

// checkAlertBadges: alerts raised in the daemon (POST /v1/alerts, as
// `messenger alert` does) reach the open page live, each with a severity
// badge, a colour per severity and a resolved mark; the reader shows the
// alert header, source, status and title; ordinary messages keep none of it.
func checkAlertBadges(t *testing.T, ctx context.Context, d *daemon, shot string) {
	t.Helper()
	client := api.NewClient(filepath.Join(d.dataDir, "messenger.sock"))
	for _, req := range []alert.Request{
		{Alert: message.Alert{Source: "cups", Severity: message.SeverityInfo, Title: "Job done"}, Text: "job 12 completed"},
		{Alert: message.Alert{Source: "ntfy", Severity: message.SeverityWarning, Title: "<b id=made>late</b>"}, Text: "no backup since Monday"},
		{Alert: message.Alert{Source: "nut", Severity: message.SeverityCritical, Status: message.AlertFiring, Title: "On battery"}, Text: "ups1 on battery"},
		{Alert: message.Alert{Source: "alertmanager", Severity: message.SeverityCritical, Status: message.AlertResolved}, Text: "db1"},
	} {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		res, err := client.Alert(rctx, req)
		cancel()
		if err != nil {
			t.Fatalf("raising the %s alert: %v", req.Alert.Source, err)
		}
		for _, dl := range res.Deliveries {
			if dl.Code != "" {
				t.Fatalf("the %s alert was not delivered: %+v", req.Alert.Source, res)
			}
		}
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelectorAll("#messages li.alert").length === 4`)); err != nil {
		t.Fatalf("the alerts did not reach the page: %v", err)
	}
	type item struct {
		ID      string   `json:"id"`
		Class   string   `json:"class"`
		Badges  []string `json:"badges"`
		Colours []string `json:"colours"`
		Text    string   `json:"text"`
	}
	items, err := chromedp.Run(ctx, chromedp.Evaluate[[]item](`[...document.querySelectorAll("#messages li")].map((li) => ({
		id: li.dataset.id, class: li.className, text: li.textContent,
		badges: [...li.querySelectorAll(".badge")].map((b) => b.textContent),
		colours: [...li.querySelectorAll(".badge")].map((b) => getComputedStyle(b).backgroundColor),
	}))`))
	if err != nil {
		t.Fatal(err)
	}
	bySource := map[string]item{}
	ordinary := 0
	for _, it := range items {
		if !strings.Contains(it.Class, "alert") {
			ordinary++
			if len(it.Badges) != 0 {
				t.Errorf("ordinary message %s has badges %q", it.ID, it.Badges)
			}
			continue
		}
		for _, src := range []string{"cups", "ntfy", "nut", "alertmanager"} {
			if strings.Contains(it.Text, " "+src+" \u2192 ") {
				bySource[src] = it
			}
		}
	}
	if ordinary != 3 {
		t.Errorf("%d ordinary messages listed, want 3", ordinary)
	}
	colour := map[string]string{}
	for _, w := range []struct {
		source string
		badges []string
	}{
		{"cups", []string{"info"}},
		{"ntfy", []string{"warning"}},
		{"nut", []string{"critical"}},
		{"alertmanager", []string{"critical", "resolved"}},
	} {
		it, ok := bySource[w.source]
		if !ok {
			t.Errorf("the %s alert is not listed: %+v", w.source, items)
			continue
		}
		if strings.Join(it.Badges, ",") != strings.Join(w.badges, ",") {
			t.Errorf("the %s alert has badges %q, want %q", w.source, it.Badges, w.badges)
			continue
		}
		colour[w.badges[0]] = it.Colours[0]
		if len(w.badges) == 2 && it.Colours[1] == it.Colours[0] {
			t.Errorf("the resolved badge has the severity's colour %s", it.Colours[1])
		}
	}
	if c := colour["info"]; c == "" || c == colour["warning"] || c == colour["critical"] || colour["warning"] == colour["critical"] {
		t.Errorf("severity badges not told apart by colour: %v", colour)
	}
	if made, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#made").length`)); made != 0 {
		t.Error("an alert title was made into markup")
	}

	type reader struct {
		Header, Title, Alert string
		TitleShown, Alerted  bool
	}
	open := func(id string) reader {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#messages li[data-id="`+id+`"]`))); err != nil {
			t.Fatalf("opening message %s: %v", id, err)
		}
		r, err := chromedp.Run(ctx, chromedp.Evaluate[reader](`({
			Header: document.getElementById("reader-header").textContent,
			Title: document.getElementById("reader-title").textContent,
			Alert: document.getElementById("reader-alert").textContent,
			TitleShown: !document.getElementById("reader-title").hidden,
			Alerted: !document.getElementById("reader-alert").hidden,
		})`))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := open(bySource["nut"].ID); !strings.HasPrefix(r.Header, "Alert from nut (critical, firing) to MSGHOST on ") || r.Title != "On battery" ||
		!r.TitleShown || !r.Alerted || !strings.Contains(r.Alert, "critical") || !strings.Contains(r.Alert, "nut") {
		t.Errorf("reader for the critical alert: %+v", r)
	}
	screenshot(t, ctx, shot)
	if r := open(bySource["alertmanager"].ID); !strings.HasPrefix(r.Header, "Alert from alertmanager (critical, RESOLVED) to MSGHOST on ") ||
		r.TitleShown || !strings.Contains(r.Alert, "resolved") {
		t.Errorf("reader for the resolved alert: %+v", r)
	}
	// An ordinary message after an alert: no alert rows, no title.
	id, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#messages li:not(.alert)").dataset.id`))
	if err != nil {
		t.Fatal(err)
	}
	if r := open(id); !strings.HasPrefix(r.Header, "Message from ") || r.TitleShown || r.Alerted || r.Alert != "" {
		t.Errorf("reader for an ordinary message after an alert: %+v", r)
	}
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
