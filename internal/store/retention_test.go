package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/netsend/messenger/internal/message"
)

// Issue 20, item 11: retention deletes only read messages, the old ones
// past keep and the oldest past max_messages.
func TestPrune(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{})
	ctx := context.Background()
	now := time.Now()
	add := func(text string, age time.Duration, st message.State) int64 {
		m := &message.Message{From: "A", To: "B", Text: text, Transport: message.TransportSMB, Time: now.Add(-age), State: st}
		if err := s.Add(ctx, m); err != nil {
			t.Fatal(err)
		}
		return m.ID
	}
	oldRead := add("old read", 100*24*time.Hour, message.StateRead)
	oldUnread := add("old unread", 100*24*time.Hour, message.StateUnread)
	oldHeld := add("old held", 100*24*time.Hour, message.StateQuarantined)
	var recent []int64
	for i := range 4 {
		recent = append(recent, add(fmt.Sprint("recent ", i), time.Hour, message.StateRead))
	}
	n, err := s.Prune(ctx, Retention{Keep: 90 * 24 * time.Hour}, now)
	if err != nil || n != 1 {
		t.Fatalf("Prune keep = %d, %v; want 1", n, err)
	}
	if _, err := s.Get(ctx, oldRead); err == nil {
		t.Error("an old read message survived keep")
	}
	// 5 in the inbox (old unread + 4 recent read); a cap of 3 takes the
	// two oldest read, never the unread one.
	if n, err := s.Prune(ctx, Retention{MaxMessages: 3}, now); err != nil || n != 2 {
		t.Fatalf("Prune max = %d, %v; want 2", n, err)
	}
	for _, id := range []int64{oldUnread, oldHeld, recent[2], recent[3]} {
		if _, err := s.Get(ctx, id); err != nil {
			t.Errorf("message %d pruned: %v", id, err)
		}
	}
}
