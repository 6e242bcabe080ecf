package smbmsg

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/netsend/messenger/internal/message"
	"github.com/netsend/messenger/internal/metrics"
	"github.com/netsend/messenger/internal/names"
	"github.com/netsend/messenger/internal/netbios"
	"github.com/netsend/messenger/internal/smb"
)

type nameSet map[string]bool

func (s nameSet) Has(n netbios.Name) bool {
	return n.Suffix() == names.MessengerSuffix && s[strings.ToUpper(n.Base())]
}
func (s nameSet) HasString(name string) bool { return s[strings.ToUpper(name)] }

type memPipeline struct {
	mu   sync.Mutex
	msgs []message.Message
	fail error
}

func (p *memPipeline) Deliver(_ context.Context, m *message.Message) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fail != nil {
		return p.fail
	}
	m.ID = int64(len(p.msgs) + 1)
	p.msgs = append(p.msgs, *m)
	return nil
}

func (p *memPipeline) stored() []message.Message {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]message.Message(nil), p.msgs...)
}

type testServer struct {
	addr string
	pl   *memPipeline
	log  *bytes.Buffer
	met  *metrics.Metrics
}

func startServer(t *testing.T) *testServer {
	t.Helper()
	return startServerWith(t, nil)
}

// startServerWith starts a server whose configuration set may change.
func startServerWith(t *testing.T, set func(*Config)) *testServer {
	t.Helper()
	cp, err := message.LookupCodePage("CP850")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{addr: ln.Addr().String(), pl: &memPipeline{}, log: &bytes.Buffer{}, met: metrics.New()}
	var logMu sync.Mutex
	cfg := Config{
		Listener: ln, Names: nameSet{"BOB": true}, Pipeline: ts.pl, CodePage: cp, Metrics: ts.met,
		Log:         slog.New(slog.NewTextHandler(&lockedWriter{mu: &logMu, w: ts.log}, nil)),
		IdleTimeout: 5 * time.Second, MaxSessions: 16,
	}
	if set != nil {
		set(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ts
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

var (
	bob, _     = netbios.NewName("BOB", 0x03)
	alice, _   = netbios.NewName("ALICE", 0x00)
	nobody, _  = netbios.NewName("NOBODY", 0x03)
	bobFile, _ = netbios.NewName("BOB", 0x20)
)

func dial(t *testing.T, ts *testServer) *Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Dial(ctx, ts.addr, bob, alice)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	t.Cleanup(func() { c.Close() })
	return c
}

// rawSession opens a session and returns the bare connection.
func rawSession(t *testing.T, ts *testServer) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(5 * time.Second))
	req, _ := netbios.AppendSessionRequest(nil, netbios.SessionRequestPacket{Called: bob, Calling: alice})
	c.Write(req)
	resp := make([]byte, 4)
	if _, err := io.ReadFull(c, resp); err != nil || resp[0] != byte(netbios.PositiveSessionResponse) {
		t.Fatalf("session response % x, %v", resp, err)
	}
	return c
}

// expectClosed asserts the server hangs up without answering.
func expectClosed(t *testing.T, c net.Conn) {
	t.Helper()
	b := make([]byte, 64)
	n, err := c.Read(b)
	if err == nil {
		t.Fatalf("server answered % x instead of closing", b[:n])
	}
	if !errors.Is(err, io.EOF) && !strings.Contains(err.Error(), "reset") {
		t.Fatalf("read: %v, want the connection closed", err)
	}
}

