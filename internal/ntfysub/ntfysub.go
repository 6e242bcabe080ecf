// Package ntfysub lets ntfy clients (the Android and iOS apps, the ntfy
// CLI, curl) subscribe to a user's messages on the ingest listener,
// where they already publish: GET /NAME/json, /NAME/sse, /NAME/raw and
// /NAME/ws, with a user's API token. A name is a topic; only names the
// token's user may read can be subscribed to.
package ntfysub

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/netsend/messenger/internal/access"
	"github.com/netsend/messenger/internal/alert/notice"
	"github.com/netsend/messenger/internal/api"
	"github.com/netsend/messenger/internal/message"
	"github.com/netsend/messenger/internal/store"
)

// Store is what subscriptions read of the message store.
type Store interface {
	List(ctx context.Context, opt store.ListOptions) ([]message.Message, error)
	Recipients(ctx context.Context) ([]string, error)
}

// Handler serves the subscription paths and hands every other request
// to Next (the ingest handler), so publishing is untouched.
type Handler struct {
	Next        http.Handler
	Store       Store
	Events      *api.EventBus
	Rules       *access.Rules
	Credentials api.Credentials
	Log         *slog.Logger
	// Done, when closed, ends every stream: the daemon is stopping, and
	// the listener's shutdown must not wait for streams that never end.
	Done <-chan struct{}
	// KeepAlive is how often an idle stream gets a keepalive event;
	// ntfy's default, 45s, when zero.
	KeepAlive time.Duration
	Now       func() time.Time
}

// Formats of a subscription, the last element of its path; "auth" is
// the ntfy app's check of a topic's access before it subscribes.
const (
	formatJSON = "json"
	formatSSE  = "sse"
	formatRaw  = "raw"
	formatWS   = "ws"
	formatAuth = "auth"
)

// streamWrite bounds how long one write may wait for a client that
// stopped reading; it then loses the stream and resubscribes with since.
const streamWrite = time.Minute

// page is how many stored messages one read of a replay takes.
const page = 500

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rawTopics, format, ok := route(r.URL.Path)
	if !ok || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
		h.Next.ServeHTTP(w, r)
		return
	}
	log := h.log().With(slog.String("path", r.URL.Path))
	c, ok := h.caller(r)
	if !ok {
		// ntfy clients ask for credentials on 401.
		w.Header().Set("WWW-Authenticate", `Bearer realm="messenger"`)
		writeError(w, http.StatusUnauthorized, 40101, "unauthorized: subscribing needs a user's API token (messenger token create NAME)")
		return
	}
	topics, err := parseTopics(rawTopics)
	if err != nil {
		writeError(w, http.StatusBadRequest, 40009, "invalid topic: "+err.Error())
		return
	}
	for _, t := range topics {
		if !h.Rules.MayRead(c, t) {
			// Names only the name: nothing of its messages.
			log.Info("ntfy subscription refused", slog.String("user", c.Login), slog.String("topic", t))
			writeError(w, http.StatusForbidden, 40301, fmt.Sprintf("forbidden: %s may not read messages to %s", c.Login, t))
			return
		}
	}
	if format == formatAuth {
		writeJSON(w, http.StatusOK, map[string]bool{"success": true})
		return
	}
	q := r.URL.Query()
	poll := isTrue(q.Get("poll")) || isTrue(r.Header.Get("X-Poll")) || isTrue(r.Header.Get("Poll"))
	sv := q.Get("since")
	if sv == "" {
		sv = r.Header.Get("X-Since")
	}
	sn := since{kind: sinceNone}
	if poll {
		sn.kind = sinceAll // as ntfy: a poll without since gets everything kept
	}
	if sv != "" {
		if sn, err = parseSince(sv, h.now()); err != nil {
			writeError(w, http.StatusBadRequest, 40008, "invalid since: "+err.Error())
			return
		}
	}
	sub := &stream{h: h, r: r, c: c, topics: topics, since: sn, log: log.With(slog.String("user", c.Login))}
	sub.want = make(map[string]string, len(topics))
	for _, t := range topics {
		sub.want[strings.ToUpper(t)] = t
	}
	if format == formatWS {
		sub.serveWS(w, poll)
		return
	}
	sub.serveHTTP(w, format, poll)
}

