// Package httpingest is the daemon's alert ingest listener: the HTTP endpoint
// where Prometheus Alertmanager delivers its webhook and where the tools
// that already notify ntfy or Gotify (Uptime Kuma, Home Assistant,
// Grafana's webhook, shoutrrr URLs, curl in a script) publish, unchanged,
// to a Messenger name. It owns only HTTP: authentication, limits, routing
// of a topic to names and the replies each client expects; the shapes are
// decoded by internal/alert/notice and the alert is raised by the Alerter.
package httpingest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/netsend/messenger/internal/alert"
	"github.com/netsend/messenger/internal/alert/notice"
	"github.com/netsend/messenger/internal/apitype"
	"github.com/netsend/messenger/internal/message"
)

// Raiser raises one alert: routing, de-duplication, rate limit, delivery.
// *alert.Alerter is one.
type Raiser interface {
	Raise(ctx context.Context, req alert.Request) (alert.Result, error)
}

// Token is one credential a publishing tool presents.
type Token struct {
	// Name identifies the token in logs; the token itself is never kept.
	Name string
	// Hash is the SHA-256 of the token.
	Hash [sha256.Size]byte
	// To, when set, names the recipients of what this token publishes
	// instead of the alert routing (an ntfy topic in Topics still wins).
	To []string
	// Source, when set, replaces the format's own source name (ntfy,
	// gotify, alertmanager) on the alerts this token raises, so that
	// routing can tell two tools on the same format apart.
	Source string
}

// callerKey names the token to the Alerter, which keeps rate limits and
// de-duplication per caller. Token names are unique (the configuration
// refuses a second), and the prefix keeps them apart from the API's
// callers (access.Caller.Key, "uid:N").
func (t *Token) callerKey() string { return "ingest:" + t.Name }

// Config is what the listener needs besides the Raiser.
type Config struct {
	Tokens []Token
	// Topics maps an ntfy topic (matched without regard to case) to the
	// names it reaches.
	Topics map[string][]string
	Log    *slog.Logger
	// RetryAfter is what a client refused by the rate limit is told to
	// wait; 0 means a minute.
	RetryAfter time.Duration
}

type handler struct {
	raiser     Raiser
	tokens     []Token
	topics     map[string][]string
	log        *slog.Logger
	retryAfter time.Duration
	mux        *http.ServeMux
	// gotifyID numbers Gotify replies: its clients expect an integer id.
	gotifyID atomic.Int64
}