func TestMessages(t *testing.T) {
	ts := startServer(t)
	c := dial(t, ts)
	if err := c.SendSingle([]byte("ALICE"), []byte("BOB"), []byte("one\x14two")); err != nil {
		t.Fatal(err)
	}
	if err := c.SendMultiBlock([]byte("alice"), []byte("bob"), []byte(strings.Repeat("ab\r\n", 100)), 127); err != nil {
		t.Fatal(err)
	}
	// An empty multi-block message, as smbclient sends for empty input.
	if err := c.SendMultiBlock([]byte("alice"), []byte("bob"), nil, 127); err != nil {
		t.Fatal(err)
	}
	// Accented text in CP850.
	if err := c.SendSingle(nil, []byte("BOB"), []byte{'G', 'r', 0x81, 0xE1, 'e'}); err != nil {
		t.Fatal(err)
	}
	got := ts.pl.stored()
	want := []struct{ from, to, text string }{
		{"ALICE", "BOB", "one\ntwo"},
		{"alice", "bob", strings.Repeat("ab\n", 100)},
		{"alice", "bob", ""},
		{"", "BOB", "Grüße"},
	}
	if len(got) != len(want) {
		t.Fatalf("stored %d messages, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		if got[i].From != w.from || got[i].To != w.to || got[i].Text != w.text || got[i].Transport != message.TransportSMB {
			t.Errorf("message %d = %+v, want from %q to %q text %q", i, got[i], w.from, w.to, w.text)
		}
	}
}

func TestRefusedSessions(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()
	for _, called := range []netbios.Name{nobody, bobFile} {
		if _, err := Dial(ctx, ts.addr, called, alice); !errors.Is(err, ErrNameNotPresent) {
			t.Errorf("session to %v: %v, want name not present", called, err)
		}
	}
	if !strings.Contains(ts.log.String(), "name_not_present") {
		t.Errorf("no log line for the refused session:\n%s", ts.log)
	}
}

