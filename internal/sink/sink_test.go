package sink

import (
	"testing"

	"github.com/netsend/messenger/internal/message"
)

type rec struct{ seen []string }

func (r *rec) Name() string           { return "rec" }
func (r *rec) Show(m message.Message) { r.seen = append(r.seen, m.To) }

func TestForNames(t *testing.T) {
	r := &rec{}
	if ForNames(r, nil) != Shower(r) {
		t.Fatal("no names should return the sink itself")
	}
	s := ForNames(r, []string{"bob", " HELPDESK "})
	for _, to := range []string{"BOB", "alice", "helpdesk", "BOB "} {
		s.Show(message.Message{To: to})
	}
	if got := len(r.seen); got != 3 || r.seen[1] != "helpdesk" {
		t.Fatalf("shown to %q; want BOB, helpdesk, BOB", r.seen)
	}
	if s.Name() != "rec" {
		t.Fatalf("name %q", s.Name())
	}
}
