// Package access decides who may do what: it knows the caller of every
// request (a local account, from the socket's peer credentials or from a
// session or token bound to one), the two roles, and who owns a name and
// so may read the messages addressed to it. It holds rules, not sockets:
// the API asks it, the transports never do. docs/security.md explains the
// model.
package access

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Caller is who made a request: a local account, and how it proved so.
type Caller struct {
	UID   int    `json:"uid"`
	Login string `json:"login"`
	// Admin is root or a member of the admin group.
	Admin bool `json:"admin"`
	// Groups are the names of the account's groups (primary first).
	Groups []string `json:"groups,omitempty"`
	// Via says how the caller was known: "socket" (peer credentials),
	// "session" (web sign-in), "token" (a user's API token) or
	// "admin-token" (the web token made by `messenger web token`).
	Via string `json:"via"`
	// Token names the API token used, so that rate limits and logs can
	// tell one script from another of the same account.
	Token string `json:"token,omitempty"`
}

// Name is the caller's own messenger name: the login, upper-cased as
// NetBIOS compares names.
func (c Caller) Name() string { return strings.ToUpper(c.Login) }

// Key identifies the caller for per-caller budgets (rate limits,
// de-duplication): the account, and the token when one was used.
func (c Caller) Key() string {
	k := "uid:" + strconv.Itoa(c.UID)
	if c.Token != "" {
		k += "/token:" + c.Token
	}
	return k
}

// InGroup reports whether the caller belongs to group.
func (c Caller) InGroup(group string) bool { return slices.Contains(c.Groups, group) }

type callerKey struct{}

// WithCaller returns ctx carrying c.
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// FromContext returns the caller ctx carries.
func FromContext(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(Caller)
	return c, ok
}

// Refusal is an action the caller may not take. Its text is one sentence
// saying what was refused and who may do it; it changes nothing.
type Refusal struct{ Msg string }

func (r *Refusal) Error() string { return r.Msg }

// Refuse builds a Refusal from a format.
func Refuse(format string, args ...any) error {
	return &Refusal{Msg: fmt.Sprintf(format, args...)}
}

// IsRefusal reports whether err is, or wraps, a Refusal.
func IsRefusal(err error) bool {
	var r *Refusal
	return errors.As(err, &r)
}

// Host message visibility ([access] host_messages).
const (
	HostMessagesUsers  = "users"
	HostMessagesAdmins = "admins"
)

// Config is the [access] section.
type Config struct {
	// AdminGroup's members are admins besides root; a group that does
	// not exist makes root the only admin.
	AdminGroup string `toml:"admin_group"`
	// HostMessages says who reads messages to the host's names (the host
	// name, the workgroup, aliases without an owner): "users" (every
	// local account, as the Windows console showed them) or "admins".
	HostMessages string `toml:"host_messages"`
	// AlertSenders are the accounts, or groups written "@group", that may
	// raise alerts besides admins.
	AlertSenders []string `toml:"alert_senders"`
}

// DefaultConfig is what [access] holds when the file says nothing.
func DefaultConfig() Config {
	return Config{
		AdminGroup:   "messenger-admin",
		HostMessages: HostMessagesUsers,
		// The accounts the packaged hooks run as: CUPS's notifier (lp),
		// NUT's upsmon (nut) and clamd's VirusEvent (clamav).
		AlertSenders: []string{"root", "lp", "nut", "clamav"},
	}
}

// Validate reports what is wrong with the section, one error per problem.
func (c Config) Validate() []error {
	var errs []error
	switch c.HostMessages {
	case HostMessagesUsers, HostMessagesAdmins:
	default:
		errs = append(errs, fmt.Errorf("access.host_messages: %q is neither \"users\" nor \"admins\"", c.HostMessages))
	}
	for _, s := range c.AlertSenders {
		if strings.TrimPrefix(s, "@") == "" {
			errs = append(errs, fmt.Errorf("access.alert_senders: an entry is empty"))
		}
	}
	return errs
}

// Accounts looks up local accounts. The lookups go through os/user (the
// system's passwd and group databases) and are remembered briefly, since
// every request and every event asks.
type Accounts struct {
	cfg Config
	ttl time.Duration
	// daemonUID is the account the daemon runs as.
	daemonUID int

	mu      sync.Mutex
	byUID   map[int]cached[Caller]
	byLogin map[string]cached[string] // upper-case name → login, "" if none
}

