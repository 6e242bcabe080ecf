package policy

import (
	"regexp"
	"strings"
)

// urlStarts are how a URL begins in a message; spam runs of the 2000s
// used both.
var urlStarts = []string{"http://", "https://", "www."}

// matchURL finds the URLs in text (from a start above to the next space)
// and reports the first that re matches. It scans without copying.
func matchURL(re *regexp.Regexp, text string) (string, bool) {
	for i := 0; i < len(text); i++ {
		c := text[i] | 0x20
		if c != 'h' && c != 'w' {
			continue
		}
		if i > 0 && isURLChar(text[i-1]) {
			continue
		}
		for _, s := range urlStarts {
			if len(text)-i >= len(s) && strings.EqualFold(text[i:i+len(s)], s) {
				end := i + len(s)
				for end < len(text) && isURLChar(text[end]) {
					end++
				}
				u := text[i:end]
				if re.MatchString(u) {
					return u, true
				}
				i = end - 1
				break
			}
		}
	}
	return "", false
}

func isURLChar(c byte) bool {
	return c > ' ' && c != '"' && c != '<' && c != '>' && c != 0x7f
}
