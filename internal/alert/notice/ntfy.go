package notice

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/netsend/messenger/internal/message"
)

// NtfyDefaultMessage is the text of a publish with no message: ntfy's
// server uses the same word (emptyMessageBody in server/server.go), so a
// `curl -X POST host/topic` shows what it shows on ntfy.
const NtfyDefaultMessage = "triggered"

// MaxNtfyTopicLen is the longest topic ntfy's server accepts (its
// topicRegex: 1 to 64 of A-Z, a-z, 0-9, '-' and '_').
const MaxNtfyTopicLen = 64

// The parameters read from an ntfy publish, each under all the names ntfy
// accepts, in ntfy's order. A header wins over a query parameter; the
// first name that is set wins within each.
var (
	ntfyTitleNames    = []string{"x-title", "title", "t"}
	ntfyMessageNames  = []string{"x-message", "message", "m"}
	ntfyPriorityNames = []string{"x-priority", "priority", "prio", "p"}
	ntfyTagsNames     = []string{"x-tags", "tags", "tag", "ta"}
)

// NtfyRequest is an ntfy publish as the HTTP listener received it.
type NtfyRequest struct {
	// Topic is the path segment of PUT/POST /<topic>, or "" for a JSON
	// publish to / (the topic is then in the body).
	Topic  string
	Header http.Header
	Query  url.Values
	Body   []byte
}

// ntfyJSON is ntfy's "publish as JSON" body; its other fields (click,
// actions, attach, markdown, email, delay, ...) are not used here.
type ntfyJSON struct {
	Topic    string   `json:"topic"`
	Message  string   `json:"message"`
	Title    string   `json:"title"`
	Priority int      `json:"priority"`
	Tags     []string `json:"tags"`
}

// DecodeNtfy reads an ntfy publish (https://docs.ntfy.sh/publish/) the
// way ntfy's server does:
//
//   - the message is the body, trimmed; with an empty body, the
//     X-Message/Message/m parameter ("\n" in it is a line break); with
//     neither, NtfyDefaultMessage. A body that is not UTF-8 would be an
//     attachment on ntfy and is refused here.
//   - Title from X-Title/Title/t; RFC 2047 encoded words in headers are
//     decoded, as ntfy does.
//   - priority from X-Priority/Priority/prio/p, 1-5 or min, low, default,
//     high, max/urgent: 1-3 are info, 4 warning, 5 critical; anything else
//     is an error naming where it was given. A Priority header of the
//     RFC 9218 shape ("u=3, i", added by proxies such as Cloudflare) is
//     ignored, as ntfy ignores it.
//   - X-Tags/Tags/tag/ta, a comma list, become the text's last line,
//     "Tags: a, b", cut to message.MaxAlertTitleLen (ntfy's apps show
//     the tags under the message too; emoji short codes stay words).
//   - To is the topic; the Key is empty, so repeats are told apart by
//     title and text.
//
// A JSON publish (Topic "") takes topic, message, title, priority and
// tags from the body; headers and query parameters fill in what the body
// leaves out, as on ntfy.
func DecodeNtfy(r NtfyRequest) (Notice, error) {
	const what = "ntfy publish"
	if err := checkBodyLen(what, r.Body); err != nil {
		return Notice{}, err
	}
	var (
		topic, msg, title string
		jsonPriority      int
		tags              []string
	)
	if r.Topic == "" {
		var j ntfyJSON
		if err := json.Unmarshal(r.Body, &j); err != nil {
			return Notice{}, fmt.Errorf("%s: a publish to / must be ntfy's JSON: %w", what, err)
		}
		if err := CheckNtfyTopic(j.Topic); err != nil {
			return Notice{}, fmt.Errorf("%s: JSON topic: %w", what, err)
		}
		topic, msg, title, jsonPriority = j.Topic, normalizeText(j.Message), j.Title, j.Priority
		for _, t := range j.Tags {
			if t = strings.TrimSpace(t); t != "" {
				tags = append(tags, t)
			}
		}
		if msg == "" {
			msg = NtfyDefaultMessage
		}
	} else {
		if err := CheckNtfyTopic(r.Topic); err != nil {
			return Notice{}, fmt.Errorf("%s: %w", what, err)
		}
		topic = r.Topic
		if !utf8.Valid(r.Body) {
			return Notice{}, fmt.Errorf("%s: the body is not UTF-8 text (ntfy would make it an attachment; attachments are not accepted)", what)
		}
		if len(r.Body) > 0 {
			msg = normalizeText(string(r.Body))
		} else {
			v, _, err := ntfyParam(r, ntfyMessageNames)
			if err != nil {
				return Notice{}, fmt.Errorf("%s: %w", what, err)
			}
			msg = normalizeText(strings.ReplaceAll(v, `\n`, "\n"))
		}
		if msg == "" {
			msg = NtfyDefaultMessage
		}
	}

	if title == "" {
		v, _, err := ntfyParam(r, ntfyTitleNames)
		if err != nil {
			return Notice{}, fmt.Errorf("%s: %w", what, err)
		}
		title = v
	}

	severity := message.SeverityInfo
	if jsonPriority != 0 {
		if jsonPriority < 1 || jsonPriority > 5 {
			return Notice{}, fmt.Errorf("%s: JSON priority %d is not 1 to 5", what, jsonPriority)
		}
		severity = ntfySeverity(jsonPriority)
	} else {
		v, where, err := ntfyParam(r, ntfyPriorityNames)
		if err != nil {
			return Notice{}, fmt.Errorf("%s: %w", what, err)
		}
		if v != "" {
			p, ok := parseNtfyPriority(v)
			if !ok {
				return Notice{}, fmt.Errorf("%s: %s %q is not a priority (1 to 5, min, low, default, high, max or urgent)", what, where, cut(v, 20))
			}
			severity = ntfySeverity(p)
		}
	}

	if r.Topic != "" || len(tags) == 0 {
		v, _, err := ntfyParam(r, ntfyTagsNames)
		if err != nil {
			return Notice{}, fmt.Errorf("%s: %w", what, err)
		}
		for t := range strings.SplitSeq(v, ",") {
			if t = strings.TrimSpace(t); t != "" {
				tags = append(tags, t)
			}
		}
	}

	text := msg
	if len(tags) > 0 {
		text += "\nTags: " + oneLine(strings.Join(tags, ", "))
	}
	if c := utf8.RuneCountInString(text); c > message.MaxTextLen {
		return Notice{}, fmt.Errorf("%s: the message (with its tags) is %d characters, limit %d", what, c, message.MaxTextLen)
	}
	return finish(Notice{
		Alert: message.Alert{
			Source:   SourceNtfy,
			Severity: severity,
			Title:    oneLine(title),
		},
		Text: text,
		To:   topic,
	})
}

