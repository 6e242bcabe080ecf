package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/netsend/messenger/internal/apitype"
	"github.com/netsend/messenger/internal/message"
)

func hubSample(id, text string) message.Message {
	return message.Message{
		From: "bob", To: "ALICE", Text: text,
		Time:      time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC),
		Transport: message.TransportHub, Source: "hub:HOSTB", HubID: id, Verified: "HOSTB",
	}
}

func TestHubMessageRoundTrip(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{})
	plain := add(t, s, sample("not through the hub"))
	hub := add(t, s, hubSample("0123456789abcdef0123456789abcdef", "through the hub"))

	s = reopen(t, s, dir)
	got, err := s.Get(context.Background(), hub.ID)
	if err != nil {
		t.Fatal(err)
	}
	sameMessage(t, got, hub)
	if got.HubID != "0123456789abcdef0123456789abcdef" || got.Verified != "HOSTB" {
		t.Errorf("hub fields read back as %q, %q", got.HubID, got.Verified)
	}
	list, err := s.List(context.Background(), ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ID != plain.ID || list[0].HubID != "" || list[0].Verified != "" || list[1].Verified != "HOSTB" {
		t.Errorf("List does not carry the hub fields: %+v", list)
	}
}

// The hub redelivers a message whose ack was lost: the second Add says
// so (ErrDuplicate) and stores nothing, while messages without a hub id
// never conflict.
func TestHubDuplicateAcrossBatches(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{})
	first := add(t, s, hubSample("aa", "first"))
	again := hubSample("aa", "the same, redelivered")
	err := s.Add(context.Background(), &again)
	if !errors.Is(err, ErrDuplicate) {
		t.Fatalf("second Add of hub id aa: %v, want ErrDuplicate", err)
	}
	if again.ID != 0 {
		t.Errorf("a duplicate Add set the id to %d", again.ID)
	}
	add(t, s, sample("no hub id"))
	add(t, s, sample("no hub id either"))
	add(t, s, hubSample("bb", "another hub id"))
	if n := count(t, s); n != 4 {
		t.Errorf("Count = %d, want 4", n)
	}
	got, err := s.Get(context.Background(), first.ID)
	if err != nil || got.Text != "first" {
		t.Errorf("the first copy reads %q, %v; want it unchanged", got.Text, err)
	}
	if st := s.Stats(); st.Messages != 4 {
		t.Errorf("Stats.Messages = %d, want 4 (the duplicate is not counted)", st.Messages)
	}
}

// Duplicates queued into one batch, of each other and of a message
// already stored, fail alone: every other message of the batch commits.
func TestHubDuplicateInOneBatch(t *testing.T) {
	opts, parked, release, sizes := holdWriter(0)
	s := openStore(t, t.TempDir(), opts)
	// The writer parks after committing this one, before answering it.
	stored := hubSample("cc", "stored before")
	firstErr := make(chan error, 1)
	go func() { firstErr <- s.Add(context.Background(), &stored) }()
	<-parked

	type result struct {
		text string
		err  error
	}
	batch := []message.Message{
		hubSample("dd", "new"),
		hubSample("dd", "new, twice in the batch"),
		hubSample("cc", "already stored"),
		sample("plain"),
		hubSample("ee", "another new"),
	}
	results := make(chan result, len(batch))
	for _, m := range batch {
		go func() {
			err := s.Add(context.Background(), &m)
			results <- result{m.Text, err}
		}()
	}
	waitFor(t, "Adds to queue", func() bool { return len(s.reqs) == len(batch) })
	close(release)
	if err := <-firstErr; err != nil {
		t.Fatalf("first Add: %v", err)
	}

	var ok, dup []string
	for range batch {
		r := <-results
		switch {
		case r.err == nil:
			ok = append(ok, r.text)
		case errors.Is(r.err, ErrDuplicate):
			dup = append(dup, r.text)
		default:
			t.Errorf("Add(%q): %v", r.text, r.err)
		}
	}
	if len(ok) != 3 || len(dup) != 2 {
		t.Errorf("stored %q, duplicates %q; want 3 stored, 2 duplicates", ok, dup)
	}
	if got := sizes(); fmt.Sprint(got) != "[1 3]" {
		t.Errorf("commits of %v messages, want [1 3]: the queued Adds in one batch", got)
	}
	list, err := s.List(context.Background(), ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]int{}
	for _, m := range list {
		ids[m.HubID]++
	}
	if len(list) != 4 || ids["cc"] != 1 || ids["dd"] != 1 || ids["ee"] != 1 || ids[""] != 1 {
		t.Errorf("stored hub ids %v in %d messages, want cc, dd, ee and one plain", ids, len(list))
	}
	if got, _ := s.Get(context.Background(), stored.ID); got.Text != "stored before" {
		t.Errorf("the stored copy became %q", got.Text)
	}
}

