// Package smbmsg is the SMB message transport: NetBIOS sessions (TCP 139)
// carrying the SMB1 message commands that `net send` and `smbclient -M`
// speak. It owns the sockets; the codecs are internal/netbios and
// internal/smb, and every decision about a message is the pipeline's.
package smbmsg

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"runtime/debug"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/netsend/messenger/internal/message"
	"github.com/netsend/messenger/internal/metrics"
	"github.com/netsend/messenger/internal/names"
	"github.com/netsend/messenger/internal/netbios"
	"github.com/netsend/messenger/internal/pipeline"
	"github.com/netsend/messenger/internal/smb"
)

// Names is the table of names the server accepts sessions for.
type Names interface {
	Has(n netbios.Name) bool
	// HasString matches a name as a sender typed it in a message.
	HasString(s string) bool
}

// Deliverer takes a complete message; a nil error means it is stored and
// may be acknowledged.
type Deliverer interface {
	Deliver(ctx context.Context, m *message.Message) error
}

const (
	// maxFrame bounds one session message. The message commands need well
	// under 1 KiB; a larger frame is not a message and is refused unread.
	maxFrame = 16 << 10
	// maxMultiBlock bounds the raw text gathered from 0xD7 blocks: twice the
	// display limit, since CR LF pairs collapse to one character.
	maxMultiBlock = 2 * message.MaxTextLen
	writeTimeout  = 10 * time.Second
)

// Config is what a Server needs: its listener and its bounds.
//
// A session slot is the one thing a peer can hold without sending a
// message, so it is bounded four ways: outsiders never get one (AdmitSource
// at accept), one source gets at most MaxSessionsPerSource of the
// MaxSessions, a session that sends no SMB for IdleTimeout ends (keep-alives
// do not count), and none lives past MaxSessionAge.
type Config struct {
	// Listener is where sessions are accepted; Serve closes it.
	Listener net.Listener
	Names    Names
	Pipeline Deliverer
	CodePage message.CodePage
	Metrics  *metrics.Metrics
	Log      *slog.Logger
	// IdleTimeout ends a session that has sent no frame but keep-alives
	// for this long. A keep-alive proves the peer is there, not that it
	// has anything to say, so it must not keep a slot.
	IdleTimeout time.Duration
	// MaxSessionAge ends a session this long after it was accepted,
	// whatever it sends; 0 means no limit. A sender needs well under a
	// second per message.
	MaxSessionAge time.Duration
	MaxSessions   int
	// MaxSessionsPerSource caps the sessions of one source address, so
	// that one host cannot take every slot from the others; 0 leaves only
	// MaxSessions.
	MaxSessionsPerSource int
	// AdmitSource, when set, is asked at accept whether the source may
	// use this transport at all; a refused connection is closed before
	// anything is read from it or allocated for it. rule names what
	// refused, for the metrics. It must be cheap and safe for concurrent
	// use, and should consult the policy in force at each call, since the
	// policy is reloaded while the server runs.
	AdmitSource func(addr netip.Addr) (rule string, ok bool)
	// SessionService marks the listener as the NetBIOS session service
	// (TCP 139), whose peers begin every connection with a session
	// request, as smbd requires there; an SMB before it gets a negative
	// session response. Otherwise an SMB first means direct-hosted framing,
	// which smbclient uses on every other port.
	SessionService bool
}

// Server accepts NetBIOS sessions for our messenger names and turns their
// SMB message commands into Messages.
type Server struct {
	Config

	mu        sync.Mutex
	sessions  map[net.Conn]netip.Addr
	perSource map[netip.Addr]int
	wg        sync.WaitGroup
}

// New makes a server of cfg.
func New(cfg Config) (*Server, error) {
	if cfg.Listener == nil {
		return nil, errors.New("smbmsg: no listener")
	}
	return &Server{Config: cfg, sessions: make(map[net.Conn]netip.Addr), perSource: make(map[netip.Addr]int)}, nil
}

// Serve accepts sessions on the listener until ctx ends, then closes it,
// wakes idle sessions, lets sessions finish the message they are
// delivering, and returns.
func (s *Server) Serve(ctx context.Context) error {
	ln := s.Listener

	stop := context.AfterFunc(ctx, func() {
		ln.Close()
		s.mu.Lock()
		for c := range s.sessions {
			// Unblock reads; a session in the middle of a delivery finishes it
			// and answers before it sees the deadline.
			c.SetReadDeadline(time.Now())
		}
		s.mu.Unlock()
	})
	defer stop()

	var tempDelay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				s.wg.Wait()
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, os.ErrDeadlineExceeded) || isTemporary(err) {
				// Out of file descriptors and the like: back off, keep serving.
				tempDelay = min(max(2*tempDelay, 5*time.Millisecond), time.Second)
				s.Log.Warn("smb: accept", slog.Any("err", err), slog.Duration("retry_in", tempDelay))
				time.Sleep(tempDelay)
				continue
			}
			s.wg.Wait()
			return fmt.Errorf("smb: accepting sessions: %w", err)
		}
		tempDelay = 0
		if s.admit(c) {
			go s.serveSession(ctx, c)
		}
	}
}

