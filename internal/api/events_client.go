package api

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/netsend/messenger/internal/message"
)

// maxEventLine bounds one line of the event stream the client accepts.
const maxEventLine = 1 << 20

// Events follows the daemon's event stream: messages after the id after
// (replayed from the store, then live), to the names in to (all when
// empty), and read and delete changes. fn sees each event in order; the
// call returns when ctx ends, the stream ends (the daemon stopped) or fn
// fails. Reconnecting is the caller's: pass the last message id seen.
func (c *Client) Events(ctx context.Context, after int64, to []string, fn func(Event) error) error {
	q := url.Values{}
	q.Set("after", strconv.FormatInt(after, 10))
	if len(to) > 0 {
		q.Set("to", strings.Join(to, ","))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/v1/events?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := c.http.Do(req)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED) {
			return fmt.Errorf("%w (nothing answers on %s)", ErrDaemonNotRunning, c.socket)
		}
		return fmt.Errorf("reaching the daemon at %s: %w", c.socket, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("event stream: daemon answered %s", resp.Status)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), maxEventLine)
	var kind, data string
	for sc.Scan() {
		line := sc.Text()
		if line != "" {
			field, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			switch field {
			case "event":
				kind = value
			case "data":
				data += value
			}
			continue
		}
		if kind == "" || data == "" {
			kind, data = "", ""
			continue
		}
		e, err := decodeEvent(kind, data)
		kind, data = "", ""
		if err != nil {
			return err
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil && ctx.Err() == nil {
		return fmt.Errorf("event stream: %w", err)
	}
	return ctx.Err()
}

func decodeEvent(kind, data string) (Event, error) {
	e := Event{Kind: kind}
	if kind == EventMessage {
		var m message.Message
		if err := json.Unmarshal([]byte(data), &m); err != nil {
			return e, fmt.Errorf("event stream: bad message event: %w", err)
		}
		e.ID, e.Message = m.ID, &m
		return e, nil
	}
	var v struct {
		ID int64 `json:"id"`
	}
	if err := json.Unmarshal([]byte(data), &v); err != nil {
		return e, fmt.Errorf("event stream: bad %s event: %w", kind, err)
	}
	e.ID = v.ID
	return e, nil
}
