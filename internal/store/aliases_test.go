package store

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/netsend/messenger/internal/names"
)

func TestAliases(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s, err := Open(ctx, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"HELPDESK", "OPS"} {
		if err := s.AddAlias(ctx, names.Alias{Name: n}); err != nil {
			t.Fatal(err)
		}
	}
	// Added again with an owner: the alias now belongs to that account.
	if err := s.AddAlias(ctx, names.Alias{Name: "OPS", Owner: "alice"}); err != nil {
		t.Errorf("AddAlias(duplicate) = %v, want no error", err)
	}
	if err := s.DeleteAlias(ctx, "NONE"); !errors.Is(err, ErrNotFound) {
		t.Errorf("DeleteAlias(missing) = %v, want ErrNotFound", err)
	}
	if err := s.DeleteAlias(ctx, "HELPDESK"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(ctx, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.Aliases(ctx)
	if err != nil || !slices.Equal(got, []names.Alias{{Name: "OPS", Owner: "alice"}}) {
		t.Fatalf("Aliases after reopen = %q, %v; want [OPS owned by alice]", got, err)
	}
}
