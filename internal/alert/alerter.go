package alert

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/netsend/messenger/internal/apitype"
	"github.com/netsend/messenger/internal/message"
	"github.com/netsend/messenger/internal/pipeline"
)

// Local delivers a message to one of this host's names: the pipeline,
// with its policy, store and sinks.
type Local interface {
	Deliver(ctx context.Context, m *message.Message) error
}

// Remote sends a message to a name on another host: the sender.
type Remote interface {
	Send(ctx context.Context, req apitype.SendRequest) ([]apitype.Delivery, error)
}

// Route is one routing rule: alerts from Sources (empty: every source;
// matched without regard to case) of at least MinSeverity ("" is info) go
// to To, names and groups.
type Route struct {
	Sources     []string
	MinSeverity message.Severity
	To          []string
}

// OriginLocal is the Origin of alerts raised on this host (the CLI, the
// local API).
const OriginLocal = "local"

// maxParallel bounds the recipients one alert is delivered to at once: a
// remote recipient may take the sender's whole timeout.
const maxParallel = 16

// Alerter raises administrative alerts. Set its fields, then call Raise;
// it is safe for concurrent use and must not be copied after.
type Alerter struct {
	Local  Local
	Remote Remote
	// IsLocal reports whether a recipient is one of this host's names
	// (delivered through Local) rather than another host's (Remote).
	IsLocal func(name string) bool
	// CheckName, when set, refuses a recipient that cannot be a messenger
	// name, before anything is delivered.
	CheckName func(name string) error
	// HostName gets everything when there are no Routes, and signs alerts
	// when From is empty.
	HostName string
	From     string
	Routes   []Route
	// Groups name sets of recipients; a group name is matched without
	// regard to case, as names are.
	Groups map[string][]string
	// DedupWindow: a repeat of an alert (same key and status) to a
	// recipient who was shown it within this long is suppressed; 0 shows
	// every repeat.
	DedupWindow time.Duration
	// RateLimit is the most alerts a minute one caller may raise from one
	// source, with a burst of as many; 0 means no limit.
	RateLimit int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Log receives one line per alert (never its text); nil discards.
	Log *slog.Logger

	mu    sync.Mutex // guards shown and rates
	shown *shown
	rates *buckets
}

// Raise routes req, holds back what its recipients were already shown,
// and delivers the rest: to this host's names through the pipeline, to
// other hosts' through the sender. Bad input is an error wrapping
// message.ErrInvalid, an unroutable alert ErrNoRecipient, a source over
// its rate ErrRateLimited; in each case nothing was delivered. Otherwise
// the Result says, per recipient, what happened; a failed delivery is not
// remembered, so raising the same alert again reaches whoever missed it.
func (a *Alerter) Raise(ctx context.Context, req Request) (Result, error) {
	if err := checkRequest(&req); err != nil {
		return Result{}, err
	}
	recipients, err := a.recipients(&req)
	if err != nil {
		return Result{}, err
	}
	now := a.now()
	key, content := dedupKey(&req), shownContent(&req)
	a.mu.Lock()
	if a.shown == nil {
		a.shown, a.rates = newShown(), newBuckets()
	}
	// Each caller has its own bucket per source: a flood from one account
	// or token must not keep another's alerts from being raised.
	if a.RateLimit > 0 && !a.rates.take(req.Caller+"\x00"+req.Alert.Source, now, a.RateLimit, a.RateLimit) {
		a.mu.Unlock()
		a.log().Warn("alert rate limited", slog.String("caller", req.Caller), slog.String("source", req.Alert.Source), slog.Int("rate_limit", a.RateLimit))
		return Result{}, fmt.Errorf("%w: this caller raised more than %d alerts a minute from source %q", ErrRateLimited, a.RateLimit, req.Alert.Source)
	}
	// Recipients about to be shown the alert are marked at once, so that
	// the same alert raised twice at the same moment is shown once; the
	// marks of failed deliveries are taken back afterwards.
	var res Result
	var todo []string
	var before []prior
	for _, r := range recipients {
		k := shownKey{req.Caller, key, req.Alert.Status, r}
		if a.DedupWindow > 0 && a.shown.recent(k, content, now, a.DedupWindow) {
			res.Suppressed = append(res.Suppressed, r)
			continue
		}
		todo = append(todo, r)
		if a.DedupWindow > 0 {
			was, ok := a.shown.get(k)
			before = append(before, prior{was, ok})
			a.shown.set(k, now, content, a.DedupWindow)
		}
	}
	a.mu.Unlock()

	res.Deliveries = a.deliverAll(ctx, &req, todo)

	if a.DedupWindow > 0 {
		a.mu.Lock()
		for i, d := range res.Deliveries {
			k := shownKey{req.Caller, key, req.Alert.Status, todo[i]}
			if !d.OK() {
				if before[i].ok {
					a.shown.set(k, before[i].was.at, before[i].was.content, a.DedupWindow)
				} else {
					a.shown.forget(k)
				}
				continue
			}
			// A recipient told the alert resolved must be told when it
			// fires again, and the other way round.
			for _, other := range []message.AlertStatus{message.AlertFiring, message.AlertResolved} {
				if other != req.Alert.Status {
					a.shown.forget(shownKey{req.Caller, key, other, todo[i]})
				}
			}
		}
		a.mu.Unlock()
	}

	failed := 0
	for _, d := range res.Deliveries {
		if !d.OK() {
			failed++
		}
	}
	// One line per alert, so DEBUG: the store logs a summary of what it
	// stored at INFO.
	a.log().Debug("alert raised", slog.String("caller", req.Caller), slog.String("source", req.Alert.Source), slog.String("severity", string(req.Alert.Severity)),
		slog.String("status", string(req.Alert.Status)), slog.String("origin", req.Origin),
		slog.Int("delivered", len(res.Deliveries)-failed), slog.Int("failed", failed), slog.Int("suppressed", len(res.Suppressed)))
	return res, nil
}