// admit takes a session slot for c, or refuses c and closes it. It runs in
// the accept loop, so it does nothing that waits on the peer.
func (s *Server) admit(c net.Conn) bool {
	src := remoteAddr(c)
	if s.AdmitSource != nil {
		if rule, ok := s.AdmitSource(src); !ok {
			// No answer at all: an outsider learns nothing about our
			// names, and a flood of them costs one close each.
			s.Metrics.Rejected.WithLabelValues(string(message.TransportSMB), "policy:"+rule).Inc()
			s.Log.Debug("smb: session refused at accept", slog.String("source", c.RemoteAddr().String()), slog.String("rule", rule))
			c.Close()
			return false
		}
	}
	reason := ""
	s.mu.Lock()
	switch {
	case len(s.sessions) >= s.MaxSessions:
		reason = "busy"
	case s.MaxSessionsPerSource > 0 && s.perSource[src] >= s.MaxSessionsPerSource:
		reason = "source_busy"
	default:
		s.sessions[c] = src
		s.perSource[src]++
		s.wg.Add(1)
	}
	s.mu.Unlock()
	if reason == "" {
		return true
	}
	s.Metrics.Rejected.WithLabelValues(string(message.TransportSMB), reason).Inc()
	s.Log.Debug("smb: session refused", slog.String("source", c.RemoteAddr().String()), slog.String("reason", reason))
	c.SetWriteDeadline(time.Now().Add(time.Second))
	c.Write(netbios.AppendNegativeSessionResponse(nil, netbios.InsufficientResources))
	c.Close()
	return false
}

// release gives c's slot back.
func (s *Server) release(c net.Conn) {
	s.mu.Lock()
	src := s.sessions[c]
	delete(s.sessions, c)
	if s.perSource[src]--; s.perSource[src] <= 0 {
		delete(s.perSource, src)
	}
	s.mu.Unlock()
}

// remoteAddr is c's peer address, unmapped so that an IPv4 peer on a
// dual-stack socket counts as the same source; the zero Addr when c is not
// an IP connection, which a policy then refuses.
func remoteAddr(c net.Conn) netip.Addr {
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return ta.AddrPort().Addr().Unmap()
	}
	ap, _ := netip.ParseAddrPort(c.RemoteAddr().String())
	return ap.Addr().Unmap()
}

func isTemporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

// session is the state of one NetBIOS session.
type session struct {
	srv     *Server
	conn    net.Conn
	r       *bufio.Reader
	log     *slog.Logger // made by logger on first use
	called  netbios.Name
	calling netbios.Name
	open    bool // positive session response sent, or direct-hosted
	// direct marks a connection that began with an SMB instead of a session
	// request: direct-hosted SMB framing (MS-SMB 2.1), which smbclient uses
	// on any port but 139. With no called name to check, the message's
	// destination name must be one of ours.
	direct bool

	frame []byte // reused read buffer
	out   []byte // reused write buffer

	accepted  time.Time // for MaxSessionAge
	lastFrame time.Time // the last frame that was not a keep-alive, for IdleTimeout

	// The multi-block message in progress, as Samba keeps it: one per
	// session, and a new 0xD5 discards an unfinished one.
	mb        *multiBlock
	nextGroup uint16
}

type multiBlock struct {
	from, to []byte
	text     []byte
	group    uint16
	blocks   int // 0xD7 blocks accepted
	// broken is the reply to every later 0xD7 and to the 0xD6 once a text
	// block was refused: the text can no longer be whole, and a message
	// with a hole in it, or an empty one, must not be stored as if it
	// were what the sender wrote.
	broken *smb.ReplyError
}

