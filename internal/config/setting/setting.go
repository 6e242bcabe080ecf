// Package setting holds the one error type of a configuration setting,
// shared by the configuration and the parts that check their own tables
// (the policy), so that every such problem can be traced to its file and
// line the same way.
package setting

import (
	"fmt"
	"strings"
)

// Error is a problem with one setting of the configuration: Table is the
// TOML table ("policy", "policy.rule", "policy.transports.smb"), Index
// the position in an array of tables (-1 otherwise), Key the setting.
// The configuration turns it into a file and line.
type Error struct {
	Table string
	Index int
	Name  string // the rule's name, when there is one
	Key   string
	Err   error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Table)
	if e.Index >= 0 {
		fmt.Fprintf(&b, "[%d]", e.Index)
		if e.Name != "" {
			fmt.Fprintf(&b, " (%q)", e.Name)
		}
	}
	if e.Key != "" {
		b.WriteString("." + e.Key)
	}
	return b.String() + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }
