package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/netsend/messenger/internal/apitype"
	"github.com/netsend/messenger/internal/syncbuf"
)

func owedSample(hubID string) OwedReceipt {
	return OwedReceipt{HubID: hubID, State: apitype.SentRead, Host: "HOSTA", To: "BOB",
		At: time.Date(2026, 11, 29, 12, 30, 0, 456, time.UTC)}
}

func owe(t *testing.T, s *Store, r OwedReceipt) {
	t.Helper()
	if err := s.OweReceipt(context.Background(), r); err != nil {
		t.Fatalf("OweReceipt(%s): %v", r.HubID, err)
	}
}

// owedIDs lists the hub ids owed, oldest first.
func owedIDs(t *testing.T, s *Store) []string {
	t.Helper()
	rows, err := s.OwedReceipts(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range rows {
		ids = append(ids, r.HubID)
	}
	return ids
}

// Owed receipts read back as they were owed, oldest first, and outlive
// a restart.
func TestOwedReceiptsRoundTrip(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{})
	ctx := context.Background()
	want := []OwedReceipt{owedSample("0c"), owedSample("0a"), owedSample("0b")}
	want[1].Host, want[1].To = "HOST-Ü", "Ünïcode name"
	want[2].At = time.Time{} // now
	before := time.Now()
	for _, r := range want {
		owe(t, s, r)
	}
	after := time.Now()

	s = reopen(t, s, dir)
	got, err := s.OwedReceipts(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("OwedReceipts = %+v, want 3", got)
	}
	if at := got[2].At; at.Before(before) || at.After(after) {
		t.Errorf("a zero At was stored as %s, want the time of OweReceipt", at)
	}
	got[2].At = time.Time{}
	for i := range want {
		if !got[i].At.Equal(want[i].At) {
			t.Errorf("receipt %d: At %s, want %s", i, got[i].At, want[i].At)
		}
		got[i].At, want[i].At = time.Time{}, time.Time{}
	}
	if !slices.Equal(got, want) {
		t.Errorf("OwedReceipts = %+v, want %+v (in the order owed)", got, want)
	}
	first, err := s.OwedReceipts(ctx, 2)
	if err != nil || len(first) != 2 || first[0].HubID != "0c" || first[1].HubID != "0a" {
		t.Errorf("OwedReceipts(2) = %+v, %v; want the oldest two", first, err)
	}
	if n, err := s.CountOwedReceipts(ctx); err != nil || n != 3 {
		t.Errorf("CountOwedReceipts = %d, %v; want 3", n, err)
	}
}

// Owing what is owed already changes nothing: the first row stays, with
// its time, in its place.
func TestOweReceiptIsIdempotent(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{})
	owe(t, s, owedSample("01"))
	owe(t, s, owedSample("02"))
	again := owedSample("01")
	again.At = again.At.Add(time.Hour)
	again.Host = "ELSEWHERE"
	owe(t, s, again)
	rows, err := s.OwedReceipts(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0] != owedSample("01") || rows[1].HubID != "02" {
		t.Errorf("after owing 01 twice: %+v, want 01 as first owed, then 02", rows)
	}
}

// Paying deletes exactly the keys named, those paid before included.
func TestPaidReceipts(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{})
	ctx := context.Background()
	for _, id := range []string{"01", "02", "03", "04"} {
		owe(t, s, owedSample(id))
	}
	if err := s.PaidReceipts(ctx, []ReceiptKey{{"03", apitype.SentRead}, {"01", apitype.SentRead}, {"ff", apitype.SentRead}}); err != nil {
		t.Fatal(err)
	}
	if ids := owedIDs(t, s); !slices.Equal(ids, []string{"02", "04"}) {
		t.Errorf("owed after paying 01 and 03: %q, want 02, 04", ids)
	}
	if err := s.PaidReceipts(ctx, []ReceiptKey{{"01", apitype.SentRead}}); err != nil {
		t.Errorf("paying 01 a second time: %v", err)
	}
	if err := s.PaidReceipts(ctx, nil); err != nil {
		t.Errorf("paying nothing: %v", err)
	}
	if err := s.PaidReceipts(ctx, []ReceiptKey{{"02", apitype.SentRead}, {"04", apitype.SentRead}}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.CountOwedReceipts(ctx); err != nil || n != 0 {
		t.Errorf("CountOwedReceipts after paying all = %d, %v", n, err)
	}
	// Owed again after it was paid: a new row, last in line.
	owe(t, s, owedSample("05"))
	owe(t, s, owedSample("01"))
	if ids := owedIDs(t, s); !slices.Equal(ids, []string{"05", "01"}) {
		t.Errorf("owed = %q, want 05, 01", ids)
	}
}

