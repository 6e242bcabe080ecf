package api

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/netsend/messenger/internal/message"
)

// ListQuery selects messages for GET /v1/messages.
type ListQuery struct {
	State  message.State
	After  int64 // only ids above it (oldest first)
	Before int64 // only ids below it (newest first)
	Newest bool  // newest first, so that a limited page is the newest
	Limit  int   // at most this many in the page (the daemon caps it at MaxPage)
	// Text, From, To and Since filter on the daemon: text contained in
	// the text, sender, recipient or alert; sender and recipient names
	// in any case; received at or after Since.
	Text, From, To string
	Since          time.Time
}

func (q ListQuery) values() url.Values {
	v := pageValues(string(q.State), q.After, q.Limit)
	if q.Before > 0 {
		v.Set("before", strconv.FormatInt(q.Before, 10))
	}
	if q.Newest {
		v.Set("order", "newest")
	}
	for k, s := range map[string]string{"q": q.Text, "from": q.From, "to": q.To} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if !q.Since.IsZero() {
		v.Set("since", q.Since.UTC().Format(time.RFC3339Nano))
	}
	return v
}

// ListPage returns one page of messages: at most q.Limit, and never more
// than the daemon's MaxPage.
func (c *Client) ListPage(ctx context.Context, q ListQuery) ([]message.Message, error) {
	var msgs []message.Message
	err := c.do(ctx, http.MethodGet, "/v1/messages?"+q.values().Encode(), &msgs)
	return msgs, err
}

// ListEach calls f for every message q selects, oldest first, a page at
// a time, so that an inbox of any size takes constant memory; q.Limit
// bounds the total (0: all), q.Newest and q.Before are ignored.
func (c *Client) ListEach(ctx context.Context, q ListQuery, f func(message.Message) error) error {
	total := q.Limit
	q.Newest, q.Before = false, 0
	for n := 0; total == 0 || n < total; {
		q.Limit = MaxPage
		if total > 0 {
			q.Limit = min(MaxPage, total-n)
		}
		page, err := c.ListPage(ctx, q)
		if err != nil {
			return err
		}
		for _, m := range page {
			if err := f(m); err != nil {
				return err
			}
		}
		n += len(page)
		if len(page) < q.Limit {
			return nil
		}
		q.After = page[len(page)-1].ID
	}
	return nil
}

// NewestStart returns the After of a ListEach that lists the newest n
// messages q selects, oldest first: the id below the nth newest (0 when
// there are no more than n). It walks back a page at a time keeping
// only ids, so that n may be any size.
func (c *Client) NewestStart(ctx context.Context, q ListQuery, n int) (int64, error) {
	q.Newest, q.After, q.Before = true, 0, 0
	for n > 0 {
		q.Limit = min(MaxPage, n)
		page, err := c.ListPage(ctx, q)
		if err != nil {
			return 0, err
		}
		n -= len(page)
		if len(page) < q.Limit {
			return 0, nil // fewer than n in all
		}
		q.Before = page[len(page)-1].ID
	}
	return q.Before - 1, nil
}

// ReadAll marks every unread message the caller may read as read and
// returns their ids.
func (c *Client) ReadAll(ctx context.Context) ([]int64, error) {
	var out ReadAllResponse
	err := c.send(ctx, http.MethodPost, "/v1/messages/read-all", ReadAllRequest{}, &out)
	return out.Read, err
}
