package cupsnotify

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netsend/messenger/internal/alert"
	"github.com/netsend/messenger/internal/apitype"
	"github.com/netsend/messenger/internal/ipp"
)

func TestIsCUPSNotifier(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want bool
	}{
		{[]string{"/usr/lib/cups/notifier/messenger", "messenger://ALICE", ""}, true},
		{[]string{"/usr/lib/cups/notifier/messenger", "MESSENGER://", "dXNlcg=="}, true},
		{[]string{"messenger", "messenger://ALICE"}, false},
		{[]string{"messenger", "send", "ALICE"}, false},
		{[]string{"messenger", "mailto:x", ""}, false},
		{[]string{"messenger", "messenger:", ""}, true}, // refused later, with a reason
	} {
		if got := IsNotifier(tt.args); got != tt.want {
			t.Errorf("IsNotifier(%q) = %v, want %v", tt.args, got, tt.want)
		}
	}
}

// event encodes an event notification the way cupsd writes one.
func event(t *testing.T, attrs ...ipp.Attribute) []byte {
	t.Helper()
	m := ipp.Message{Version: ipp.Version{Major: 2}, Groups: []ipp.Group{{Tag: ipp.TagEventNotification, Attributes: attrs}}}
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func kw(name, v string) ipp.Attribute {
	return ipp.Attribute{Name: name, Values: []ipp.Value{ipp.String(ipp.TagKeyword, v)}}
}

func nm(name, v string) ipp.Attribute {
	return ipp.Attribute{Name: name, Values: []ipp.Value{ipp.String(ipp.TagName, v)}}
}

func num(name string, tag ipp.Tag, n int32) ipp.Attribute {
	return ipp.Attribute{Name: name, Values: []ipp.Value{ipp.Integer(tag, n)}}
}

func jobCompleted(t *testing.T, id int32, name string) []byte {
	return event(t, num("notify-sequence-number", ipp.TagInteger, id), kw("notify-subscribed-event", "job-completed"),
		nm("printer-name", "LASER1"), num("notify-job-id", ipp.TagInteger, id), num("job-state", ipp.TagEnum, 9), nm("job-name", name))
}

// TestCUPSNotifierLoop runs the loop over a stream like cupsd's: a bad
// event is an ERROR line and the events after it are still delivered; an
// owner cupsd will not name leaves the alert to the routing; a stream
// that stops being IPP ends the notifier with an error.
func TestCUPSNotifierLoop(t *testing.T) {
	stream := bytes.Join([][]byte{
		jobCompleted(t, 5, "report.pdf"),
		event(t, nm("printer-name", "LASER1")), // no notify-subscribed-event
		jobCompleted(t, 6, "secret.pdf"),
		event(t, kw("notify-subscribed-event", "printer-stopped"), nm("printer-name", "LASER1")),
		jobCompleted(t, 7, "undeliverable.pdf"),
		[]byte("not IPP at all"),
		jobCompleted(t, 8, "never read.pdf"),
	}, nil)
	var got []alert.Request
	var log bytes.Buffer
	n := &cupsNotifier{
		recipientURI: "messenger://",
		log:          &log,
		owner: func(_ context.Context, id int) (string, error) {
			switch id {
			case 5, 7:
				return "alice", nil
			}
			return "", errors.New("cupsd withheld job-originating-user-name")
		},
		raise: func(_ context.Context, req alert.Request) (alert.Result, error) {
			got = append(got, req)
			if strings.Contains(req.Text, "undeliverable") {
				return alert.Result{Deliveries: []apitype.Delivery{{To: "alice", Code: "not_found", Error: "no such name"}}}, nil
			}
			return alert.Result{Deliveries: []apitype.Delivery{{To: strings.Join(req.To, ","), Via: "local"}}}, nil
		},
	}
	err := n.run(context.Background(), bytes.NewReader(stream))
	if err == nil {
		t.Fatal("run ended without error on a stream that stopped being IPP")
	}
	want := []struct {
		to   []string
		text string
	}{
		{[]string{"alice"}, `job completed: "report.pdf" (job 5) on LASER1`},
		{nil, `job completed: "secret.pdf" (job 6) on LASER1`},
		{nil, "printer stopped: LASER1"},
		{[]string{"alice"}, `job completed: "undeliverable.pdf" (job 7) on LASER1`},
	}
	if len(got) != len(want) {
		t.Fatalf("%d alerts raised, want %d: %+v\nlog:\n%s", len(got), len(want), got, log.String())
	}
	for i, w := range want {
		if strings.Join(got[i].To, ",") != strings.Join(w.to, ",") || got[i].Text != w.text || got[i].Alert.Source != "cups" {
			t.Errorf("alert %d = %+v, want to %q, text %q, source cups", i+1, got[i], w.to, w.text)
		}
	}
	lines := strings.Split(strings.TrimSpace(log.String()), "\n")
	var errs []string
	for _, l := range lines {
		if strings.HasPrefix(l, "ERROR: ") {
			errs = append(errs, l)
		} else if !strings.HasPrefix(l, "DEBUG: ") {
			t.Errorf("log line %q has no level prefix cupsd knows", l)
		}
	}
	for i, want := range []string{"notify-subscribed-event", "owner of job 6", "not_found", "reading the event stream"} {
		if i >= len(errs) || !strings.Contains(errs[i], want) {
			t.Errorf("ERROR line %d should say %q; log:\n%s", i+1, want, log.String())
		}
	}
}

// TestCUPSJobOwner asks a fake cupsd on a domain socket and checks the
// request it gets and how each kind of answer is read.
func TestCUPSJobOwner(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "cups.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	answer := func(code uint16, attrs ...ipp.Attribute) []byte {
		groups := []ipp.Group{{Tag: ipp.TagOperation, Attributes: []ipp.Attribute{
			{Name: "attributes-charset", Values: []ipp.Value{ipp.String(ipp.TagCharset, "utf-8")}},
		}}}
		if len(attrs) > 0 {
			groups = append(groups, ipp.Group{Tag: ipp.TagJob, Attributes: attrs})
		}
		b, err := ipp.Message{Version: ipp.Version{Major: 2}, Code: code, RequestID: 1, Groups: groups}.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req, _, err := ipp.Decode(body)
		if err != nil || req.Code != ipp.OpGetJobAttributes || r.Header.Get("Content-Type") != "application/ipp" ||
			!strings.HasPrefix(r.Header.Get("Authorization"), "PeerCred ") {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		uri, _ := req.Text("job-uri")
		w.Header().Set("Content-Type", "application/ipp")
		switch uri {
		case "ipp://localhost/jobs/1":
			w.Write(answer(ipp.StatusOK, nm("job-originating-user-name", "alice")))
		case "ipp://localhost/jobs/2":
			w.Write(answer(ipp.StatusOK)) // withheld: private
		case "ipp://localhost/jobs/3":
			w.Write(answer(0x0406)) // client-error-not-found
		default:
			w.Write([]byte("garbage"))
		}
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	owner := cupsJobOwner(sock, "")
	ctx := context.Background()
	if got, err := owner(ctx, 1); err != nil || got != "alice" {
		t.Errorf("job 1: %q, %v; want alice", got, err)
	}
	for id, want := range map[int]string{2: "JobPrivateAccess", 3: "status 0x0406", 4: "cupsd's answer"} {
		if got, err := owner(ctx, id); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("job %d: %q, %v; want an error saying %q", id, got, err, want)
		}
	}
	if _, err := cupsJobOwner(filepath.Join(t.TempDir(), "none.sock"), "")(ctx, 1); err == nil {
		t.Error("no cupsd: no error")
	}
}
