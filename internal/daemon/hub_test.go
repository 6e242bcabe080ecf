package daemon

import (
	"testing"

	"github.com/netsend/messenger/internal/message"
	"github.com/netsend/messenger/internal/names"
)

// TestHubNameState: a hub conflict shows in the names table, and is
// taken back when the hub says the name is ours again.
func TestHubNameState(t *testing.T) {
	cp, err := message.LookupCodePage("CP850")
	if err != nil {
		t.Fatal(err)
	}
	table, err := names.New(names.Config{CodePage: cp, Host: "HOSTB", Aliases: []string{"CAROL"}})
	if err != nil {
		t.Fatal(err)
	}
	carol, err := names.Messenger("CAROL", cp)
	if err != nil {
		t.Fatal(err)
	}
	table.SetState(carol, names.StateRegistered)
	state := func() names.State { e, _ := table.Lookup(carol); return e.State }

	hubNameState(table, "CAROL", true)
	if st := state(); st != names.StateConflict || table.HasString("carol") {
		t.Fatalf("after a hub conflict: %s, accepted %v", st, table.HasString("carol"))
	}
	hubNameState(table, "CAROL", false)
	if st := state(); st != names.StateRegistered || !table.HasString("carol") {
		t.Fatalf("after the conflict cleared: %s, accepted %v", st, table.HasString("carol"))
	}
	// A name the hub no longer has in conflict is left as NetBIOS set it.
	table.SetState(carol, names.StateRegistering)
	hubNameState(table, "CAROL", false)
	if st := state(); st != names.StateRegistering {
		t.Errorf("a clear moved %s to %s", names.StateRegistering, st)
	}
	hubNameState(table, "NOBODY", true) // not ours: nothing to mark
}