// A duplicate quarantined message must not evict anything: it stored
// nothing.
func TestHubDuplicateDoesNotEvict(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{QuarantineMax: 1})
	q := hubSample("ff", "held")
	q.State = message.StateQuarantined
	add(t, s, q)
	again := q
	if err := s.Add(context.Background(), &again); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("Add: %v, want ErrDuplicate", err)
	}
	if st := s.Stats(); st.Evicted != 0 {
		t.Errorf("Evicted = %d after a duplicate", st.Evicted)
	}
	if n := count(t, s); n != 1 {
		t.Errorf("Count = %d, want 1", n)
	}
}

func sentSample(id string) *apitype.Sent {
	return &apitype.Sent{HubID: id, To: "ALICE", Host: "HOSTA", From: "bob", Text: "lunch?",
		Created: time.Date(2026, 11, 29, 12, 0, 0, 123, time.UTC)}
}

func TestSentRoundTrip(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{})
	ctx := context.Background()
	a := sentSample("a1")
	a.Expires = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	before := time.Now()
	if err := s.AddSent(ctx, a); err != nil {
		t.Fatal(err)
	}
	if a.ID == 0 || a.State != apitype.SentQueued || a.Updated.Before(before) || !a.Created.Equal(time.Date(2026, 11, 29, 12, 0, 0, 123, time.UTC)) {
		t.Errorf("AddSent set %+v; want an id, queued, Updated now and Created kept", a)
	}
	b := sentSample("b2")
	b.Created = time.Time{}
	if err := s.AddSent(ctx, b); err != nil {
		t.Fatal(err)
	}
	if b.Created.Before(before) || b.ID <= a.ID {
		t.Errorf("second AddSent: %+v", b)
	}

	s = reopen(t, s, dir)
	got, err := s.SentByHubID(ctx, "a1")
	if err != nil {
		t.Fatal(err)
	}
	want := *a
	if !got.Created.Equal(want.Created) || !got.Expires.Equal(want.Expires) || !got.Updated.Equal(want.Updated) {
		t.Errorf("times read back as %v %v %v, want %v %v %v", got.Created, got.Expires, got.Updated, want.Created, want.Expires, want.Updated)
	}
	got.Created, got.Expires, got.Updated = want.Created, want.Expires, want.Updated
	if got != want {
		t.Errorf("SentByHubID:\n got %+v\nwant %+v", got, want)
	}
	if got, _ := s.SentByHubID(ctx, "b2"); !got.Expires.IsZero() || !got.Delivered.IsZero() || !got.Read.IsZero() {
		t.Errorf("zero times read back as %v %v %v", got.Expires, got.Delivered, got.Read)
	}
	if _, err := s.SentByHubID(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("SentByHubID(unknown): %v, want ErrNotFound", err)
	}
}

func TestAddSentRefuses(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{})
	ctx := context.Background()
	if err := s.AddSent(ctx, sentSample("a1")); err != nil {
		t.Fatal(err)
	}
	again := sentSample("a1")
	again.Text = "changed"
	if err := s.AddSent(ctx, again); !errors.Is(err, ErrDuplicate) {
		t.Errorf("AddSent of a known hub id: %v, want ErrDuplicate", err)
	}
	if again.ID != 0 {
		t.Errorf("a refused AddSent set the id to %d", again.ID)
	}
	for _, tc := range []struct {
		name string
		mod  func(*apitype.Sent)
	}{
		{"no hub id", func(v *apitype.Sent) { v.HubID = "" }},
		{"hub id not hex", func(v *apitype.Sent) { v.HubID = "zz" }},
		{"text too long", func(v *apitype.Sent) { v.Text = string(make([]byte, message.MaxTextLen+1)) }},
		{"unknown state", func(v *apitype.Sent) { v.State = "lost" }},
		{"host not UTF-8", func(v *apitype.Sent) { v.Host = "\xff" }},
		{"time out of range", func(v *apitype.Sent) { v.Expires = time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC) }},
	} {
		v := sentSample("b2")
		tc.mod(v)
		if err := s.AddSent(ctx, v); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: AddSent: %v, want ErrInvalid", tc.name, err)
		}
	}
	if n, err := s.CountSent(ctx, ""); err != nil || n != 1 {
		t.Errorf("CountSent = %d, %v; want 1 (only the first)", n, err)
	}
	got, _ := s.SentByHubID(ctx, "a1")
	if got.Text != "lunch?" {
		t.Errorf("the duplicate changed the text to %q", got.Text)
	}
}

