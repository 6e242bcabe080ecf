package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/netsend/messenger/internal/message"
)

// OnStored sees every stored message once, in ascending id order, however
// many Adds race: what the event stream relies on. Duplicates and invalid
// messages, which are not stored, are not handed over.
func TestOnStoredInCommitOrder(t *testing.T) {
	var (
		mu   sync.Mutex
		seen []message.Message
	)
	s := openStore(t, t.TempDir(), Options{OnStored: func(ms []message.Message) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, ms...)
	}})
	add(t, s, hubSample("d0", "first"))
	const workers, each = 16, 50
	var wg sync.WaitGroup
	ids := make(chan int64, workers*each)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				m := sample(fmt.Sprintf("w%d-%d", w, i))
				if err := s.Add(context.Background(), &m); err != nil {
					t.Errorf("Add: %v", err)
					return
				}
				ids <- m.ID
			}
		}()
	}
	wg.Wait()
	close(ids)
	if err := s.Add(context.Background(), new(hubSample("d0", "again"))); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("redelivered hub message: %v, want ErrDuplicate", err)
	}
	stored := map[int64]bool{}
	for id := range ids {
		stored[id] = true
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != workers*each+1 {
		t.Fatalf("OnStored saw %d messages; %d were stored", len(seen), workers*each+1)
	}
	for i, m := range seen {
		if i > 0 && m.ID <= seen[i-1].ID {
			t.Fatalf("OnStored saw id %d after %d", m.ID, seen[i-1].ID)
		}
		if i > 0 && !stored[m.ID] {
			t.Fatalf("OnStored saw id %d, which no Add returned", m.ID)
		}
	}
	if seen[0].HubID != "d0" || seen[1].Text == "" || seen[1].State != message.StateUnread {
		t.Fatalf("OnStored's messages lack what was stored: %+v, %+v", seen[0], seen[1])
	}
}
