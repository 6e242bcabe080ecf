// Package sink holds what the sinks share: the choice of recipient names a
// sink shows messages to. Each sink lives in its own package below.
package sink

import (
	"strings"

	"github.com/netsend/messenger/internal/message"
)

// Shower is the pipeline's view of a sink.
type Shower interface {
	Name() string
	Show(m message.Message)
}

// ForNames returns s limited to messages addressed to one of names (any
// case, blanks trimmed); with no names it returns s itself.
func ForNames(s Shower, names []string) Shower {
	if len(names) == 0 {
		return s
	}
	set := make(map[string]bool, len(names))
	for _, n := range names {
		set[strings.ToUpper(strings.TrimSpace(n))] = true
	}
	return &filtered{Shower: s, names: set}
}

type filtered struct {
	Shower
	names map[string]bool
}

func (f *filtered) Show(m message.Message) {
	if f.names[strings.ToUpper(strings.TrimSpace(m.To))] {
		f.Shower.Show(m)
	}
}
