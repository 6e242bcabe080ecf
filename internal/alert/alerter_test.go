package alert

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/netsend/messenger/internal/apitype"
	"github.com/netsend/messenger/internal/message"
	"github.com/netsend/messenger/internal/pipeline"
)

// fakeLocal stands for the pipeline: it records what it delivered and
// fails the names in fail.
type fakeLocal struct {
	mu   sync.Mutex
	got  []message.Message
	fail map[string]error
	// arrived, when set, hears of each delivery before it returns, and
	// the delivery waits for release.
	arrived chan string
	release chan struct{}
}

func (f *fakeLocal) Deliver(ctx context.Context, m *message.Message) error {
	if err := message.Validate(m); err != nil {
		return err
	}
	if f.arrived != nil {
		f.arrived <- m.To
		<-f.release
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail[m.To]; err != nil {
		return err
	}
	f.got = append(f.got, *m)
	return nil
}

func (f *fakeLocal) to() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, m := range f.got {
		out = append(out, m.To)
	}
	return out
}

// fakeRemote stands for the sender.
type fakeRemote struct {
	mu   sync.Mutex
	got  []apitype.SendRequest
	fail map[string]string // name → code
	err  error             // a request-level error for every send
}

func (f *fakeRemote) Send(ctx context.Context, req apitype.SendRequest) ([]apitype.Delivery, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	f.got = append(f.got, req)
	d := apitype.Delivery{To: req.To, Via: "smb", Addr: "127.0.0.1:139"}
	if code := f.fail[req.To]; code != "" {
		d.Code, d.Error = code, "failed"
	}
	return []apitype.Delivery{d}, nil
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// ours are the names of this host in every test.
var ours = []string{"MSGHOST", "ALICE", "BOB", "CAROL"}

func newTestAlerter() (*Alerter, *fakeLocal, *fakeRemote, *clock) {
	l, r, c := &fakeLocal{fail: map[string]error{}}, &fakeRemote{fail: map[string]string{}}, &clock{t: time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)}
	a := &Alerter{
		Local: l, Remote: r, HostName: "MSGHOST", Now: c.now,
		IsLocal: func(n string) bool { return slices.Contains(ours, n) },
		CheckName: func(n string) error {
			if len(n) > 15 || strings.ContainsAny(n, "*?") {
				return errors.New("not a NetBIOS name")
			}
			return nil
		},
	}
	return a, l, r, c
}

func req(source string, sev message.Severity, text string) Request {
	return Request{Alert: message.Alert{Source: source, Severity: sev}, Text: text}
}

func deliveredTo(res Result) []string {
	var out []string
	for _, d := range res.Deliveries {
		if d.OK() {
			out = append(out, d.To)
		}
	}
	return out
}

func TestDefaultRouteIsTheHost(t *testing.T) {
	a, l, r, _ := newTestAlerter()
	r0 := req("test", message.SeverityCritical, "disk full")
	r0.Alert.Title = "sda1"
	res, err := a.Raise(context.Background(), r0)
	if err != nil {
		t.Fatal(err)
	}
	if got := deliveredTo(res); !slices.Equal(got, []string{"MSGHOST"}) || len(res.Suppressed) != 0 {
		t.Fatalf("result %+v, want one delivery to MSGHOST", res)
	}
	if len(l.got) != 1 || len(r.got) != 0 {
		t.Fatalf("local %d, remote %d deliveries; want 1 local", len(l.got), len(r.got))
	}
	m := l.got[0]
	if m.Transport != message.TransportAlert || m.From != "MSGHOST" || m.To != "MSGHOST" || m.Text != "disk full" || m.Source != "local" {
		t.Errorf("message %+v", m)
	}
	if m.Alert == nil || *m.Alert != r0.Alert {
		t.Errorf("message alert %v, want %+v", m.Alert, r0.Alert)
	}
	if res.Deliveries[0].Via != "local" {
		t.Errorf("via %q, want local", res.Deliveries[0].Via)
	}
}

func TestFromAndOrigin(t *testing.T) {
	a, l, _, _ := newTestAlerter()
	a.From = "UPSMON"
	r0 := req("nut", message.SeverityWarning, "on battery")
	r0.Origin = "127.0.0.1:50000"
	if _, err := a.Raise(context.Background(), r0); err != nil {
		t.Fatal(err)
	}
	if m := l.got[0]; m.From != "UPSMON" || m.Source != "127.0.0.1:50000" {
		t.Errorf("from %q source %q, want UPSMON and the origin", m.From, m.Source)
	}
}

func TestRoutingUnionAndGroups(t *testing.T) {
	a, _, _, _ := newTestAlerter()
	a.Groups = map[string][]string{"Admins": {"alice", "BOB"}}
	a.Routes = []Route{
		{Sources: []string{"nut"}, MinSeverity: message.SeverityWarning, To: []string{"ADMINS"}},
		{MinSeverity: message.SeverityCritical, To: []string{"CAROL", "alice"}},
		{Sources: []string{"CLAMAV"}, To: []string{"MSGHOST"}},
	}
	for _, tc := range []struct {
		source string
		sev    message.Severity
		want   []string // nil: no recipient
	}{
		{"nut", message.SeverityCritical, []string{"ALICE", "BOB", "CAROL"}},
		{"nut", message.SeverityWarning, []string{"ALICE", "BOB"}},
		{"nut", message.SeverityInfo, nil},
		{"clamav", message.SeverityInfo, []string{"MSGHOST"}},
		{"clamav", message.SeverityCritical, []string{"CAROL", "ALICE", "MSGHOST"}},
		{"systemd", message.SeverityCritical, []string{"CAROL", "ALICE"}},
		{"systemd", message.SeverityWarning, nil},
	} {
		t.Run(fmt.Sprint(tc.source, " ", tc.sev), func(t *testing.T) {
			res, err := a.Raise(context.Background(), req(tc.source, tc.sev, "text of "+tc.source+string(tc.sev)))
			if tc.want == nil {
				if !errors.Is(err, ErrNoRecipient) {
					t.Fatalf("Raise = %+v, %v; want ErrNoRecipient", res, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := deliveredTo(res); !slices.Equal(got, tc.want) {
				t.Errorf("delivered to %v, want %v", got, tc.want)
			}
		})
	}
}

func TestToOverridesRouting(t *testing.T) {
	a, l, r, _ := newTestAlerter()
	a.Groups = map[string][]string{"ops": {"CAROL", "FARHOST"}}
	a.Routes = []Route{{To: []string{"ALICE"}}}
	r0 := req("nut", message.SeverityCritical, "UPS ups1 on battery")
	r0.Alert.Title = "ONBATT"
	r0.To = []string{"bob", "OPS", "Bob"}
	res, err := a.Raise(context.Background(), r0)
	if err != nil {
		t.Fatal(err)
	}
	if got := deliveredTo(res); !slices.Equal(got, []string{"BOB", "CAROL", "FARHOST"}) {
		t.Fatalf("delivered to %v, want BOB, CAROL, FARHOST and not the route's ALICE", got)
	}
	if got := l.to(); slices.Contains(got, "ALICE") || len(got) != 2 {
		t.Errorf("local deliveries to %v", got)
	}
	// The remote host knows nothing of alert fields: the mark is in the
	// text.
	if len(r.got) != 1 {
		t.Fatalf("remote requests %+v, want one", r.got)
	}
	if g := r.got[0]; g.To != "FARHOST" || g.From != "MSGHOST" || g.Text != "[ALERT critical nut] ONBATT\nUPS ups1 on battery" {
		t.Errorf("remote request %+v", g)
	}
	if res.Deliveries[2].Via != "smb" || res.Deliveries[2].Addr == "" {
		t.Errorf("remote delivery %+v does not come from the sender", res.Deliveries[2])
	}
}

func TestRemoteText(t *testing.T) {
	r0 := req("alertmanager", message.SeverityWarning, "all good")
	r0.Alert.Status = message.AlertResolved
	if got := RemoteText(&r0); got != "[RESOLVED warning alertmanager] all good" {
		t.Errorf("RemoteText = %q", got)
	}
}

func TestDedupAndResolved(t *testing.T) {
	a, l, _, c := newTestAlerter()
	a.DedupWindow = 5 * time.Minute
	ctx := context.Background()
	raise := func(status message.AlertStatus, key, text string) Result {
		t.Helper()
		r0 := req("nut", message.SeverityCritical, text)
		r0.Alert.Status, r0.Alert.Key = status, key
		r0.To = []string{"ALICE"}
		res, err := a.Raise(ctx, r0)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	shown := func(res Result) bool {
		t.Helper()
		if len(res.Deliveries)+len(res.Suppressed) != 1 {
			t.Fatalf("result %+v has not exactly one outcome", res)
		}
		return len(res.Deliveries) == 1
	}
	steps := []struct {
		advance time.Duration
		status  message.AlertStatus
		key     string
		text    string
		shown   bool
		why     string
	}{
		{0, message.AlertFiring, "ups1", "on battery", true, "first firing"},
		{time.Minute, message.AlertFiring, "ups1", "on battery", false, "same key, status and text within the window"},
		{0, message.AlertFiring, "ups1", "battery low", true, "same key and status, other text: the condition changed"},
		{0, message.AlertFiring, "ups1", "battery low", false, "the changed condition repeated"},
		{0, "", "ups1", "on battery", true, "another status"},
		{time.Minute, message.AlertResolved, "ups1", "on line power", true, "resolved"},
		{0, message.AlertResolved, "ups1", "on line power", false, "resolved again"},
		{0, message.AlertFiring, "ups1", "on battery", true, "firing after resolved shows again"},
		{0, message.AlertResolved, "ups1", "on line power", true, "resolved after the new firing shows again"},
		{0, message.AlertFiring, "ups2", "on battery", true, "another key"},
		{4 * time.Minute, message.AlertFiring, "ups2", "on battery", false, "just inside the window"},
		{time.Minute, message.AlertFiring, "ups2", "on battery", true, "the window has passed"},
		{0, "", "", "plain text", true, "no key: source, title and text"},
		{0, "", "", "plain text", false, "no key, same text"},
		{0, "", "", "other text", true, "no key, other text"},
	}
	for _, s := range steps {
		c.t = c.t.Add(s.advance)
		if got := shown(raise(s.status, s.key, s.text)); got != s.shown {
			t.Errorf("%s: shown %v, want %v", s.why, got, s.shown)
		}
	}
	want := 0
	for _, s := range steps {
		if s.shown {
			want++
		}
	}
	if len(l.got) != want {
		t.Errorf("%d messages delivered, want %d", len(l.got), want)
	}

	// Window 0 shows every repeat.
	a2, l2, _, _ := newTestAlerter()
	for range 3 {
		if _, err := a2.Raise(ctx, req("test", message.SeverityInfo, "same")); err != nil {
			t.Fatal(err)
		}
	}
	if len(l2.got) != 3 {
		t.Errorf("without a window %d of 3 repeats delivered", len(l2.got))
	}
}

func TestDedupIsPerRecipient(t *testing.T) {
	a, _, _, _ := newTestAlerter()
	a.DedupWindow = time.Hour
	r0 := req("nut", message.SeverityCritical, "on battery")
	r0.To = []string{"ALICE"}
	if _, err := a.Raise(context.Background(), r0); err != nil {
		t.Fatal(err)
	}
	r0.To = []string{"ALICE", "BOB"}
	res, err := a.Raise(context.Background(), r0)
	if err != nil {
		t.Fatal(err)
	}
	if got := deliveredTo(res); !slices.Equal(got, []string{"BOB"}) || !slices.Equal(res.Suppressed, []string{"ALICE"}) {
		t.Errorf("result %+v, want BOB delivered and ALICE spared", res)
	}
}

func TestPartialFailureRetry(t *testing.T) {
	a, l, r, _ := newTestAlerter()
	a.DedupWindow = time.Hour
	l.fail["BOB"] = pipeline.ErrDropped
	l.fail["CAROL"] = errors.New("store: disk I/O error")
	r.fail["FARHOST"] = apitype.CodeNameNotFound
	r0 := req("nut", message.SeverityCritical, "on battery")
	r0.To = []string{"ALICE", "BOB", "CAROL", "FARHOST"}
	res, err := a.Raise(context.Background(), r0)
	if err != nil {
		t.Fatal(err)
	}
	codes := map[string]string{}
	for _, d := range res.Deliveries {
		codes[d.To] = d.Code
	}
	want := map[string]string{"ALICE": "", "BOB": apitype.CodeNotAccepting, "CAROL": apitype.CodeNetwork, "FARHOST": apitype.CodeNameNotFound}
	if fmt.Sprint(codes) != fmt.Sprint(want) {
		t.Errorf("codes %v, want %v", codes, want)
	}
	// The retry reaches only those who failed.
	clear(l.fail)
	clear(r.fail)
	res, err = a.Raise(context.Background(), r0)
	if err != nil {
		t.Fatal(err)
	}
	if got := deliveredTo(res); !slices.Equal(got, []string{"BOB", "CAROL", "FARHOST"}) || !slices.Equal(res.Suppressed, []string{"ALICE"}) {
		t.Errorf("retry %+v, want BOB, CAROL and FARHOST delivered, ALICE spared", res)
	}
	// Deliveries to several names run at once, in any order.
	if got := l.to(); !slices.Equal(slices.Sorted(slices.Values(got)), []string{"ALICE", "BOB", "CAROL"}) {
		t.Errorf("local deliveries %v; ALICE must have been shown once", got)
	}
	// And now everyone was told.
	res, err = a.Raise(context.Background(), r0)
	if err != nil || len(res.Deliveries) != 0 || len(res.Suppressed) != 4 {
		t.Errorf("third raise %+v, %v; want all four spared", res, err)
	}
}

func TestRemoteRequestError(t *testing.T) {
	a, _, r, _ := newTestAlerter()
	a.DedupWindow = time.Hour
	r.err = &apitype.SendError{Code: apitype.CodeUnencodable, Msg: "the sender name cannot be written in CP850"}
	r0 := req("nut", message.SeverityCritical, "on battery")
	r0.To = []string{"FARHOST"}
	res, err := a.Raise(context.Background(), r0)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Deliveries) != 1 || res.Deliveries[0].Code != apitype.CodeUnencodable {
		t.Fatalf("result %+v, want the sender's code", res)
	}
	r.err = nil
	if res, _ := a.Raise(context.Background(), r0); len(deliveredTo(res)) != 1 {
		t.Errorf("a failure was remembered as shown: %+v", res)
	}
}

func TestRateLimit(t *testing.T) {
	a, l, _, c := newTestAlerter()
	a.RateLimit = 2
	ctx := context.Background()
	for i := range 2 {
		if _, err := a.Raise(ctx, req("nut", message.SeverityInfo, fmt.Sprint("n", i))); err != nil {
			t.Fatalf("alert %d within the burst: %v", i, err)
		}
	}
	res, err := a.Raise(ctx, req("nut", message.SeverityInfo, "one too many"))
	if !errors.Is(err, ErrRateLimited) || len(res.Deliveries) != 0 {
		t.Fatalf("third alert: %+v, %v; want ErrRateLimited", res, err)
	}
	if len(l.got) != 2 {
		t.Errorf("%d delivered, want 2", len(l.got))
	}
	// Another source has its own bucket.
	if _, err := a.Raise(ctx, req("clamav", message.SeverityInfo, "x")); err != nil {
		t.Errorf("another source: %v", err)
	}
	// Two a minute: one token back after 30 seconds.
	c.t = c.t.Add(30 * time.Second)
	if _, err := a.Raise(ctx, req("nut", message.SeverityInfo, "after 30s")); err != nil {
		t.Errorf("after 30s: %v", err)
	}
	if _, err := a.Raise(ctx, req("nut", message.SeverityInfo, "again")); !errors.Is(err, ErrRateLimited) {
		t.Errorf("second after 30s: %v, want ErrRateLimited", err)
	}
}

// Each caller has its own bucket for a source: a caller that used up its
// budget for "nut" leaves another caller's budget for "nut" whole, and
// the exhausted caller stays refused.
func TestRateLimitIsPerCaller(t *testing.T) {
	a, l, _, _ := newTestAlerter()
	a.RateLimit = 3
	ctx := context.Background()
	from := func(caller, text string) Request {
		r := req("nut", message.SeverityInfo, text)
		r.Caller = caller
		return r
	}
	for i := range 10 {
		_, err := a.Raise(ctx, from("uid:1000", fmt.Sprint("flood ", i)))
		if i < 3 && err != nil {
			t.Fatalf("alert %d of caller A within the burst: %v", i, err)
		}
		if i >= 3 && !errors.Is(err, ErrRateLimited) {
			t.Fatalf("alert %d of caller A past the burst: %v, want ErrRateLimited", i, err)
		}
	}
	for i := range 3 {
		if _, err := a.Raise(ctx, from("uid:0", fmt.Sprint("ONBATT ", i))); err != nil {
			t.Errorf("alert %d of caller B after A's flood: %v; B's budget must be its own", i, err)
		}
	}
	// The same account with a token is another caller again.
	if _, err := a.Raise(ctx, from("uid:1000/token:backup", "via token")); err != nil {
		t.Errorf("caller A's token after A's flood: %v", err)
	}
	if _, err := a.Raise(ctx, from("uid:1000", "still flooding")); !errors.Is(err, ErrRateLimited) {
		t.Errorf("caller A again: %v, want ErrRateLimited", err)
	}
	if n := len(l.got); n != 3+3+1 {
		t.Errorf("%d delivered, want 7", n)
	}
}

// De-duplication is per caller: an alert one caller raised does not hide
// the same alert (same key, status and text) raised by another, while
// each caller's own repeats are still held back.
func TestDedupIsPerCaller(t *testing.T) {
	a, l, _, _ := newTestAlerter()
	a.DedupWindow = time.Hour
	ctx := context.Background()
	from := func(caller string) Request {
		r := req("nut", message.SeverityCritical, "UPS ups1 on battery")
		r.Alert.Key, r.Alert.Status = "ups1", message.AlertFiring
		r.To = []string{"ALICE"}
		r.Caller = caller
		return r
	}
	if res, err := a.Raise(ctx, from("uid:1000")); err != nil || len(deliveredTo(res)) != 1 {
		t.Fatalf("caller A: %+v, %v", res, err)
	}
	res, err := a.Raise(ctx, from("uid:1000"))
	if err != nil || len(res.Deliveries) != 0 || !slices.Equal(res.Suppressed, []string{"ALICE"}) {
		t.Errorf("caller A's repeat: %+v, %v; want ALICE spared", res, err)
	}
	res, err = a.Raise(ctx, from("uid:110"))
	if err != nil || !slices.Equal(deliveredTo(res), []string{"ALICE"}) || len(res.Suppressed) != 0 {
		t.Errorf("caller B's same alert: %+v, %v; want it delivered", res, err)
	}
	res, err = a.Raise(ctx, from("uid:110"))
	if err != nil || len(res.Deliveries) != 0 || !slices.Equal(res.Suppressed, []string{"ALICE"}) {
		t.Errorf("caller B's repeat: %+v, %v; want ALICE spared", res, err)
	}
	// A resolved from caller A clears only A's memory: B's repeat is
	// still a repeat.
	r := from("uid:1000")
	r.Alert.Status = message.AlertResolved
	if _, err := a.Raise(ctx, r); err != nil {
		t.Fatal(err)
	}
	if res, _ := a.Raise(ctx, from("uid:110")); len(res.Deliveries) != 0 {
		t.Errorf("caller B's repeat after A resolved: %+v; want it spared", res)
	}
	if res, _ := a.Raise(ctx, from("uid:1000")); !slices.Equal(deliveredTo(res), []string{"ALICE"}) {
		t.Errorf("caller A firing after its resolved: %+v; want it shown", res)
	}
	if n := len(l.got); n != 4 {
		t.Errorf("%d delivered, want 4", n)
	}
}

// Bad input is refused before anything happens: nothing is delivered,
// no rate token is spent and nothing is remembered as shown.
func TestBadInputChangesNothing(t *testing.T) {
	a, l, r, _ := newTestAlerter()
	a.RateLimit = 1
	a.DedupWindow = time.Hour
	long := strings.Repeat("é", message.MaxTextLen+1)
	for _, tc := range []struct {
		name string
		req  Request
	}{
		{"empty text", req("nut", message.SeverityInfo, "")},
		{"text not UTF-8", req("nut", message.SeverityInfo, "bad \xff")},
		{"text too long", req("nut", message.SeverityInfo, long)},
		{"no source", req("", message.SeverityInfo, "x")},
		{"source too long", req(strings.Repeat("s", message.MaxAlertSourceLen+1), message.SeverityInfo, "x")},
		{"no severity", req("nut", "", "x")},
		{"unknown severity", req("nut", "fatal", "x")},
		{"unknown status", Request{Alert: message.Alert{Source: "nut", Severity: message.SeverityInfo, Status: "pending"}, Text: "x"}},
		{"title too long", Request{Alert: message.Alert{Source: "nut", Severity: message.SeverityInfo, Title: strings.Repeat("t", message.MaxAlertTitleLen+1)}, Text: "x"}},
		{"everyone", Request{Alert: message.Alert{Source: "nut", Severity: message.SeverityInfo}, Text: "x", To: []string{"ALICE", "*"}}},
		{"empty name", Request{Alert: message.Alert{Source: "nut", Severity: message.SeverityInfo}, Text: "x", To: []string{"ALICE", " "}}},
		{"bad name", Request{Alert: message.Alert{Source: "nut", Severity: message.SeverityInfo}, Text: "x", To: []string{"ALICE", "A-NAME-FAR-TOO-LONG"}}},
		{"origin not UTF-8", Request{Alert: message.Alert{Source: "nut", Severity: message.SeverityInfo}, Text: "x", Origin: "\xff"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := a.Raise(context.Background(), tc.req)
			if !errors.Is(err, message.ErrInvalid) {
				t.Fatalf("Raise = %+v, %v; want an error wrapping message.ErrInvalid", res, err)
			}
		})
	}
	if len(l.got) != 0 || len(r.got) != 0 {
		t.Fatalf("bad input delivered: local %v, remote %v", l.got, r.got)
	}
	if a.shown != nil && a.shown.len() != 0 {
		t.Errorf("bad input remembered %d alerts as shown", a.shown.len())
	}
	// The one token of the minute is still there.
	if _, err := a.Raise(context.Background(), req("nut", message.SeverityInfo, "x")); err != nil {
		t.Errorf("a good alert after the bad ones: %v", err)
	}
}

// Raised twice at the same moment, an alert is shown once: the second
// raise sees the first one's delivery under way.
func TestConcurrentRepeatShownOnce(t *testing.T) {
	a, l, _, _ := newTestAlerter()
	a.DedupWindow = time.Hour
	l.arrived, l.release = make(chan string), make(chan struct{})
	r0 := req("nut", message.SeverityCritical, "on battery")
	first := make(chan Result, 1)
	go func() {
		res, _ := a.Raise(context.Background(), r0)
		first <- res
	}()
	<-l.arrived // the first delivery is under way
	res, err := a.Raise(context.Background(), r0)
	if err != nil || len(res.Deliveries) != 0 || !slices.Equal(res.Suppressed, []string{"MSGHOST"}) {
		t.Errorf("second raise %+v, %v; want MSGHOST spared", res, err)
	}
	close(l.release)
	if got := deliveredTo(<-first); !slices.Equal(got, []string{"MSGHOST"}) {
		t.Errorf("first raise delivered to %v", got)
	}
}

func TestMemoryBounded(t *testing.T) {
	a, l, _, c := newTestAlerter()
	a.DedupWindow = time.Hour
	a.RateLimit = 1
	ctx := context.Background()
	for i := range MaxRemembered + 50 {
		c.t = c.t.Add(time.Millisecond)
		if _, err := a.Raise(ctx, req(fmt.Sprint("s", i), message.SeverityInfo, fmt.Sprint("alert ", i))); err != nil {
			t.Fatal(err)
		}
	}
	if n := a.shown.len(); n != MaxRemembered {
		t.Errorf("%d alerts remembered, want the cap %d", n, MaxRemembered)
	}
	if n := len(a.rates.index); n != MaxRemembered || a.rates.order.Len() != MaxRemembered {
		t.Errorf("%d sources remembered, want the cap %d", n, MaxRemembered)
	}
	// The oldest were forgotten, the newest kept.
	if _, err := a.Raise(ctx, req("s0", message.SeverityInfo, "alert 0")); err != nil {
		t.Fatal(err)
	}
	last := MaxRemembered + 49
	res, err := a.Raise(ctx, req(fmt.Sprint("s", last), message.SeverityInfo, fmt.Sprint("alert ", last)))
	if !errors.Is(err, ErrRateLimited) {
		t.Errorf("the newest source's bucket was forgotten: %+v, %v", res, err)
	}
	if len(l.got) != MaxRemembered+51 {
		t.Errorf("%d delivered, want %d (the forgotten oldest shown again)", len(l.got), MaxRemembered+51)
	}
}
