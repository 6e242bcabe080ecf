package httpingest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/netsend/messenger/internal/alert"
	"github.com/netsend/messenger/internal/alert/notice"
	"github.com/netsend/messenger/internal/apitype"
	"github.com/netsend/messenger/internal/message"
)

// fakeRaiser records what it is asked to raise and answers as told.
type fakeRaiser struct {
	mu   sync.Mutex
	reqs []alert.Request
	res  alert.Result
	err  error
}

func (f *fakeRaiser) Raise(_ context.Context, req alert.Request) (alert.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reqs = append(f.reqs, req)
	if f.err != nil {
		return alert.Result{}, f.err
	}
	if f.res.Deliveries != nil || f.res.Suppressed != nil {
		return f.res, nil
	}
	var res alert.Result
	for _, to := range req.To {
		res.Deliveries = append(res.Deliveries, apitype.Delivery{To: to, Via: "local"})
	}
	if len(res.Deliveries) == 0 {
		res.Deliveries = []apitype.Delivery{{To: "ROUTED", Via: "local"}}
	}
	return res, nil
}

func (f *fakeRaiser) raised() []alert.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.reqs)
}

const (
	opsToken    = "ops-secret-token"
	backupToken = "backup-secret-token"
	kumaToken   = "kuma-secret-token"
)

func testConfig() Config {
	return Config{
		Tokens: []Token{
			{Name: "ops", Hash: sha256.Sum256([]byte(opsToken))},
			{Name: "backup", Hash: sha256.Sum256([]byte(backupToken)), To: []string{"ADMINS"}, Source: "restic"},
			{Name: "kuma", Hash: sha256.Sum256([]byte(kumaToken)), To: []string{"ONCALL"}},
		},
		Topics:     map[string][]string{"Backups": {"ALICE", "BOB"}},
		RetryAfter: 90 * time.Second,
	}
}

// amWebhook is what Alertmanager posts for one firing alert (version 4
// of its webhook).
const amWebhook = `{"receiver":"messenger","status":"firing","alerts":[{"status":"firing",
"labels":{"alertname":"DiskFull","severity":"critical","instance":"db1:9100"},
"annotations":{"summary":"Disk full on db1"},"startsAt":"2026-11-29T10:00:00Z","endsAt":"0001-01-01T00:00:00Z",
"generatorURL":"http://prometheus/graph","fingerprint":"c0ffee"}],
"groupLabels":{"alertname":"DiskFull"},"commonLabels":{"alertname":"DiskFull","severity":"critical"},
"commonAnnotations":{"summary":"Disk full on db1"},"externalURL":"http://alertmanager:9093","version":"4",
"groupKey":"{}:{alertname=\"DiskFull\"}","truncatedAlerts":0}`

type call struct {
	method, target string
	header         map[string]string
	body           string
}

func (c call) do(t *testing.T, h http.Handler) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(c.method, c.target, strings.NewReader(c.body))
	r.RemoteAddr = "127.0.0.1:40000"
	for k, v := range c.header {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func bearer(token string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + token}
}

func decodeBody[T any](t *testing.T, w *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
		t.Fatalf("body %q is not the expected JSON: %v", w.Body, err)
	}
	return v
}

func TestAlertmanagerWebhook(t *testing.T) {
	f := &fakeRaiser{}
	h := NewHandler(f, testConfig())
	w := call{"POST", "/alertmanager", map[string]string{"Authorization": "Bearer " + opsToken, "Content-Type": "application/json"}, amWebhook}.do(t, h)
	if w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	reqs := f.raised()
	if len(reqs) != 1 {
		t.Fatalf("raised %d alerts, want 1", len(reqs))
	}
	req := reqs[0]
	if req.Alert.Source != "alertmanager" || req.Alert.Status != message.AlertFiring || req.Alert.Severity != message.SeverityCritical {
		t.Errorf("alert = %+v; want source alertmanager, firing, critical", req.Alert)
	}
	if req.To != nil {
		t.Errorf("To = %q; an ops token without names leaves the alert to the routing", req.To)
	}
	if req.Origin != "127.0.0.1:40000" || req.Text == "" {
		t.Errorf("origin %q text %q", req.Origin, req.Text)
	}
	res := decodeBody[alert.Result](t, w)
	if len(res.Deliveries) != 1 || res.Deliveries[0].To != "ROUTED" {
		t.Errorf("reply %s does not carry the deliveries", w.Body)
	}
}