// CheckNtfyTopic applies ntfy's topic syntax (its topicRegex) to t.
func CheckNtfyTopic(t string) error {
	if t == "" {
		return fmt.Errorf("topic is missing")
	}
	if len(t) > MaxNtfyTopicLen {
		return fmt.Errorf("topic is %d characters, limit %d", len(t), MaxNtfyTopicLen)
	}
	for i, r := range t {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			_, size := utf8.DecodeRuneInString(t[i:])
			return fmt.Errorf("topic %q holds %q at byte %d; a topic is made of A-Z, a-z, 0-9, - and _", t, t[i:i+size], i)
		}
	}
	return nil
}

// ntfyParam finds a publish parameter as ntfy's readParam does: every
// header name first, then every query name (lower case), the first
// non-empty value, trimmed. It also says where the value came from, for
// an error message, and refuses a value that is not UTF-8.
func ntfyParam(r NtfyRequest, names []string) (value, where string, err error) {
	for _, name := range names {
		v := r.Header.Get(name)
		if v == "" {
			continue
		}
		if strings.Contains(v, "=?") {
			if decoded, derr := new(mime.WordDecoder).DecodeHeader(v); derr == nil {
				v = decoded
			}
		}
		v = strings.TrimSpace(v)
		if name == "priority" && isRFC9218Priority(v) {
			continue
		}
		if v == "" {
			continue
		}
		where = "header " + http.CanonicalHeaderKey(name)
		if !utf8.ValidString(v) {
			return "", where, fmt.Errorf("%s is not UTF-8", where)
		}
		return v, where, nil
	}
	for _, name := range names {
		v := strings.TrimSpace(r.Query.Get(name))
		if v == "" {
			continue
		}
		where = "query parameter " + name
		if !utf8.ValidString(v) {
			return "", where, fmt.Errorf("%s is not UTF-8", where)
		}
		return v, where, nil
	}
	return "", "", nil
}

// isRFC9218Priority tells the HTTP Priority header of RFC 9218 ("u=3",
// "u=3, i", "u=1,2"), which some proxies add to every request, from an
// ntfy priority. It is the shape ntfy's server ignores.
func isRFC9218Priority(v string) bool {
	if len(v) < 3 || v[0] != 'u' || v[1] != '=' || !isDigit(v[2]) {
		return false
	}
	rest := v[3:]
	if rest == "" {
		return true
	}
	if rest[0] != ',' {
		return false
	}
	rest = strings.TrimLeft(rest[1:], " \t")
	return rest == "i" || len(rest) == 1 && isDigit(rest[0])
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// parseNtfyPriority reads a priority as ntfy's util.ParsePriority does.
func parseNtfyPriority(v string) (int, bool) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "min":
		return 1, true
	case "2", "low":
		return 2, true
	case "3", "default":
		return 3, true
	case "4", "high":
		return 4, true
	case "5", "max", "urgent":
		return 5, true
	}
	return 0, false
}

// ntfySeverity maps ntfy's five priorities onto three severities: the
// ones ntfy's apps show quietly (min, low, default) are info, high
// (a sound and a pop-up) is warning, max (a long vibration, a persistent
// pop-up) is critical.
func ntfySeverity(p int) message.Severity {
	switch {
	case p >= 5:
		return message.SeverityCritical
	case p == 4:
		return message.SeverityWarning
	}
	return message.SeverityInfo
}

// NtfyPriority is the ntfy priority that stands for severity s, the
// inverse of the mapping of publishes: max for critical, high for
// warning, default for info.
func NtfyPriority(s message.Severity) int {
	switch s {
	case message.SeverityCritical:
		return 5
	case message.SeverityWarning:
		return 4
	}
	return 3
}