// NewHandler returns the listener's routes:
//
//	POST /alertmanager                 Alertmanager webhook
//	PUT|POST /{topic}, POST|PUT /      ntfy publish (the root takes JSON)
//	GET|PUT|POST /{topic}/publish      ntfy publish by URL (also /send, /trigger)
//	POST /message                      Gotify publish
//	GET /v1/health, /health, /version  the health and version answers of ntfy and Gotify, without a token
func NewHandler(r Raiser, cfg Config) http.Handler {
	h := &handler{raiser: r, tokens: cfg.Tokens, log: cfg.Log, retryAfter: cfg.RetryAfter, mux: http.NewServeMux()}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.retryAfter <= 0 {
		h.retryAfter = time.Minute
	}
	h.topics = make(map[string][]string, len(cfg.Topics))
	for topic, names := range cfg.Topics {
		h.topics[strings.ToLower(topic)] = names
	}

	ntfy := format{source: notice.SourceNtfy, methods: []string{http.MethodPut, http.MethodPost},
		decode: h.decodeNtfy, route: h.routeByTopic, reply: replyNtfy, rateLimited: http.StatusTooManyRequests}
	ntfyByURL := ntfy
	ntfyByURL.methods = []string{http.MethodGet, http.MethodPut, http.MethodPost}
	h.mux.Handle("/alertmanager", h.publish(format{source: notice.SourceAlertmanager, methods: []string{http.MethodPost},
		decode: h.decodeAlertmanager, route: h.routeByToken, reply: replyAlertmanager,
		// Alertmanager retries a 5xx answer and drops the notification
		// on any 4xx, 429 included: a rate-limited alert must be retried,
		// not lost.
		rateLimited: http.StatusServiceUnavailable}))
	h.mux.Handle("/message", h.publish(format{source: notice.SourceGotify, methods: []string{http.MethodPost},
		decode: h.decodeGotify, route: h.routeByToken, reply: h.replyGotify, rateLimited: http.StatusTooManyRequests}))
	h.mux.Handle("/{$}", h.publish(ntfy))
	h.mux.Handle("/{topic}", h.publish(ntfy))
	for _, action := range []string{"publish", "send", "trigger"} {
		h.mux.Handle("/{topic}/"+action, h.publish(ntfyByURL))
	}
	h.mux.Handle("/v1/health", answer(map[string]any{"healthy": true}))
	h.mux.Handle("/health", answer(map[string]string{"health": "green", "database": "green"}))
	h.mux.Handle("/version", answer(map[string]string{"version": "messenger", "commit": "", "buildDate": ""}))
	h.mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusNotFound, "no such endpoint: publish to /{topic}, /message or /alertmanager")
	})
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// answer serves a fixed JSON document to GET and HEAD. Health checks of
// ntfy and Gotify clients call these before they publish.
func answer(v any) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			methodNotAllowed(w, r, []string{http.MethodGet, http.MethodHead})
			return
		}
		writeJSON(w, http.StatusOK, v)
	})
}

// decodeFunc turns one request, authenticated by tok, and its body into
// a notice; the topic is the ntfy topic it was published to ("" for the
// others).
type decodeFunc func(r *http.Request, tok *Token, body []byte) (n notice.Notice, topic string, err error)

// routeFunc names the recipients; nil leaves the alert to the routing.
type routeFunc func(tok *Token, n notice.Notice, topic string) []string

// replyFunc writes the success answer the client of a format expects.
type replyFunc func(w http.ResponseWriter, n notice.Notice, topic string, res alert.Result)

// format is one of the shapes the listener takes.
type format struct {
	// source is the alert source when the decoder and the token set none.
	source  string
	methods []string
	decode  decodeFunc
	route   routeFunc
	reply   replyFunc
	// rateLimited is the status of a refusal by the rate limit.
	rateLimited int
}

// httpError is a refusal with the status that says why.
type httpError struct {
	code   int
	reason string
}

func (e *httpError) Error() string { return e.reason }

