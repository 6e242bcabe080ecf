package config

import (
	"errors"
	"fmt"
	"strings"

	"github.com/netsend/messenger/internal/config/setting"
)

// withLines names the file and line of every policy problem in err. The
// TOML decoder keeps key positions to itself, so the lines are found
// again in the text: good enough for files people write, and a problem
// whose line cannot be found still names its key.
func withLines(err error, data []byte, path string) error {
	var errs []error
	for _, e := range flatten(err) {
		var fe *setting.Error
		if errors.As(e, &fe) {
			if line := lineOf(string(data), fe.Table, fe.Index, fe.Key); line > 0 {
				errs = append(errs, fmt.Errorf("%s:%d: %w", path, line, e))
				continue
			}
		}
		errs = append(errs, fmt.Errorf("%s: %w", path, e))
	}
	return errors.Join(errs...)
}

func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}

// lineOf finds the line of key in table (the index-th of an array of
// tables when index >= 0), or of the table's header when key is absent
// or empty. 0 when not found.
func lineOf(data, table string, index int, key string) int {
	current, seen, header := "", -1, 0
	for i, raw := range strings.Split(data, "\n") {
		line := strings.TrimSpace(raw)
		if strings.HasPrefix(line, "[") {
			array := strings.HasPrefix(line, "[[")
			name := strings.Trim(strings.SplitN(line, "#", 2)[0], "[] \t")
			name = strings.ReplaceAll(name, " ", "")
			current = name
			if name == table {
				if array {
					seen++
				}
				if index < 0 || seen == index {
					header = i + 1
				}
			}
			continue
		}
		if current != table || (index >= 0 && seen != index) || key == "" {
			continue
		}
		k, _, ok := strings.Cut(line, "=")
		if ok && strings.Trim(strings.TrimSpace(k), `"`) == key {
			return i + 1
		}
	}
	if header == 0 && table == "policy.transports" && key != "" {
		// An unknown transport: its own table names it.
		return lineOf(data, table+"."+key, -1, "")
	}
	return header
}
