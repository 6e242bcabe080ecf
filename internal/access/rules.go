package access

import "strings"

// NameOwners says whom a messenger name belongs to as the daemon's name
// table knows it: an alias's owner, or permanent for the host name and
// the workgroup. Any other name belongs to the local account of that
// login, if any, and to the host if not.
type NameOwners interface {
	Owner(name string) (owner string, permanent bool)
	// HasString reports whether name is one of the table's messenger
	// names.
	HasString(name string) bool
}

// Rules answer, for a caller, what they may read and send as.
type Rules struct {
	Accounts *Accounts
	Names    NameOwners
}

// OwnerOf returns the login of the account messages to name belong to,
// or "" for a host name (the host name, the workgroup, an alias without
// an owner, or a name no local account has).
func (r *Rules) OwnerOf(name string) string {
	name = strings.TrimSpace(name)
	if r.Names != nil {
		owner, permanent := r.Names.Owner(name)
		if owner != "" || permanent {
			return owner
		}
	}
	// A name spelling a login is that account's, alias or not; any other
	// name without an owner is the host's.
	return r.Accounts.LoginFor(name)
}

// MayRead reports whether c may read messages addressed to recipient:
// admins every message, a user those to names they own and, when
// host_messages is "users", those to the host's names.
func (r *Rules) MayRead(c Caller, recipient string) bool {
	if c.Admin {
		return true
	}
	owner := r.OwnerOf(recipient)
	if owner == "" {
		return r.Accounts.Config().HostMessages == HostMessagesUsers
	}
	return owner == c.Login
}

// Readable keeps the recipients c may read, for listing in the store.
func (r *Rules) Readable(c Caller, recipients []string) []string {
	out := make([]string, 0, len(recipients))
	for _, n := range recipients {
		if r.MayRead(c, n) {
			out = append(out, n)
		}
	}
	return out
}

// Owns reports whether name is c's own: their login or an alias given
// to them. A user may send only under a name they own.
func (r *Rules) Owns(c Caller, name string) bool {
	name = strings.TrimSpace(name)
	if c.Login == "" {
		return false
	}
	if strings.EqualFold(name, c.Login) {
		return true
	}
	owner := r.OwnerOf(name)
	// A login longer than a NetBIOS name is sent cut to 15 characters,
	// as Windows cut user names: the cut name is theirs unless it names
	// something else (another account's login, a name of the table).
	if len(c.Login) > 15 && strings.EqualFold(name, c.Login[:15]) && owner == "" && !r.inTable(name) {
		return true
	}
	return owner == c.Login
}

// inTable reports whether the name table knows name at all: an alias
// (owned or not) or one of the host's names.
func (r *Rules) inTable(name string) bool {
	if r.Names == nil {
		return false
	}
	owner, permanent := r.Names.Owner(name)
	return owner != "" || permanent || r.Names.HasString(name)
}

// MaySendAs returns a Refusal unless c may put from in a message's
// sender field: admins any name, users names they own.
func (r *Rules) MaySendAs(c Caller, from string) error {
	if c.Admin || from == "" || r.Owns(c, from) {
		return nil
	}
	return Refuse("%s may not send as %q: a user sends under their own login or an alias given to them; only admins may use any name", c.Login, from)
}

// AdminOnly returns a Refusal unless c is an admin; what names the action.
func (r *Rules) AdminOnly(c Caller, what string) error {
	if c.Admin {
		return nil
	}
	who := "root"
	if g := r.Accounts.Config().AdminGroup; g != "" {
		who = "root and members of the group " + g
	}
	return Refuse("%s may not %s: only %s may", c.Login, what, who)
}
