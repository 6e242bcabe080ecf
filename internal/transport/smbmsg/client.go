package smbmsg

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"syscall"
	"time"

	"github.com/netsend/messenger/internal/netbios"
	"github.com/netsend/messenger/internal/smb"
)

// ErrNameNotPresent is returned when the receiver has no such messenger
// name (negative session response 0x82).
var ErrNameNotPresent = errors.New("the message alias could not be found on the network")

// ErrNoReply means the receiver closed the session instead of answering:
// Samba's smbd does that with a 0xD0 that no negotiate preceded.
var ErrNoReply = errors.New("the receiver closed the session without answering")

// SessionRefusedError is a negative session response other than "called
// name not present".
type SessionRefusedError struct{ Code netbios.NegativeResponseCode }

func (e *SessionRefusedError) Error() string {
	return fmt.Sprintf("the recipient refused the session: %v", e.Code)
}

// Client is one NetBIOS session to a messenger, over which messages are
// sent with the SMB message commands. It is not safe for concurrent use.
type Client struct {
	conn net.Conn
	r    *bufio.Reader
	pid  uint16
	mid  uint16
	buf  []byte
	rbuf []byte
}

// Dial opens a TCP connection to addr and a NetBIOS session to called,
// introducing ourselves as calling.
func Dial(ctx context.Context, addr string, called, calling netbios.Name) (*Client, error) {
	return DialFrom(ctx, netip.Addr{}, addr, called, calling)
}

// DialFrom is Dial with the connection's local address chosen: source, if
// valid, else whatever the routing table picks.
func DialFrom(ctx context.Context, source netip.Addr, addr string, called, calling netbios.Name) (*Client, error) {
	var d net.Dialer
	if source.IsValid() {
		d.LocalAddr = &net.TCPAddr{IP: source.AsSlice()}
	}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	c := &Client{conn: conn, r: bufio.NewReaderSize(conn, 1024), pid: uint16(time.Now().UnixNano())}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	req, err := netbios.AppendSessionRequest(c.buf[:0], netbios.SessionRequestPacket{Called: called, Calling: calling})
	if err != nil {
		conn.Close()
		return nil, err
	}
	if _, err := conn.Write(req); err != nil {
		conn.Close()
		return nil, fmt.Errorf("sending session request: %w", err)
	}
	h, payload, err := c.readPacket()
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("reading session response: %w", err)
	}
	switch h.Type {
	case netbios.PositiveSessionResponse:
		return c, nil
	case netbios.NegativeSessionResponse:
		conn.Close()
		code, err := netbios.ParseNegativeSessionResponse(payload)
		if err != nil {
			return nil, err
		}
		if code == netbios.CalledNameNotPresent || code == netbios.NotListeningOnCalledName {
			return nil, fmt.Errorf("%w (%v: %v)", ErrNameNotPresent, called, code)
		}
		return nil, &SessionRefusedError{Code: code}
	default:
		conn.Close()
		return nil, fmt.Errorf("unexpected session response type %v", h.Type)
	}
}

// Close ends the session.
func (c *Client) Close() error { return c.conn.Close() }

// KeepAlive sends a SESSION KEEP ALIVE, which needs no answer.
func (c *Client) KeepAlive() error {
	_, err := c.conn.Write(netbios.AppendKeepAlive(nil))
	return err
}

// SetDeadline bounds every later exchange on the session.
func (c *Client) SetDeadline(t time.Time) error { return c.conn.SetDeadline(t) }

func (c *Client) readPacket() (netbios.Header, []byte, error) {
	for {
		var hb [netbios.HeaderLen]byte
		if _, err := io.ReadFull(c.r, hb[:]); err != nil {
			return netbios.Header{}, nil, err
		}
		h, err := netbios.ParseHeader(hb[:])
		if err != nil {
			return h, nil, err
		}
		if h.Length > maxFrame {
			return h, nil, fmt.Errorf("session packet of %d bytes exceeds the limit of %d", h.Length, maxFrame)
		}
		if cap(c.rbuf) < h.Length {
			c.rbuf = make([]byte, h.Length)
		}
		payload := c.rbuf[:h.Length]
		if _, err := io.ReadFull(c.r, payload); err != nil {
			return h, nil, err
		}
		if h.Type != netbios.SessionKeepAlive {
			return h, payload, nil
		}
	}
}

func (c *Client) header(cmd smb.Command) smb.Header {
	c.mid++
	return smb.Header{Command: cmd, PIDLow: c.pid, MID: c.mid}
}

