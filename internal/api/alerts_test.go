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
	"path/filepath"
	"strings"
	"testing"

	"github.com/netsend/messenger/internal/alert"
	"github.com/netsend/messenger/internal/message"
	"github.com/netsend/messenger/internal/sender"
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
		res.Deliveries = append(res.Deliveries, sender.Delivery{To: to, Via: "local"})
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
	srv := testServer(&Server{Alerts: a, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
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
	if got.Alert != req.Alert || got.Text != req.Text || strings.Join(got.To, ",") != "ALICE,BOB" {
		t.Errorf("alerter got %+v, want %+v", got, req)
	}

	for _, tc := range []struct {
		err    error
		status int
		code   string
	}{
		{fmt.Errorf("alert: %w: the alert text is empty", message.ErrInvalid), http.StatusBadRequest, sender.CodeBadRequest},
		{fmt.Errorf("%w: source %q", alert.ErrNoRecipient, "nut"), http.StatusUnprocessableEntity, CodeNoRecipient},
		{fmt.Errorf("%w: too many", alert.ErrRateLimited), http.StatusTooManyRequests, CodeRateLimited},
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
		{"not JSON", "on battery", http.StatusBadRequest, sender.CodeBadRequest},
		{"unknown field", `{"alert": {"source": "nut", "severity": "info"}, "text": "x", "priority": 5}`, http.StatusBadRequest, sender.CodeBadRequest},
		{"wrong type", `{"alert": "nut", "text": "x"}`, http.StatusBadRequest, sender.CodeBadRequest},
		{"too large", `{"alert": {"source": "nut", "severity": "info"}, "text": "` + strings.Repeat("x", MaxAlertBody) + `"}`, http.StatusRequestEntityTooLarge, CodeTooLarge},
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
	if !errors.As(err, &rerr) || rerr.Code != CodeTooLarge || rerr.Status != http.StatusRequestEntityTooLarge {
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