// A token's names and source replace routing and the format's source.
func TestTokenOverrides(t *testing.T) {
	f := &fakeRaiser{}
	h := NewHandler(f, testConfig())
	if w := (call{"POST", "/alertmanager", bearer(backupToken), amWebhook}).do(t, h); w.Code != 200 {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	if w := (call{"POST", "/message", map[string]string{"X-Gotify-Key": kumaToken, "Content-Type": "application/json"},
		`{"title":"Kuma","message":"site down","priority":8}`}).do(t, h); w.Code != 200 {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	reqs := f.raised()
	if len(reqs) != 2 {
		t.Fatalf("raised %d alerts", len(reqs))
	}
	if reqs[0].Alert.Source != "restic" || !slices.Equal(reqs[0].To, []string{"ADMINS"}) {
		t.Errorf("backup token: source %q to %q; want restic to ADMINS", reqs[0].Alert.Source, reqs[0].To)
	}
	if reqs[1].Alert.Source != "gotify" || !slices.Equal(reqs[1].To, []string{"ONCALL"}) {
		t.Errorf("kuma token: source %q to %q; want gotify to ONCALL", reqs[1].Alert.Source, reqs[1].To)
	}
}

func TestNtfyPublish(t *testing.T) {
	f := &fakeRaiser{}
	h := NewHandler(f, testConfig())
	w := call{"POST", "/backups", map[string]string{"Authorization": "Bearer " + opsToken, "Title": "Backup",
		"Priority": "5", "Tags": "warning,backup"}, "backup failed"}.do(t, h)
	if w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	req := f.raised()[0]
	if req.Alert.Source != "ntfy" || req.Alert.Title != "Backup" || req.Alert.Severity != message.SeverityCritical || !strings.HasPrefix(req.Text, "backup failed") {
		t.Errorf("raised %+v", req)
	}
	if !slices.Equal(req.To, []string{"ALICE", "BOB"}) {
		t.Errorf("To = %q; the topic mapping (matched without case) says ALICE, BOB", req.To)
	}
	m := decodeBody[ntfyMessage](t, w)
	if m.Event != "message" || m.Topic != "backups" || m.Title != "Backup" || !strings.HasPrefix(m.Message, "backup failed") || m.Priority != 5 ||
		len(m.ID) != 12 || m.Time == 0 {
		t.Errorf("reply %s is not ntfy's message object", w.Body)
	}
}

func TestNtfyShapes(t *testing.T) {
	for _, tc := range []struct {
		name  string
		c     call
		to    []string
		text  string
		topic string
	}{
		{"PUT topic", call{"PUT", "/backups", bearer(opsToken), "put body"}, []string{"ALICE", "BOB"}, "put body", "backups"},
		{"JSON at the root", call{"POST", "/", bearer(opsToken), `{"topic":"backups","message":"json body","title":"T"}`},
			[]string{"ALICE", "BOB"}, "json body", "backups"},
		{"publish by GET", call{"GET", "/backups/publish?message=by+get", bearer(opsToken), ""}, []string{"ALICE", "BOB"}, "by get", "backups"},
		{"send by POST", call{"POST", "/backups/send", bearer(opsToken), "sent"}, []string{"ALICE", "BOB"}, "sent", "backups"},
		{"trigger", call{"GET", "/backups/trigger", bearer(opsToken), ""}, []string{"ALICE", "BOB"}, "", "backups"},
		{"unmapped topic is the name", call{"POST", "/printer2", bearer(opsToken), "jam"}, []string{"PRINTER2"}, "jam", "printer2"},
		{"unmapped topic takes the token's names", call{"POST", "/printer2", bearer(kumaToken), "jam"}, []string{"ONCALL"}, "jam", "printer2"},
		{"mapping wins over the token's names", call{"POST", "/BACKUPS", bearer(kumaToken), "x"}, []string{"ALICE", "BOB"}, "x", "BACKUPS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeRaiser{}
			w := tc.c.do(t, NewHandler(f, testConfig()))
			if w.Code != http.StatusOK {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			reqs := f.raised()
			if len(reqs) != 1 {
				t.Fatalf("raised %d alerts", len(reqs))
			}
			if !slices.Equal(reqs[0].To, tc.to) {
				t.Errorf("To = %q, want %q", reqs[0].To, tc.to)
			}
			if tc.text != "" && reqs[0].Text != tc.text {
				t.Errorf("text %q, want %q", reqs[0].Text, tc.text)
			}
			if reqs[0].Text == "" {
				t.Error("empty text raised")
			}
			if m := decodeBody[ntfyMessage](t, w); m.Topic != tc.topic || m.Event != "message" {
				t.Errorf("reply %s", w.Body)
			}
		})
	}
}

func TestGotifyPublish(t *testing.T) {
	var multi bytes.Buffer
	mw := multipart.NewWriter(&multi)
	mw.WriteField("title", "Backup")
	mw.WriteField("message", "backup failed")
	mw.WriteField("priority", "8")
	mw.Close()
	for _, tc := range []struct {
		name        string
		contentType string
		body        string
	}{
		{"JSON", "application/json", `{"title":"Backup","message":"backup failed","priority":8}`},
		{"form", "application/x-www-form-urlencoded", url.Values{"title": {"Backup"}, "message": {"backup failed"}, "priority": {"8"}}.Encode()},
		{"multipart", mw.FormDataContentType(), multi.String()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeRaiser{}
			w := call{"POST", "/message?token=" + opsToken, map[string]string{"Content-Type": tc.contentType}, tc.body}.do(t, NewHandler(f, testConfig()))
			if w.Code != http.StatusOK {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			reqs := f.raised()
			if len(reqs) != 1 {
				t.Fatalf("raised %d alerts", len(reqs))
			}
			if r := reqs[0]; r.Alert.Source != "gotify" || r.Alert.Title != "Backup" || r.Text != "backup failed" || r.To != nil ||
				r.Alert.Severity.Rank() < message.SeverityWarning.Rank() {
				t.Errorf("raised %+v", r)
			}
			m := decodeBody[map[string]any](t, w)
			for _, k := range []string{"id", "appid", "message", "title", "priority", "date"} {
				if _, ok := m[k]; !ok {
					t.Errorf("Gotify reply %s lacks %q", w.Body, k)
				}
			}
			if _, err := time.Parse(time.RFC3339Nano, fmt.Sprint(m["date"])); err != nil || m["title"] != "Backup" {
				t.Errorf("Gotify reply %s", w.Body)
			}
		})
	}
}

func basic(user, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
}

func TestAuthForms(t *testing.T) {
	authParam := func(v string) string { return url.QueryEscape(base64.RawURLEncoding.EncodeToString([]byte(v))) }
	for _, tc := range []struct {
		name   string
		target string
		header map[string]string
		ok     bool
	}{
		{"bearer", "/alerts", map[string]string{"Authorization": "Bearer " + opsToken}, true},
		{"bearer in lower case", "/alerts", map[string]string{"Authorization": "bearer " + opsToken}, true},
		{"basic, token as password", "/alerts", map[string]string{"Authorization": basic("anyone", opsToken)}, true},
		{"basic, empty user", "/alerts", map[string]string{"Authorization": basic("", opsToken)}, true},
		{"basic, token as user", "/alerts", map[string]string{"Authorization": basic(opsToken, "")}, true},
		{"ntfy ?auth= bearer", "/alerts?auth=" + authParam("Bearer "+opsToken), nil, true},
		{"ntfy ?auth= basic", "/alerts?auth=" + authParam(basic("", opsToken)), nil, true},
		{"gotify header", "/alerts", map[string]string{"X-Gotify-Key": opsToken}, true},
		{"gotify ?token=", "/alerts?token=" + opsToken, nil, true},
		{"a wrong ?auth= does not hide a right header", "/alerts?auth=bm9wZQ", map[string]string{"Authorization": "Bearer " + opsToken}, true},
		{"none", "/alerts", nil, false},
		{"wrong bearer", "/alerts", map[string]string{"Authorization": "Bearer nope"}, false},
		{"empty bearer", "/alerts", map[string]string{"Authorization": "Bearer "}, false},
		{"token as a bare header", "/alerts", map[string]string{"Authorization": opsToken}, false},
		{"basic, wrong password", "/alerts", map[string]string{"Authorization": basic(opsToken, "nope")}, false},
		{"basic, not base64", "/alerts", map[string]string{"Authorization": "Basic !!!"}, false},
		{"?auth= not base64", "/alerts?auth=%21%21", nil, false},
		{"?auth= the bare token", "/alerts?auth=" + authParam(opsToken), nil, false},
		{"wrong gotify key", "/alerts", map[string]string{"X-Gotify-Key": "nope"}, false},
		{"hash given as token", "/alerts?token=" + fmt.Sprintf("%x", sha256.Sum256([]byte(opsToken))), nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeRaiser{}
			w := call{"POST", tc.target, tc.header, "disk full"}.do(t, NewHandler(f, testConfig()))
			if tc.ok {
				if w.Code != http.StatusOK || len(f.raised()) != 1 {
					t.Fatalf("status %d, raised %d: %s", w.Code, len(f.raised()), w.Body)
				}
				return
			}
			if w.Code != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401: %s", w.Code, w.Body)
			}
			if n := len(f.raised()); n != 0 {
				t.Errorf("raised %d alerts without a valid token", n)
			}
			if !slices.Contains(w.Header().Values("WWW-Authenticate"), `Bearer realm="messenger"`) {
				t.Errorf("WWW-Authenticate = %q", w.Header().Values("WWW-Authenticate"))
			}
			body := decodeBody[errorBody](t, w)
			for _, name := range []string{"ops", "backup", "kuma"} {
				if strings.Contains(body.Error, name) {
					t.Errorf("401 body %q names token %q", body.Error, name)
				}
			}
		})
	}
}