// roundTrip sends one SMB and returns the response to it.
func (c *Client) roundTrip(req []byte, cmd smb.Command) (smb.Packet, error) {
	framed, err := netbios.AppendSessionMessage(c.buf[:0], req)
	if err != nil {
		return smb.Packet{}, err
	}
	c.buf = framed[:0]
	if _, err := c.conn.Write(framed); err != nil {
		return smb.Packet{}, fmt.Errorf("sending %v: %w", cmd, err)
	}
	h, payload, err := c.readPacket()
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) {
			return smb.Packet{}, fmt.Errorf("%w (after %v)", ErrNoReply, cmd)
		}
		return smb.Packet{}, fmt.Errorf("waiting for the %v response: %w", cmd, err)
	}
	if h.Type != netbios.SessionMessage {
		return smb.Packet{}, fmt.Errorf("unexpected session packet %v in answer to %v", h.Type, cmd)
	}
	p, err := smb.Parse(payload)
	if err != nil {
		return p, fmt.Errorf("parsing the %v response: %w", cmd, err)
	}
	if p.Header.Command != cmd {
		return p, fmt.Errorf("response to %v carries command %v", cmd, p.Header.Command)
	}
	if err := p.Err(); err != nil {
		return p, err
	}
	return p, nil
}

// SendSingle sends one SMB_COM_SEND_MESSAGE (0xD0). from, to and text are
// OEM bytes; text at most 128 bytes.
func (c *Client) SendSingle(from, to, text []byte) error {
	req, err := smb.AppendSendMessage(nil, c.header(smb.CommandSendMessage), smb.SendMessage{Originator: from, Destination: to, Text: text})
	if err != nil {
		return err
	}
	_, err = c.roundTrip(req, smb.CommandSendMessage)
	return err
}

// SendMultiBlock sends text as 0xD5, 0xD7 blocks of at most blockLen
// bytes (each after the previous reply), and 0xD6. The message is
// delivered when it returns nil.
func (c *Client) SendMultiBlock(from, to, text []byte, blockLen int) error {
	group, _, err := c.StartMultiBlock(from, to)
	if err != nil {
		return err
	}
	if err := c.SendTextBlocks(group, text, blockLen); err != nil {
		return err
	}
	return c.EndMultiBlock(group)
}

// StartMultiBlock sends 0xD5 and returns the message group id and whether
// the receiver answered with one: Windows does (WordCount 1), Samba's smbd
// does not, which tells a sender which line breaks the receiver shows.
func (c *Client) StartMultiBlock(from, to []byte) (group uint16, hasGroupID bool, err error) {
	req, err := smb.AppendSendStartMBMessage(nil, c.header(smb.CommandSendStartMBMessage), smb.SendStartMBMessage{Originator: from, Destination: to})
	if err != nil {
		return 0, false, err
	}
	p, err := c.roundTrip(req, smb.CommandSendStartMBMessage)
	if err != nil {
		return 0, false, err
	}
	group, err = smb.ParseStartMBResponse(p)
	return group, p.WordCount() > 0, err
}

// SendTextBlocks sends text in 0xD7 blocks of at most blockLen bytes, each
// after the reply to the previous one; empty text still sends one block,
// as smbclient does.
func (c *Client) SendTextBlocks(group uint16, text []byte, blockLen int) error {
	if blockLen < 1 || blockLen > smb.MaxBlockLen {
		return fmt.Errorf("block length %d is not within 1..%d", blockLen, smb.MaxBlockLen)
	}
	for first := true; first || len(text) > 0; first = false {
		n := min(blockLen, len(text))
		req, err := smb.AppendSendTextMBMessage(nil, c.header(smb.CommandSendTextMBMessage), smb.SendTextMBMessage{GroupID: group, Text: text[:n]})
		if err != nil {
			return err
		}
		if _, err := c.roundTrip(req, smb.CommandSendTextMBMessage); err != nil {
			return err
		}
		text = text[n:]
	}
	return nil
}

// EndMultiBlock sends 0xD6; the message is delivered when it returns nil.
func (c *Client) EndMultiBlock(group uint16) error {
	req, err := smb.AppendSendEndMBMessage(nil, c.header(smb.CommandSendEndMBMessage), smb.SendEndMBMessage{GroupID: group})
	if err != nil {
		return err
	}
	_, err = c.roundTrip(req, smb.CommandSendEndMBMessage)
	return err
}

// SendRaw sends one SMB that build makes from a fresh header for cmd, and
// returns the error the reply carries. It lets tests and diagnostics send
// shapes the other methods never would.
func (c *Client) SendRaw(cmd smb.Command, build func(smb.Header) ([]byte, error)) error {
	req, err := build(c.header(cmd))
	if err != nil {
		return err
	}
	_, err = c.roundTrip(req, cmd)
	return err
}
