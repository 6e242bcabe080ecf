package store

import (
	"context"
	"fmt"
	"testing"
)

// The web inbox pages back from the newest and searches on the server:
// Newest and BeforeID page in descending order, and Text matches text,
// sender and recipient with the searcher's % and _ taken literally.
func TestListNewestAndText(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{})
	texts := []string{"disk full", "100% done", "UPS on battery", "a_b", "ab", "Disk ok"}
	for _, txt := range texts {
		add(t, s, sample(txt))
	}
	tests := []struct {
		name string
		opt  ListOptions
		want []int64
	}{
		{"newest", ListOptions{Newest: true, Limit: 2}, []int64{6, 5}},
		{"before", ListOptions{Newest: true, BeforeID: 5, Limit: 2}, []int64{4, 3}},
		{"before, oldest first", ListOptions{BeforeID: 3}, []int64{1, 2}},
		{"text, any case", ListOptions{Text: "DISK"}, []int64{1, 6}},
		{"percent is literal", ListOptions{Text: "0%"}, []int64{2}},
		{"underscore is literal", ListOptions{Text: "a_b"}, []int64{4}},
		{"backslash is literal", ListOptions{Text: `a\`}, nil},
		{"quote is data", ListOptions{Text: `' OR 1=1 --`}, nil},
		{"text and newest", ListOptions{Text: "disk", Newest: true, Limit: 1}, []int64{6}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.List(context.Background(), tt.opt)
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			var ids []int64
			for _, m := range got {
				ids = append(ids, m.ID)
			}
			if fmt.Sprint(ids) != fmt.Sprint(tt.want) {
				t.Errorf("ids %v, want %v", ids, tt.want)
			}
		})
	}
	// The sender and recipient match too.
	m := sample("x")
	m.From, m.To = "WALLY", "NOBODY"
	add(t, s, m)
	for _, q := range []string{"wall", "obod"} {
		got, err := s.List(context.Background(), ListOptions{Text: q})
		if err != nil || len(got) != 1 || got[0].Text != "x" {
			t.Errorf("Text %q: %d messages, %v", q, len(got), err)
		}
	}
}