// Every route that raises alerts wants a token.
func TestEveryPublishRouteNeedsAToken(t *testing.T) {
	for _, c := range []call{
		{"POST", "/alertmanager", nil, amWebhook},
		{"POST", "/message", map[string]string{"Content-Type": "application/json"}, `{"message":"m"}`},
		{"POST", "/", nil, `{"topic":"backups","message":"m"}`},
		{"PUT", "/backups", nil, "m"},
		{"GET", "/backups/publish?message=m", nil, ""},
		{"GET", "/backups/trigger", nil, ""},
		{"POST", "/backups/send", nil, "m"},
	} {
		f := &fakeRaiser{}
		if w := c.do(t, NewHandler(f, testConfig())); w.Code != http.StatusUnauthorized || len(f.raised()) != 0 {
			t.Errorf("%s %s without a token: status %d, raised %d", c.method, c.target, w.Code, len(f.raised()))
		}
	}
}

func TestHealthAndVersionWithoutToken(t *testing.T) {
	h := NewHandler(&fakeRaiser{}, testConfig())
	for target, want := range map[string]string{
		"/v1/health": `{"healthy":true}`,
		"/health":    `{"database":"green","health":"green"}`,
		"/version":   `"version":"messenger"`,
	} {
		w := call{"GET", target, nil, ""}.do(t, h)
		if w.Code != 200 || !strings.Contains(w.Body.String(), want) {
			t.Errorf("GET %s: %d %s; want %s", target, w.Code, w.Body, want)
		}
	}
}