// route splits /TOPICS/FORMAT; ok is false for every other path.
func route(path string) (topics, format string, ok bool) {
	topics, format, ok = strings.Cut(strings.TrimPrefix(path, "/"), "/")
	if !ok || topics == "" {
		return "", "", false
	}
	switch format {
	case formatJSON, formatSSE, formatRaw, formatWS, formatAuth:
		return topics, format, true
	}
	return "", "", false
}

// caller finds the account of the request's token. A session cookie is
// not taken: the cookie of the web page would otherwise let any page
// served from this host read the user's messages here.
func (h *Handler) caller(r *http.Request) (access.Caller, bool) {
	if h.Credentials == nil {
		return access.Caller{}, false
	}
	hdr := r.Header.Clone()
	hdr.Del("Cookie")
	return h.Credentials.Caller(&http.Request{Header: hdr, URL: r.URL})
}

func (h *Handler) log() *slog.Logger {
	if h.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return h.Log
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

func (h *Handler) keepAlive() time.Duration {
	if h.KeepAlive > 0 {
		return h.KeepAlive
	}
	return 45 * time.Second
}

func isTrue(v string) bool {
	switch strings.ToLower(v) {
	case "1", "yes", "true":
		return true
	}
	return false
}

// Event is one object of ntfy's JSON message format.
type Event struct {
	ID       string   `json:"id"`
	Time     int64    `json:"time"`
	Event    string   `json:"event"`
	Topic    string   `json:"topic"`
	Message  *string  `json:"message,omitempty"` // always present in message events
	Title    string   `json:"title,omitempty"`
	Priority int      `json:"priority,omitempty"`
	Tags     []string `json:"tags,omitempty"`
}

// messageID is how a stored message's id is shown: never all digits,
// so that since= tells it from a Unix time.
func messageID(id int64) string { return "m" + strconv.FormatInt(id, 10) }

// toEvent turns a stored message into ntfy's message event under the
// topic the client spelled.
func toEvent(m *message.Message, topic string) Event {
	text := m.Text
	e := Event{ID: messageID(m.ID), Time: m.Time.Unix(), Event: "message", Topic: topic, Message: &text, Priority: 3}
	if a := m.Alert; a != nil {
		e.Title = a.Title
		e.Priority = notice.NtfyPriority(a.Severity)
		for _, t := range []string{a.Source, string(a.Severity)} {
			if t != "" {
				e.Tags = append(e.Tags, t)
			}
		}
	} else if m.From != "" {
		// A plain message has no title; the sender is what the pop-up
		// of Windows Messenger led with, and the app would show the
		// topic instead.
		e.Title = "Message from " + m.From
	}
	return e
}

// control is an open or keepalive event, with a random id as ntfy's.
func (h *Handler) control(kind string, topics []string) Event {
	return Event{ID: rand.Text()[:10], Time: h.now().Unix(), Event: kind, Topic: strings.Join(topics, ",")}
}

func writeError(w http.ResponseWriter, status, code int, msg string) {
	writeJSON(w, status, map[string]any{"code": code, "http": status, "error": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// stream is one subscription.
type stream struct {
	h      *Handler
	r      *http.Request
	c      access.Caller
	topics []string
	want   map[string]string // upper-case name -> the client's spelling
	since  since
	log    *slog.Logger
	last   int64 // highest message id sent or passed over
}

// topicOf returns the client's spelling of m's recipient, if m is one
// this stream sends: to a name asked for, readable by the caller now
// (an alias may have changed hands), and never from the quarantine.
func (s *stream) topicOf(m *message.Message) (string, bool) {
	t, ok := s.want[strings.ToUpper(strings.TrimSpace(m.To))]
	if !ok || m.State == message.StateQuarantined || !s.h.Rules.MayRead(s.c, m.To) {
		return "", false
	}
	return t, true
}

// stored lists the store's names for the topics: the store keeps a
// recipient as it came, and filters by exact name.
func (s *stream) stored(ctx context.Context) ([]string, error) {
	all, err := s.h.Store.Recipients(ctx)
	if err != nil {
		return nil, fmt.Errorf("ntfy subscription: listing recipients: %w", err)
	}
	out := []string{}
	for _, n := range all {
		if _, ok := s.want[strings.ToUpper(strings.TrimSpace(n))]; ok {
			out = append(out, n)
		}
	}
	return out, nil
}

// replay sends the stored messages since asks for, after s.last, and
// moves s.last past every message read.
func (s *stream) replay(ctx context.Context, sn since, send func(Event) error) error {
	if sn.kind == sinceNone {
		return nil
	}
	if sn.kind == sinceID {
		s.last = max(s.last, sn.id)
	}
	to, err := s.stored(ctx)
	if err != nil {
		return err
	}
	var latest *Event
	for {
		msgs, err := s.h.Store.List(ctx, store.ListOptions{To: to, AfterID: s.last, Limit: page})
		if err != nil {
			return fmt.Errorf("ntfy subscription: reading messages after %d: %w", s.last, err)
		}
		for i := range msgs {
			m := &msgs[i]
			s.last = max(s.last, m.ID)
			t, ok := s.topicOf(m)
			if !ok || (sn.kind == sinceTime && m.Time.Before(sn.t)) {
				continue
			}
			e := toEvent(m, t)
			if sn.kind == sinceLatest {
				latest = &e
				continue
			}
			if err := send(e); err != nil {
				return err
			}
		}
		if len(msgs) < page {
			break
		}
	}
	if latest != nil {
		return send(*latest)
	}
	return nil
}

// follow sends the hub's messages as they are committed until the
// client leaves, the hub closes or the daemon stops. keepalive is sent
// when nothing was for the keepalive interval; flush after each batch.
func (s *stream) follow(ctx context.Context, f *api.Follower, send func(Event) error, flush func() error) error {
	tick := time.NewTicker(s.h.keepAlive())
	defer tick.Stop()
	buf := make([]api.Event, 0, 256)
	for {
		evs, missed, wake, closed := f.Take(buf[:0])
		if missed > 0 {
			// The ring moved past this stream: what it missed is in the
			// store, after the last id it saw.
			s.log.Debug("ntfy subscription lagged; catching up from the store", slog.Uint64("missed", missed))
			if err := s.replay(ctx, since{kind: sinceAll}, send); err != nil {
				return err
			}
			if err := flush(); err != nil {
				return err
			}
			continue
		}
		if len(evs) > 0 {
			for _, e := range evs {
				if e.Kind != api.EventMessage || e.Message == nil || (e.ID <= s.last && !e.Released()) {
					continue
				}
				s.last = max(s.last, e.ID)
				if t, ok := s.topicOf(e.Message); ok {
					if err := send(toEvent(e.Message, t)); err != nil {
						return err
					}
				}
			}
			clear(evs)
			if err := flush(); err != nil {
				return err
			}
			continue
		}
		if closed {
			return nil
		}
		select {
		case <-wake:
		case <-tick.C:
			if err := send(s.h.control("keepalive", s.topics)); err != nil {
				return err
			}
			if err := flush(); err != nil {
				return err
			}
		case <-ctx.Done():
			return nil
		case <-s.h.Done:
			return nil
		}
	}
}

// serveHTTP answers a JSON, SSE or raw subscription.
func (s *stream) serveHTTP(w http.ResponseWriter, format string, poll bool) {
	ctx := s.r.Context()
	rc := http.NewResponseController(w)
	// The ingest listener's deadlines bound a publish; a stream lives
	// long, so it reads nothing more and gives each write streamWrite.
	_ = rc.SetReadDeadline(time.Time{})
	writeBy := func() { _ = rc.SetWriteDeadline(time.Now().Add(streamWrite)) }
	writeBy()

	var encode func(Event) []byte
	switch format {
	case formatJSON:
		w.Header().Set("Content-Type", "application/x-ndjson; charset=utf-8")
		encode = func(e Event) []byte {
			b, _ := json.Marshal(e)
			return append(b, '\n')
		}
	case formatSSE:
		w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
		encode = func(e Event) []byte {
			b, _ := json.Marshal(e)
			// As ntfy: message events have no event line, so that an
			// EventSource's onmessage fires for them and only them.
			if e.Event == "message" {
				return fmt.Appendf(nil, "data: %s\n\n", b)
			}
			return fmt.Appendf(nil, "event: %s\ndata: %s\n\n", e.Event, b)
		}
	default:
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		encode = func(e Event) []byte {
			if e.Event != "message" || e.Message == nil {
				return []byte("\n") // open and keepalive are empty lines
			}
			return []byte(strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(*e.Message) + "\n")
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if s.r.Method == http.MethodHead {
		return
	}
	send := func(e Event) error {
		writeBy()
		_, err := w.Write(encode(e))
		return err
	}
	flush := func() error { writeBy(); return rc.Flush() }
	s.run(ctx, poll, send, flush)
}

// run is a subscription's life, whatever its format: a poll sends what
// is stored and ends; a stream opens, replays what since asks for and
// follows the hub.
func (s *stream) run(ctx context.Context, poll bool, send func(Event) error, flush func() error) {
	if poll {
		if err := s.replay(ctx, s.since, send); err != nil {
			s.log.Debug("ntfy poll ended", slog.Any("err", err))
			return
		}
		_ = flush()
		return
	}
	// Follow before replaying, so nothing falls between the two: a
	// message committed after this is in the ring, one before it in the
	// store, and one in both is sent once (ids only ascend).
	f, head := s.h.Events.Follow()
	defer f.Close()
	if s.since.kind == sinceNone {
		s.last = head // what was stored before is not news
	}
	if err := send(s.h.control("open", s.topics)); err != nil {
		return
	}
	if err := s.replay(ctx, s.since, send); err != nil {
		s.log.Debug("ntfy subscription replay ended", slog.Any("err", err))
		return
	}
	if err := flush(); err != nil {
		return
	}
	if err := s.follow(ctx, f, send, flush); err != nil {
		s.log.Debug("ntfy subscription ended", slog.Any("err", err))
	}
}

// serveWS answers a WebSocket subscription: each event a text frame of
// its JSON.
func (s *stream) serveWS(w http.ResponseWriter, poll bool) {
	rc := http.NewResponseController(w)
	// The listener's deadlines stay on the connection once it is taken
	// over; writes get their own through the context instead.
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	conn, err := websocket.Accept(w, s.r, nil)
	if err != nil {
		s.log.Debug("ntfy websocket refused", slog.Any("err", err))
		return
	}
	defer conn.CloseNow()
	// The client sends nothing but control frames; CloseRead answers
	// them and ends ctx when the client goes.
	ctx := conn.CloseRead(context.WithoutCancel(s.r.Context()))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-s.h.Done:
			cancel()
		case <-ctx.Done():
		}
	}()
	send := func(e Event) error {
		b, _ := json.Marshal(e)
		wctx, done := context.WithTimeout(ctx, streamWrite)
		defer done()
		if err := conn.Write(wctx, websocket.MessageText, b); err != nil {
			return fmt.Errorf("ntfy websocket: writing: %w", err)
		}
		return nil
	}
	s.run(ctx, poll, send, func() error { return nil })
	conn.Close(websocket.StatusNormalClosure, "")
}
