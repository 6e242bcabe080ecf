package smbmsg

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/netsend/messenger/internal/netbios"
	"github.com/netsend/messenger/internal/smb"
)

// waitLimit bounds every wait in these tests; it is far above what any of
// them needs, so that a loaded machine slows them down but never fails them.
const waitLimit = 10 * time.Second

// hog is a second loopback address, standing for another host.
var hog = netip.MustParseAddr("127.0.0.2")

// waitFor polls cond until it holds or waitLimit passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", waitLimit, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// rawSessionFrom opens a session from src and returns the bare connection.
func rawSessionFrom(t *testing.T, ts *testServer, src netip.Addr) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: src.AsSlice()}, Timeout: waitLimit}
	c, err := d.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(waitLimit))
	req, _ := netbios.AppendSessionRequest(nil, netbios.SessionRequestPacket{Called: bob, Calling: alice})
	c.Write(req)
	resp := make([]byte, 4)
	if _, err := io.ReadFull(c, resp); err != nil || resp[0] != byte(netbios.PositiveSessionResponse) {
		t.Fatalf("session response % x, %v", resp, err)
	}
	return c
}

func rejected(ts *testServer, reason string) float64 {
	return testutil.ToFloat64(ts.met.Rejected.WithLabelValues("smb", reason))
}

// One source holding every session it may leaves the others room: the
// 1,030-session keep-alive hog of issue 16.
func TestPerSourceCap(t *testing.T) {
	ts := startServerWith(t, func(s *Config) { s.MaxSessions, s.MaxSessionsPerSource = 8, 4 })
	var held []net.Conn
	for i := 0; i < 4; i++ {
		held = append(held, rawSessionFrom(t, ts, hog))
	}
	ctx := context.Background()
	_, err := DialFrom(ctx, hog, ts.addr, bob, alice)
	var refused *SessionRefusedError
	if !errors.As(err, &refused) || refused.Code != netbios.InsufficientResources {
		t.Fatalf("fifth session from %v: %v, want insufficient resources", hog, err)
	}
	if n := rejected(ts, "source_busy"); n != 1 {
		t.Errorf("rejected{source_busy} = %v, want 1", n)
	}

	// Another source still gets in and its message is stored.
	c := dial(t, ts)
	if err := c.SendMultiBlock([]byte("ALICE"), []byte("BOB"), []byte("past the hog"), 127); err != nil {
		t.Fatalf("message from another source while %v holds its sessions: %v", hog, err)
	}
	if got := ts.pl.stored(); len(got) != 1 || got[0].Text != "past the hog" {
		t.Fatalf("stored %+v, want the one message", got)
	}

	// A slot the hog gives back is its own again.
	held[0].Close()
	waitFor(t, "the hog's closed session did not give its slot back", func() bool {
		c, err := DialFrom(ctx, hog, ts.addr, bob, alice)
		if err != nil {
			return false
		}
		c.Close()
		return true
	})
}

// An outsider is closed at accept, unanswered, and the check asks the
// policy in force at each accept.
func TestOutsiderClosedAtAccept(t *testing.T) {
	var outsider atomic.Value // netip.Addr the "policy" refuses
	outsider.Store(hog)
	var asked atomic.Int32
	ts := startServerWith(t, func(s *Config) {
		s.AdmitSource = func(a netip.Addr) (string, bool) {
			asked.Add(1)
			if a == outsider.Load().(netip.Addr) {
				return "smb.allow", false
			}
			return "", true
		}
	})
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: hog.AsSlice()}, Timeout: waitLimit}
	c, err := d.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(waitLimit))
	req, _ := netbios.AppendSessionRequest(nil, netbios.SessionRequestPacket{Called: bob, Calling: alice})
	c.Write(req) // may fail once the server has closed; the read tells
	expectClosed(t, c)
	if n := rejected(ts, "policy:smb.allow"); n != 1 {
		t.Errorf("rejected{policy:smb.allow} = %v, want 1", n)
	}
	if n := testutil.ToFloat64(ts.met.Sessions); n != 0 {
		t.Errorf("sessions gauge %v after an outsider; it never had a session", n)
	}

	// Insiders are served; and when the policy changes (a reload), the
	// next accept sees it.
	if err := dial(t, ts).SendSingle([]byte("A"), []byte("BOB"), []byte("insider")); err != nil {
		t.Fatal(err)
	}
	outsider.Store(netip.MustParseAddr("127.0.0.1"))
	rawSessionFrom(t, ts, hog)
	if _, err := Dial(context.Background(), ts.addr, bob, alice); err == nil {
		t.Fatal("127.0.0.1 got a session after the policy stopped admitting it")
	}
	if n := asked.Load(); n != 4 {
		t.Errorf("AdmitSource asked %d times, want once per accept (4)", n)
	}
}