func (h *handler) publish(f format) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log := h.log.With(slog.String("format", f.source), slog.String("origin", r.RemoteAddr))
		if !slices.Contains(f.methods, r.Method) {
			methodNotAllowed(w, r, f.methods)
			return
		}
		tok := h.authenticate(r)
		if tok == nil {
			log.Warn("ingest request refused: no valid token")
			w.Header().Add("WWW-Authenticate", `Bearer realm="messenger"`)
			w.Header().Add("WWW-Authenticate", `Basic realm="messenger"`)
			writeError(w, http.StatusUnauthorized, "a valid token is needed (Authorization: Bearer TOKEN)")
			return
		}
		log = log.With(slog.String("token", tok.Name))
		body, err := readBody(w, r)
		if err != nil {
			var he *httpError
			errors.As(err, &he)
			log.Info("ingest request refused", slog.Int("status", he.code), slog.Any("err", err))
			writeError(w, he.code, he.reason)
			return
		}
		n, topic, err := f.decode(r, tok, body)
		if err != nil {
			code, reason := http.StatusBadRequest, err.Error()
			var he *httpError
			switch {
			case errors.As(err, &he):
				code = he.code
			case errors.Is(err, notice.ErrTooLarge):
				code = http.StatusRequestEntityTooLarge
			}
			log.Info("ingest request refused", slog.Int("status", code), slog.Any("err", err))
			writeError(w, code, reason)
			return
		}
		// Each token is its own caller: its own rate budget and repeat
		// memory, so one tool flooding the listener (or the ntfy format
		// they all share) leaves the others' alerts alone.
		req := alert.Request{Alert: n.Alert, Text: n.Text, To: f.route(tok, n, topic), Origin: r.RemoteAddr, Caller: tok.callerKey()}
		if tok.Source != "" {
			req.Alert.Source = tok.Source
		} else if req.Alert.Source == "" {
			req.Alert.Source = f.source
		}
		res, err := h.raiser.Raise(r.Context(), req)
		if err != nil {
			h.refuseRaise(w, log, f.rateLimited, err)
			return
		}
		failed := 0
		for _, d := range res.Deliveries {
			if !d.OK() {
				failed++
			}
		}
		// One line per publish, so DEBUG, like the Alerter's "alert
		// raised"; the store logs a summary at INFO.
		log.Debug("alert ingested", slog.String("source", req.Alert.Source), slog.String("severity", string(req.Alert.Severity)),
			slog.String("status", string(req.Alert.Status)), slog.Int("deliveries", len(res.Deliveries)),
			slog.Int("failed", failed), slog.Int("suppressed", len(res.Suppressed)))
		if failed > 0 && failed == len(res.Deliveries) {
			writeJSON(w, http.StatusBadGateway, deliveryFailure{Error: "no recipient got the alert: " + failureReasons(res.Deliveries),
				Deliveries: res.Deliveries})
			return
		}
		f.reply(w, n, topic, res)
	})
}

type deliveryFailure struct {
	Error      string             `json:"error"`
	Deliveries []apitype.Delivery `json:"deliveries"`
}

func failureReasons(ds []apitype.Delivery) string {
	reasons := make([]string, 0, len(ds))
	for _, d := range ds {
		reason := d.Error
		if reason == "" {
			reason = d.Code
		}
		reasons = append(reasons, d.To+": "+reason)
	}
	return strings.Join(reasons, "; ")
}

// refuseRaise answers an alert the Alerter would not raise.
func (h *handler) refuseRaise(w http.ResponseWriter, log *slog.Logger, rateLimited int, err error) {
	switch {
	case errors.Is(err, alert.ErrRateLimited):
		log.Info("ingest request refused: rate limit", slog.Any("err", err))
		w.Header().Set("Retry-After", strconv.Itoa(int((h.retryAfter+time.Second-1)/time.Second)))
		writeError(w, rateLimited, err.Error())
	case errors.Is(err, alert.ErrNoRecipient):
		log.Info("ingest request refused: no recipient", slog.Any("err", err))
		writeError(w, http.StatusUnprocessableEntity, err.Error())
	case errors.Is(err, message.ErrInvalid):
		log.Info("ingest request refused: invalid alert", slog.Any("err", err))
		writeError(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		log.Info("ingest request abandoned", slog.Any("err", err))
		writeError(w, http.StatusServiceUnavailable, "the alert was not raised: "+err.Error())
	default:
		log.Error("raising an ingested alert", slog.Any("err", err))
		writeError(w, http.StatusInternalServerError, "the alert was not raised: "+err.Error())
	}
}

func methodNotAllowed(w http.ResponseWriter, r *http.Request, methods []string) {
	w.Header().Set("Allow", strings.Join(methods, ", "))
	writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("%s %s is not supported; use %s", r.Method, r.URL.Path, strings.Join(methods, " or ")))
}

// readBody reads at most notice.MaxBodyLen bytes; anything longer is
// refused whole rather than cut, so no alert is raised from half a body.
// errTooLarge answers a body over the limit; made once, not per
// request (a Sprintf on every publish showed in its profile).
var errTooLarge = &httpError{http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is larger than %d bytes", notice.MaxBodyLen)}

func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.ContentLength > notice.MaxBodyLen {
		return nil, errTooLarge
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, notice.MaxBodyLen))
	var maxErr *http.MaxBytesError
	if errors.As(err, &maxErr) {
		return nil, errTooLarge
	}
	if err != nil {
		return nil, &httpError{http.StatusBadRequest, "reading the body: " + err.Error()}
	}
	return body, nil
}

// authenticate returns the token the request carries, or nil. Every form
// the three formats' clients use is accepted: ntfy's ?auth= (the
// Authorization value in unpadded URL base64), the Authorization header
// (Bearer, or Basic with the token as password, or as user name when the
// password is empty), Gotify's X-Gotify-Key header and ?token=.
func (h *handler) authenticate(r *http.Request) *Token {
	q := r.URL.Query()
	var candidates []string
	for _, key := range []string{"auth", "authorization"} {
		if v := q.Get(key); v != "" {
			candidates = append(candidates, fromAuthorization(decodeAuthParam(v)))
		}
	}
	candidates = append(candidates, fromAuthorization(r.Header.Get("Authorization")), r.Header.Get("X-Gotify-Key"), q.Get("token"))
	for _, c := range candidates {
		if c == "" {
			continue
		}
		if tok := h.match(c); tok != nil {
			return tok
		}
	}
	return nil
}

// match compares the token's hash with every configured one, all of
// them, in constant time, so that the answer's timing says nothing about
// which tokens exist.
func (h *handler) match(token string) *Token {
	sum := sha256.Sum256([]byte(token))
	var found *Token
	for i := range h.tokens {
		if subtle.ConstantTimeCompare(sum[:], h.tokens[i].Hash[:]) == 1 && found == nil {
			found = &h.tokens[i]
		}
	}
	return found
}

func decodeAuthParam(v string) string {
	v = strings.TrimRight(v, "=")
	for _, enc := range []*base64.Encoding{base64.RawURLEncoding, base64.RawStdEncoding} {
		if b, err := enc.DecodeString(v); err == nil {
			return string(b)
		}
	}
	return ""
}

// fromAuthorization reads the token out of an Authorization value.
func fromAuthorization(v string) string {
	scheme, rest, _ := strings.Cut(strings.TrimSpace(v), " ")
	rest = strings.TrimSpace(rest)
	switch strings.ToLower(scheme) {
	case "bearer":
		return rest
	case "basic":
		b, err := base64.StdEncoding.DecodeString(rest)
		if err != nil {
			return ""
		}
		user, password, _ := strings.Cut(string(b), ":")
		if password == "" {
			return user
		}
		return password
	}
	return ""
}

func (h *handler) decodeAlertmanager(_ *http.Request, _ *Token, body []byte) (notice.Notice, string, error) {
	n, err := notice.DecodeAlertmanager(body)
	return n, "", err
}

func (h *handler) decodeGotify(r *http.Request, tok *Token, body []byte) (notice.Notice, string, error) {
	n, err := notice.DecodeGotify(r.Header.Get("Content-Type"), body)
	if err == nil && n.Alert.Title == "" {
		// Gotify titles an untitled message with its application's name;
		// the token is the application here.
		n.Alert.Title = tok.Name
	}
	return n, "", err
}

func (h *handler) decodeNtfy(r *http.Request, _ *Token, body []byte) (notice.Notice, string, error) {
	pathTopic := r.PathValue("topic")
	// ntfy answers 404, not 400, to a path that is not a topic.
	if pathTopic != "" && notice.CheckNtfyTopic(pathTopic) != nil {
		return notice.Notice{}, "", &httpError{http.StatusNotFound, fmt.Sprintf("%q is not an ntfy topic (1 to 64 of A-Z a-z 0-9 _ -)", pathTopic)}
	}
	n, err := notice.DecodeNtfy(notice.NtfyRequest{Topic: pathTopic, Header: r.Header, Query: r.URL.Query(), Body: body})
	if err != nil {
		return n, "", err
	}
	// The decoder checked the topic, the path's or the JSON body's.
	topic := n.To
	if topic == "" {
		topic = pathTopic
	}
	return n, topic, nil
}

