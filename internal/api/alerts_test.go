package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netsend/messenger/internal/access"
	"github.com/netsend/messenger/internal/alert"
	"github.com/netsend/messenger/internal/apitype"
	"github.com/netsend/messenger/internal/message"
	"github.com/netsend/messenger/internal/webauth"
)

// fakeAlerter answers with err, or delivers to every name in To.
type fakeAlerter struct {
	got []alert.Request
	err error
}

func (f *fakeAlerter) Raise(ctx context.Context, req alert.Request) (alert.Result, error) {
	f.got = append(f.got, req)
	if f.err != nil {
		return alert.Result{}, f.err
	}
	var res alert.Result
	for _, to := range req.To {
		res.Deliveries = append(res.Deliveries, apitype.Delivery{To: to, Via: "local"})
	}
	res.Suppressed = []string{"CAROL"}
	return res, nil
}

func serveAlerts(t *testing.T, a Alerter) (*Client, string) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "api.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	// Whoever runs the tests must be allowed to alert, root or not.
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	cfg := access.DefaultConfig()
	cfg.AlertSenders = append(cfg.AlertSenders, me.Username)
	srv := testServer(&Server{Alerts: a, Rules: &access.Rules{Accounts: access.NewAccounts(cfg)}, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return NewClient(sock), sock
}

func TestAlertAPI(t *testing.T) {
	f := &fakeAlerter{}
	c, _ := serveAlerts(t, f)
	ctx := context.Background()
	req := alert.Request{Alert: message.Alert{Source: "nut", Severity: message.SeverityCritical, Title: "ONBATT"},
		Text: "on battery", To: []string{"ALICE", "BOB"}, Origin: "203.0.113.9:4000"}
	res, err := c.Alert(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Deliveries) != 2 || res.Deliveries[1].To != "BOB" || len(res.Suppressed) != 1 || res.Suppressed[0] != "CAROL" {
		t.Errorf("result %+v", res)
	}
	if len(f.got) != 1 {
		t.Fatalf("alerter got %d requests", len(f.got))
	}
	got := f.got[0]
	if got.Origin != "local" {
		t.Errorf("origin %q reached the alerter; the API must force local", got.Origin)
	}
	// The test is the socket's peer: its uid is the caller's key.
	if want := fmt.Sprintf("uid:%d", os.Getuid()); got.Caller != want {
		t.Errorf("caller %q reached the alerter, want %q", got.Caller, want)
	}
	if got.Alert != req.Alert || got.Text != req.Text || strings.Join(got.To, ",") != "ALICE,BOB" {
		t.Errorf("alerter got %+v, want %+v", got, req)
	}

	for _, tc := range []struct {
		err    error
		status int
		code   string
	}{
		{fmt.Errorf("alert: %w: the alert text is empty", message.ErrInvalid), http.StatusBadRequest, apitype.CodeBadRequest},
		{fmt.Errorf("%w: source %q", alert.ErrNoRecipient, "nut"), http.StatusUnprocessableEntity, apitype.CodeNoRecipient},
		{fmt.Errorf("%w: too many", alert.ErrRateLimited), http.StatusTooManyRequests, apitype.CodeRateLimited},
	} {
		f.err = tc.err
		_, err := c.Alert(ctx, req)
		var rerr *RequestError
		if !errors.As(err, &rerr) || rerr.Code != tc.code || rerr.Status != tc.status || rerr.Msg != tc.err.Error() {
			t.Errorf("%v: client error %#v, want a RequestError %d %q with the message", tc.err, err, tc.status, tc.code)
		}
	}
	f.err = errors.New("disk on fire")
	if _, err := c.Alert(ctx, req); err == nil || strings.Contains(err.Error(), "disk on fire") {
		t.Errorf("internal error answered %v; want a generic error", err)
	}
}

func TestAlertAPIBadBodies(t *testing.T) {
	f := &fakeAlerter{}
	c, sock := serveAlerts(t, f)
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}}
	for _, tc := range []struct {
		name, body string
		status     int
		code       string
	}{
		{"not JSON", "on battery", http.StatusBadRequest, apitype.CodeBadRequest},
		{"unknown field", `{"alert": {"source": "nut", "severity": "info"}, "text": "x", "priority": 5}`, http.StatusBadRequest, apitype.CodeBadRequest},
		{"wrong type", `{"alert": "nut", "text": "x"}`, http.StatusBadRequest, apitype.CodeBadRequest},
		{"too large", `{"alert": {"source": "nut", "severity": "info"}, "text": "` + strings.Repeat("x", MaxAlertBody) + `"}`, http.StatusRequestEntityTooLarge, apitype.CodeTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := hc.Post("http://messenger/v1/alerts", "application/json", bytes.NewReader([]byte(tc.body)))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status || !strings.Contains(string(b), `"code":"`+tc.code+`"`) {
				t.Errorf("answer %d %s, want %d with code %q", resp.StatusCode, b, tc.status, tc.code)
			}
		})
	}
	if len(f.got) != 0 {
		t.Errorf("bad bodies reached the alerter: %+v", f.got)
	}
	// The client keeps the code of a 413.
	_, err := c.Alert(context.Background(), alert.Request{Alert: message.Alert{Source: "nut", Severity: message.SeverityInfo}, Text: strings.Repeat("x", MaxAlertBody)})
	var rerr *RequestError
	if !errors.As(err, &rerr) || rerr.Code != apitype.CodeTooLarge || rerr.Status != http.StatusRequestEntityTooLarge {
		t.Errorf("client error %#v, want a RequestError too_large 413", err)
	}
}