// Keep-alives prove the peer is there, not that it has anything to say: a
// session that sends only keep-alives ends after the idle timeout.
func TestKeepAliveDoesNotExtendIdle(t *testing.T) {
	ts := startServerWith(t, func(s *Config) { s.IdleTimeout = 300 * time.Millisecond })
	c := rawSessionFrom(t, ts, hog)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if _, err := c.Write([]byte{byte(netbios.SessionKeepAlive), 0, 0, 0}); err != nil {
					return
				}
			}
		}
	}()
	// The read ends with the server's close, long before waitLimit; a read
	// deadline instead means the keep-alives kept the session.
	b := make([]byte, 16)
	n, err := c.Read(b)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("session still open after %v of keep-alives with a %v idle timeout", waitLimit, 300*time.Millisecond)
	}
	if err == nil {
		t.Fatalf("server sent % x to a keep-alive", b[:n])
	}
	waitFor(t, "no sessions_ended{idle}", func() bool {
		return testutil.ToFloat64(ts.met.SessionsEnded.WithLabelValues("idle")) == 1
	})
}

// Sending messages keeps a session from idling, but not past its maximum
// age.
func TestMaxSessionAge(t *testing.T) {
	ts := startServerWith(t, func(s *Config) { s.IdleTimeout, s.MaxSessionAge = waitLimit, 300*time.Millisecond })
	c := dial(t, ts)
	c.SetDeadline(time.Now().Add(2 * waitLimit))
	deadline := time.Now().Add(waitLimit)
	sent := 0
	for {
		err := c.SendSingle([]byte("A"), []byte("BOB"), []byte("tick"))
		if err != nil {
			if !errors.Is(err, ErrNoReply) && !strings.Contains(err.Error(), "reset") && !strings.Contains(err.Error(), "broken pipe") {
				t.Fatalf("after %d messages: %v, want the session closed", sent, err)
			}
			break
		}
		sent++
		if time.Now().After(deadline) {
			t.Fatalf("session still open after %v with a maximum age of %v", waitLimit, 300*time.Millisecond)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := len(ts.pl.stored()); got != sent {
		t.Errorf("%d messages acknowledged, %d stored", sent, got)
	}
	waitFor(t, "no sessions_ended{max_age}", func() bool {
		return testutil.ToFloat64(ts.met.SessionsEnded.WithLabelValues("max_age")) == 1
	})
}

// textBlock builds a 0xD7 request and lets spoil break it.
func textBlock(text string, spoil func(b []byte) []byte) func(h smb.Header) ([]byte, error) {
	return func(h smb.Header) ([]byte, error) {
		b, err := smb.AppendSendTextMBMessage(nil, h, smb.SendTextMBMessage{Text: []byte(text)})
		if err != nil {
			return nil, err
		}
		return spoil(b), nil
	}
}

// A multi-block message is stored only when every one of its blocks was
// accepted; otherwise its 0xD6 gets an error and nothing is stored, not
// even an empty text.
func TestBrokenMultiBlockStoresNothing(t *testing.T) {
	// Offsets in a 0xD7 request: WordCount 32, GroupID 33-34, ByteCount
	// 35-36, BufferFormat 37, DataLength 38-39, data from 40.
	const wordCount, dataLength, bufferFormat = 32, 38, 37
	lyingLength := textBlock("hole", func(b []byte) []byte { b[dataLength] += 10; return b })
	lyingWordCount := textBlock("hole", func(b []byte) []byte { b[wordCount] = 9; return b })
	noWords := textBlock("hole", func(b []byte) []byte {
		// WordCount 0 with the bytes intact: a well-formed SMB that is not
		// a valid 0xD7.
		return append(append(b[:wordCount:wordCount], 0), b[wordCount+3:]...)
	})
	badFormat := textBlock("hole", func(b []byte) []byte { b[bufferFormat] = 0x04; return b })
	good := textBlock("part", func(b []byte) []byte { return b })

	type block struct {
		build func(smb.Header) ([]byte, error)
		ok    bool // the block's own reply is a success
	}
	for _, tc := range []struct {
		name   string
		blocks []block
	}{
		{"DataLength past the bytes", []block{{good, true}, {lyingLength, false}}},
		{"lying WordCount", []block{{good, true}, {lyingWordCount, false}}},
		{"no words", []block{{noWords, false}, {good, false}}},
		{"wrong buffer format", []block{{badFormat, false}}},
		{"refused first block, empty text", []block{{lyingLength, false}}},
		{"good block after a refused one", []block{{lyingLength, false}, {good, false}, {good, false}}},
		{"no block at all", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t)
			c := dial(t, ts)
			group, _, err := c.StartMultiBlock([]byte("ALICE"), []byte("BOB"))
			if err != nil {
				t.Fatal(err)
			}
			for i, b := range tc.blocks {
				err := c.SendRaw(smb.CommandSendTextMBMessage, b.build)
				if b.ok != (err == nil) {
					t.Fatalf("block %d: reply error %v, want success %v", i, err, b.ok)
				}
				if err != nil && !errors.Is(err, smb.ErrCodeInvalidParameter) {
					t.Fatalf("block %d: %v, want invalid parameter", i, err)
				}
			}
			if err := c.EndMultiBlock(group); !errors.Is(err, smb.ErrCodeInvalidParameter) {
				t.Fatalf("0xD6 of a broken message: %v, want invalid parameter", err)
			}
			if got := ts.pl.stored(); len(got) != 0 {
				t.Fatalf("a broken message was stored: %+v", got)
			}
			// The session is still good for a whole message.
			if err := c.SendMultiBlock([]byte("ALICE"), []byte("BOB"), []byte("whole"), 127); err != nil {
				t.Fatal(err)
			}
			if got := ts.pl.stored(); len(got) != 1 || got[0].Text != "whole" {
				t.Fatalf("stored %+v, want only the whole message", got)
			}
		})
	}
}

