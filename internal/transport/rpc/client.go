package rpc

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"

	"github.com/netsend/messenger/internal/dcerpc"
)

// StatusError is a NetrSendMessage that the receiver answered with a
// non-success status, a fault or a reject.
type StatusError struct {
	Type   dcerpc.PacketType // response, fault or reject
	Status dcerpc.Status
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("NetrSendMessage: %v %v", e.Type, e.Status)
}

// ErrNoAnswer means the receiver never answered, though asked again.
var ErrNoAnswer = errors.New("NetrSendMessage: no answer")

// Client sends NetrSendMessage calls.
type Client struct {
	// Tries is how often a call is sent before giving up; the call is
	// idempotent, so a repeat is harmless. Default 3.
	Tries int
	// Wait is how long each try waits for the answer. Default 1 s.
	Wait time.Duration
}

// SendMessage calls NetrSendMessage at dst from the local address source
// (any when invalid) and returns nil once the receiver answered success.
func (c *Client) SendMessage(ctx context.Context, source netip.Addr, dst netip.AddrPort, from, to, text []byte) error {
	tries, wait := c.Tries, c.Wait
	if tries <= 0 {
		tries = 3
	}
	if wait <= 0 {
		wait = time.Second
	}
	var local *net.UDPAddr
	if source.IsValid() {
		local = &net.UDPAddr{IP: source.AsSlice()}
	}
	// A connected socket: only the receiver's answers reach us, and an
	// ICMP port unreachable comes back as ECONNREFUSED at once instead of
	// three silent timeouts.
	conn, err := net.DialUDP("udp4", local, net.UDPAddrFromAddrPort(dst))
	if err != nil {
		return fmt.Errorf("NetrSendMessage to %v: %w", dst, err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.SetReadDeadline(time.Now()) })
	defer stop()

	var activity dcerpc.UUID
	rand.Read(activity[:])
	h := dcerpc.SendMessageHeader(activity, 0)
	body, err := dcerpc.AppendSendMessageRequest(nil, h.DataRep, dcerpc.SendMessageRequest{From: from, To: to, Text: text})
	if err != nil {
		return err
	}
	pkt, err := dcerpc.AppendPacket(nil, h, body)
	if err != nil {
		return err
	}
	buf := make([]byte, 2048)
	for try := 0; try < tries; try++ {
		if _, err := conn.Write(pkt); err != nil {
			return fmt.Errorf("NetrSendMessage to %v: %w", dst, err)
		}
		conn.SetReadDeadline(time.Now().Add(wait))
		for {
			n, err := conn.Read(buf)
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				if errors.Is(err, syscall.ECONNREFUSED) {
					return fmt.Errorf("NetrSendMessage to %v: %w", dst, err)
				}
				break // this try timed out
			}
			p, err := dcerpc.Parse(buf[:n])
			if err != nil || p.Activity != activity || p.SeqNum != h.SeqNum {
				continue // not the answer to this call
			}
			switch p.Type {
			case dcerpc.TypeResponse:
				status, err := dcerpc.ParseSendMessageResponse(p.Body, p.DataRep)
				if err != nil {
					return fmt.Errorf("NetrSendMessage: reading the response: %w", err)
				}
				// Tell the server it may forget the call (C706 12.5.3.1).
				if ack, err := dcerpc.AppendPacket(nil, dcerpc.AckHeader(p.Header), nil); err == nil {
					conn.Write(ack)
				}
				if status != dcerpc.StatusSuccess {
					return &StatusError{Type: p.Type, Status: status}
				}
				return nil
			case dcerpc.TypeFault, dcerpc.TypeReject:
				status, _ := p.Status()
				return &StatusError{Type: p.Type, Status: status}
			case dcerpc.TypeWorking:
				conn.SetReadDeadline(time.Now().Add(wait))
			}
		}
	}
	return fmt.Errorf("%w from %v after %d tries", ErrNoAnswer, dst, tries)
}
