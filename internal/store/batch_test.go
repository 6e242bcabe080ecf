package store

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/netsend/messenger/internal/message"
)

// AddBatch keeps the order it was given: ids ascend with the input, and
// duplicates (of a stored message, or of one earlier in the same batch)
// and an invalid message fail alone.
func TestAddBatchOrderDuplicatesInvalid(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{})
	add(t, s, hubSample("aa", "stored before"))
	in := []message.Message{
		hubSample("bb", "first"),
		hubSample("aa", "redelivered"),
		sample("plain"),
		hubSample("cc", "bad state"),
		hubSample("bb", "first, twice in the batch"),
		hubSample("dd", "last"),
	}
	in[3].State = "bogus"
	ms := make([]*message.Message, len(in))
	for i := range in {
		ms[i] = &in[i]
	}
	errs := s.AddBatch(context.Background(), ms)
	want := []error{nil, ErrDuplicate, nil, ErrInvalid, ErrDuplicate, nil}
	if len(errs) != len(want) {
		t.Fatalf("AddBatch returned %d errors for %d messages", len(errs), len(ms))
	}
	var last int64
	for i, err := range errs {
		switch {
		case want[i] == nil && err != nil:
			t.Errorf("message %d (%q): %v, want stored", i, in[i].Text, err)
		case want[i] != nil && !errors.Is(err, want[i]):
			t.Errorf("message %d (%q): %v, want %v", i, in[i].Text, err, want[i])
		case want[i] == nil:
			if in[i].ID <= last {
				t.Errorf("message %d (%q) got id %d after %d: not in input order", i, in[i].Text, in[i].ID, last)
			}
			last = in[i].ID
		case in[i].ID != 0:
			t.Errorf("failed message %d (%q) got id %d", i, in[i].Text, in[i].ID)
		}
	}
	list, err := s.List(context.Background(), ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, m := range list {
		texts = append(texts, m.Text)
	}
	if got := fmt.Sprint(texts); got != "[stored before first plain last]" {
		t.Errorf("stored %s, want [stored before first plain last] in that order", got)
	}
}

// A batch reaches the writer as one run of requests, so it shares a
// commit.
func TestAddBatchSharesCommit(t *testing.T) {
	opts, parked, release, sizes := holdWriter(0)
	s := openStore(t, t.TempDir(), opts)
	first := sample("alone")
	firstErr := make(chan error, 1)
	go func() { firstErr <- s.Add(context.Background(), &first) }()
	<-parked

	var ms []*message.Message
	for i := range 5 {
		m := hubSample(fmt.Sprintf("%02x", i), fmt.Sprint("batch ", i))
		ms = append(ms, &m)
	}
	errc := make(chan []error, 1)
	go func() { errc <- s.AddBatch(context.Background(), ms) }()
	waitFor(t, "the batch to queue", func() bool { return len(s.reqs) == len(ms) })
	close(release)
	if err := <-firstErr; err != nil {
		t.Fatal(err)
	}
	for i, err := range <-errc {
		if err != nil {
			t.Errorf("message %d: %v", i, err)
		}
	}
	if got := fmt.Sprint(sizes()); got != "[1 5]" {
		t.Errorf("commits of %s messages, want [1 5]", got)
	}
}

// A batch whose context ends while it waits for the writer stores
// nothing: no later message of it may be stored before an earlier one.
func TestAddBatchCancelledStoresNothing(t *testing.T) {
	opts, parked, release, _ := holdWriter(0)
	s := openStore(t, t.TempDir(), opts)
	first := sample("alone")
	firstErr := make(chan error, 1)
	go func() { firstErr <- s.Add(context.Background(), &first) }()
	<-parked

	ctx, cancel := context.WithCancel(context.Background())
	var ms []*message.Message
	for i := range 3 {
		m := hubSample(fmt.Sprintf("%02x", i), fmt.Sprint("batch ", i))
		ms = append(ms, &m)
	}
	errc := make(chan []error, 1)
	go func() { errc <- s.AddBatch(ctx, ms) }()
	waitFor(t, "the batch to queue", func() bool { return len(s.reqs) == len(ms) })
	cancel()
	errs := <-errc
	close(release)
	if err := <-firstErr; err != nil {
		t.Fatal(err)
	}
	for i, err := range errs {
		if err == nil {
			t.Errorf("message %d of a cancelled batch: nil error", i)
		}
	}
	// The writer answers the cancelled requests before it takes anything
	// else: a plain Add after them proves they were looked at.
	add(t, s, sample("after"))
	if n := count(t, s); n != 2 {
		t.Errorf("Count = %d, want 2: nothing of the cancelled batch", n)
	}
}