// Receipts come late, twice and out of order; a message only ever moves
// forward.
func TestUpdateSentForwardOnly(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{})
	ctx := context.Background()
	at := func(sec int) time.Time { return time.Date(2026, 11, 29, 12, 0, sec, 0, time.UTC) }
	type step struct {
		to     apitype.SentState
		at     int
		detail string
		state  apitype.SentState // the state after the step
	}
	for _, tc := range []struct {
		name           string
		steps          []step
		delivered, red int // seconds of the Delivered and Read times, -1 for none
		detail         string
	}{
		{"the whole way", []step{{apitype.SentSent, 1, "", apitype.SentSent}, {apitype.SentDelivered, 2, "", apitype.SentDelivered}, {apitype.SentRead, 3, "", apitype.SentRead}}, 2, 3, ""},
		{"equal is a no-op", []step{{apitype.SentSent, 1, "", apitype.SentSent}, {apitype.SentSent, 5, "again", apitype.SentSent}}, -1, -1, ""},
		{"backward is a no-op", []step{{apitype.SentDelivered, 2, "", apitype.SentDelivered}, {apitype.SentSent, 5, "late publish ack", apitype.SentDelivered}}, 2, -1, ""},
		{"a late delivered after read", []step{{apitype.SentRead, 3, "", apitype.SentRead}, {apitype.SentDelivered, 4, "", apitype.SentRead}}, 3, 3, ""},
		{"never back to queued", []step{{apitype.SentSent, 1, "", apitype.SentSent}, {apitype.SentQueued, 2, "", apitype.SentSent}}, -1, -1, ""},
		{"expired from queued", []step{{apitype.SentExpired, 4, "expired before sending", apitype.SentExpired}, {apitype.SentSent, 5, "", apitype.SentExpired}}, -1, -1, "expired before sending"},
		{"failed from sent", []step{{apitype.SentSent, 1, "", apitype.SentSent}, {apitype.SentFailed, 2, "refused by policy", apitype.SentFailed}, {apitype.SentDelivered, 3, "", apitype.SentFailed}}, -1, -1, "refused by policy"},
		{"no failing once delivered", []step{{apitype.SentDelivered, 2, "", apitype.SentDelivered}, {apitype.SentFailed, 3, "too late", apitype.SentDelivered}, {apitype.SentExpired, 4, "", apitype.SentDelivered}}, 2, -1, ""},
		{"no expiring once read", []step{{apitype.SentRead, 3, "", apitype.SentRead}, {apitype.SentExpired, 4, "", apitype.SentRead}}, 3, 3, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := fmt.Sprintf("%x", []byte(tc.name))
			if err := s.AddSent(ctx, sentSample(id)); err != nil {
				t.Fatal(err)
			}
			for _, st := range tc.steps {
				if err := s.UpdateSent(ctx, id, st.to, at(st.at), st.detail); err != nil {
					t.Fatalf("UpdateSent(%s): %v", st.to, err)
				}
				got, err := s.SentByHubID(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				if got.State != st.state {
					t.Errorf("after UpdateSent(%s): state %s, want %s", st.to, got.State, st.state)
				}
			}
			got, _ := s.SentByHubID(ctx, id)
			check := func(what string, tm time.Time, sec int) {
				if sec < 0 && !tm.IsZero() || sec >= 0 && !tm.Equal(at(sec)) {
					t.Errorf("%s = %v, want second %d (-1: none)", what, tm, sec)
				}
			}
			check("Delivered", got.Delivered, tc.delivered)
			check("Read", got.Read, tc.red)
			if got.Detail != tc.detail {
				t.Errorf("Detail = %q, want %q", got.Detail, tc.detail)
			}
		})
	}

	if err := s.UpdateSent(ctx, "feed", apitype.SentDelivered, time.Time{}, ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("UpdateSent of an unknown id: %v, want ErrNotFound", err)
	}
	if err := s.UpdateSent(ctx, "feed", apitype.SentQueued, time.Time{}, ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("UpdateSent of an unknown id to queued: %v, want ErrNotFound", err)
	}
	if err := s.AddSent(ctx, sentSample("abc")); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateSent(ctx, "abc", "lost", time.Time{}, ""); !errors.Is(err, ErrInvalid) {
		t.Errorf("UpdateSent to an unknown state: %v, want ErrInvalid", err)
	}
	before := time.Now()
	if err := s.UpdateSent(ctx, "abc", apitype.SentSent, time.Time{}, ""); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.SentByHubID(ctx, "abc"); got.Updated.Before(before) {
		t.Errorf("UpdateSent with a zero time set Updated to %v, want now", got.Updated)
	}
}