func TestRefusals(t *testing.T) {
	big := strings.Repeat("x", notice.MaxBodyLen+1)
	for _, tc := range []struct {
		name  string
		c     call
		code  int
		allow string
		says  string
	}{
		{"GET webhook", call{"GET", "/alertmanager", bearer(opsToken), ""}, 405, "POST", "POST"},
		{"GET Gotify", call{"GET", "/message", bearer(opsToken), ""}, 405, "POST", ""},
		{"DELETE topic", call{"DELETE", "/backups", bearer(opsToken), ""}, 405, "PUT, POST", ""},
		{"GET topic", call{"GET", "/backups", bearer(opsToken), ""}, 405, "PUT, POST", ""},
		{"POST health", call{"POST", "/v1/health", bearer(opsToken), "x"}, 405, "GET, HEAD", ""},
		{"unknown path", call{"POST", "/backups/subscribe/x", bearer(opsToken), "x"}, 404, "", ""},
		{"topic of bad characters", call{"POST", "/back.ups", bearer(opsToken), "x"}, 404, "", "topic"},
		{"JSON topic of bad characters", call{"POST", "/", bearer(opsToken), `{"topic":"../etc","message":"m"}`}, 400, "", "topic"},
		{"webhook body too large", call{"POST", "/alertmanager", bearer(opsToken), big}, 413, "", "larger"},
		{"ntfy body too large", call{"PUT", "/backups", bearer(opsToken), big}, 413, "", "larger"},
		{"Gotify body too large", call{"POST", "/message", map[string]string{"X-Gotify-Key": opsToken, "Content-Type": "application/json"}, big}, 413, "", "larger"},
		{"malformed webhook JSON", call{"POST", "/alertmanager", bearer(opsToken), `{"status":"firing","alerts":[`}, 400, "", "alertmanager"},
		{"webhook without alerts", call{"POST", "/alertmanager", bearer(opsToken), `{"status":"firing","alerts":[]}`}, 400, "", "alertmanager"},
		{"malformed Gotify JSON", call{"POST", "/message", map[string]string{"X-Gotify-Key": opsToken, "Content-Type": "application/json"}, `{"message":`}, 400, "", "gotify"},
		{"Gotify without message", call{"POST", "/message", map[string]string{"X-Gotify-Key": opsToken, "Content-Type": "application/json"}, `{"title":"t"}`}, 400, "", "gotify"},
		{"malformed ntfy JSON", call{"POST", "/", bearer(opsToken), `{"topic":`}, 400, "", "ntfy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeRaiser{}
			w := tc.c.do(t, NewHandler(f, testConfig()))
			if w.Code != tc.code {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.code, w.Body)
			}
			if n := len(f.raised()); n != 0 {
				t.Errorf("raised %d alerts from a refused request", n)
			}
			body := decodeBody[errorBody](t, w)
			if body.Error == "" || !strings.Contains(body.Error, tc.says) {
				t.Errorf("error %q; want a reason naming %q", body.Error, tc.says)
			}
			if tc.code == 405 && tc.allow != "" && w.Header().Get("Allow") != tc.allow {
				t.Errorf("Allow = %q, want %q", w.Header().Get("Allow"), tc.allow)
			}
		})
	}
}

