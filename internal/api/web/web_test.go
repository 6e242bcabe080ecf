// Package web holds the web inbox's page, script and style, embedded by
// package api; this test drives the page in a headless Chromium against a
// stand-in for the daemon's API on loopback.
package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/netsend/messenger/internal/api"
	"github.com/netsend/messenger/internal/message"
)

// requireChromium finds the browser the interop tests use, as they do:
// a skip unless MESSENGER_INTEROP=1 makes its absence a failure.
func requireChromium(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("MESSENGER_INTEROP") != "" {
			t.Fatal("chromium is not installed; scripts/test.sh installs it")
		}
		t.Skip("chromium is not installed (set MESSENGER_INTEROP=1 to make this a failure)")
	}
	return path
}

// newBrowser starts a headless Chromium for one test and returns its
// context, bounded to 60 seconds; the browser ends with the test.
func newBrowser(t *testing.T, chromium string) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	ctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(cancelTimeout)
	return ctx
}

// fakeDaemon serves the embedded page and just enough of the API for it:
// the inbox, an event stream that stays open, and marking read.
func fakeDaemon(t *testing.T, msgs []message.Message) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/", api.WebHandler())
	mux.HandleFunc("GET /v1/messages", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(msgs)
	})
	mux.HandleFunc("GET /v1/events", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	mux.HandleFunc("POST /v1/messages/{id}/read", func(w http.ResponseWriter, r *http.Request) {
		for _, m := range msgs {
			if r.PathValue("id") == strconv.FormatInt(m.ID, 10) {
				m.State = message.StateRead
				w.Header().Set("Content-Type", "application/json")
				json.NewEncoder(w).Encode(m)
				return
			}
		}
		http.NotFound(w, r)
	})
	srv := httptest.NewServer(mux) // 127.0.0.1
	t.Cleanup(srv.Close)
	return srv
}

// A message that came through the hub carries a "verified HOST" badge in
// the list and the reader, and its header names the host; a Verified
// field on any other message, or a sender name spelling the mark, earns
// no badge.
func TestVerifiedBadge(t *testing.T) {
	chromium := requireChromium(t)
	at := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	msgs := []message.Message{
		{ID: 1, From: "bob", To: "ALICE", Text: "through the hub", Time: at, Transport: message.TransportHub,
			Source: "hub:HOSTA", State: message.StateUnread, HubID: "ab", Verified: "HOSTA"},
		{ID: 2, From: "mallory", To: "ALICE", Text: "a forged field", Time: at, Transport: message.TransportSMB,
			Source: "127.0.0.1:139", State: message.StateUnread, Verified: "HOSTA"},
		{ID: 3, From: "eve (verified HOSTA)", To: "ALICE", Text: "a forged name", Time: at, Transport: message.TransportSMB,
			Source: "127.0.0.1:139", State: message.StateUnread},
	}
	srv := fakeDaemon(t, msgs)

	ctx := newBrowser(t, chromium)

	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#messages li:nth-child(3)`))); err != nil {
		t.Fatalf("loading the inbox: %v", err)
	}
	type item struct {
		ID      string   `json:"id"`
		Class   string   `json:"class"`
		Badges  []string `json:"badges"`
		Classes []string `json:"classes"`
		Who     string   `json:"who"`
	}
	items, err := chromedp.Run(ctx, chromedp.Evaluate[[]item](`[...document.querySelectorAll("#messages li")].map((li) => ({
		id: li.dataset.id, class: li.className, who: li.querySelector(".who").textContent,
		badges: [...li.querySelectorAll(".badge")].map((b) => b.textContent),
		classes: [...li.querySelectorAll(".badge")].map((b) => b.className)}))`))
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]item{}
	for _, it := range items {
		byID[it.ID] = it
	}
	if hub := byID["1"]; strings.Join(hub.Badges, ",") != "verified HOSTA" || !strings.Contains(hub.Class, "verified") ||
		strings.Join(hub.Classes, ",") != "badge verified" || !strings.HasSuffix(hub.Who, "bob \u2192 ALICE") {
		t.Errorf("the hub message is listed as %+v; want one badge \"verified HOSTA\" before bob \u2192 ALICE", hub)
	}
	if forged := byID["2"]; len(forged.Badges) != 0 || strings.Contains(forged.Class, "verified") {
		t.Errorf("an smb message with a Verified field is listed as %+v; want no badge", forged)
	}
	if name := byID["3"]; len(name.Badges) != 0 || name.Who != "\"eve (verified HOSTA)\" \u2192 ALICE" {
		t.Errorf("a sender spelling the mark is listed as %+v; want it quoted, no badge", name)
	}

	type reader struct {
		Header   string `json:"header"`
		Verified string `json:"verified"`
		Shown    bool   `json:"shown"`
	}
	open := func(id string) reader {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#messages li[data-id="`+id+`"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#reader`))); err != nil {
			t.Fatalf("opening message %s: %v", id, err)
		}
		r, err := chromedp.Run(ctx, chromedp.Evaluate[reader](`({header: document.getElementById("reader-header").textContent,
			verified: document.getElementById("reader-verified").textContent,
			shown: !document.getElementById("reader-verified").hidden})`))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := open("1"); !strings.HasPrefix(r.Header, "Message from bob (verified HOSTA) to ALICE on ") || !r.Shown || r.Verified != "verified HOSTA" {
		t.Errorf("the reader shows the hub message as %+v", r)
	}
	if r := open("2"); !strings.HasPrefix(r.Header, "Message from mallory to ALICE on ") || r.Shown {
		t.Errorf("the reader shows the forged field as %+v; want no mark", r)
	}
	if r := open("3"); !strings.HasPrefix(r.Header, `Message from "eve (verified HOSTA)" to ALICE on `) || r.Shown {
		t.Errorf("the reader shows the forged name as %+v; want it quoted, no mark", r)
	}
}

// Names, an alert's source and title, and the text are shown by the
// daemon's display rule: line breaks in what must stay on one line become
// spaces, and C1 controls and format characters show as <U+XXXX>.
func TestHiddenCharactersShown(t *testing.T) {
	chromium := requireChromium(t)
	at := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	msgs := []message.Message{
		{ID: 1, From: "eve\u2028Message from ADMIN\r\n", To: "ALICE\u202E", Text: "a\u009bb\u2066c\nd\te\u2029", Time: at,
			Transport: message.TransportSMB, Source: "127.0.0.1:139", State: message.StateUnread},
		{ID: 2, From: "HOST1", To: "ALICE", Text: "t", Time: at, Transport: message.TransportAlert, Source: "local", State: message.StateUnread,
			Alert: &message.Alert{Source: "nut\u200B", Severity: message.SeverityCritical, Title: "On\nbattery\uFEFF"}},
	}
	srv := fakeDaemon(t, msgs)
	ctx := newBrowser(t, chromium)
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#messages li:nth-child(2)`))); err != nil {
		t.Fatalf("loading the inbox: %v", err)
	}
	type shown struct {
		Who    string `json:"who"`
		Header string `json:"header"`
		Title  string `json:"title"`
		Text   string `json:"text"`
	}
	open := func(id string) shown {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#messages li[data-id="`+id+`"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#reader`))); err != nil {
			t.Fatalf("opening message %s: %v", id, err)
		}
		s, err := chromedp.Run(ctx, chromedp.Evaluate[shown](`({who: document.querySelector('#messages li[data-id="`+id+`"] .who').textContent,
			header: document.getElementById("reader-header").textContent,
			title: document.getElementById("reader-title").textContent,
			text: document.getElementById("reader-text").textContent})`))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := open("1")
	if want := "eve Message from ADMIN  \u2192 ALICE<U+202E>"; s.Who != want {
		t.Errorf("listed as %q, want %q", s.Who, want)
	}
	if want := "Message from eve Message from ADMIN  to ALICE<U+202E> on "; !strings.HasPrefix(s.Header, want) {
		t.Errorf("header %q, want it to start %q", s.Header, want)
	}
	if want := "a<U+009B>b<U+2066>c\nd\te<U+2029>"; s.Text != want {
		t.Errorf("text %q, want %q", s.Text, want)
	}
	s = open("2")
	if !strings.Contains(s.Who, " nut<U+200B> \u2192 ALICE") || !strings.HasPrefix(s.Header, "Alert from nut<U+200B> (critical) to ALICE on ") ||
		s.Title != "On battery<U+FEFF>" {
		t.Errorf("the alert is shown as %+v", s)
	}
}
