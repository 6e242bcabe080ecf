package names

import (
	"errors"
	"testing"

	"github.com/netsend/messenger/internal/message"
	"github.com/netsend/messenger/internal/netbios"
)

func mustName(t *testing.T, s string, suffix byte) netbios.Name {
	t.Helper()
	n, err := netbios.NewName(s, suffix)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func cp850(t *testing.T) message.CodePage {
	t.Helper()
	cp, err := message.LookupCodePage("CP850")
	if err != nil {
		t.Fatal(err)
	}
	return cp
}

func newTable(t *testing.T, aliases ...string) *Table {
	t.Helper()
	tab, err := New(Config{CodePage: cp850(t), Host: "host1", HostSuffixes: []byte{0x00, 0x20}, Workgroup: "WORKGROUP", Aliases: aliases})
	if err != nil {
		t.Fatal(err)
	}
	return tab
}

func TestTable(t *testing.T) {
	tab := newTable(t, "Alias", "alias", "Zoë")
	for _, tc := range []struct {
		name   string
		suffix byte
		want   bool
	}{
		{"HOST1", 0x03, true},
		{"host1", 0x03, true},
		{"ALIAS", 0x03, true},
		{"HOST1", 0x20, false}, // ours, but not a messenger name
		{"WORKGROUP", 0x03, false},
		{"OTHER", 0x03, false},
	} {
		if got := tab.Has(mustName(t, tc.name, tc.suffix)); got != tc.want {
			t.Errorf("Has(%s<%02x>) = %v, want %v", tc.name, tc.suffix, got, tc.want)
		}
	}
	if !tab.HasString("zoë") {
		t.Error("HasString(zoë) = false; a non-ASCII alias must match through the code page")
	}
	// HOST1<00> <03> <20>, WORKGROUP<00> group, ALIAS, ZOË.
	if n := len(tab.List()); n != 6 {
		t.Errorf("List has %d names, want 6: %+v", n, tab.List())
	}
	if e, ok := tab.Lookup(mustName(t, "workgroup", 0)); !ok || !e.Group || !e.Permanent() {
		t.Errorf("workgroup entry = %+v, %v; want a permanent group name", e, ok)
	}
	tab.SetState(mustName(t, "ALIAS", 3), StateConflict)
	if tab.HasString("ALIAS") {
		t.Error("a name in conflict still accepts messages")
	}
	if _, err := New(Config{CodePage: cp850(t), Host: "host1", Aliases: []string{"much-too-long-a-name"}}); err == nil {
		t.Error("New accepted an alias longer than 15 bytes")
	}
}

func TestAliases(t *testing.T) {
	tab := newTable(t, "fromconfig")
	if _, err := tab.AddAlias("helpdesk", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := tab.AddAlias("HELPDESK", ""); !errors.Is(err, ErrExists) {
		t.Errorf("AddAlias(duplicate) = %v, want ErrExists", err)
	}
	for _, bad := range []string{"", "sixteen-chars-xx", "bad*name", "a\x01b"} {
		if _, err := tab.AddAlias(bad, ""); !errors.Is(err, netbios.ErrInvalidName) {
			t.Errorf("AddAlias(%q) = %v, want ErrInvalidName", bad, err)
		}
	}
	for name, want := range map[string]error{"host1": ErrPermanent, "fromconfig": ErrInConfig, "nobody": ErrNotFound, "helpdesk": nil} {
		if _, err := tab.CheckRemovable(name); !errors.Is(err, want) && !(want == nil && err == nil) {
			t.Errorf("CheckRemovable(%q) = %v, want %v", name, err, want)
		}
	}
}

func TestSetUsers(t *testing.T) {
	tab := newTable(t, "alice")
	added, _ := tab.SetUsers([]string{"alice", "bob", "averyveryverylongusername"})
	if len(added) != 2 || !tab.HasString("BOB") || !tab.HasString("AVERYVERYVERYLO") {
		t.Fatalf("users not added or long name not truncated: added %+v, table %+v", added, tab.List())
	}
	_, removed := tab.SetUsers(nil)
	if len(removed) != 2 || tab.HasString("BOB") {
		t.Errorf("after logout removed %+v, BOB present %v", removed, tab.HasString("BOB"))
	}
	if !tab.HasString("ALICE") {
		t.Error("alias ALICE removed with the user of the same name")
	}
}

// TestChanged: every change of the names closes the channel taken before
// it, and nothing else does.
func TestChanged(t *testing.T) {
	tab := newTable(t)
	closed := func(ch <-chan struct{}) bool {
		select {
		case <-ch:
			return true
		default:
			return false
		}
	}
	steps := []struct {
		what   string
		do     func()
		change bool
	}{
		{"a state change", func() { tab.SetState(mustMessenger(t, "host1"), StateRegistered) }, false},
		{"an alias added", func() { mustAlias(t, tab, "printer") }, true},
		{"an alias added again", func() { tab.AddAlias("printer", "") }, false},
		{"a user logging in", func() { tab.SetUsers([]string{"alice"}) }, true},
		{"the same users", func() { tab.SetUsers([]string{"alice"}) }, false},
		{"an alias removed", func() { tab.Remove(mustMessenger(t, "printer")) }, true},
		{"a name not held removed", func() { tab.Remove(mustMessenger(t, "nobody")) }, false},
		{"the user logging out", func() { tab.SetUsers(nil) }, true},
	}
	for _, s := range steps {
		ch := tab.Changed()
		s.do()
		if got := closed(ch); got != s.change {
			t.Errorf("%s: channel closed = %v, want %v", s.what, got, s.change)
		}
	}
}

func mustMessenger(t *testing.T, s string) netbios.Name {
	t.Helper()
	n, err := Messenger(s, cp850(t))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func mustAlias(t *testing.T, tab *Table, s string) {
	t.Helper()
	if _, err := tab.AddAlias(s, ""); err != nil {
		t.Fatal(err)
	}
}

// Every change of the names or their states moves Generation; reading
// does not.
func TestGeneration(t *testing.T) {
	tab := newTable(t)
	steps := []struct {
		what   string
		change func()
	}{
		{"an alias added", func() { tab.AddAlias("bob", "") }},
		{"a state set", func() { tab.SetState(tab.List()[0].Name, StateRegistered) }},
		{"users set", func() { tab.SetUsers([]string{"carol"}) }},
		{"a name removed", func() { n, _ := Messenger("bob", tab.CodePage()); tab.Remove(n) }},
	}
	for _, s := range steps {
		g := tab.Generation()
		tab.List()
		tab.Lookup(tab.List()[0].Name)
		if tab.Generation() != g {
			t.Fatal("reading the table moved its generation")
		}
		s.change()
		if tab.Generation() == g {
			t.Errorf("%s: generation unchanged", s.what)
		}
	}
}