func TestBadInput(t *testing.T) {
	ts := startServer(t)
	smbFrame := func(b []byte) []byte {
		out, err := netbios.AppendSessionMessage(nil, b)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	hello, err := smb.AppendSendMessage(nil, smb.Header{Command: smb.CommandSendMessage}, smb.SendMessage{Originator: []byte("A"), Destination: []byte("BOB"), Text: []byte("hi")})
	if err != nil {
		t.Fatal(err)
	}
	// ByteCount says more than the bytes present.
	lying := append([]byte(nil), hello...)
	lying[33] += 40

	closes := []struct {
		name  string
		bytes []byte
	}{
		{"not SMB", smbFrame([]byte("GET / HTTP/1.1\r\n\r\n......................"))},
		{"frame over the limit", []byte{0x00, 0x01, 0xFF, 0xFF}},
		{"reserved flag bits", []byte{0x00, 0x02, 0x00, 0x00}},
		{"second session request", func() []byte {
			b, _ := netbios.AppendSessionRequest(nil, netbios.SessionRequestPacket{Called: bob, Calling: alice})
			return b
		}()},
		{"server packet type from a client", []byte{0x82, 0, 0, 0}},
	}
	for _, tc := range closes {
		t.Run(tc.name, func(t *testing.T) {
			c := rawSession(t, ts)
			c.Write(tc.bytes)
			expectClosed(t, c)
		})
	}

	t.Run("direct-hosted SMB", func(t *testing.T) {
		// No session request: the framing smbclient uses off port 139.
		c, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		toNobody, err := smb.AppendSendMessage(nil, smb.Header{Command: smb.CommandSendMessage}, smb.SendMessage{Originator: []byte("A"), Destination: []byte("NOBODY"), Text: []byte("lost")})
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			req  []byte
			want *smb.ReplyError
		}{{toNobody, &smb.ErrCodeMessagesOff}, {hello, nil}} {
			c.Write(smbFrame(tc.req))
			hdr := make([]byte, 4)
			if _, err := io.ReadFull(c, hdr); err != nil {
				t.Fatal(err)
			}
			body := make([]byte, int(hdr[2])<<8|int(hdr[3]))
			if _, err := io.ReadFull(c, body); err != nil {
				t.Fatal(err)
			}
			p, err := smb.Parse(body)
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Err(); tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("direct-hosted reply error %v, want %v", err, tc.want)
			}
		}
	})

	t.Run("truncated frame", func(t *testing.T) {
		c := rawSession(t, ts)
		c.Write(smbFrame(hello)[:20])
		c.(*net.TCPConn).CloseWrite()
		expectClosed(t, c)
	})

	errorReplies := []struct {
		name string
		send func(c *Client) error
		want *smb.ReplyError
	}{
		{"ByteCount past the end", func(c *Client) error {
			return c.SendRaw(smb.CommandSendMessage, func(smb.Header) ([]byte, error) { return lying, nil })
		}, &smb.ErrCodeInvalidParameter},
		{"block over 128 bytes", func(c *Client) error {
			return c.SendRaw(smb.CommandSendMessage, func(h smb.Header) ([]byte, error) {
				b, err := smb.AppendSendMessage(nil, h, smb.SendMessage{Originator: []byte("A"), Destination: []byte("BOB"), Text: []byte("x")})
				if err != nil {
					return nil, err
				}
				// Make DataLength 200 and supply 200 bytes.
				b = append(b[:len(b)-1-2], 200, 0)
				b = append(b, bytes.Repeat([]byte("y"), 200)...)
				b[33], b[34] = byte(len(b)-35), byte((len(b)-35)>>8)
				return b, nil
			})
		}, &smb.ErrCodeInvalidParameter},
		{"0xD6 without 0xD5", func(c *Client) error {
			return c.SendRaw(smb.CommandSendEndMBMessage, func(h smb.Header) ([]byte, error) {
				return smb.AppendSendEndMBMessage(nil, h, smb.SendEndMBMessage{})
			})
		}, &smb.ErrCodeInvalidParameter},
		{"unknown command", func(c *Client) error {
			return c.SendRaw(smb.CommandForwardUserName, func(h smb.Header) ([]byte, error) { return smb.AppendPacket(nil, h, nil, nil) })
		}, &smb.ErrCodeUnknownCommand},
		{"multi-block text over the limit", func(c *Client) error {
			return c.SendMultiBlock([]byte("A"), []byte("BOB"), bytes.Repeat([]byte("z"), maxMultiBlock+1), 128)
		}, &smb.ErrCodeNoRoom},
	}
	for _, tc := range errorReplies {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, ts)
			if err := tc.send(c); !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			// The session is still usable afterwards.
			if err := c.SendSingle([]byte("A"), []byte("BOB"), []byte("after "+tc.name)); err != nil {
				t.Fatalf("session unusable after the error: %v", err)
			}
		})
	}

	for _, m := range ts.pl.stored() {
		if !strings.HasPrefix(m.Text, "after ") && m.Text != "hi" {
			t.Errorf("bad input was stored: %+v", m)
		}
	}
	if n := len(ts.pl.stored()); n != len(errorReplies)+1 {
		t.Errorf("%d messages stored, want %d (one per recovered session, one direct-hosted)", n, len(errorReplies)+1)
	}
	// The server still serves a fresh session after all of that.
	if err := dial(t, ts).SendSingle([]byte("A"), []byte("BOB"), []byte("still here")); err != nil {
		t.Fatal(err)
	}
}

func TestStoreFailureIsNotAcknowledged(t *testing.T) {
	ts := startServer(t)
	ts.pl.fail = errors.New("disk full")
	c := dial(t, ts)
	if err := c.SendMultiBlock([]byte("A"), []byte("BOB"), []byte("lost"), 127); !errors.Is(err, smb.ErrCodeNoRoom) {
		t.Fatalf("error %v, want no room: a message that was not stored must not be acknowledged", err)
	}
}

func TestSessionLimit(t *testing.T) {
	ts := startServer(t)
	var held []net.Conn
	for i := 0; i < 16; i++ {
		held = append(held, rawSession(t, ts))
	}
	_, err := Dial(context.Background(), ts.addr, bob, alice)
	var refused *SessionRefusedError
	if !errors.As(err, &refused) || refused.Code != netbios.InsufficientResources {
		t.Fatalf("17th session: %v, want insufficient resources", err)
	}
	held[0].Close()
}
