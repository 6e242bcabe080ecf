package api

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"

	"github.com/netsend/messenger/internal/access"
	"github.com/netsend/messenger/internal/alert"
	"github.com/netsend/messenger/internal/message"
	"github.com/netsend/messenger/internal/webauth"
)

// TestHTTPClientThroughGuard raises an alert through the loopback HTTP
// listener's guard, as a script with a token does: the guard lets the
// change through only with RequestHeader, which the client must send.
func TestHTTPClientThroughGuard(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeAlerter{}
	srv := &http.Server{Handler: webauth.Guard((&Server{Alerts: f, Credentials: fixedCaller{root}, Rules: &access.Rules{Accounts: access.NewAccounts(access.DefaultConfig())}, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}).Handler())}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	c := NewHTTPClient(ln.Addr().String(), "")
	res, err := c.Alert(context.Background(), alert.Request{Alert: message.Alert{Source: "cups", Severity: message.SeverityInfo},
		Text: "job completed", To: []string{"ALICE"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.got) != 1 || len(res.Deliveries) != 1 || res.Deliveries[0].To != "ALICE" {
		t.Fatalf("alerter got %+v, client got %+v", f.got, res)
	}

	srv.Close()
	if _, err := c.Alert(context.Background(), alert.Request{}); err == nil {
		t.Error("no error once the listener is gone")
	}
}