// On the NetBIOS session service (TCP 139) the session request comes
// first, as smbd requires there; an SMB before it is refused.
func TestSMBBeforeSessionRequest(t *testing.T) {
	ts := startServerWith(t, func(s *Config) { s.SessionService = true })
	hello, err := smb.AppendSendMessage(nil, smb.Header{Command: smb.CommandSendMessage}, smb.SendMessage{Originator: []byte("A"), Destination: []byte("BOB"), Text: []byte("no session")})
	if err != nil {
		t.Fatal(err)
	}
	frame, err := netbios.AppendSessionMessage(nil, hello)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.DialTimeout("tcp", ts.addr, waitLimit)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(waitLimit))
	c.Write(frame)
	resp := make([]byte, 5)
	if _, err := io.ReadFull(c, resp); err != nil {
		t.Fatalf("reading the answer to an SMB before the session request: %v", err)
	}
	if want := netbios.AppendNegativeSessionResponse(nil, netbios.UnspecifiedError); string(resp) != string(want) {
		t.Fatalf("answer % x, want a negative session response % x", resp, want)
	}
	expectClosed(t, c)
	if n := rejected(ts, "no_session_request"); n != 1 {
		t.Errorf("rejected{no_session_request} = %v, want 1", n)
	}
	// A proper session on the same listener still works.
	if err := dial(t, ts).SendSingle([]byte("A"), []byte("BOB"), []byte("with a session")); err != nil {
		t.Fatal(err)
	}
	if got := ts.pl.stored(); len(got) != 1 || got[0].Text != "with a session" {
		t.Fatalf("stored %+v, want only the message sent in a session", got)
	}
}
