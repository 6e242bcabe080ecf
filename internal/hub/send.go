package hub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/netsend/messenger/internal/message"
	"github.com/netsend/messenger/internal/store"
)

// outboxBatch is how many queued rows one read of the outbox takes.
const outboxBatch = 100

// headerRoom is what the headers of a published message (its
// Nats-Msg-Id and expected stream) add to its size, with room to spare.
const headerRoom = 256

// SendRequest is a message to send through the hub.
type SendRequest struct {
	To   string // recipient messenger name
	From string // sender name to show; empty is this host's name
	Text string
	// Expires drops the message if the recipient's host has not taken it
	// this long after it was sent; 0 is never.
	Expires time.Duration
}

// SendResult is what became of a message Send accepted.
type SendResult struct {
	// Sent is the row kept for it: State is queued (the hub has not
	// taken it yet) or sent; Host is the recipient's host.
	Sent store.Sent `json:"sent"`
	// Online says whether the registry had the recipient's host online.
	Online bool `json:"online"`
}

// Send queues a message for the host the registry has for req.To and
// publishes it at once when the hub is reachable. Errors: message.ErrInvalid
// (wrapped) for bad input, ErrUnknownName, ErrOutboxFull, ErrNotConnected
// when the registry was never read, or the outbox's own.
func (h *Hub) Send(ctx context.Context, req SendRequest) (SendResult, error) {
	if req.From == "" {
		req.From = h.opts.HostName
	}
	if err := h.refusedErr(); err != nil {
		return SendResult{}, err
	}
	if err := checkInput("recipient", req.To); err != nil {
		return SendResult{}, err
	}
	if err := checkInput("sender", req.From); err != nil {
		return SendResult{}, err
	}
	if err := checkText(req.Text); err != nil {
		return SendResult{}, err
	}
	if req.Expires < 0 {
		return SendResult{}, fmt.Errorf("hub: sending: %w: negative expiry %s", message.ErrInvalid, req.Expires)
	}
	now := h.now()
	row := store.Sent{
		HubID: NewID(), To: req.To, From: req.From, Text: req.Text,
		Created: now, Updated: now, State: store.SentQueued,
	}
	if req.Expires > 0 {
		row.Expires = now.Add(req.Expires)
	}
	env, err := EncodeEnvelope(Envelope{ID: row.HubID, To: row.To, From: row.From, Text: row.Text, Sent: row.Created, Expires: row.Expires})
	if err != nil {
		return SendResult{}, fmt.Errorf("hub: sending: %w: %w", message.ErrInvalid, err)
	}
	// Refused now rather than failed later: a text within the limits can
	// still be more bytes than the hub's streams take (4,095 characters
	// of four bytes each).
	if limit := h.msgLimit.Load(); limit > 0 && int64(len(env)+headerRoom) > limit {
		return SendResult{}, fmt.Errorf("hub: sending: %w: the message is %d bytes encoded; the hub takes at most %d",
			message.ErrInvalid, len(env), limit-headerRoom)
	}
	host, online, err := h.Lookup(ctx, req.To)
	if err != nil {
		return SendResult{}, err
	}
	row.Host = host
	queued, err := h.opts.Outbox.CountSent(ctx, store.SentQueued)
	if err != nil {
		return SendResult{}, fmt.Errorf("hub: sending: %w", err)
	}
	if queued >= h.opts.OutboxMax {
		return SendResult{}, fmt.Errorf("%w: %d messages wait for the hub", ErrOutboxFull, queued)
	}
	if err := h.opts.Outbox.AddSent(ctx, &row); err != nil {
		return SendResult{}, fmt.Errorf("hub: sending: %w", err)
	}
	published, err := h.flush(ctx)
	switch {
	case published[row.HubID]:
		row.State = store.SentSent
	case err == nil:
		// Another flush may have published it meanwhile.
		if cur, err := h.opts.Outbox.SentByHubID(ctx, row.HubID); err == nil {
			row = cur
		}
	default:
		h.log.Debug("message queued for the hub", slog.String("hub_id", row.HubID), slog.Any("err", err))
	}
	return SendResult{Sent: row, Online: online}, nil
}

// Broadcast sends text to every host of domain through the hub. It is
// not kept: a broadcast gets no receipts.
func (h *Hub) Broadcast(ctx context.Context, domain, from, text string) error {
	if from == "" {
		from = h.opts.HostName
	}
	if err := checkInput("domain", domain); err != nil {
		return err
	}
	if err := checkInput("sender", from); err != nil {
		return err
	}
	if err := checkText(text); err != nil {
		return err
	}
	s := h.current()
	if s == nil {
		return ErrNotConnected
	}
	ctx, cancel := s.link.bind(ctx)
	defer cancel()
	id := NewID()
	b, err := EncodeEnvelope(Envelope{ID: id, To: "*", From: from, Text: text, Sent: h.now()})
	if err != nil {
		return fmt.Errorf("hub: broadcasting: %w", err)
	}
	subject := subjBcast + SubjectToken(domain) + "." + h.hostTok
	if _, err := s.js.Publish(ctx, subject, b, jetstream.WithMsgID(id), jetstream.WithExpectStream(StreamBcast)); err != nil {
		return fmt.Errorf("hub: broadcasting to %q: %w", domain, err)
	}
	return nil
}

func checkInput(field, v string) error {
	if why := nameProblem(v); why != "" {
		return fmt.Errorf("hub: sending: %w: %s: %s", message.ErrInvalid, field, why)
	}
	return nil
}

func checkText(text string) error {
	if !utf8.ValidString(text) {
		return fmt.Errorf("hub: sending: %w: text is not valid UTF-8", message.ErrInvalid)
	}
	if n := utf8.RuneCountInString(text); n > message.MaxTextLen {
		return fmt.Errorf("hub: sending: %w: text is %d characters, limit %d", message.ErrInvalid, n, message.MaxTextLen)
	}
	return nil
}

// flush publishes the outbox, oldest first, until it is empty or a
// publish fails; it returns the ids it published. The hub keeps a
// message published twice (a lost acknowledgement, two flushes) once:
// the id is its Nats-Msg-Id.
func (h *Hub) flush(ctx context.Context) (map[string]bool, error) {
	h.pubMu.Lock()
	defer h.pubMu.Unlock()
	published := map[string]bool{}
	var after int64 // rows at or below were handled in this flush
	for {
		s := h.current()
		if s == nil {
			return published, ErrNotConnected
		}
		rows, err := h.opts.Outbox.QueuedSent(ctx, outboxBatch)
		if err != nil {
			return published, fmt.Errorf("hub: reading the outbox: %w", err)
		}
		progressed := false
		pctx, cancel := s.link.bind(ctx)
		for _, r := range rows {
			if r.ID <= after && r.ID != 0 {
				continue
			}
			after, progressed = r.ID, true
			if err := h.publishRow(ctx, pctx, s, r); err != nil {
				cancel()
				return published, err
			}
			published[r.HubID] = true
		}
		cancel()
		if !progressed || len(rows) < outboxBatch {
			return published, nil
		}
	}
}

// publishRow hands one queued row to the hub and marks it sent; a row
// that expired while queued, or that no hub would take, is closed
// instead, so that it cannot hold the outbox up. pctx is ctx bound to
// the connection, for the publish.
func (h *Hub) publishRow(ctx, pctx context.Context, s *session, r store.Sent) error {
	now := h.now()
	if !r.Expires.IsZero() && !now.Before(r.Expires) {
		h.settle(ctx, r.HubID, store.SentExpired, now, "expired in the outbox before the hub took it")
		return nil
	}
	b, err := EncodeEnvelope(Envelope{ID: r.HubID, To: r.To, From: r.From, Text: r.Text, Sent: r.Created, Expires: r.Expires})
	if err != nil {
		h.settle(ctx, r.HubID, store.SentFailed, now, "cannot be sent: "+err.Error())
		return nil
	}
	subject := subjMsg + SubjectToken(r.Host) + "." + h.hostTok
	_, err = s.js.Publish(pctx, subject, b, jetstream.WithMsgID(r.HubID), jetstream.WithExpectStream(StreamMsg))
	if errors.Is(err, jetstream.ErrStreamMessageExceedsMaximum) {
		// The hub's limit is lower than ours: retrying cannot help.
		h.settle(ctx, r.HubID, store.SentFailed, now, "too large for the hub")
		return nil
	}
	if err != nil {
		return fmt.Errorf("hub: publishing %s: %w", r.HubID, err)
	}
	if err := h.opts.Outbox.UpdateSent(ctx, r.HubID, store.SentSent, h.now(), ""); err != nil {
		// Published but still queued: the next flush publishes it again,
		// which the hub recognises as the same message.
		return fmt.Errorf("hub: marking %s sent: %w", r.HubID, err)
	}
	return nil
}

// settle moves a row to a final state and wakes whoever waits for it.
func (h *Hub) settle(ctx context.Context, hubID string, state store.SentState, at time.Time, detail string) {
	if err := h.opts.Outbox.UpdateSent(ctx, hubID, state, at, detail); err != nil {
		h.log.Warn("cannot update a sent message", slog.String("hub_id", hubID), slog.String("state", string(state)), slog.Any("err", err))
		return
	}
	h.notify(hubID)
}

// outboxLoop publishes what Send could not: on reconnect, when kicked,
// and every outboxTick in case neither came.
func (h *Hub) outboxLoop(ctx context.Context, s *session) {
	t := time.NewTicker(outboxTick)
	defer t.Stop()
	for {
		if s.link.isUp() {
			if _, err := h.flush(ctx); err != nil && ctx.Err() == nil {
				h.log.Debug("outbox not flushed", slog.Any("err", err))
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-h.kick:
		}
	}
}

// finished reports whether a message has got as far as WaitDelivered
// waits for.
func finished(st store.SentState) bool {
	switch st {
	case store.SentDelivered, store.SentRead, store.SentExpired, store.SentFailed:
		return true
	}
	return false
}

// WaitDelivered waits until the message hubID is delivered (or read,
// expired or failed) and returns that state. When ctx ends first it
// returns the state then (queued or sent) with ctx's error.
func (h *Hub) WaitDelivered(ctx context.Context, hubID string) (store.SentState, error) {
	for {
		// Listen before looking, so that a receipt between the two is
		// not missed.
		w := h.listen(hubID)
		row, err := h.opts.Outbox.SentByHubID(ctx, hubID)
		if err != nil {
			h.unlisten(hubID, w)
			return "", fmt.Errorf("hub: waiting for %s: %w", hubID, err)
		}
		if finished(row.State) {
			h.unlisten(hubID, w)
			return row.State, nil
		}
		select {
		case <-w.ch:
			h.unlisten(hubID, w)
		case <-ctx.Done():
			h.unlisten(hubID, w)
			return row.State, ctx.Err()
		}
	}
}

func (h *Hub) listen(hubID string) *waiter {
	h.waitMu.Lock()
	defer h.waitMu.Unlock()
	w := h.waiters[hubID]
	if w == nil {
		w = &waiter{ch: make(chan struct{})}
		h.waiters[hubID] = w
	}
	w.n++
	return w
}

func (h *Hub) unlisten(hubID string, w *waiter) {
	h.waitMu.Lock()
	defer h.waitMu.Unlock()
	if h.waiters[hubID] != w {
		return // notified: the entry is gone already
	}
	if w.n--; w.n <= 0 {
		delete(h.waiters, hubID)
	}
}

// notify wakes the waiters of hubID; each looks at the row again.
func (h *Hub) notify(hubID string) {
	h.waitMu.Lock()
	defer h.waitMu.Unlock()
	if w := h.waiters[hubID]; w != nil {
		close(w.ch)
		delete(h.waiters, hubID) // whoever listens next gets a fresh one

	}
}

// MarkRead sends the read receipt for a message that came through the
// hub to the host it came from. Messages from elsewhere, and broadcasts,
// need none: it returns nil for them.
func (h *Hub) MarkRead(ctx context.Context, m message.Message) error {
	if m.Transport != message.TransportHub || m.HubID == "" || m.Verified == "" || m.To == "*" {
		return nil
	}
	s := h.current()
	if s == nil {
		return ErrNotConnected
	}
	ctx, cancel := s.link.bind(ctx)
	defer cancel()
	return h.publishReceipt(ctx, s, SubjectToken(m.Verified), Receipt{ID: m.HubID, State: ReceiptRead, To: m.To, At: h.now()})
}

// publishReceipt publishes r to the host whose token is toHost. Its
// Nats-Msg-Id is the message's id and state, so that the receipt the
// hub took and one sent again for a redelivered message are kept once.
func (h *Hub) publishReceipt(ctx context.Context, s *session, toHost string, r Receipt) error {
	b, err := EncodeReceipt(r)
	if err != nil {
		return fmt.Errorf("hub: receipt for %s: %w", r.ID, err)
	}
	subject, opts := h.receiptPublish(toHost, r)
	if _, err := s.js.Publish(ctx, subject, b, opts...); err != nil {
		return fmt.Errorf("hub: publishing the %s receipt for %s: %w", r.State, r.ID, err)
	}
	return nil
}

// receiptPublish is where a receipt to toHost goes and how.
func (h *Hub) receiptPublish(toHost string, r Receipt) (string, []jetstream.PublishOpt) {
	return subjRcpt + toHost + "." + h.hostTok,
		[]jetstream.PublishOpt{jetstream.WithMsgID(r.ID + "." + string(r.State)), jetstream.WithExpectStream(StreamRcpt)}
}
