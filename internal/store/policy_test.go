package store

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/netsend/messenger/internal/message"
)

func TestQuarantineCapEvictsOldest(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{QuarantineMax: 5})
	ctx := context.Background()
	inbox := add(t, s, sample("kept: not quarantined"))
	var ids []int64
	for i := range 12 {
		m := sample(fmt.Sprintf("spam %d", i))
		m.State, m.Rule, m.Explanation = message.StateQuarantined, "spam_run", "why"
		ids = append(ids, add(t, s, m).ID)
	}
	q, err := s.List(ctx, ListOptions{State: message.StateQuarantined})
	if err != nil {
		t.Fatal(err)
	}
	if len(q) != 5 || q[0].ID != ids[7] || q[4].ID != ids[11] {
		t.Fatalf("quarantine holds %d messages from %v; want the newest 5 of %v", len(q), q, ids)
	}
	if q[0].Explanation != "why" || q[0].Rule != "spam_run" {
		t.Errorf("rule %q explanation %q lost", q[0].Rule, q[0].Explanation)
	}
	if _, err := s.Get(ctx, inbox.ID); err != nil {
		t.Errorf("inbox message evicted: %v", err)
	}
	if st := s.Stats(); st.Evicted != 7 {
		t.Errorf("Evicted = %d, want 7", st.Evicted)
	}
	s.SetQuarantineMax(2)
	m := sample("one more")
	m.State = message.StateQuarantined
	add(t, s, m)
	if n, _ := s.CountState(ctx, message.StateQuarantined); n != 2 {
		t.Errorf("after lowering the cap: %d quarantined, want 2", n)
	}
}

func TestRelease(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{})
	ctx := context.Background()
	m := sample("held")
	m.State, m.Rule = message.StateQuarantined, "rpc.quarantine"
	m = add(t, s, m)
	got, err := s.Release(ctx, m.ID)
	if err != nil || got.State != message.StateUnread || got.Rule != "rpc.quarantine" {
		t.Fatalf("Release = %+v, %v", got, err)
	}
	if _, err := s.Release(ctx, m.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("releasing a delivered message: %v, want ErrNotFound", err)
	}
}

func TestPolicyEntries(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s, err := Open(ctx, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range [][2]string{{ListBlock, "SPAMMER"}, {ListTrust, "10.0.0.0/8"}, {ListBlock, "SPAMMER"}} {
		if err := s.AddPolicyEntry(ctx, e[0], e[1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.AddPolicyEntry(ctx, "maybe", "X"); !errors.Is(err, ErrInvalid) {
		t.Errorf("unknown list: %v", err)
	}
	s.Close()
	s = openStore(t, dir, Options{})
	got, err := s.PolicyEntries(ctx)
	if err != nil || len(got) != 2 || got[0].Value != "SPAMMER" || got[1].List != ListTrust {
		t.Fatalf("after reopen: %+v, %v", got, err)
	}
	if err := s.DeletePolicyEntry(ctx, ListBlock, "SPAMMER"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeletePolicyEntry(ctx, ListBlock, "SPAMMER"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
}
