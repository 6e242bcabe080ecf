// Package names keeps the table of NetBIOS names this host answers to —
// the computer name, the workgroup, the names of users logged in here and
// the message aliases — with the state of each on the network, and
// registers, defends and releases them (registrar.go). Every transport asks
// it before accepting a message for a name.
package names

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/netsend/messenger/internal/message"
	"github.com/netsend/messenger/internal/netbios"
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
	SourceHost      Source = "host"      // the computer name; permanent
	SourceWorkgroup Source = "workgroup" // the workgroup group name; permanent
	SourceConfig    Source = "config"    // an alias from the configuration
	SourceAlias     Source = "alias"     // an alias added at run time
	SourceUser      Source = "user"      // a user with a login session here
)

// State is where a name stands on the network.
type State string

// Name states, as net name and nbtstat showed them.
const (
	StateRegistering State = "registering"
	StateRegistered  State = "registered"
	StateConflict    State = "conflict"
	StateReleasing   State = "releasing"
)

// Errors callers tell apart.
var (
	ErrExists    = errors.New("the name is already in the table")
	ErrNotFound  = errors.New("no such name")
	ErrPermanent = errors.New("the computer name cannot be deleted")
	ErrInConfig  = errors.New("the name is set in the configuration file; remove it there")
)

// Entry is one name in the table.
type Entry struct {
	Name   netbios.Name
	Text   string // the name without suffix and padding, in UTF-8
	Group  bool
	Source Source
	State  State
	// Owner is the local account an alias belongs to (messenger name add
	// --user); empty for the host's own names, whose messages every
	// local user may read.
	Owner string
}

// Permanent reports whether the entry lives as long as the daemon.
func (e Entry) Permanent() bool { return e.Source == SourceHost || e.Source == SourceWorkgroup }

// Table is the set of names of this host. It is safe for concurrent use;
// lookups happen on every session request and name query.
type Table struct {
	cp message.CodePage

	mu      sync.RWMutex
	entries map[[16]byte]*Entry
	// changed is closed, and replaced, whenever a name comes or goes.
	changed chan struct{}
	// generation counts every change, states included.
	generation atomic.Uint64
}

// Generation returns a number that changes whenever a name comes, goes or
// changes state, so that who derives something from the table (the name
// service's encoded answers) can tell, with one atomic load, that it must
// derive it again.
func (t *Table) Generation() uint64 { return t.generation.Load() }

// Changed returns a channel closed at the next change of the table's
// names (an alias added or removed, a user logging in or out), so that
// who mirrors the names elsewhere need not poll. Take a new one after
// each change.
func (t *Table) Changed() <-chan struct{} {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.changed
}

// announce wakes the Changed waiters; t.mu is held for writing.
func (t *Table) announce() {
	t.generation.Add(1)
	close(t.changed)
	t.changed = make(chan struct{})
}

// key folds ASCII case, as NetBT compared names.
func key(n netbios.Name) [16]byte {
	b := n.Bytes()
	for i := 0; i < 15; i++ {
		if 'a' <= b[i] && b[i] <= 'z' {
			b[i] -= 'a' - 'A'
		}
	}
	return b
}

// Config is what a table starts with.
type Config struct {
	CodePage     message.CodePage
	Host         string
	HostSuffixes []byte // name types registered for the host name; 0x03 is always among them
	Workgroup    string // registered as a group name <00>; empty for none
	Aliases      []string
}

// New builds a table holding the permanent names and configured aliases,
// all in state registering until the registrar has spoken for them.
func New(c Config) (*Table, error) {
	t := &Table{cp: c.CodePage, entries: make(map[[16]byte]*Entry), changed: make(chan struct{})}
	suffixes := c.HostSuffixes
	if !slices.Contains(suffixes, MessengerSuffix) {
		suffixes = append(slices.Clone(suffixes), MessengerSuffix)
	}
	for _, sfx := range suffixes {
		n, err := netbios.NewName(string(c.CodePage.Encode(strings.ToUpper(c.Host))), sfx)
		if err != nil {
			return nil, fmt.Errorf("host name %q: %w", c.Host, err)
		}
		t.put(Entry{Name: n, Source: SourceHost, State: StateRegistering})
	}
	if c.Workgroup != "" {
		n, err := netbios.NewName(string(c.CodePage.Encode(strings.ToUpper(c.Workgroup))), 0x00)
		if err != nil {
			return nil, fmt.Errorf("workgroup %q: %w", c.Workgroup, err)
		}
		t.put(Entry{Name: n, Group: true, Source: SourceWorkgroup, State: StateRegistering})
	}
	for _, a := range c.Aliases {
		n, err := Messenger(a, c.CodePage)
		if err != nil {
			return nil, fmt.Errorf("alias %q: %w", a, err)
		}
		if _, dup := t.entries[key(n)]; !dup {
			t.put(Entry{Name: n, Source: SourceConfig, State: StateRegistering})
		}
	}
	return t, nil
}

func (t *Table) put(e Entry) {
	e.Text = t.cp.Decode([]byte(e.Name.Base()))
	t.entries[key(e.Name)] = &e
}

// CodePage is the code page names are converted with.
func (t *Table) CodePage() message.CodePage { return t.cp }

