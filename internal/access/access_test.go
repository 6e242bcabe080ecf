package access

import (
	"context"
	"os/user"
	"strconv"
	"testing"
)

// fakeNames is a name table: aliases with owners, and permanent names.
type fakeNames map[string]struct {
	owner     string
	permanent bool
}

func (f fakeNames) Owner(name string) (string, bool) {
	e := f[name]
	return e.owner, e.permanent
}

func (f fakeNames) HasString(name string) bool {
	_, ok := f[name]
	return ok
}

func testRules(hostMessages string) *Rules {
	cfg := DefaultConfig()
	cfg.HostMessages = hostMessages
	return &Rules{Accounts: NewAccounts(cfg), Names: fakeNames{
		"HOST":    {permanent: true},
		"ROOT":    {permanent: true}, // a host name spelling a login stays the host's
		"DESK":    {owner: "alice"},
		"PRINTER": {},
	}}
}

func TestMayRead(t *testing.T) {
	r := testRules(HostMessagesUsers)
	alice := Caller{UID: 1001, Login: "alice"}
	admin := Caller{UID: 0, Login: "root", Admin: true}
	for _, tc := range []struct {
		c    Caller
		to   string
		want bool
	}{
		{alice, "DESK", true},          // her alias
		{alice, "HOST", true},          // host names: every user
		{alice, "PRINTER", true},       // alias without owner: a host name
		{alice, "ROOT", true},          // the host name, though root's login
		{alice, "NOBODYHERE123", true}, // no account: the host's
		{Caller{Login: "bob"}, "DESK", false},
		{admin, "DESK", true},
	} {
		if got := r.MayRead(tc.c, tc.to); got != tc.want {
			t.Errorf("MayRead(%s, %s) = %v, want %v", tc.c.Login, tc.to, got, tc.want)
		}
	}
	r = testRules(HostMessagesAdmins)
	if r.MayRead(alice, "HOST") || !r.MayRead(alice, "DESK") || !r.MayRead(admin, "HOST") {
		t.Error("host_messages = admins: users read only their own names")
	}
}

// TestLoginNames: a name spelling a local login is that account's, so
// root's own name (an account every system has) is root's.
func TestLoginNames(t *testing.T) {
	r := &Rules{Accounts: NewAccounts(DefaultConfig())}
	if got := r.OwnerOf("root"); got != "root" {
		t.Errorf("OwnerOf(root) = %q", got)
	}
	if got := r.OwnerOf("ROOT"); got != "root" {
		t.Errorf("OwnerOf(ROOT) = %q; names compare upper-case", got)
	}
	if r.MayRead(Caller{Login: "someone"}, "ROOT") {
		t.Error("another user reads root's messages")
	}
}

func TestMaySendAs(t *testing.T) {
	r := testRules(HostMessagesUsers)
	alice := Caller{Login: "alice"}
	for _, from := range []string{"", "alice", "ALICE", "DESK"} {
		if err := r.MaySendAs(alice, from); err != nil {
			t.Errorf("alice as %q: %v", from, err)
		}
	}
	for _, from := range []string{"ADMINISTRATOR", "HOST", "PRINTER", "root"} {
		err := r.MaySendAs(alice, from)
		if !IsRefusal(err) {
			t.Errorf("alice as %q: %v, want a refusal", from, err)
		}
	}
	long := Caller{Login: "averyverylonglogin"}
	if err := r.MaySendAs(long, "AVERYVERYLONGLO"); err != nil {
		t.Errorf("a long login cut to 15 characters: %v", err)
	}
	// Cut, a long login may spell a name of the table (an alias, the
	// host's): that is not theirs.
	for _, c := range []struct{ login, name string }{{"printerprinter12x", "PRINTERPRINTER1"}, {"rootrootrootroot", "ROOTROOTROOTROO"}} {
		r.Names.(fakeNames)[c.name] = struct {
			owner     string
			permanent bool
		}{}
		if err := r.MaySendAs(Caller{Login: c.login}, c.name); !IsRefusal(err) {
			t.Errorf("%s as %s, a name of the table: %v, want a refusal", c.login, c.name, err)
		}
	}
	if err := r.MaySendAs(Caller{Login: "root", Admin: true}, "ADMINISTRATOR"); err != nil {
		t.Errorf("admin: %v", err)
	}
}

func TestRoles(t *testing.T) {
	a := NewAccounts(Config{AdminGroup: "no-such-group-here", HostMessages: HostMessagesUsers})
	root, err := a.ByUID(0)
	if err != nil || !root.Admin || root.Login != "root" {
		t.Fatalf("uid 0 = %+v, %v; want root, admin", root, err)
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Skip("no account nobody")
	}
	uid, _ := strconv.Atoi(u.Uid)
	c, err := a.ByUID(uid)
	if err != nil || c.Admin || c.Login != "nobody" {
		t.Errorf("nobody = %+v, %v; want a user", c, err)
	}
	if err := (&Rules{Accounts: a}).AdminOnly(c, "block senders"); !IsRefusal(err) {
		t.Errorf("AdminOnly(nobody) = %v", err)
	}
	// A uid with no account is a user known by number.
	c, err = a.ByUID(4000123)
	if err != nil || c.Admin || c.Login != "4000123" {
		t.Errorf("unknown uid = %+v, %v", c, err)
	}
}

func TestMayAlert(t *testing.T) {
	a := NewAccounts(Config{HostMessages: HostMessagesUsers, AlertSenders: []string{"nut", "@lpadmin"}})
	for _, tc := range []struct {
		c    Caller
		want bool
	}{
		{Caller{Login: "root", Admin: true}, true},
		{Caller{Login: "nut"}, true},
		{Caller{Login: "someone", Groups: []string{"users", "lpadmin"}}, true},
		{Caller{Login: "someone", Groups: []string{"users"}}, false},
	} {
		if got := a.MayAlert(tc.c); got != tc.want {
			t.Errorf("MayAlert(%+v) = %v, want %v", tc.c, got, tc.want)
		}
	}
}

func TestCallerInContext(t *testing.T) {
	if _, ok := FromContext(context.Background()); ok {
		t.Fatal("a caller out of nothing")
	}
	c := Caller{UID: 7, Login: "x", Token: "ci"}
	got, ok := FromContext(WithCaller(context.Background(), c))
	if !ok || got.Login != "x" || got.Key() != "uid:7/token:ci" {
		t.Errorf("FromContext = %+v, %v", got, ok)
	}
}

func TestConfigValidate(t *testing.T) {
	if errs := DefaultConfig().Validate(); len(errs) != 0 {
		t.Errorf("defaults: %v", errs)
	}
	if errs := (Config{HostMessages: "everyone", AlertSenders: []string{"@"}}).Validate(); len(errs) != 2 {
		t.Errorf("bad section: %v, want two problems", errs)
	}
}