// Past the cap the oldest receipts go, and the log says so.
func TestOwedReceiptsBounded(t *testing.T) {
	var logged syncbuf.Buffer
	s := openStore(t, t.TempDir(), Options{ReceiptsOwedMax: 3, Logger: slog.New(slog.NewTextHandler(&logged, nil))})
	for _, id := range []string{"01", "02", "03"} {
		owe(t, s, owedSample(id))
	}
	if strings.Contains(logged.String(), "dropped") {
		t.Errorf("logged a drop within the cap: %s", logged.String())
	}
	owe(t, s, owedSample("01")) // owed already: nothing grows
	if ids := owedIDs(t, s); !slices.Equal(ids, []string{"01", "02", "03"}) {
		t.Fatalf("owed = %q, want 01, 02, 03", ids)
	}
	owe(t, s, owedSample("04"))
	owe(t, s, owedSample("05"))
	if ids := owedIDs(t, s); !slices.Equal(ids, []string{"03", "04", "05"}) {
		t.Errorf("owed = %q, want the newest three: 03, 04, 05", ids)
	}
	if got := strings.Count(logged.String(), "the oldest are dropped"); got != 2 {
		t.Errorf("logged %d drops, want 2:\n%s", got, logged.String())
	}
	if _, err := Open(context.Background(), t.TempDir(), Options{ReceiptsOwedMax: -1}); err == nil {
		t.Error("Open with a negative ReceiptsOwedMax succeeded")
	}
}

// Bad input is refused as invalid and changes nothing.
func TestOwedReceiptsRefuse(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{})
	ctx := context.Background()
	owe(t, s, owedSample("01"))
	for name, mod := range map[string]func(*OwedReceipt){
		"no hub id":       func(r *OwedReceipt) { r.HubID = "" },
		"hub id not hex":  func(r *OwedReceipt) { r.HubID = "01' OR 1=1" },
		"hub id too long": func(r *OwedReceipt) { r.HubID = strings.Repeat("a", 65) },
		"delivered":       func(r *OwedReceipt) { r.State = apitype.SentDelivered },
		"no state":        func(r *OwedReceipt) { r.State = "" },
		"no host":         func(r *OwedReceipt) { r.Host = "" },
		"host too long":   func(r *OwedReceipt) { r.Host = strings.Repeat("H", 256) },
		"host not UTF-8":  func(r *OwedReceipt) { r.Host = "HOST\xff" },
		"no recipient":    func(r *OwedReceipt) { r.To = "" },
		"recipient long":  func(r *OwedReceipt) { r.To = strings.Repeat("é", 256) },
		"time too late":   func(r *OwedReceipt) { r.At = time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC) },
	} {
		r := owedSample("02")
		mod(&r)
		if err := s.OweReceipt(ctx, r); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: OweReceipt = %v, want ErrInvalid", name, err)
		}
	}
	for name, keys := range map[string][]ReceiptKey{
		"no hub id":   {{"01", apitype.SentRead}, {"", apitype.SentRead}},
		"not hex":     {{"01", apitype.SentRead}, {"zz", apitype.SentRead}},
		"other state": {{"01", apitype.SentRead}, {"01", apitype.SentDelivered}},
	} {
		if err := s.PaidReceipts(ctx, keys); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: PaidReceipts = %v, want ErrInvalid", name, err)
		}
	}
	if _, err := s.OwedReceipts(ctx, -1); !errors.Is(err, ErrInvalid) {
		t.Errorf("OwedReceipts(-1) = %v, want ErrInvalid", err)
	}
	rows, err := s.OwedReceipts(ctx, 0)
	if err != nil || len(rows) != 1 || rows[0] != owedSample("01") {
		t.Errorf("after bad input: %+v, %v; want only 01, unchanged", rows, err)
	}
}

