package hub

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/netsend/messenger/internal/message"
	"github.com/netsend/messenger/internal/pipeline"
	"github.com/netsend/messenger/internal/store"
)

// fetchBatch is how many messages one pull request asks for. The msg
// consumer still gets them one at a time (MaxAckPending 1); the others
// save a round trip per message.
const fetchBatch = 64

// consume pulls from one of this host's durable consumers while the
// connection is up and hands each message to handle, which acks or
// naks it.
func (h *Hub) consume(ctx context.Context, s *session, stream string, cons jetstream.Consumer, handle func(context.Context, *session, jetstream.Msg)) {
	bo := newBackoff(250*time.Millisecond, 10*time.Second)
	durable := cons.CachedInfo().Name
	for ctx.Err() == nil {
		lctx, err := s.link.waitUp(ctx)
		if err != nil {
			return
		}
		if cons == nil {
			// Deleted under us (an admin re-provisioning): bind again.
			if cons, err = s.js.Consumer(lctx, stream, durable); err != nil {
				if ctx.Err() == nil {
					h.log.Warn("cannot bind a hub consumer", slog.String("consumer", durable), slog.Any("err", err))
				}
				cons = nil
				bo.wait(lctx)
				continue
			}
		}
		batch, err := cons.Fetch(fetchBatch, jetstream.FetchContext(lctx))
		if err == nil {
			for m := range batch.Messages() {
				handle(ctx, s, m)
			}
			err = batch.Error()
		}
		if err == nil || lctx.Err() != nil {
			bo.reset()
			continue
		}
		if errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrConsumerDeleted) {
			cons = nil
		}
		h.log.Debug("hub pull failed", slog.String("consumer", durable), slog.Any("err", err))
		bo.wait(lctx)
	}
}

// subjectHost returns the token of the host that published on subject
// (its last token; the hub's permissions let a host publish only under
// its own) and that host's name.
func subjectHost(subject string) (tok, host string, err error) {
	tok = subject[strings.LastIndexByte(subject, '.')+1:]
	host, err = NameFromToken(tok)
	return tok, host, err
}

// handleMsg delivers one message to this host, answers with a receipt
// and acks; a message it cannot store now is redelivered later.
func (h *Hub) handleMsg(ctx context.Context, s *session, jm jetstream.Msg) {
	fromTok, fromHost, err := subjectHost(jm.Subject())
	if err != nil {
		h.log.Warn("hub message on a subject without a host", slog.String("subject", jm.Subject()))
		h.settleMsg(jm, jm.Term)
		return
	}
	env, err := DecodeEnvelope(jm.Data())
	if err != nil {
		// Nothing to answer: without an id the sender could not match it.
		h.log.Warn("malformed hub message", slog.String("from_host", fromHost), slog.Any("err", err))
		h.settleMsg(jm, jm.Term)
		return
	}
	rcpt := Receipt{ID: env.ID, To: env.To}
	now := h.now()
	if env.Expired(now) {
		rcpt.State = ReceiptExpired
	} else {
		m := &message.Message{
			Transport: message.TransportHub,
			From:      env.From,
			To:        env.To,
			Text:      env.Text,
			Time:      now,
			Source:    "hub:" + fromHost,
			HubID:     env.ID,
			Verified:  fromHost,
		}
		err := h.opts.Local.Deliver(ctx, m)
		switch {
		case err == nil || errors.Is(err, store.ErrDuplicate):
			// A duplicate was stored before, and its receipt may not have
			// reached the hub: send it again.
			rcpt.State = ReceiptDelivered
		case errors.Is(err, pipeline.ErrDropped):
			rcpt.State, rcpt.Detail = ReceiptRefused, "refused by the recipient's policy"
		case errors.Is(err, message.ErrInvalid):
			rcpt.State, rcpt.Detail = ReceiptRefused, "refused as invalid by the recipient's host"
		default:
			h.log.Warn("cannot store a hub message; the hub will deliver it again",
				slog.String("hub_id", env.ID), slog.String("from_host", fromHost), slog.Any("err", err))
			h.settleMsg(jm, func() error { return jm.NakWithDelay(retryDelay) })
			return
		}
	}
	rcpt.At = h.now()
	if err := h.publishReceipt(ctx, s, fromTok, rcpt); err != nil {
		h.log.Warn("cannot send a receipt; the hub will deliver the message again",
			slog.String("hub_id", env.ID), slog.String("from_host", fromHost), slog.Any("err", err))
		h.settleMsg(jm, func() error { return jm.NakWithDelay(retryDelay) })
		return
	}
	h.settleMsg(jm, jm.Ack)
}

// handleBcast delivers one broadcast of this host's domain, unless this
// host sent it. Broadcasts get no receipts. The consumer carries every
// domain's (its provisioner does not know this host's domain).
func (h *Hub) handleBcast(ctx context.Context, s *session, jm jetstream.Msg) {
	fromTok, fromHost, err := subjectHost(jm.Subject())
	if err != nil {
		h.settleMsg(jm, jm.Term)
		return
	}
	domainTok := strings.TrimPrefix(strings.TrimSuffix(jm.Subject(), "."+fromTok), subjBcast)
	if fromTok == h.hostTok || h.opts.Domain == "" || domainTok != SubjectToken(h.opts.Domain) {
		h.settleMsg(jm, jm.Ack)
		return
	}
	env, err := DecodeEnvelope(jm.Data())
	if err != nil {
		h.log.Warn("malformed hub broadcast", slog.String("from_host", fromHost), slog.Any("err", err))
		h.settleMsg(jm, jm.Term)
		return
	}
	now := h.now()
	if env.Expired(now) {
		h.settleMsg(jm, jm.Ack)
		return
	}
	m := &message.Message{
		Transport: message.TransportHub,
		From:      env.From,
		To:        env.To,
		Text:      env.Text,
		Time:      now,
		Source:    "hub:" + fromHost,
		HubID:     env.ID,
		Verified:  fromHost,
	}
	err = h.opts.Local.Deliver(ctx, m)
	if err != nil && !errors.Is(err, store.ErrDuplicate) && !errors.Is(err, pipeline.ErrDropped) && !errors.Is(err, message.ErrInvalid) {
		h.log.Warn("cannot store a hub broadcast; the hub will deliver it again",
			slog.String("hub_id", env.ID), slog.String("from_host", fromHost), slog.Any("err", err))
		h.settleMsg(jm, func() error { return jm.NakWithDelay(retryDelay) })
		return
	}
	h.settleMsg(jm, jm.Ack)
}

// handleReceipt applies one receipt to the sent message it names, if it
// comes from the host that message was sent to.
func (h *Hub) handleReceipt(ctx context.Context, _ *session, jm jetstream.Msg) {
	fromTok, fromHost, err := subjectHost(jm.Subject())
	if err != nil {
		h.settleMsg(jm, jm.Term)
		return
	}
	r, err := DecodeReceipt(jm.Data())
	if err != nil {
		h.log.Warn("malformed hub receipt", slog.String("from_host", fromHost), slog.Any("err", err))
		h.settleMsg(jm, jm.Term)
		return
	}
	row, err := h.opts.Outbox.SentByHubID(ctx, r.ID)
	if errors.Is(err, store.ErrNotFound) {
		h.log.Debug("receipt for a message this host did not send", slog.String("hub_id", r.ID), slog.String("from_host", fromHost))
		h.settleMsg(jm, jm.Ack)
		return
	}
	if err != nil {
		h.log.Warn("cannot read a sent message for its receipt", slog.String("hub_id", r.ID), slog.Any("err", err))
		h.settleMsg(jm, func() error { return jm.NakWithDelay(retryDelay) })
		return
	}
	if SubjectToken(row.Host) != fromTok {
		// Only the recipient's host can say what became of a message.
		h.log.Warn("receipt from a host the message was not sent to",
			slog.String("hub_id", r.ID), slog.String("from_host", fromHost), slog.String("host", row.Host))
		h.settleMsg(jm, jm.Ack)
		return
	}
	state, detail := store.SentDelivered, r.Detail
	switch r.State {
	case ReceiptRead:
		state = store.SentRead
	case ReceiptExpired:
		state = store.SentExpired
	case ReceiptRefused:
		state = store.SentFailed
		if detail == "" {
			detail = "refused"
		}
	}
	// The receipt's time is the other host's clock: kept when it is
	// plausible, else this host's.
	at, now := r.At, h.now()
	if at.After(now) || at.Before(row.Created) {
		at = now
	}
	if err := h.opts.Outbox.UpdateSent(ctx, r.ID, state, at, detail); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			h.settleMsg(jm, jm.Ack)
			return
		}
		h.log.Warn("cannot record a receipt", slog.String("hub_id", r.ID), slog.Any("err", err))
		h.settleMsg(jm, func() error { return jm.NakWithDelay(retryDelay) })
		return
	}
	h.settleMsg(jm, jm.Ack)
	h.notify(r.ID)
}

// settleMsg acks, naks or terms; if that fails (the connection dropped)
// the hub redelivers after AckWait, which the handlers are ready for.
func (h *Hub) settleMsg(jm jetstream.Msg, how func() error) {
	if err := how(); err != nil {
		h.log.Debug("cannot settle a hub message", slog.String("subject", jm.Subject()), slog.Any("err", err))
	}
}