func TestSentListsAndCounts(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{})
	ctx := context.Background()
	var ids []string
	for i := range 6 {
		id := fmt.Sprintf("%02x", i)
		ids = append(ids, id)
		if err := s.AddSent(ctx, sentSample(id)); err != nil {
			t.Fatal(err)
		}
	}
	// 00 and 03 published, 04 delivered; 01, 02, 05 still queued.
	for id, st := range map[string]apitype.SentState{"00": apitype.SentSent, "03": apitype.SentSent, "04": apitype.SentDelivered} {
		if err := s.UpdateSent(ctx, id, st, time.Time{}, ""); err != nil {
			t.Fatal(err)
		}
	}
	hubIDs := func(list []apitype.Sent) string {
		var out []string
		for _, v := range list {
			out = append(out, v.HubID)
		}
		return fmt.Sprint(out)
	}
	q, err := s.QueuedSent(ctx, 0)
	if err != nil || hubIDs(q) != "[01 02 05]" {
		t.Errorf("QueuedSent(0) = %s, %v; want [01 02 05], oldest first", hubIDs(q), err)
	}
	q, err = s.QueuedSent(ctx, 2)
	if err != nil || hubIDs(q) != "[01 02]" {
		t.Errorf("QueuedSent(2) = %s, %v; want the two oldest [01 02]", hubIDs(q), err)
	}
	all, err := s.ListSent(ctx, SentListOptions{})
	if err != nil || hubIDs(all) != fmt.Sprint(ids) {
		t.Errorf("ListSent() = %s, %v; want %v", hubIDs(all), err, ids)
	}
	for _, tc := range []struct {
		opt  SentListOptions
		want string
	}{
		{SentListOptions{Limit: 2}, "[04 05]"},
		{SentListOptions{State: apitype.SentSent}, "[00 03]"},
		{SentListOptions{State: apitype.SentQueued, Limit: 1}, "[05]"},
		{SentListOptions{AfterID: all[3].ID}, "[04 05]"},
		{SentListOptions{AfterID: all[5].ID}, "[]"},
		{SentListOptions{State: apitype.SentRead}, "[]"},
	} {
		got, err := s.ListSent(ctx, tc.opt)
		if err != nil || hubIDs(got) != tc.want {
			t.Errorf("ListSent(%+v) = %s, %v; want %s", tc.opt, hubIDs(got), err, tc.want)
		}
	}
	if _, err := s.ListSent(ctx, SentListOptions{Limit: -1}); !errors.Is(err, ErrInvalid) {
		t.Errorf("ListSent with a negative limit: %v", err)
	}
	if _, err := s.ListSent(ctx, SentListOptions{State: "lost"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("ListSent of an unknown state: %v", err)
	}
	for st, want := range map[apitype.SentState]int{"": 6, apitype.SentQueued: 3, apitype.SentSent: 2, apitype.SentDelivered: 1, apitype.SentRead: 0} {
		if n, err := s.CountSent(ctx, st); err != nil || n != want {
			t.Errorf("CountSent(%q) = %d, %v; want %d", st, n, err, want)
		}
	}
}

// A database of schema version 5 (before the hub) is migrated on Open:
// its messages read back with no hub fields, and the hub's columns,
// unique index and sent table work afterwards.
func TestHubMigrationFromVersion5(t *testing.T) {
	s := openFromVersion(t, 5, func(exec func(string, ...any)) {
		for range 2 {
			exec(`INSERT INTO messages (sender, recipient, text, received, transport, source, state, rule, explanation)
				VALUES ('ALICE', 'BOB', 'from before the hub', ?, 'smb', '192.0.2.7:139', 'unread', '', '')`, time.Now().UnixNano())
		}
	})
	ctx := context.Background()
	for id := int64(1); id <= 2; id++ {
		old, err := s.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if old.Text != "from before the hub" || old.HubID != "" || old.Verified != "" {
			t.Errorf("old message %d read back as %+v", id, old)
		}
	}
	add(t, s, hubSample("abcd", "after the migration"))
	dup := hubSample("abcd", "again")
	if err := s.Add(ctx, &dup); !errors.Is(err, ErrDuplicate) {
		t.Errorf("duplicate hub id after the migration: %v", err)
	}
	if err := s.AddSent(ctx, sentSample("abcd")); err != nil {
		t.Errorf("AddSent after the migration: %v", err)
	}
	if n := count(t, s); n != 3 {
		t.Errorf("Count = %d, want 3", n)
	}
}