type prior struct {
	was shownEntry
	ok  bool
}

// checkRequest refuses what no recipient should get, and fills in the
// origin.
func checkRequest(req *Request) error {
	if err := message.ValidateAlert(&req.Alert); err != nil {
		return fmt.Errorf("alert: %w", err)
	}
	switch {
	case req.Text == "":
		return fmt.Errorf("alert: %w: the alert text is empty", message.ErrInvalid)
	case !utf8.ValidString(req.Text):
		return fmt.Errorf("alert: %w: the alert text is not valid UTF-8", message.ErrInvalid)
	}
	if n := utf8.RuneCountInString(req.Text); n > message.MaxTextLen {
		return fmt.Errorf("alert: %w: the alert text is %d characters, limit %d", message.ErrInvalid, n, message.MaxTextLen)
	}
	if req.Origin == "" {
		req.Origin = OriginLocal
	}
	if !utf8.ValidString(req.Origin) || len(req.Origin) > message.MaxSourceLen {
		return fmt.Errorf("alert: %w: origin is not an address", message.ErrInvalid)
	}
	return nil
}

// recipients are req.To, or every route's that req matches, groups
// expanded, upper-cased, each once, in the order first named.
func (a *Alerter) recipients(req *Request) ([]string, error) {
	var named []string
	if len(req.To) > 0 {
		named = req.To
	} else if len(a.Routes) == 0 {
		named = []string{a.HostName}
	} else {
		for _, r := range a.Routes {
			if r.matches(&req.Alert) {
				named = append(named, r.To...)
			}
		}
	}
	var out []string
	add := func(name string) error {
		name = strings.ToUpper(strings.TrimSpace(name))
		switch {
		case name == "":
			return fmt.Errorf("alert: %w: an empty recipient name", message.ErrInvalid)
		case name == "*":
			return fmt.Errorf("alert: %w: alerts go to names, not to everyone (*)", message.ErrInvalid)
		}
		if a.CheckName != nil {
			if err := a.CheckName(name); err != nil {
				return fmt.Errorf("alert: %w: recipient %q: %w", message.ErrInvalid, name, err)
			}
		}
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
		return nil
	}
	for _, n := range named {
		members, isGroup := a.group(n)
		if !isGroup {
			members = []string{n}
		}
		for _, m := range members {
			if err := add(m); err != nil {
				return nil, err
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: source %q, severity %s", ErrNoRecipient, req.Alert.Source, req.Alert.Severity)
	}
	return out, nil
}

func (a *Alerter) group(name string) ([]string, bool) {
	for g, members := range a.Groups {
		if strings.EqualFold(g, strings.TrimSpace(name)) {
			return members, true
		}
	}
	return nil, false
}

func (r *Route) matches(al *message.Alert) bool {
	if len(r.Sources) > 0 && !slices.ContainsFunc(r.Sources, func(s string) bool { return strings.EqualFold(s, al.Source) }) {
		return false
	}
	least := r.MinSeverity
	if least == "" {
		least = message.SeverityInfo
	}
	return al.Severity.Rank() >= least.Rank()
}

// shownContent is what a repeat must also share with what was shown.
func shownContent(req *Request) string {
	return string(req.Alert.Severity) + "\x00" + req.Alert.Title + "\x00" + req.Text
}

// dedupKey is what repeats of one alert share.
func dedupKey(req *Request) string {
	if req.Alert.Key != "" {
		return "key\x00" + req.Alert.Key
	}
	return "text\x00" + req.Alert.Source + "\x00" + req.Alert.Title + "\x00" + req.Text
}

// deliverAll delivers to every recipient, a few at a time, and returns
// the outcomes in the recipients' order.
func (a *Alerter) deliverAll(ctx context.Context, req *Request, recipients []string) []apitype.Delivery {
	if len(recipients) == 1 {
		// Nothing to overlap: the caller's goroutine delivers, with no
		// hand-off to another and back.
		return []apitype.Delivery{a.deliver(ctx, req, recipients[0])}
	}
	out := make([]apitype.Delivery, len(recipients))
	sem := make(chan struct{}, maxParallel)
	var wg sync.WaitGroup
	for i, r := range recipients {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			out[i] = a.deliver(ctx, req, r)
		}()
	}
	wg.Wait()
	return out
}

func (a *Alerter) deliver(ctx context.Context, req *Request, to string) apitype.Delivery {
	from := a.from()
	if a.IsLocal != nil && a.IsLocal(to) {
		al := req.Alert
		m := &message.Message{From: from, To: to, Text: req.Text, Transport: message.TransportAlert, Source: req.Origin, Alert: &al}
		if a.Now != nil {
			m.Time = a.Now()
		}
		err := a.Local.Deliver(ctx, m)
		switch {
		case err == nil:
			return apitype.Delivery{To: to, Via: "local"}
		case errors.Is(err, pipeline.ErrDropped):
			return apitype.Delivery{To: to, Via: "local", Code: apitype.CodeNotAccepting, Error: "The alert was refused by this host's policy."}
		case errors.Is(err, message.ErrInvalid):
			return apitype.Delivery{To: to, Via: "local", Code: apitype.CodeBadRequest, Error: err.Error()}
		}
		return apitype.Delivery{To: to, Via: "local", Code: apitype.CodeNetwork, Error: err.Error()}
	}
	// Other hosts are peers that know nothing of alert fields: the mark
	// goes into the text.
	ds, err := a.Remote.Send(ctx, apitype.SendRequest{To: to, From: from, Text: RemoteText(req)})
	if err != nil {
		var se *apitype.SendError
		if errors.As(err, &se) {
			return apitype.Delivery{To: to, Via: "smb", Code: se.Code, Error: se.Error()}
		}
		return apitype.Delivery{To: to, Via: "smb", Code: apitype.CodeNetwork, Error: err.Error()}
	}
	if len(ds) != 1 {
		return apitype.Delivery{To: to, Via: "smb", Code: apitype.CodeNetwork, Error: fmt.Sprintf("the sender reported %d outcomes for one recipient", len(ds))}
	}
	return ds[0]
}

// RemoteText is the text another host is sent for an alert: its label in
// brackets, then its title and text, e.g.
// "[ALERT critical nut] UPS ups1 on battery".
func RemoteText(req *Request) string {
	head := "[" + req.Alert.Label() + "] "
	if req.Alert.Title != "" {
		return head + req.Alert.Title + "\n" + req.Text
	}
	return head + req.Text
}

func (a *Alerter) from() string {
	if a.From != "" {
		return a.From
	}
	return a.HostName
}

func (a *Alerter) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

func (a *Alerter) log() *slog.Logger {
	if a.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return a.Log
}