type cached[T any] struct {
	v   T
	err error
	at  time.Time
}

// NewAccounts returns a directory of local accounts under cfg.
func NewAccounts(cfg Config) *Accounts {
	return &Accounts{cfg: cfg, ttl: 10 * time.Second, daemonUID: os.Geteuid(), byUID: map[int]cached[Caller]{}, byLogin: map[string]cached[string]{}}
}

// Config is the [access] section in force.
func (a *Accounts) Config() Config { return a.cfg }

// ByUID returns the caller for a local account id, with its role.
func (a *Accounts) ByUID(uid int) (Caller, error) {
	now := time.Now()
	a.mu.Lock()
	if c, ok := a.byUID[uid]; ok && now.Sub(c.at) < a.ttl {
		a.mu.Unlock()
		return c.v, c.err
	}
	a.mu.Unlock()
	c, err := a.lookupUID(uid)
	a.mu.Lock()
	a.byUID[uid] = cached[Caller]{c, err, now}
	a.mu.Unlock()
	return c, err
}

// ByLogin returns the caller for a login name.
func (a *Accounts) ByLogin(login string) (Caller, error) {
	u, err := user.Lookup(login)
	if err != nil {
		return Caller{}, fmt.Errorf("no local account %q", login)
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return Caller{}, fmt.Errorf("account %q has a uid that is not a number: %q", login, u.Uid)
	}
	return a.ByUID(uid)
}

func (a *Accounts) lookupUID(uid int) (Caller, error) {
	c := Caller{UID: uid, Login: strconv.Itoa(uid)}
	u, err := user.LookupId(strconv.Itoa(uid))
	if err != nil {
		// An account without a passwd entry (a container's, a deleted
		// one) is still someone: a user known by number, never an admin
		// unless it is root.
		c.Admin = a.isAdmin(uid, c)
		if uid == 0 {
			c.Login = "root"
		}
		return c, nil
	}
	c.Login = u.Username
	if gids, err := u.GroupIds(); err == nil {
		// The primary group first, then the others.
		slices.SortStableFunc(gids, func(x, y string) int {
			switch {
			case x == u.Gid && y != u.Gid:
				return -1
			case y == u.Gid && x != u.Gid:
				return 1
			}
			return 0
		})
		for _, gid := range gids {
			if g, err := user.LookupGroupId(gid); err == nil {
				c.Groups = append(c.Groups, g.Name)
			}
		}
	}
	c.Admin = a.isAdmin(uid, c)
	return c, nil
}

// isAdmin: root, the admin group's members, and the account the daemon
// runs as — a daemon a user runs for themselves (serve --user-ports) is
// theirs to run, and its files are theirs already.
func (a *Accounts) isAdmin(uid int, c Caller) bool {
	return uid == 0 || uid == a.daemonUID || (a.cfg.AdminGroup != "" && c.InGroup(a.cfg.AdminGroup))
}

// LoginFor returns the local account whose login, upper-cased, is name,
// or "" when there is none. Login names are looked up in lower case, the
// form nearly every system uses; an account named in mixed case is found
// through its own spelling only.
func (a *Accounts) LoginFor(name string) string {
	key := strings.ToUpper(name)
	now := time.Now()
	a.mu.Lock()
	if c, ok := a.byLogin[key]; ok && now.Sub(c.at) < a.ttl {
		a.mu.Unlock()
		return c.v
	}
	a.mu.Unlock()
	login := ""
	for _, try := range []string{strings.ToLower(name), name} {
		if u, err := user.Lookup(try); err == nil && strings.ToUpper(u.Username) == key {
			login = u.Username
			break
		}
	}
	a.mu.Lock()
	a.byLogin[key] = cached[string]{v: login, at: now}
	a.mu.Unlock()
	return login
}

// MayAlert reports whether c may raise alerts: admins and the accounts
// or groups of alert_senders.
func (a *Accounts) MayAlert(c Caller) bool {
	if c.Admin {
		return true
	}
	for _, s := range a.cfg.AlertSenders {
		if g, ok := strings.CutPrefix(s, "@"); ok {
			if c.InGroup(g) {
				return true
			}
		} else if s == c.Login {
			return true
		}
	}
	return false
}
