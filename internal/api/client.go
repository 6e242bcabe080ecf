package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"syscall"

	"github.com/netsend/messenger/internal/apitype"
	"github.com/netsend/messenger/internal/message"
	"github.com/netsend/messenger/internal/webauth"
)

// ErrDaemonNotRunning is returned when nothing answers on the socket.
var ErrDaemonNotRunning = errors.New("the messenger daemon is not running")

// ErrNotFound is returned for a message id the daemon does not have.
var ErrNotFound = errors.New("not found")

// Client talks to a running daemon over its Unix socket, or over its
// loopback HTTP listener.
type Client struct {
	socket string // the socket's path or the listener's address, for errors
	base   string // what request paths are appended to
	http   *http.Client
	token  string // sent as "Authorization: Bearer TOKEN" over HTTP
}

// NewClient returns a client for the daemon whose socket is at path.
func NewClient(socket string) *Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
		// Every request goes to this one daemon: a long-lived client with
		// requests in parallel (an agent, the benchmark) keeps a connection
		// for each instead of Go's default two, and does not dial again
		// for nearly every request.
		MaxIdleConnsPerHost: 64,
	}
	return &Client{socket: socket, base: "http://messenger", http: &http.Client{Transport: tr}}
}

// NewHTTPClient returns a client for the daemon's HTTP listener
// (HOST:PORT), for a program that may not open the socket or runs on
// another machine. Over HTTP every request but the health answer needs a
// credential: token is an API token of `messenger token create` (or the
// admin web token); empty sends none.
func NewHTTPClient(addr, token string) *Client {
	return &Client{socket: addr, base: "http://" + addr, http: &http.Client{}, token: token}
}

// Addr is the socket path or HTTP listener address the client reaches.
func (c *Client) Addr() string { return c.socket }

// Status asks the daemon about itself.
func (c *Client) Status(ctx context.Context) (apitype.Status, error) {
	var s apitype.Status
	err := c.do(ctx, http.MethodGet, "/v1/status", &s)
	return s, err
}

// List returns stored messages in ascending id order: all of them above
// after when limit is 0, paging through the daemon's MaxPage. Lists of
// any size should use ListEach, which holds a page at a time.
func (c *Client) List(ctx context.Context, state message.State, after int64, limit int) ([]message.Message, error) {
	var msgs []message.Message
	err := c.ListEach(ctx, ListQuery{State: state, After: after, Limit: limit}, func(m message.Message) error {
		msgs = append(msgs, m)
		return nil
	})
	return msgs, err
}

// Get returns one message.
func (c *Client) Get(ctx context.Context, id int64) (message.Message, error) {
	var m message.Message
	err := c.do(ctx, http.MethodGet, "/v1/messages/"+strconv.FormatInt(id, 10), &m)
	return m, err
}

// MarkRead marks a message read and returns it.
func (c *Client) MarkRead(ctx context.Context, id int64) (message.Message, error) {
	var m message.Message
	err := c.do(ctx, http.MethodPost, "/v1/messages/"+strconv.FormatInt(id, 10)+"/read", &m)
	return m, err
}

// Delete removes a message.
func (c *Client) Delete(ctx context.Context, id int64) error {
	return c.do(ctx, http.MethodDelete, "/v1/messages/"+strconv.FormatInt(id, 10), nil)
}

// Names lists the daemon's names.
func (c *Client) Names(ctx context.Context) ([]apitype.Name, error) {
	var out []apitype.Name
	err := c.do(ctx, http.MethodGet, "/v1/names", &out)
	return out, err
}

// AddName adds a message alias, owned by the local account user (empty
// for a host name); the daemon answers once the network has had its say,
// with ErrConflict if another node holds the name.
func (c *Client) AddName(ctx context.Context, name, user string) (apitype.Name, error) {
	var out apitype.Name
	err := c.send(ctx, http.MethodPost, "/v1/names", apitype.AddNameRequest{Name: name, User: user}, &out)
	return out, err
}

// Send asks the daemon to send a message.
func (c *Client) Send(ctx context.Context, req apitype.SendRequest) ([]apitype.Delivery, error) {
	var out apitype.SendResponse
	err := c.send(ctx, http.MethodPost, "/v1/send", req, &out)
	return out.Deliveries, err
}

