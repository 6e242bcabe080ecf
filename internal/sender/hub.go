package sender

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/netsend/messenger/internal/apitype"
	"github.com/netsend/messenger/internal/message"
)

// Hub sends through the NATS hub to Messenger daemons on other hosts:
// authenticated, kept while the recipient's host is offline, with
// receipts.
type Hub interface {
	// Carries says whether messages to a messenger name go through the
	// hub rather than NetBIOS: the registry has a host for it, or the
	// hub refuses this host, which Send must then report rather than
	// the message go elsewhere unauthenticated.
	Carries(ctx context.Context, name string) bool
	// Send queues the message for name's host and publishes it when it
	// can. Errors: ErrHubUnknownName, ErrHubOutboxFull, or bad input.
	// localUser is the local account sending, kept with the sent row.
	Send(ctx context.Context, to, from, text string, expires time.Duration, localUser string) (HubSent, error)
	// WaitDelivered returns once the message has a final or delivered
	// state (delivered, read, expired, failed), or ctx ends.
	WaitDelivered(ctx context.Context, id string) (apitype.SentState, error)
	// Broadcast sends to every Messenger daemon of a workgroup or domain
	// that the hub links, whatever its subnet.
	Broadcast(ctx context.Context, domain, from, text string) error
}

// HubSent is what the hub made of a message.
type HubSent struct {
	ID     string            // the hub id receipts name
	Host   string            // the recipient's host
	State  apitype.SentState // queued or sent
	Online bool              // whether the recipient's host is online now
}

// Errors a Hub returns that the sender tells apart.
var (
	ErrHubUnknownName = errors.New("the hub's registry has no host for this name")
	ErrHubOutboxFull  = errors.New("the outbox is full")
)

// viaHub sends to one name through the hub and, when asked, waits for the
// delivered receipt, as msg /W did.
func (s *Sender) viaHub(ctx context.Context, req apitype.SendRequest, from string) apitype.Delivery {
	to := strings.ToUpper(req.To)
	d := apitype.Delivery{To: to, Via: "hub"}
	if n := utf8.RuneCountInString(req.Text); n > message.MaxTextLen {
		d.Code, d.Error = apitype.CodeTooLong, fmt.Sprintf("The message is %d characters long; the limit is %d.", n, message.MaxTextLen)
		return d
	}
	sent, err := s.Hub.Send(ctx, to, from, req.Text, req.Expires, req.LocalUser)
	switch {
	case errors.Is(err, ErrHubUnknownName):
		d.Code, d.Error = apitype.CodeNameNotFound, "The message alias could not be found on the network."
		return d
	case errors.Is(err, ErrHubOutboxFull):
		d.Code, d.Error = apitype.CodeNetwork, "The hub cannot be reached and the outbox is full; nothing was queued."
		return d
	case err != nil:
		d.Code, d.Error = apitype.CodeNetwork, "The hub refused the message: "+err.Error()
		return d
	}
	d.ID, d.Addr, d.State, d.Online = sent.ID, sent.Host, sent.State, sent.Online
	// A host the registry has offline will not store it within any wait
	// worth blocking for: say at once that it is queued (exit 0), as the
	// documentation promises, rather than time out.
	if req.Wait <= 0 || !sent.Online {
		return d
	}
	wctx, cancel := context.WithTimeout(ctx, req.Wait)
	defer cancel()
	state, err := s.Hub.WaitDelivered(wctx, sent.ID)
	if err != nil {
		d.Code = apitype.CodeTimeout
		d.Error = fmt.Sprintf("Not delivered within %s; it stays queued for %s.", req.Wait, sent.Host)
		return d
	}
	d.State = state
	switch state {
	case apitype.SentExpired:
		d.Code, d.Error = apitype.CodeTimeout, "The message expired before "+sent.Host+" took it."
	case apitype.SentFailed:
		d.Code, d.Error = apitype.CodeNotAccepting, "The recipient is not accepting messages."
	}
	return d
}

// hubBroadcast sends a domain broadcast through the hub too, so that it
// reaches the domain's daemons beyond the routers a mailslot stops at.
func (s *Sender) hubBroadcast(ctx context.Context, req apitype.SendRequest, from string) apitype.Delivery {
	group := req.Domain
	if group == "" {
		group = s.Workgroup
	}
	group = strings.ToUpper(group)
	d := apitype.Delivery{To: group, Via: "hub"}
	if err := s.Hub.Broadcast(ctx, group, from, req.Text); err != nil {
		d.Code, d.Error = apitype.CodeNetwork, "The hub did not take the broadcast: "+err.Error()
	}
	return d
}
