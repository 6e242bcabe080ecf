package sender

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/netsend/messenger/internal/apitype"
	"github.com/netsend/messenger/internal/message"
	"github.com/netsend/messenger/internal/names"
	"github.com/netsend/messenger/internal/netbios"
	"github.com/netsend/messenger/internal/resolve"
	"github.com/netsend/messenger/internal/smb"
)

// fakeReceiver speaks just enough of the message commands to behave like
// Windows (0xD0 accepted, 0xD5 answered with a group id) or like Samba's
// smbd (a bare 0xD0 closes the session, 0xD5 answered without one). It
// records the raw text of each message it takes.
type fakeReceiver struct {
	samba bool
	ln    net.Listener

	mu      sync.Mutex
	texts   []string
	singles int // 0xD0 requests seen
}

func startFake(t *testing.T, samba bool) *fakeReceiver {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeReceiver{samba: samba, ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go f.session(c)
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return f
}

func readPacket(c net.Conn) (netbios.Header, []byte, error) {
	hb := make([]byte, netbios.HeaderLen)
	if _, err := io.ReadFull(c, hb); err != nil {
		return netbios.Header{}, nil, err
	}
	h, err := netbios.ParseHeader(hb)
	if err != nil {
		return h, nil, err
	}
	payload := make([]byte, h.Length)
	_, err = io.ReadFull(c, payload)
	return h, payload, err
}

func (f *fakeReceiver) session(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, _, err := readPacket(c); err != nil {
		return
	}
	c.Write(netbios.AppendPositiveSessionResponse(nil))
	var text []byte
	for {
		_, payload, err := readPacket(c)
		if err != nil {
			return
		}
		p, err := smb.Parse(payload)
		if err != nil {
			return
		}
		var words []uint16
		switch p.Header.Command {
		case smb.CommandSendMessage:
			f.mu.Lock()
			f.singles++
			f.mu.Unlock()
			if f.samba {
				return // what smbd does with a 0xD0 no negotiate preceded
			}
			m, _ := smb.ParseSendMessage(p)
			f.record(m.Text)
		case smb.CommandSendStartMBMessage:
			text = nil
			if !f.samba {
				words = []uint16{7}
			}
		case smb.CommandSendTextMBMessage:
			m, _ := smb.ParseSendTextMBMessage(p)
			text = append(text, m.Text...)
		case smb.CommandSendEndMBMessage:
			f.record(text)
		}
		reply, _ := smb.AppendResponse(nil, p.Header, nil, words, nil)
		framed, _ := netbios.AppendSessionMessage(nil, reply)
		c.Write(framed)
	}
}

func (f *fakeReceiver) record(b []byte) {
	f.mu.Lock()
	f.texts = append(f.texts, string(b))
	f.mu.Unlock()
}

func (f *fakeReceiver) got() ([]string, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.texts...), f.singles
}

type noResolver struct{}

func (noResolver) Resolve(context.Context, netbios.Name) (resolve.Result, error) {
	return resolve.Result{}, resolve.ErrNotFound
}
func (noResolver) Forget(netbios.Name) {}

type fakeRPC struct {
	mu    sync.Mutex
	calls []string
	err   error
}

func (r *fakeRPC) SendMessage(_ context.Context, _ netip.Addr, dst netip.AddrPort, _, to, text []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, string(to)+":"+string(text))
	return r.err
}