// IsForbidden reports whether err is the daemon's refusal of something
// the caller may not do (HTTP 403, code "forbidden").
func IsForbidden(err error) bool {
	var re *RequestError
	return errors.As(err, &re) && re.Status == http.StatusForbidden
}

// WebSignIn asks for a one-time sign-in link for the caller.
func (c *Client) WebSignIn(ctx context.Context) (apitype.SignIn, error) {
	var out apitype.SignIn
	err := c.send(ctx, http.MethodPost, "/v1/web/signin", struct{}{}, &out)
	return out, err
}

// CreateToken makes an API token named name for the caller, or for user
// (admins only); the answer holds the token, shown this once.
func (c *Client) CreateToken(ctx context.Context, name, user string) (apitype.NewTokenResponse, error) {
	var out apitype.NewTokenResponse
	err := c.send(ctx, http.MethodPost, "/v1/tokens", apitype.NewTokenRequest{Name: name, User: user}, &out)
	return out, err
}

// Tokens lists the caller's API tokens, or user's (admins only; "*" for
// every account's).
func (c *Client) Tokens(ctx context.Context, user string) ([]apitype.TokenInfo, error) {
	var out []apitype.TokenInfo
	path := "/v1/tokens"
	if user != "" {
		path += "?user=" + url.QueryEscape(user)
	}
	err := c.do(ctx, http.MethodGet, path, &out)
	return out, err
}

// RevokeToken deletes the caller's token name, or user's (admins only).
func (c *Client) RevokeToken(ctx context.Context, name, user string) error {
	path := "/v1/tokens/" + url.PathEscape(name)
	if user != "" {
		path += "?user=" + url.QueryEscape(user)
	}
	return c.do(ctx, http.MethodDelete, path, nil)
}

// RequestError is a refusal with a code: a 400 (e.g. a message too
// long), 403 (the caller may not do it), 413 (too large), 422 (no
// recipient) or 429 (rate limited).
type RequestError struct {
	Code, Msg string
	Status    int // the HTTP status
}

func (e *RequestError) Error() string { return e.Msg }

// DeleteName removes a message alias and releases it on the network.
func (c *Client) DeleteName(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, "/v1/names/"+url.PathEscape(name), nil)
}

func (c *Client) do(ctx context.Context, method, path string, out any) error {
	return c.send(ctx, method, path, nil, out)
}

// ErrConflict is returned when the daemon refuses a change that clashes
// with what exists (a name held elsewhere, a permanent name).
var ErrConflict = errors.New("conflict")

func (c *Client) send(ctx context.Context, method, path string, in, out any) error {
	var reqBody io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		reqBody = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, reqBody)
	if err != nil {
		return err
	}
	if method != http.MethodGet {
		req.Header.Set(webauth.RequestHeader, "1") // the HTTP listener's guard wants it; the socket ignores it
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED) {
			return fmt.Errorf("%w (nothing answers on %s)", ErrDaemonNotRunning, c.socket)
		}
		return fmt.Errorf("reaching the daemon at %s: %w", c.socket, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("reading the daemon's answer: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		var e apitype.Error
		if json.Unmarshal(body, &e) != nil || e.Error == "" {
			e.Error = resp.Status
		}
		switch {
		case resp.StatusCode == http.StatusForbidden:
			return &RequestError{Code: apitype.CodeForbidden, Msg: e.Error, Status: resp.StatusCode}
		case e.Code != "" && (resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusRequestEntityTooLarge ||
			resp.StatusCode == http.StatusUnprocessableEntity || resp.StatusCode == http.StatusTooManyRequests):
			return &RequestError{Code: e.Code, Msg: e.Error, Status: resp.StatusCode}
		case resp.StatusCode == http.StatusNotFound:
			return fmt.Errorf("%w: %s", ErrNotFound, e.Error)
		case resp.StatusCode == http.StatusConflict:
			return fmt.Errorf("%w: %s", ErrConflict, e.Error)
		}
		return errors.New(e.Error)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("decoding the daemon's answer: %w", err)
	}
	return nil
}
