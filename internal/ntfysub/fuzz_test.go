package ntfysub

import (
	"strings"
	"testing"
	"time"
)

func FuzzParseTopics(f *testing.F) {
	for _, s := range []string{"alice", "ALICE,OPS", "a,,b", ",", "a/b", "é", strings.Repeat("a,", 20), "a,A"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ts, err := parseTopics(s)
		if err != nil {
			return
		}
		if len(ts) == 0 || len(ts) > maxTopics {
			t.Fatalf("%q: %d topics", s, len(ts))
		}
		seen := map[string]bool{}
		for _, x := range ts {
			if x == "" || len(x) > maxTopicLen || strings.ContainsAny(x, ",/ \n") || seen[strings.ToUpper(x)] {
				t.Fatalf("%q gave topic %q", s, x)
			}
			seen[strings.ToUpper(x)] = true
		}
	})
}

func FuzzParseSince(f *testing.F) {
	for _, s := range []string{"all", "latest", "none", "10m", "3d", "1635528757", "m42", "m", "-1h", "99999999999999999999d", "1h30m"} {
		f.Add(s)
	}
	now := time.Unix(1_700_000_000, 0)
	f.Fuzz(func(t *testing.T, s string) {
		sn, err := parseSince(s, now)
		if err != nil {
			return
		}
		switch sn.kind {
		case sinceTime:
			if sn.t.After(now) && !allDigits(s) {
				t.Fatalf("%q: a duration ends in the future: %v", s, sn.t)
			}
		case sinceID:
			if sn.id < 0 {
				t.Fatalf("%q: negative id", s)
			}
		}
	})
}