// A body of unknown length (chunked) is cut at the limit, not read whole.
func TestChunkedBodyTooLarge(t *testing.T) {
	f := &fakeRaiser{}
	r := httptest.NewRequest("PUT", "/backups", io.MultiReader(strings.NewReader(strings.Repeat("x", notice.MaxBodyLen)), strings.NewReader("more")))
	r.ContentLength = -1
	r.Header.Set("Authorization", "Bearer "+opsToken)
	w := httptest.NewRecorder()
	NewHandler(f, testConfig()).ServeHTTP(w, r)
	if w.Code != http.StatusRequestEntityTooLarge || len(f.raised()) != 0 {
		t.Fatalf("status %d, raised %d", w.Code, len(f.raised()))
	}
}

func TestRaiseErrors(t *testing.T) {
	limited := fmt.Errorf("source ntfy: %w", alert.ErrRateLimited)
	for _, tc := range []struct {
		name string
		c    call
		err  error
		code int
	}{
		{"rate limited", call{"POST", "/backups", bearer(opsToken), "m"}, limited, http.StatusTooManyRequests},
		{"rate limited, Gotify", call{"POST", "/message", map[string]string{"X-Gotify-Key": opsToken, "Content-Type": "application/json"},
			`{"message":"m"}`}, limited, http.StatusTooManyRequests},
		// Alertmanager drops a notification answered 4xx and retries 5xx.
		{"rate limited, Alertmanager", call{"POST", "/alertmanager", bearer(opsToken), amWebhook}, limited, http.StatusServiceUnavailable},
		{"no recipient", call{"POST", "/backups", bearer(opsToken), "m"}, alert.ErrNoRecipient, http.StatusUnprocessableEntity},
		{"invalid", call{"POST", "/backups", bearer(opsToken), "m"},
			fmt.Errorf("%w: recipient is 70 characters, limit 15", message.ErrInvalid), http.StatusBadRequest},
		{"store down", call{"POST", "/backups", bearer(opsToken), "m"}, errors.New("store: disk I/O error"), http.StatusInternalServerError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeRaiser{err: tc.err}
			w := tc.c.do(t, NewHandler(f, testConfig()))
			if w.Code != tc.code {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.code, w.Body)
			}
			if body := decodeBody[errorBody](t, w); !strings.Contains(body.Error, tc.err.Error()) {
				t.Errorf("error %q does not give the reason %q", body.Error, tc.err)
			}
			if errors.Is(tc.err, alert.ErrRateLimited) && w.Header().Get("Retry-After") != "90" {
				t.Errorf("Retry-After = %q, want 90", w.Header().Get("Retry-After"))
			}
		})
	}
}