func newSender(t *testing.T) *Sender {
	t.Helper()
	cp, _ := message.LookupCodePage("CP850")
	tab, err := names.New(names.Config{CodePage: cp, Host: "SENDER"})
	if err != nil {
		t.Fatal(err)
	}
	return &Sender{Resolver: noResolver{}, Names: tab, CodePage: cp, HostName: "SENDER", Workgroup: "WG",
		SMBPort: 139, DgramPort: 138, RPCPort: 135, Interfaces: func() []names.Interface { return nil },
		Timeout: 5 * time.Second, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

func send(t *testing.T, s *Sender, req apitype.SendRequest) apitype.Delivery {
	t.Helper()
	d, err := s.Send(context.Background(), req)
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	return d[0]
}

func TestShapeForWindows(t *testing.T) {
	f := startFake(t, false)
	s := newSender(t)
	addr := f.ln.Addr().String()
	long := strings.Repeat("long line\n", 20)
	for _, text := range []string{"short\nmessage", long} {
		if d := send(t, s, apitype.SendRequest{To: "BOB", Text: text, From: "ME", Address: addr}); !d.OK() {
			t.Fatalf("delivery %+v", d)
		}
	}
	texts, singles := f.got()
	if singles != 1 || len(texts) != 2 {
		t.Fatalf("receiver saw %d single-block messages and texts %q", singles, texts)
	}
	if texts[0] != "short\x14message" || texts[1] != strings.ReplaceAll(long, "\n", "\x14") {
		t.Errorf("texts %q; want Windows line breaks (0x14)", texts)
	}
}

func TestShapeForSamba(t *testing.T) {
	f := startFake(t, true)
	s := newSender(t)
	addr := f.ln.Addr().String()
	for _, text := range []string{"first\nshort", "second short"} {
		if d := send(t, s, apitype.SendRequest{To: "SMBPEER", Text: text, From: "ME", Address: addr}); !d.OK() {
			t.Fatalf("delivery %+v", d)
		}
	}
	texts, singles := f.got()
	if singles != 1 {
		t.Errorf("%d bare 0xD0 tried; once is enough to learn the receiver is Samba", singles)
	}
	want := []string{"first\r\nshort", "second short"}
	if len(texts) != 2 || texts[0] != want[0] || texts[1] != want[1] {
		t.Errorf("texts %q, want %q (smbclient's shape: CR LF)", texts, want)
	}
}

func TestFallbackToRPC(t *testing.T) {
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := closed.Addr().String()
	closed.Close()
	for _, tc := range []struct {
		name     string
		fallback Fallback
		trusted  bool
		wantVia  string
		wantOK   bool
	}{
		{"never", FallbackNever, true, "smb", false},
		{"local, untrusted receiver", FallbackLocal, false, "smb", false},
		{"local, trusted receiver", FallbackLocal, true, "rpc", true},
		{"always", FallbackAlways, false, "rpc", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSender(t)
			r := &fakeRPC{}
			s.RPC, s.Fallback = r, tc.fallback
			s.TrustedForRPC = func(netip.Addr) bool { return tc.trusted }
			d := send(t, s, apitype.SendRequest{To: "BOB", Text: "a\nb", Address: addr})
			if d.Via != tc.wantVia || d.OK() != tc.wantOK {
				t.Fatalf("delivery %+v, want via %s ok %v", d, tc.wantVia, tc.wantOK)
			}
			if tc.wantOK && (len(r.calls) != 1 || r.calls[0] != "BOB:a\r\nb") {
				t.Errorf("RPC calls %q", r.calls)
			}
		})
	}
}

func TestRequestErrors(t *testing.T) {
	s := newSender(t)
	for _, tc := range []struct {
		req  apitype.SendRequest
		code string
	}{
		{apitype.SendRequest{To: "BOB"}, apitype.CodeBadRequest},
		{apitype.SendRequest{Text: "x"}, apitype.CodeBadRequest},
		{apitype.SendRequest{To: "*", Domain: "WG", Text: "x"}, apitype.CodeBadRequest},
		{apitype.SendRequest{To: "BOB", Text: "x", From: "a-sender-name-too-long"}, apitype.CodeBadRequest},
		{apitype.SendRequest{To: "BOB", Text: "x", Via: "carrier-pigeon"}, apitype.CodeBadRequest},
		{apitype.SendRequest{To: "BOB", Text: "x", Via: "rpc"}, apitype.CodeNotAvailable},
		{apitype.SendRequest{To: "BOB", Text: "x", Source: "not-an-ip"}, apitype.CodeBadRequest},
		{apitype.SendRequest{To: "*", Text: strings.Repeat("y", MaxBroadcastChars+1)}, apitype.CodeTooLong},
		{apitype.SendRequest{To: "*", Text: "☺"}, apitype.CodeUnencodable},
	} {
		_, err := s.Send(context.Background(), tc.req)
		var e *apitype.SendError
		if !errors.As(err, &e) || e.Code != tc.code {
			t.Errorf("Send(%+v) = %v, want code %s", tc.req, err, tc.code)
		}
	}
	// Per-recipient failures are deliveries, not request errors.
	if d := send(t, s, apitype.SendRequest{To: "BOB", Text: "x"}); d.Code != apitype.CodeNameNotFound {
		t.Errorf("unresolvable name: %+v", d)
	}
	if d := send(t, s, apitype.SendRequest{To: "BOB", Text: "smile ☺"}); d.Code != apitype.CodeUnencodable {
		t.Errorf("unencodable text: %+v", d)
	}
	if d := send(t, s, apitype.SendRequest{To: "BOB", Text: strings.Repeat("z", MaxText+1)}); d.Code != apitype.CodeTooLong {
		t.Errorf("too long: %+v", d)
	}
	if d := send(t, s, apitype.SendRequest{To: "*", Text: "hi"}); d.Code != apitype.CodeNotAvailable {
		t.Errorf("broadcast without a datagram service: %+v", d)
	}
}
