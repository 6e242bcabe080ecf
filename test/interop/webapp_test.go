package interop

import (
	"context"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/netsend/messenger/internal/alert"
	"github.com/netsend/messenger/internal/api"
	"github.com/netsend/messenger/internal/message"
)

// notificationSpy records every notification the page makes, then lets
// the real one be made: the test cannot see the desktop's.
const notificationSpy = `(() => {
  const Real = window.Notification;
  window.__notes = [];
  function Spy(title, opts) {
    window.__notes.push({ title, body: (opts || {}).body || "", requireInteraction: !!(opts || {}).requireInteraction });
    return new Real(title, opts);
  }
  Object.defineProperty(Spy, "permission", { get: () => Real.permission });
  Spy.requestPermission = (...a) => Real.requestPermission(...a);
  window.Notification = Spy;
  return true;
})()`

type note struct {
	Title              string `json:"title"`
	Body               string `json:"body"`
	RequireInteraction bool   `json:"requireInteraction"`
}

// The web inbox as an app on a phone (390×844): with notifications
// allowed, a message smbclient sends makes a notification and counts in
// the title and the favicon; a critical alert's stays until dismissed;
// the button turns them off; the list and a message take turns with no
// sideways scrolling; the service worker registers and keeps the shell,
// never an API answer.
func TestWebAppInChromium(t *testing.T) {
	chromium := requirePeer(t, "chromium")
	port, httpPort := freePort(t), freePort(t)
	d := startDaemonAt(t, "", port, "--http-addr", "127.0.0.1:"+strconv.Itoa(httpPort))
	smbclientSend(t, d, "MSGHOST", "alice", []byte("Lunch at noon?\n"))

	shots := screenshotDir(t)
	ctx := newBrowser(t, chromium)
	link := d.webLink()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	origin := u.Scheme + "://" + u.Host
	if _, err := chromedp.CallBrowser(ctx, browser.SetPermission, browser.SetPermissionParams{
		Permission: &browser.PermissionDescriptor{Name: string(browser.PermissionTypeNotifications)},
		Setting:    browser.PermissionSettingGranted, Origin: origin}); err != nil {
		t.Fatalf("granting notifications: %v", err)
	}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile),
		chromedp.Navigate(link),
		chromedp.WaitVisible(chromedp.CSS(`#messages li`)),
		chromedp.WaitVisible(chromedp.CSS(`#live.on`))); err != nil {
		t.Fatalf("loading the inbox: %v", err)
	}
	poll := func(what, expr string) {
		t.Helper()
		pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		if _, err := chromedp.Run(pctx, chromedp.Poll[bool](expr)); err != nil {
			t.Fatalf("waiting for %s (%s): %v", what, expr, err)
		}
	}
	eval := func(expr string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		return v
	}
	poll("the count in the title", `document.title === "(1) Messenger"`)
	poll("the favicon badge", `document.getElementById("favicon").href.startsWith("data:image/png")`)
	if b := eval(`document.getElementById("notify").textContent`); b != "Notifications on" {
		t.Errorf("notification button says %q with permission granted", b)
	}

	// The service worker: registered, then in control after a reload,
	// with the shell cached and no /v1/ answer.
	// The worker claims the page it was registered from once active.
	poll("the service worker", `navigator.serviceWorker.controller !== null`)
	if err := chromedp.Do(ctx, chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`#messages li`)),
		chromedp.WaitVisible(chromedp.CSS(`#live.on`))); err != nil {
		t.Fatalf("reloading: %v", err)
	}
	poll("the page under the service worker", `navigator.serviceWorker.controller !== null`)
	cached := eval(`caches.open("messenger-shell-v1").then((c) => c.keys()).then((ks) => ks.map((k) => new URL(k.url).pathname).sort().join(" "))`)
	if !strings.Contains(cached, "/app.js") || !strings.Contains(cached, "/style.css") || !strings.Contains(cached, "/icon-192.png") {
		t.Errorf("the shell is not cached: %q", cached)
	}
	if strings.Contains(cached, "/v1/") {
		t.Errorf("an API answer is cached: %q", cached)
	}

	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](notificationSpy)); err != nil {
		t.Fatal(err)
	}
	smbclientSend(t, d, "MSGHOST", "bob", []byte("The build is green.\n"))
	poll("a notification", `window.__notes.length === 1`)
	poll("the new count in the title", `document.title === "(2) Messenger"`)
	notes, err := chromedp.Run(ctx, chromedp.Evaluate[[]note](`window.__notes`))
	if err != nil {
		t.Fatal(err)
	}
	if n := notes[0]; !strings.HasPrefix(n.Title, "Message from bob to MSGHOST") || !strings.Contains(n.Body, "The build is green.") || n.RequireInteraction {
		t.Errorf("notification %+v", n)
	}

	client := api.NewClient(filepath.Join(d.dataDir, "messenger.sock"))
	actx, cancel := context.WithTimeout(ctx, 10*time.Second)
	_, err = client.Alert(actx, alert.Request{Alert: message.Alert{Source: "nut", Severity: message.SeverityCritical,
		Status: message.AlertFiring, Title: "On battery"}, Text: "ups1 on battery"})
	cancel()
	if err != nil {
		t.Fatalf("raising an alert: %v", err)
	}
	poll("the alert's notification", `window.__notes.length === 2`)
	notes, _ = chromedp.Run(ctx, chromedp.Evaluate[[]note](`window.__notes`))
	if n := notes[1]; !strings.HasPrefix(n.Title, "Alert from nut (critical): On battery") || !n.RequireInteraction {
		t.Errorf("a critical alert's notification %+v; want it to require interaction", n)
	}

	// The phone layout: no sideways scrolling; the list, then the
	// message alone with a way back.
	noOverflow := func(where string) {
		t.Helper()
		if w, _ := strconv.Atoi(eval(`String(document.documentElement.scrollWidth)`)); w > 390 || w == 0 {
			t.Errorf("%s: the page is %d px wide on a 390 px screen", where, w)
		}
	}
	noOverflow("the list")
	screenshot(t, ctx, filepath.Join(shots, "inbox-phone.png"))
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#messages li[data-id]:last-child`)),
		chromedp.WaitVisible(chromedp.CSS(`#reader-back`))); err != nil {
		t.Fatalf("opening a message: %v", err)
	}
	if shown := eval(`String(document.getElementById("list").offsetParent !== null)`); shown != "false" {
		t.Error("the list stays beside the message on a phone")
	}
	noOverflow("the message")
	screenshot(t, ctx, filepath.Join(shots, "message-phone.png"))
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#reader-back`)),
		chromedp.WaitVisible(chromedp.CSS(`#list`)), chromedp.WaitNotVisible(chromedp.CSS(`#reader`))); err != nil {
		t.Fatalf("back to the list: %v", err)
	}

	// Turned off, and remembered: no notification for the next one.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#notify`))); err != nil {
		t.Fatal(err)
	}
	if v := eval(`localStorage.getItem("messenger.notify") + " " + document.getElementById("notify").textContent`); v != "off Notifications off" {
		t.Errorf("after turning notifications off: %q", v)
	}
	smbclientSend(t, d, "MSGHOST", "carol", []byte("Quiet, please.\n"))
	poll("the quiet message", `[...document.querySelectorAll("#messages li")].some((li) => li.textContent.includes("Quiet, please."))`)
	if n := eval(`String(window.__notes.length)`); n != "2" {
		t.Errorf("%s notifications after turning them off, want 2", n)
	}

	// Mark all read clears the count.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#read-all`))); err != nil {
		t.Fatal(err)
	}
	poll("no count in the title", `document.title === "Messenger"`)
	poll("the plain favicon", `document.getElementById("favicon").getAttribute("href") === "/icon-192.png"`)
	for _, m := range d.inbox() {
		if m.State != "read" {
			t.Errorf("message %d from %s is %s after mark all read", m.ID, m.From, m.State)
		}
	}
}