func TestDeliveryOutcomes(t *testing.T) {
	failed := apitype.Delivery{To: "GHOST", Via: "smb", Code: "not-found", Error: "GHOST: no such name"}
	for _, tc := range []struct {
		name string
		res  alert.Result
		code int
	}{
		{"all failed", alert.Result{Deliveries: []apitype.Delivery{failed, {To: "GONE", Code: "timeout"}}}, http.StatusBadGateway},
		{"one of two failed", alert.Result{Deliveries: []apitype.Delivery{failed, {To: "ALICE", Via: "local"}}}, http.StatusOK},
		{"all suppressed as repeats", alert.Result{Deliveries: []apitype.Delivery{}, Suppressed: []string{"ALICE"}}, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeRaiser{res: tc.res}
			w := call{"POST", "/alertmanager", bearer(opsToken), amWebhook}.do(t, NewHandler(f, testConfig()))
			if w.Code != tc.code {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.code, w.Body)
			}
			if tc.code == http.StatusBadGateway {
				body := decodeBody[deliveryFailure](t, w)
				if !strings.Contains(body.Error, "GHOST: no such name") || !strings.Contains(body.Error, "GONE: timeout") || len(body.Deliveries) != 2 {
					t.Errorf("502 body %s does not give every reason", w.Body)
				}
			}
		})
	}
}

// Serve answers on a real loopback socket and returns nil once its
// context ends.
func TestServe(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeRaiser{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, NewHandler(f, testConfig())) }()
	req, _ := http.NewRequest("POST", "http://"+ln.Addr().String()+"/backups", strings.NewReader("over the wire"))
	req.Header.Set("Authorization", "Bearer "+opsToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("status %s", resp.Status)
	}
	reqs := f.raised()
	if len(reqs) != 1 || !strings.HasPrefix(reqs[0].Origin, "127.0.0.1:") || reqs[0].Origin == ln.Addr().String() {
		t.Errorf("raised %+v; want one alert whose origin is the client's address", reqs)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve returned %v after its context ended", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after its context ended")
	}
}

// An untitled Gotify message takes the token's name, as Gotify gives it
// its application's name.
func TestGotifyUntitledTakesTheTokenName(t *testing.T) {
	f := &fakeRaiser{}
	w := call{"POST", "/message", map[string]string{"X-Gotify-Key": kumaToken, "Content-Type": "application/json"}, `{"message":"site down"}`}.do(t, NewHandler(f, testConfig()))
	if w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	if r := f.raised(); len(r) != 1 || r[0].Alert.Title != "kuma" {
		t.Errorf("raised %+v; want the title kuma", r)
	}
}