func (s *Server) serveSession(ctx context.Context, c net.Conn) {
	s.Metrics.Sessions.Inc()
	now := time.Now()
	sess := &session{
		srv:       s,
		conn:      c,
		r:         bufio.NewReaderSize(c, 2048),
		accepted:  now,
		lastFrame: now,
	}
	defer func() {
		if p := recover(); p != nil {
			sess.logger().Error("smb: session panicked; closed", slog.Any("panic", p), slog.String("stack", string(debug.Stack())))
		}
		if sess.mb != nil {
			sess.logger().Warn("smb: session ended inside a multi-block message; discarded (unexpected end of message)")
			s.Metrics.Rejected.WithLabelValues(string(message.TransportSMB), "unfinished").Inc()
		}
		c.Close()
		s.release(c)
		s.Metrics.Sessions.Dec()
		s.wg.Done()
	}()
	for ctx.Err() == nil {
		if err := sess.step(ctx); err != nil {
			var ended *endedError
			switch {
			case errors.As(err, &ended):
				s.Metrics.SessionsEnded.WithLabelValues(ended.reason).Inc()
				sess.logger().Debug("smb: session ended", slog.String("reason", ended.reason))
			case !errors.Is(err, io.EOF) && !errors.Is(err, errClose) && ctx.Err() == nil:
				sess.logger().Debug("smb: session closed", slog.Any("err", err))
			}
			return
		}
	}
}

// endedError is a session ended by one of our limits: "idle" or
// "max_age".
type endedError struct{ reason string }

func (e *endedError) Error() string { return "session ended: " + e.reason }

// deadline is when the session ends unless it sends an SMB first, and
// which limit that would be.
func (sess *session) deadline() (time.Time, string) {
	d, why := sess.lastFrame.Add(sess.srv.IdleTimeout), "idle"
	if age := sess.srv.MaxSessionAge; age > 0 {
		if end := sess.accepted.Add(age); end.Before(d) {
			d, why = end, "max_age"
		}
	}
	return d, why
}

// errClose ends a session after a reply that requires it (a negative
// session response).
var errClose = errors.New("session closed by us")

func (sess *session) reject(reason string, err error) {
	sess.srv.Metrics.Rejected.WithLabelValues(string(message.TransportSMB), reason).Inc()
	sess.logger().Warn("smb: rejected", slog.String("reason", reason), slog.Any("err", err))
}

// logger is the session's logger, with its source and, once known, its
// names. It is made when first needed, as most sessions log nothing at
// the default level, and making it (the address as a string, the
// handler's copy of the attributes) was 4 % of the daemon's CPU for a
// one-message session.
func (sess *session) logger() *slog.Logger {
	if sess.log != nil {
		return sess.log
	}
	attrs := []any{slog.String("source", sess.conn.RemoteAddr().String())}
	switch {
	case sess.direct:
		attrs = append(attrs, slog.Bool("direct_hosted", true))
	case sess.open:
		attrs = append(attrs, slog.String("called", sess.called.String()), slog.String("calling", sess.calling.String()))
	}
	sess.log = sess.srv.Log.With(attrs...)
	return sess.log
}

// step reads one NetBIOS session packet and answers it.
func (sess *session) step(ctx context.Context) error {
	// One deadline for the whole frame, from the last frame rather than
	// from now: neither keep-alives nor a frame dribbled in a byte at a
	// time move it.
	dl, why := sess.deadline()
	sess.conn.SetReadDeadline(dl)
	// Serve's shutdown may have set its own deadline just before ours.
	if err := ctx.Err(); err != nil {
		return err
	}
	var hdrBytes [netbios.HeaderLen]byte
	if _, err := io.ReadFull(sess.r, hdrBytes[:]); err != nil {
		return sess.readError(ctx, err, why)
	}
	h, err := netbios.ParseHeader(hdrBytes[:])
	if err != nil {
		sess.reject("bad_frame", err)
		return errClose
	}
	if h.Length > maxFrame {
		sess.reject("bad_frame", fmt.Errorf("session packet length %d exceeds the limit of %d", h.Length, maxFrame))
		return errClose
	}
	if cap(sess.frame) < h.Length {
		sess.frame = make([]byte, h.Length)
	}
	payload := sess.frame[:h.Length]
	if _, err := io.ReadFull(sess.r, payload); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			sess.reject("bad_frame", fmt.Errorf("session packet: %d bytes announced, connection closed before all arrived", h.Length))
		}
		return sess.readError(ctx, err, why)
	}

	switch h.Type {
	case netbios.SessionKeepAlive:
		return nil
	case netbios.SessionRequest:
		sess.lastFrame = time.Now()
		return sess.sessionRequest(payload)
	case netbios.SessionMessage:
		sess.lastFrame = time.Now()
		if !sess.open && sess.srv.SessionService {
			// smbd on 139 will not take an SMB before the session request
			// either; we say why instead of hanging up silently.
			sess.reject("no_session_request", errors.New("SMB before the session request on the NetBIOS session service"))
			sess.write(netbios.AppendNegativeSessionResponse(sess.out[:0], netbios.UnspecifiedError))
			return errClose
		}
		if !sess.open {
			sess.open, sess.direct = true, true
			sess.log = nil // now with direct_hosted
		}
		reply := sess.handleSMB(ctx, payload)
		if reply == nil {
			return errClose
		}
		return sess.write(reply)
	default:
		sess.reject("bad_frame", fmt.Errorf("unexpected session packet type %v from a client", h.Type))
		return errClose
	}
}

