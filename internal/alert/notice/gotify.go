package notice

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/netsend/messenger/internal/message"
)

// Gotify priorities where the severity steps up. They are the bands in
// which Gotify's Android app files a message (convertPriorityToChannel in
// gotify/android: up to 3 low importance, 4 to 7 default, 8 and up high):
// below GotifyWarningPriority is info, below GotifyCriticalPriority is
// warning, the rest critical.
const (
	GotifyWarningPriority  = 4
	GotifyCriticalPriority = 8
)

// maxGotifyFields bounds the form fields read from one multipart body,
// so a body of many tiny parts costs no more than a few.
const maxGotifyFields = 64

// gotifyMessage is the body of Gotify's POST /message (its CreateMessage
// model). Priority is a pointer because Gotify tells "not given" (the
// application's default priority) from 0.
type gotifyMessage struct {
	Message  string          `json:"message"`
	Title    string          `json:"title"`
	Priority *int            `json:"priority"`
	Extras   json.RawMessage `json:"extras"`
}

// DecodeGotify reads the body of Gotify's POST /message
// (https://gotify.net/docs/pushmsg) in any of the content types Gotify's
// server binds: application/json, application/x-www-form-urlencoded and
// multipart/form-data (what `curl -F` sends).
//
//   - message is required, as on Gotify (which answers 400 without it).
//   - title becomes the Title; Gotify would put the application's name in
//     an empty one, which is left to the caller that knows the token.
//   - priority maps to the severity by the bands of GotifyWarningPriority
//     and GotifyCriticalPriority; without one, Gotify uses the
//     application's default priority (0 unless changed), so it is info.
//   - extras (JSON only) must be an object, as on Gotify, and is not used.
//
// Query parameters of the request (other than the token, which the
// listener checks) are not read.
func DecodeGotify(contentType string, body []byte) (Notice, error) {
	const what = "gotify message"
	if err := checkBodyLen(what, body); err != nil {
		return Notice{}, err
	}
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return Notice{}, fmt.Errorf("%s: Content-Type %q: %w", what, cut(escapeName(contentType), 80), err)
	}
	var m gotifyMessage
	switch mediaType {
	case "application/json":
		if err := json.Unmarshal(body, &m); err != nil {
			return Notice{}, fmt.Errorf("%s: not Gotify's message JSON: %w", what, err)
		}
		if x := bytes.TrimSpace(m.Extras); len(x) > 0 && x[0] != '{' && !bytes.Equal(x, []byte("null")) {
			return Notice{}, fmt.Errorf("%s: extras is not a JSON object", what)
		}
	case "application/x-www-form-urlencoded":
		values, err := url.ParseQuery(string(body))
		if err != nil {
			return Notice{}, fmt.Errorf("%s: form body: %w", what, err)
		}
		if err := gotifyForm(&m, values.Get); err != nil {
			return Notice{}, fmt.Errorf("%s: %w", what, err)
		}
	case "multipart/form-data":
		values, err := readMultipartFields(body, params["boundary"])
		if err != nil {
			return Notice{}, fmt.Errorf("%s: multipart body: %w", what, err)
		}
		if err := gotifyForm(&m, values.Get); err != nil {
			return Notice{}, fmt.Errorf("%s: %w", what, err)
		}
	default:
		return Notice{}, fmt.Errorf("%s: Content-Type %q is not application/json, application/x-www-form-urlencoded or multipart/form-data", what, cut(escapeName(mediaType), 80))
	}

	text := normalizeText(m.Message)
	if text == "" {
		return Notice{}, fmt.Errorf("%s: message is missing or empty", what)
	}
	if c := utf8.RuneCountInString(text); c > message.MaxTextLen {
		return Notice{}, fmt.Errorf("%s: message is %d characters, limit %d", what, c, message.MaxTextLen)
	}
	severity := message.SeverityInfo
	if m.Priority != nil {
		severity = gotifySeverity(*m.Priority)
	}
	return finish(Notice{
		Alert: message.Alert{
			Source:   SourceGotify,
			Severity: severity,
			Title:    oneLine(m.Title),
		},
		Text: text,
	})
}

// gotifyForm fills m from form fields, checking what JSON decoding
// checks for the JSON body: UTF-8 text and an integer priority.
func gotifyForm(m *gotifyMessage, get func(string) string) error {
	for _, f := range []struct {
		name string
		dst  *string
	}{{"message", &m.Message}, {"title", &m.Title}} {
		v := get(f.name)
		if !utf8.ValidString(v) {
			return fmt.Errorf("%s is not UTF-8", f.name)
		}
		*f.dst = v
	}
	if v := strings.TrimSpace(get("priority")); v != "" {
		p, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("priority %q is not an integer", cut(escapeName(v), 20))
		}
		m.Priority = &p
	}
	return nil
}

// readMultipartFields reads the form fields of a multipart/form-data
// body; file parts are skipped, as Gotify's form binding skips them.
func readMultipartFields(body []byte, boundary string) (url.Values, error) {
	if boundary == "" {
		return nil, errors.New("the Content-Type has no boundary")
	}
	r := multipart.NewReader(bytes.NewReader(body), boundary)
	values := url.Values{}
	for fields := 0; ; fields++ {
		part, err := r.NextPart()
		if err == io.EOF {
			return values, nil
		}
		if err != nil {
			return nil, err
		}
		if fields == maxGotifyFields {
			return nil, fmt.Errorf("more than %d parts", maxGotifyFields)
		}
		name := part.FormName()
		if name == "" || part.FileName() != "" {
			continue
		}
		v, err := io.ReadAll(part) // bounded by the body, at most MaxBodyLen
		if err != nil {
			return nil, fmt.Errorf("part %q: %w", cut(escapeName(name), 40), err)
		}
		values.Add(name, string(v))
	}
}

func gotifySeverity(p int) message.Severity {
	switch {
	case p >= GotifyCriticalPriority:
		return message.SeverityCritical
	case p >= GotifyWarningPriority:
		return message.SeverityWarning
	}
	return message.SeverityInfo
}
