package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// maxAge bounds an age so that its nanoseconds fit an int64 with room to
// spare: about 290 years.
const maxAge = 290 * 365 * 24 * time.Hour

// ParseAge reads how far back, or how long to keep: a Go duration ("90m",
// "36h") or whole days or weeks ("7d", "2w"), which time.ParseDuration
// lacks and people say. [store] keep, `inbox --since` and ntfy's since=
// all read it so.
func ParseAge(s string) (time.Duration, error) {
	for suffix, unit := range map[string]time.Duration{"d": 24 * time.Hour, "w": 7 * 24 * time.Hour} {
		if n, ok := strings.CutSuffix(s, suffix); ok {
			v, err := strconv.ParseUint(n, 10, 32)
			if err != nil || time.Duration(v) > maxAge/unit {
				return 0, fmt.Errorf("%q is not a duration like 90m, 36h, 7d or 2w", s)
			}
			return time.Duration(v) * unit, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 || d > maxAge {
		return 0, fmt.Errorf("%q is not a duration like 90m, 36h, 7d or 2w", s)
	}
	return d, nil
}