// readError turns a read that hit the session's deadline into the limit
// that set it; a shutdown's deadline is not one.
func (sess *session) readError(ctx context.Context, err error, why string) error {
	if errors.Is(err, os.ErrDeadlineExceeded) && ctx.Err() == nil {
		return &endedError{reason: why}
	}
	return err
}

func (sess *session) sessionRequest(payload []byte) error {
	if sess.open {
		sess.reject("bad_frame", errors.New("second session request on an open session"))
		return errClose
	}
	req, err := netbios.ParseSessionRequest(payload)
	if err != nil {
		sess.reject("bad_frame", err)
		sess.write(netbios.AppendNegativeSessionResponse(sess.out[:0], netbios.UnspecifiedError))
		return errClose
	}
	if req.Called.Suffix() != names.MessengerSuffix || !sess.srv.Names.Has(req.Called) {
		sess.reject("name_not_present", fmt.Errorf("called name %v is not one of our messenger names (calling %v)", req.Called, req.Calling))
		sess.write(netbios.AppendNegativeSessionResponse(sess.out[:0], netbios.CalledNameNotPresent))
		return errClose
	}
	sess.called = req.Called
	sess.open = true
	sess.calling = req.Calling
	sess.log = nil // now with the names
	return sess.write(netbios.AppendPositiveSessionResponse(sess.out[:0]))
}

// write sends one session packet, already framed.
func (sess *session) write(b []byte) error {
	sess.out = b[:0]
	sess.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
	_, err := sess.conn.Write(b)
	return err
}

// handleSMB answers one SMB. It returns the framed reply, or nil when the
// bytes are not SMB at all and the session must end.
func (sess *session) handleSMB(ctx context.Context, b []byte) []byte {
	p, err := smb.Parse(b)
	if err != nil {
		h, herr := smb.ParseHeader(b)
		sess.reject("bad_smb", err)
		if herr != nil {
			return nil
		}
		if h.Command == smb.CommandSendTextMBMessage {
			sess.breakMultiBlock(&smb.ErrCodeInvalidParameter)
		}
		return sess.reply(h, &smb.ErrCodeInvalidParameter, nil)
	}
	h := p.Header
	switch h.Command {
	case smb.CommandSendMessage:
		req, err := smb.ParseSendMessage(p)
		if err != nil {
			sess.reject("bad_smb", err)
			return sess.reply(h, &smb.ErrCodeInvalidParameter, nil)
		}
		return sess.reply(h, sess.deliver(ctx, req.Originator, req.Destination, req.Text), nil)

	case smb.CommandSendStartMBMessage:
		req, err := smb.ParseSendStartMBMessage(p)
		if err != nil {
			sess.reject("bad_smb", err)
			return sess.reply(h, &smb.ErrCodeInvalidParameter, nil)
		}
		if sess.mb != nil {
			sess.reject("unfinished", errors.New("new 0xD5 before 0xD6; the unfinished message is discarded"))
		}
		sess.nextGroup++
		sess.mb = &multiBlock{from: clone(req.Originator), to: clone(req.Destination), group: sess.nextGroup}
		return sess.reply(h, nil, []uint16{sess.mb.group})

	case smb.CommandSendTextMBMessage:
		req, err := smb.ParseSendTextMBMessage(p)
		if err != nil {
			sess.reject("bad_smb", err)
			sess.breakMultiBlock(&smb.ErrCodeInvalidParameter)
			return sess.reply(h, &smb.ErrCodeInvalidParameter, nil)
		}
		if sess.mb == nil {
			sess.reject("no_start", errors.New("0xD7 text block without a preceding 0xD5"))
			return sess.reply(h, &smb.ErrCodeInvalidParameter, nil)
		}
		if sess.mb.broken != nil {
			sess.reject("broken_message", errors.New("0xD7 after a refused text block; the message cannot be whole"))
			return sess.reply(h, sess.mb.broken, nil)
		}
		if len(sess.mb.text)+len(req.Text) > maxMultiBlock {
			sess.reject("too_long", fmt.Errorf("multi-block text exceeds %d bytes; message discarded", maxMultiBlock))
			sess.breakMultiBlock(&smb.ErrCodeNoRoom)
			return sess.reply(h, &smb.ErrCodeNoRoom, nil)
		}
		// Samba's client sends group id 0 whatever we answered, so a
		// mismatch is not an error.
		sess.mb.text = append(sess.mb.text, req.Text...)
		sess.mb.blocks++
		return sess.reply(h, nil, nil)

	case smb.CommandSendEndMBMessage:
		if _, err := smb.ParseSendEndMBMessage(p); err != nil {
			sess.reject("bad_smb", err)
			return sess.reply(h, &smb.ErrCodeInvalidParameter, nil)
		}
		if sess.mb == nil {
			sess.reject("no_start", errors.New("0xD6 end of message without a preceding 0xD5"))
			return sess.reply(h, &smb.ErrCodeInvalidParameter, nil)
		}
		mb := sess.mb
		sess.mb = nil
		switch {
		case mb.broken != nil:
			sess.reject("broken_message", errors.New("0xD6 ends a message with a refused text block; nothing stored"))
			return sess.reply(h, mb.broken, nil)
		case mb.blocks == 0:
			// smbclient sends one 0xD7 even for an empty text, and Windows
			// uses 0xD0 for short ones, so no block at all is not a
			// message anyone wrote.
			sess.reject("no_text", errors.New("0xD6 ends a message that had no text block; nothing stored"))
			return sess.reply(h, &smb.ErrCodeInvalidParameter, nil)
		}
		return sess.reply(h, sess.deliver(ctx, mb.from, mb.to, mb.text), nil)

	case smb.CommandNegotiate:
		dialects, err := smb.ParseNegotiate(p)
		if err != nil {
			sess.reject("bad_smb", err)
			return sess.reply(h, &smb.ErrCodeInvalidParameter, nil)
		}
		out, err := smb.AppendNegotiateResponse(nil, h, dialects)
		if err != nil {
			sess.reject("bad_smb", err)
			return sess.reply(h, &smb.ErrCodeInvalidParameter, nil)
		}
		return sess.frameSMB(out)

	default:
		sess.reject("unknown_command", fmt.Errorf("SMB command %v is not a message command", h.Command))
		return sess.reply(h, &smb.ErrCodeUnknownCommand, nil)
	}
}