// Has reports whether n is a messenger name this host accepts messages
// for: ours, suffix 0x03, and not lost to another node.
func (t *Table) Has(n netbios.Name) bool {
	e, ok := t.Lookup(n)
	return ok && e.Name.Suffix() == MessengerSuffix && (e.State == StateRegistered || e.State == StateRegistering)
}

// HasString reports whether a name as a sender typed it (the destination
// field of a message) is one of our messenger names.
func (t *Table) HasString(s string) bool {
	n, err := Messenger(s, t.cp)
	return err == nil && t.Has(n)
}

// Lookup returns the entry for n, of any suffix and state.
func (t *Table) Lookup(n netbios.Name) (Entry, bool) {
	k := key(n)
	t.mu.RLock()
	defer t.mu.RUnlock()
	if e, ok := t.entries[k]; ok {
		return *e, true
	}
	return Entry{}, false
}

// List returns the names sorted by name and type.
func (t *Table) List() []Entry {
	t.mu.RLock()
	out := make([]Entry, 0, len(t.entries))
	for _, e := range t.entries {
		out = append(out, *e)
	}
	t.mu.RUnlock()
	slices.SortFunc(out, func(a, b Entry) int {
		ab, bb := a.Name.Bytes(), b.Name.Bytes()
		return strings.Compare(string(ab[:]), string(bb[:]))
	})
	return out
}

// SetState records what the network said about n.
func (t *Table) SetState(n netbios.Name, st State) {
	t.mu.Lock()
	if e, ok := t.entries[key(n)]; ok {
		e.State = st
		t.generation.Add(1)
	}
	t.mu.Unlock()
}

// AddAlias puts a run-time alias in the table, state registering; owner
// is the account it belongs to, empty for a host name.
func (t *Table) AddAlias(s, owner string) (Entry, error) {
	n, err := Messenger(s, t.cp)
	if err != nil {
		return Entry{}, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if e, ok := t.entries[key(n)]; ok {
		if e.Source == SourceUser {
			// A logged-in user's name becomes a lasting alias.
			e.Source = SourceAlias
			e.Owner = owner
			return *e, nil
		}
		return *e, fmt.Errorf("%v: %w", n, ErrExists)
	}
	t.put(Entry{Name: n, Source: SourceAlias, State: StateRegistering, Owner: owner})
	t.announce()
	return *t.entries[key(n)], nil
}

// Owner says whom the messenger name s belongs to, for who may read its
// messages: an alias's owner, if it has one; permanent is true for the
// host name and the workgroup, which are the host's whoever's login they
// spell. Any other name belongs to the local account of that login if
// there is one, and to the host if not.
func (t *Table) Owner(s string) (owner string, permanent bool) {
	n, err := Messenger(s, t.cp)
	if err != nil {
		return "", false
	}
	if e, ok := t.Lookup(n); ok && e.Name.Suffix() == MessengerSuffix {
		return e.Owner, e.Source == SourceHost
	}
	if g, err := netbios.NewName(n.Base(), 0x00); err == nil {
		if e, ok := t.Lookup(g); ok && e.Source == SourceWorkgroup {
			return "", true
		}
	}
	return "", false
}

// CheckRemovable tells whether the messenger name s may be deleted.
func (t *Table) CheckRemovable(s string) (Entry, error) {
	n, err := Messenger(s, t.cp)
	if err != nil {
		return Entry{}, err
	}
	e, ok := t.Lookup(n)
	switch {
	case !ok:
		return Entry{}, fmt.Errorf("%v: %w", n, ErrNotFound)
	case e.Source == SourceHost:
		return e, ErrPermanent
	case e.Source == SourceConfig:
		return e, fmt.Errorf("%v: %w", n, ErrInConfig)
	}
	return e, nil
}

// Remove takes n out of the table.
func (t *Table) Remove(n netbios.Name) {
	t.mu.Lock()
	if _, ok := t.entries[key(n)]; ok {
		delete(t.entries, key(n))
		t.announce()
	}
	t.mu.Unlock()
}

// SetUsers makes the given users' names the user names of the table and
// returns the entries that came and went. Names too long for NetBIOS are
// cut to 15 bytes, as Windows did with message aliases (MS-MSRP 3.1.4.6);
// names that cannot be NetBIOS names are skipped.
func (t *Table) SetUsers(users []string) (added, removed []Entry) {
	fresh := make(map[[16]byte]netbios.Name)
	for _, u := range users {
		oem := t.cp.Encode(strings.ToUpper(u))
		if len(oem) > 15 {
			oem = oem[:15]
		}
		if n, err := netbios.NewName(string(oem), MessengerSuffix); err == nil {
			fresh[key(n)] = n
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, e := range t.entries {
		if _, still := fresh[k]; e.Source == SourceUser && !still {
			removed = append(removed, *e)
			delete(t.entries, k)
		}
	}
	for k, n := range fresh {
		if _, taken := t.entries[k]; !taken {
			t.put(Entry{Name: n, Source: SourceUser, State: StateRegistering})
			added = append(added, *t.entries[k])
		}
	}
	if len(added)+len(removed) > 0 {
		t.announce()
	}
	return added, removed
}

// ErrConflict means another node holds the name: it defended it against
// our registration, or the WINS server refused it (NERR_DuplicateName).
var ErrConflict = errors.New("the name is in use by another computer on the network")
