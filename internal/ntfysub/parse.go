package ntfysub

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/netsend/messenger/internal/config"
)

// maxTopics bounds the names one subscription may list: each costs a
// permission check per message, and no one reads more names than that.
const maxTopics = 16

// maxTopicLen is ntfy's longest topic; a messenger name is far shorter.
const maxTopicLen = 64

// parseTopics reads the comma-separated names of a subscription path,
// as the client spelled them (messages are echoed under that spelling:
// the ntfy app finds a message's subscription by its exact topic), in
// the order given, without repeats (compared without case).
func parseTopics(s string) ([]string, error) {
	if s == "" {
		return nil, errors.New("no topic")
	}
	var out []string
	seen := map[string]bool{}
	for t := range strings.SplitSeq(s, ",") {
		if t == "" || len(t) > maxTopicLen {
			return nil, fmt.Errorf("topic %q: use 1 to %d characters", t, maxTopicLen)
		}
		for _, r := range t {
			// A name is shown and logged: no spaces, controls or slashes.
			if r == '/' || r > unicode.MaxASCII || !unicode.IsGraphic(r) || unicode.IsSpace(r) {
				return nil, fmt.Errorf("topic %q: %q is not allowed in a name", t, r)
			}
		}
		if key := strings.ToUpper(t); !seen[key] {
			seen[key] = true
			out = append(out, t)
		}
	}
	if len(out) > maxTopics {
		return nil, fmt.Errorf("%d topics: at most %d in one subscription", len(out), maxTopics)
	}
	return out, nil
}

// sinceKind is what ?since= asked for.
type sinceKind int

const (
	sinceNone   sinceKind = iota // only new messages: a stream's default
	sinceAll                     // every stored message: a poll's default
	sinceLatest                  // the newest stored message only
	sinceTime                    // stored messages from a time on
	sinceID                      // stored messages after an id
)

type since struct {
	kind sinceKind
	t    time.Time
	id   int64
}

// maxSinceDuration keeps a duration's arithmetic far from overflow.
const maxSinceDuration = 100 * 365 * 24 * time.Hour

// parseSince reads ntfy's since=: "all", "latest", "none", a duration
// ("10m", "2h", "3d"), a Unix time in seconds, or a message id as this
// server writes them ("m" and the store's id; ntfy's ids are never all
// digits either, which is what tells an id from a time).
func parseSince(v string, now time.Time) (since, error) {
	switch v {
	case "all":
		return since{kind: sinceAll}, nil
	case "latest":
		return since{kind: sinceLatest}, nil
	case "none":
		return since{kind: sinceNone}, nil
	case "":
		return since{}, errors.New("since is empty")
	}
	if rest, ok := strings.CutPrefix(v, "m"); ok && rest != "" && allDigits(rest) {
		id, err := strconv.ParseInt(rest, 10, 64)
		if err != nil {
			return since{}, fmt.Errorf("since=%q: message id out of range", v)
		}
		return since{kind: sinceID, id: id}, nil
	}
	if allDigits(v) {
		sec, err := strconv.ParseInt(v, 10, 64)
		if err != nil || sec > 1<<40 {
			return since{}, fmt.Errorf("since=%q: Unix time out of range", v)
		}
		return since{kind: sinceTime, t: time.Unix(sec, 0)}, nil
	}
	d, err := parseDuration(v)
	if err != nil {
		return since{}, fmt.Errorf("since=%q: want all, latest, none, a duration (10m, 2h, 3d), a Unix time or a message id: %w", v, err)
	}
	return since{kind: sinceTime, t: now.Add(-d)}, nil
}

// parseDuration is Go's durations plus ntfy's days ("3d"), within what
// a since= may reach back.
func parseDuration(v string) (time.Duration, error) {
	d, err := config.ParseAge(v)
	if err != nil {
		return 0, err
	}
	if d > maxSinceDuration {
		return 0, errors.New("out of range")
	}
	return d, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