func TestAlertAPIWithoutAlerter(t *testing.T) {
	c, _ := serve(t)
	_, err := c.Alert(context.Background(), alert.Request{Alert: message.Alert{Source: "nut", Severity: message.SeverityInfo}, Text: "x"})
	if err == nil || !strings.Contains(err.Error(), "raises no alerts") {
		t.Errorf("Alert without an alerter: %v", err)
	}
}

// serveAlertsAs serves the alerts API over loopback HTTP with every
// request coming from c, under [access] alert_senders senders.
func serveAlertsAs(t *testing.T, a Alerter, c access.Caller, senders []string) *Client {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := access.DefaultConfig()
	cfg.AlertSenders = senders
	srv := &http.Server{Handler: webauth.Guard((&Server{Alerts: a, Credentials: fixedCaller{c},
		Rules: &access.Rules{Accounts: access.NewAccounts(cfg)}, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}).Handler())}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return NewHTTPClient(ln.Addr().String(), "")
}

// Raising an alert is for admins and [access] alert_senders: anyone else
// is refused with 403 forbidden and one sentence, and the Alerter never
// hears of it (no budget spent). Those allowed reach it with their own
// caller key.
func TestAlertAPIRefusesNonSenders(t *testing.T) {
	req := alert.Request{Alert: message.Alert{Source: "nut", Severity: message.SeverityCritical}, Text: "on battery", To: []string{"ALICE"}}
	senders := []string{"nut", "@lpadmin"}
	for _, tc := range []struct {
		name   string
		caller access.Caller
		ok     bool
	}{
		{"plain user", access.Caller{UID: 1000, Login: "alice", Groups: []string{"alice", "users"}, Via: "token", Token: "t1"}, false},
		{"named sender", access.Caller{UID: 110, Login: "nut", Groups: []string{"nut"}, Via: "socket"}, true},
		{"group sender", access.Caller{UID: 1001, Login: "bob", Groups: []string{"bob", "lpadmin"}, Via: "socket"}, true},
		{"admin", access.Caller{UID: 1002, Login: "carol", Admin: true, Via: "session"}, true},
		// The default senders do not apply once the list is replaced.
		{"lp not listed", access.Caller{UID: 7, Login: "lp", Groups: []string{"lp"}, Via: "socket"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeAlerter{}
			c := serveAlertsAs(t, f, tc.caller, senders)
			_, err := c.Alert(context.Background(), req)
			if tc.ok {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if len(f.got) != 1 || f.got[0].Caller != tc.caller.Key() {
					t.Errorf("alerter got %+v; want one request from caller %q", f.got, tc.caller.Key())
				}
				return
			}
			var rerr *RequestError
			if !errors.As(err, &rerr) || rerr.Status != http.StatusForbidden || rerr.Code != apitype.CodeForbidden {
				t.Fatalf("error %#v, want a RequestError 403 %q", err, apitype.CodeForbidden)
			}
			if want := tc.caller.Login + " may not raise alerts"; !strings.HasPrefix(rerr.Msg, want) || strings.Count(rerr.Msg, ". ") != 0 {
				t.Errorf("refusal %q, want one sentence starting %q", rerr.Msg, want)
			}
			if len(f.got) != 0 {
				t.Errorf("a refused caller reached the alerter: %+v", f.got)
			}
		})
	}
}
