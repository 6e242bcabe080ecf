// Package names keeps the table of NetBIOS names this host answers to as a
// messenger: the computer name, the names of users logged in here, and the
// aliases the operator added. Every transport asks it before accepting a
// message for a name.
package names

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/netsend/messenger/internal/message"
	"github.com/netsend/messenger/internal/netbios"
	"github.com/netsend/messenger/internal/utmp"
)

// MessengerSuffix is the NetBIOS name type of the Messenger service.
const MessengerSuffix = 0x03

// Messenger turns a name as people write it into the NetBIOS messenger
// name: upper-cased, in the OEM code page, suffix 0x03. Names longer than
// 15 bytes are an error, not silently cut.
func Messenger(s string, cp message.CodePage) (netbios.Name, error) {
	return netbios.NewName(string(cp.Encode(strings.ToUpper(s))), MessengerSuffix)
}

// Source tells why a name is in the table.
type Source string

// Where names come from.
const (
	SourceHost  Source = "host"  // the computer name; permanent
	SourceAlias Source = "alias" // configured or added by the operator
	SourceUser  Source = "user"  // a user with a login session here
)

// Entry is one name in the table.
type Entry struct {
	Name   netbios.Name
	Source Source
}

// Table is the set of messenger (suffix 0x03) names of this host. It is
// safe for concurrent use; lookups are on every session request.
type Table struct {
	cp message.CodePage

	mu      sync.RWMutex
	entries map[[16]byte]Entry
}

// New builds a table holding the host name and the given aliases.
func New(cp message.CodePage, host string, aliases []string) (*Table, error) {
	t := &Table{cp: cp, entries: make(map[[16]byte]Entry)}
	hn, err := Messenger(host, cp)
	if err != nil {
		return nil, err
	}
	t.entries[hn.Bytes()] = Entry{Name: hn, Source: SourceHost}
	for _, a := range aliases {
		n, err := Messenger(a, cp)
		if err != nil {
			return nil, err
		}
		if _, dup := t.entries[n.Bytes()]; !dup {
			t.entries[n.Bytes()] = Entry{Name: n, Source: SourceAlias}
		}
	}
	return t, nil
}

// Has reports whether n is one of our names; the comparison ignores ASCII
// case, as NetBT compared called names.
func (t *Table) Has(n netbios.Name) bool {
	key := upper(n)
	t.mu.RLock()
	_, ok := t.entries[key]
	t.mu.RUnlock()
	return ok
}

// HasString reports whether a name as a sender typed it (e.g. the
// destination field of a message) is one of our messenger names.
func (t *Table) HasString(s string) bool {
	n, err := Messenger(s, t.cp)
	return err == nil && t.Has(n)
}

func upper(n netbios.Name) [16]byte {
	b := n.Bytes()
	for i := 0; i < 15; i++ {
		if 'a' <= b[i] && b[i] <= 'z' {
			b[i] -= 'a' - 'A'
		}
	}
	return b
}

// List returns the names, sorted.
func (t *Table) List() []Entry {
	t.mu.RLock()
	out := make([]Entry, 0, len(t.entries))
	for _, e := range t.entries {
		out = append(out, e)
	}
	t.mu.RUnlock()
	slices.SortFunc(out, func(a, b Entry) int { return strings.Compare(a.Name.String(), b.Name.String()) })
	return out
}

// SetUsers replaces the user names with those given. Names too long for
// NetBIOS are cut to 15 bytes, as Windows did with message aliases
// (MS-MSRP 3.1.4.6); names that cannot be NetBIOS names are skipped.
func (t *Table) SetUsers(users []string) {
	fresh := make(map[[16]byte]Entry)
	for _, u := range users {
		oem := t.cp.Encode(strings.ToUpper(u))
		if len(oem) > 15 {
			oem = oem[:15]
		}
		n, err := netbios.NewName(string(oem), MessengerSuffix)
		if err != nil {
			continue
		}
		fresh[n.Bytes()] = Entry{Name: n, Source: SourceUser}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, e := range t.entries {
		if e.Source == SourceUser {
			if _, still := fresh[k]; !still {
				delete(t.entries, k)
			}
		}
	}
	for k, e := range fresh {
		if _, taken := t.entries[k]; !taken {
			t.entries[k] = e
		}
	}
}

// WatchUsers keeps the user names current from the utmp file at path until
// ctx ends. Logins change rarely, so polling every interval is enough.
func (t *Table) WatchUsers(ctx context.Context, path string, interval time.Duration, log *slog.Logger) {
	var last []string
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		recs, err := utmp.ReadFile(path)
		if err != nil {
			log.Warn("reading logged-in users", slog.String("path", path), slog.Any("err", err))
		} else if users := utmp.Users(recs); !slices.Equal(users, last) {
			t.SetUsers(users)
			log.Info("logged-in user names", slog.Any("users", users))
			last = users
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