// Whatever a client sends, the handler answers with one of its statuses,
// raises an alert only when it answers 200, and never without a valid
// token.
func FuzzPublish(f *testing.F) {
	f.Add(uint8(1), "/alertmanager", "Bearer "+opsToken, "application/json", []byte(amWebhook))
	f.Add(uint8(0), "/backups", "Bearer "+opsToken, "", []byte("backup failed"))
	f.Add(uint8(1), "/", basic("", opsToken), "application/json", []byte(`{"topic":"x","message":"m","priority":5}`))
	f.Add(uint8(1), "/message?token="+opsToken, "", "application/x-www-form-urlencoded", []byte("title=t&message=m&priority=8"))
	f.Add(uint8(2), "/backups/publish?message=m&auth="+base64.RawURLEncoding.EncodeToString([]byte("Bearer "+opsToken)), "", "", []byte(nil))
	f.Add(uint8(1), "/message", "Bearer nope", "application/json", []byte(`{"message":"m"}`))
	methods := []string{"PUT", "POST", "GET", "DELETE", "HEAD"}
	// ServeMux redirects paths that are not clean ("/./x", "//x").
	statuses := map[int]bool{200: true, 301: true, 307: true, 308: true, 400: true, 401: true, 404: true, 405: true, 413: true}
	f.Fuzz(func(t *testing.T, method uint8, target, authorization, contentType string, body []byte) {
		u, err := url.ParseRequestURI(target)
		if err != nil || !strings.HasPrefix(target, "/") {
			return
		}
		// http.NewRequest, not httptest's, which panics on what a request
		// line cannot hold (a space in the target): such a request never
		// reaches a handler.
		r, err := http.NewRequest(methods[int(method)%len(methods)], "http://ingest.test"+u.RequestURI(), bytes.NewReader(body))
		if err != nil {
			return
		}
		r.RemoteAddr = "127.0.0.1:40000"
		r.Header.Set("Authorization", authorization)
		r.Header.Set("Content-Type", contentType)
		fr := &fakeRaiser{}
		w := httptest.NewRecorder()
		NewHandler(fr, testConfig()).ServeHTTP(w, r)
		if !statuses[w.Code] {
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
		raised := fr.raised()
		isHealth := slices.Contains([]string{"/v1/health", "/health", "/version"}, r.URL.Path)
		if w.Code == 200 && !isHealth && len(raised) != 1 {
			t.Fatalf("answered 200 having raised %d alerts", len(raised))
		}
		if w.Code != 200 && len(raised) != 0 {
			t.Fatalf("answered %d having raised %d alerts", w.Code, len(raised))
		}
		if len(raised) == 1 && (raised[0].Text == "" || raised[0].Origin != r.RemoteAddr ||
			raised[0].Alert.Source == "" || raised[0].Alert.Severity.Rank() < 0) {
			t.Fatalf("raised %+v", raised[0])
		}
		if w.Code == 200 && !isHealth {
			// The same request to a listener whose tokens are other
			// secrets must be refused: the 200 was the token's doing.
			other := testConfig()
			for i := range other.Tokens {
				other.Tokens[i].Hash = sha256.Sum256([]byte("other " + other.Tokens[i].Name))
			}
			again := r.Clone(context.Background())
			again.Body = io.NopCloser(bytes.NewReader(body))
			w2 := httptest.NewRecorder()
			NewHandler(&fakeRaiser{}, other).ServeHTTP(w2, again)
			if w2.Code != http.StatusUnauthorized {
				t.Fatalf("with other tokens the request got %d, want 401", w2.Code)
			}
		}
	})
}

// okLocal takes every local delivery.
type okLocal struct{}

func (okLocal) Deliver(context.Context, *message.Message) error { return nil }

// Every token is its own caller to the Alerter: one ntfy token past its
// rate limit leaves another ntfy token's budget whole, though both
// publish as source ntfy; and the raised requests name their token (the
// Alerter's own tests show de-duplication is per caller too).
func TestRateLimitAndDedupPerToken(t *testing.T) {
	a := &alert.Alerter{Local: okLocal{}, IsLocal: func(string) bool { return true }, HostName: "MSGHOST",
		RateLimit: 2, DedupWindow: time.Hour}
	h := NewHandler(a, testConfig())
	publish := func(token, text string) int {
		return call{"POST", "/backups", bearer(token), text}.do(t, h).Code
	}
	for i := range 5 {
		code := publish(opsToken, fmt.Sprint("flood ", i))
		if want := map[bool]int{true: http.StatusOK, false: http.StatusTooManyRequests}[i < 2]; code != want {
			t.Fatalf("ops publish %d: status %d, want %d", i, code, want)
		}
	}
	// kuma publishes as ntfy too, with its own budget.
	for i := range 2 {
		if code := publish(kumaToken, fmt.Sprint("flood ", i)); code != http.StatusOK {
			t.Errorf("kuma publish %d after ops's flood: status %d, want 200", i, code)
		}
	}
	if code := publish(opsToken, "still flooding"); code != http.StatusTooManyRequests {
		t.Errorf("ops again: status %d, want 429", code)
	}

	f := &fakeRaiser{}
	call{"POST", "/backups", bearer(opsToken), "m"}.do(t, NewHandler(f, testConfig()))
	call{"POST", "/message", map[string]string{"X-Gotify-Key": kumaToken, "Content-Type": "application/json"}, `{"message":"m"}`}.do(t, NewHandler(f, testConfig()))
	var callers []string
	for _, r := range f.raised() {
		callers = append(callers, r.Caller)
	}
	if want := []string{"ingest:ops", "ingest:kuma"}; !slices.Equal(callers, want) {
		t.Errorf("callers %q, want %q", callers, want)
	}
}