// TestUpdateSentBatch: each move of a batch is answered on its own — made,
// stale, unknown or invalid — and the rows end as the moves say.
func TestUpdateSentBatch(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{})
	ctx := context.Background()
	for _, id := range []string{"a", "b", "c"} {
		if err := s.AddSent(ctx, sentSample(id)); err != nil {
			t.Fatal(err)
		}
	}
	at := time.Now()
	errs := s.UpdateSentBatch(ctx, []SentUpdate{
		{HubID: "a", State: apitype.SentDelivered, At: at},
		{HubID: "nope", State: apitype.SentDelivered, At: at},
		{HubID: "b", State: "lost", At: at},
		{HubID: "c", State: apitype.SentRead, At: at},
		{HubID: "c", State: apitype.SentSent, At: at}, // stale: c was read
		{HubID: "b", State: apitype.SentFailed, At: at, Detail: "refused"},
	})
	want := []error{nil, ErrNotFound, ErrInvalid, nil, nil, nil}
	for i, w := range want {
		if (w == nil) != (errs[i] == nil) || (w != nil && !errors.Is(errs[i], w)) {
			t.Errorf("move %d: error %v, want %v", i, errs[i], w)
		}
	}
	for id, st := range map[string]apitype.SentState{"a": apitype.SentDelivered, "b": apitype.SentFailed, "c": apitype.SentRead} {
		row, err := s.SentByHubID(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if row.State != st {
			t.Errorf("%s is %s, want %s", id, row.State, st)
		}
	}
}

// TestAddSentConcurrent: concurrent AddSents (sharing commits) each get
// their own row and id, and a duplicate among them is refused alone.
func TestAddSentConcurrent(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{})
	ctx := context.Background()
	const n = 64
	ids := make([]int64, n)
	errs := make([]error, n+1)
	var wg sync.WaitGroup
	for i := range n + 1 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hubID := fmt.Sprintf("%02x", i%n) // the last one repeats 00
			row := sentSample(hubID)
			errs[i] = s.AddSent(ctx, row)
			if i < n {
				ids[i] = row.ID
			}
		}()
	}
	wg.Wait()
	dups := 0
	seen := map[int64]bool{}
	for i, err := range errs {
		switch {
		case errors.Is(err, ErrDuplicate):
			dups++
		case err != nil:
			t.Fatalf("AddSent %d: %v", i, err)
		}
	}
	for i, id := range ids {
		if errs[i] == nil && (id == 0 || seen[id]) {
			t.Errorf("AddSent %d: id %d", i, id)
		}
		seen[id] = true
	}
	if dups != 1 {
		t.Errorf("%d duplicates refused, want 1", dups)
	}
	if c, err := s.CountSent(ctx, ""); err != nil || c != n {
		t.Errorf("%d rows (%v), want %d", c, err, n)
	}
}

// TestSentHost: the host of the newest message sent to a name, in any
// case; none for a name never written to.
func TestSentHost(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{})
	ctx := context.Background()
	for _, r := range []*apitype.Sent{
		{HubID: "01", To: "ALICE", Host: "HOSTA", From: "bob", Text: "1"},
		{HubID: "02", To: "CAROL", Host: "HOSTC", From: "bob", Text: "2"},
		{HubID: "03", To: "Alice", Host: "HOSTB", From: "bob", Text: "3"}, // ALICE moved to HOSTB
	} {
		if err := s.AddSent(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	for name, want := range map[string]string{"alice": "HOSTB", "CAROL": "HOSTC"} {
		if got, err := s.SentHost(ctx, name); err != nil || got != want {
			t.Errorf("SentHost(%s) = %q, %v; want %s", name, got, err, want)
		}
	}
	if _, err := s.SentHost(ctx, "DAVE"); !errors.Is(err, ErrNotFound) {
		t.Errorf("SentHost(DAVE) = %v, want ErrNotFound", err)
	}
}