// Owed receipts share commits with messages and the outbox, each
// answered on its own.
func TestOweReceiptConcurrent(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{})
	ctx := context.Background()
	const n = 32
	errs := make(chan error, 3*n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs <- s.OweReceipt(ctx, owedSample(fmt.Sprintf("%02x", i))) })
		wg.Go(func() { errs <- s.AddSent(ctx, sentSample(fmt.Sprintf("%02x", i))) })
		wg.Go(func() { m := hubSample(fmt.Sprintf("%02x", i), "hi"); errs <- s.Add(ctx, &m) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if c, err := s.CountOwedReceipts(ctx); err != nil || c != n {
		t.Errorf("%d owed (%v), want %d", c, err, n)
	}
	if st := s.Stats(); st.Messages != n {
		t.Errorf("Stats.Messages = %d, want %d (owed receipts are no messages)", st.Messages, n)
	}
}

func TestOwedReceiptsAfterClose(t *testing.T) {
	s, err := Open(context.Background(), t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.OweReceipt(ctx, owedSample("01")); !errors.Is(err, ErrClosed) {
		t.Errorf("OweReceipt after Close = %v", err)
	}
	if err := s.PaidReceipts(ctx, []ReceiptKey{{"01", apitype.SentRead}}); !errors.Is(err, ErrClosed) {
		t.Errorf("PaidReceipts after Close = %v", err)
	}
	if _, err := s.OwedReceipts(ctx, 0); !errors.Is(err, ErrClosed) {
		t.Errorf("OwedReceipts after Close = %v", err)
	}
	if _, err := s.CountOwedReceipts(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("CountOwedReceipts after Close = %v", err)
	}
}

// A database of schema version 6 (the hub, before owed receipts) is
// migrated on Open: its messages and sent rows stay, and receipts can be
// owed afterwards.
func TestOwedReceiptsMigrationFromVersion6(t *testing.T) {
	s := openFromVersion(t, 6, func(exec func(string, ...any)) {
		exec(`INSERT INTO messages (sender, recipient, text, received, transport, source, state, rule, explanation,
			hub_id, verified) VALUES ('bob', 'ALICE', 'from version 6', ?, 'hub', 'hub:HOSTB', 'read', '', '', '0abc', 'HOSTB')`,
			time.Now().UnixNano())
		exec(`INSERT INTO sent (hub_id, recipient, host, sender, text, created, expires, state, updated,
			delivered_at, read_at, detail) VALUES ('0def', 'BOB', 'HOSTB', 'alice', 'sent from version 6', 1, 0, 'sent', 1, 0, 0, '')`)
	})
	if v := schemaVersion(); v < 7 {
		t.Fatalf("schema version %d; want at least 7", v)
	}
	ctx := context.Background()
	old, err := s.Get(ctx, 1)
	if err != nil || old.Text != "from version 6" || old.HubID != "0abc" || old.Verified != "HOSTB" {
		t.Errorf("old message read back as %+v, %v", old, err)
	}
	if row, err := s.SentByHubID(ctx, "0def"); err != nil || row.State != apitype.SentSent {
		t.Errorf("old sent row read back as %+v, %v", row, err)
	}
	if n, err := s.CountOwedReceipts(ctx); err != nil || n != 0 {
		t.Errorf("CountOwedReceipts after the migration = %d, %v; want 0", n, err)
	}
	r := OwedReceipt{HubID: old.HubID, State: apitype.SentRead, Host: old.Verified, To: old.To, At: time.Now()}
	owe(t, s, r)
	owe(t, s, r)
	if ids := owedIDs(t, s); !slices.Equal(ids, []string{"0abc"}) {
		t.Errorf("owed after the migration: %q", ids)
	}
}