// routeByToken is for formats without a recipient of their own: the
// token's names, else what the decoder found, else the routing.
func (h *handler) routeByToken(tok *Token, n notice.Notice, _ string) []string {
	if len(tok.To) > 0 {
		return tok.To
	}
	if n.To != "" {
		return []string{n.To}
	}
	return nil
}

// routeByTopic is ntfy's: the topic's names in the configuration, else
// the token's, else the topic itself as a Messenger name.
func (h *handler) routeByTopic(tok *Token, _ notice.Notice, topic string) []string {
	if names, ok := h.topics[strings.ToLower(topic)]; ok {
		return names
	}
	if len(tok.To) > 0 {
		return tok.To
	}
	return []string{strings.ToUpper(topic)}
}

func replyAlertmanager(w http.ResponseWriter, _ notice.Notice, _ string, res alert.Result) {
	writeJSON(w, http.StatusOK, res)
}

// ntfyMessage is ntfy's answer to a publish: the message as stored.
type ntfyMessage struct {
	ID       string `json:"id"`
	Time     int64  `json:"time"`
	Event    string `json:"event"`
	Topic    string `json:"topic"`
	Message  string `json:"message"`
	Title    string `json:"title,omitempty"`
	Priority int    `json:"priority,omitempty"`
}

func replyNtfy(w http.ResponseWriter, n notice.Notice, topic string, _ alert.Result) {
	writeJSON(w, http.StatusOK, ntfyMessage{ID: ntfyID(), Time: time.Now().Unix(), Event: "message", Topic: topic,
		Message: n.Text, Title: n.Alert.Title, Priority: notice.NtfyPriority(n.Alert.Severity)})
}

const idAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// ntfyID makes an id of ntfy's shape, twelve letters and digits.
func ntfyID() string {
	b := make([]byte, 12)
	rand.Read(b)
	for i := range b {
		b[i] = idAlphabet[int(b[i])%len(idAlphabet)]
	}
	return string(b)
}

// gotifyMessage is Gotify's answer to POST /message.
type gotifyMessage struct {
	ID       int64  `json:"id"`
	AppID    int64  `json:"appid"`
	Message  string `json:"message"`
	Title    string `json:"title"`
	Priority int    `json:"priority"`
	Date     string `json:"date"`
}

func (h *handler) replyGotify(w http.ResponseWriter, n notice.Notice, _ string, _ alert.Result) {
	writeJSON(w, http.StatusOK, gotifyMessage{ID: h.gotifyID.Add(1), AppID: 1, Message: n.Text, Title: n.Alert.Title,
		Priority: gotifyPriority(n.Alert.Severity), Date: time.Now().Format(time.RFC3339Nano)})
}

// gotifyPriority gives back a priority of Gotify's 0..10 scale for the
// severity the publish was mapped to.
func gotifyPriority(s message.Severity) int {
	switch s {
	case message.SeverityCritical:
		return 8
	case message.SeverityWarning:
		return 5
	}
	return 2
}

type errorBody struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, code int, reason string) {
	writeJSON(w, code, errorBody{Error: reason})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// Serve answers on ln with h until ctx ends, then lets the requests in
// flight finish for a few seconds. The timeouts keep a slow or idle
// client from holding a connection.
func Serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		// Long enough for an alert delivered to other hosts (each send
		// has its own timeout).
		WriteTimeout:   time.Minute,
		IdleTimeout:    2 * time.Minute,
		MaxHeaderBytes: 64 << 10,
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("ingest listener %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := srv.Shutdown(shutdownCtx)
	if err != nil {
		srv.Close()
		err = fmt.Errorf("ingest listener %s: shutting down: %w", ln.Addr(), err)
	}
	<-served
	return err
}