// breakMultiBlock marks the message in progress, if any, as one that will
// not be stored; reply is what its 0xD6 will get.
func (sess *session) breakMultiBlock(reply *smb.ReplyError) {
	if sess.mb != nil && sess.mb.broken == nil {
		sess.mb.broken = reply
		sess.mb.text = nil // never to be read
	}
}

// deliver builds the Message and waits until the pipeline has stored it; the
// returned reply error is nil only then.
func (sess *session) deliver(ctx context.Context, from, to, raw []byte) *smb.ReplyError {
	cp := sess.srv.CodePage
	if sess.direct && !sess.srv.Names.HasString(cp.Decode(to)) {
		sess.reject("name_not_present", fmt.Errorf("destination %q is not one of our messenger names", cp.Decode(to)))
		return &smb.ErrCodeMessagesOff
	}
	text := cp.Decode(message.NormalizeLineBreaks(raw))
	if n := utf8.RuneCountInString(text); n > message.MaxTextLen {
		sess.reject("too_long", fmt.Errorf("text of %d characters exceeds %d", n, message.MaxTextLen))
		return &smb.ErrCodeNoRoom
	}
	m := &message.Message{
		From:      cp.Decode(from),
		To:        cp.Decode(to),
		Text:      text,
		Time:      time.Now(),
		Transport: message.TransportSMB,
		Source:    sess.conn.RemoteAddr().String(),
	}
	if err := sess.srv.Pipeline.Deliver(context.WithoutCancel(ctx), m); err != nil {
		if errors.Is(err, pipeline.ErrDropped) {
			return &smb.ErrCodeMessagesOff
		}
		sess.logger().Error("smb: message not stored", slog.Any("err", err))
		return &smb.ErrCodeNoRoom
	}
	return nil
}

func (sess *session) reply(req smb.Header, e *smb.ReplyError, words []uint16) []byte {
	out, err := smb.AppendResponse(nil, req, e, words, nil)
	if err != nil {
		sess.logger().Error("smb: building reply", slog.Any("err", err))
		return nil
	}
	return sess.frameSMB(out)
}

func (sess *session) frameSMB(smbBytes []byte) []byte {
	out, err := netbios.AppendSessionMessage(sess.out[:0], smbBytes)
	if err != nil {
		sess.logger().Error("smb: framing reply", slog.Any("err", err))
		return nil
	}
	return out
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }
