package hub

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/netsend/messenger/internal/apitype"
	"github.com/netsend/messenger/internal/hubwire"
	"github.com/netsend/messenger/internal/message"
	"github.com/netsend/messenger/internal/pipeline"
	"github.com/netsend/messenger/internal/store"
)

// fetchBatch is how many messages a pull keeps asked for, and the most
// one batch holds; on the msg consumer it is hubwire.MsgMaxAckPending.
const fetchBatch = 64

// receiptTimeout bounds the wait for the hub to take a batch's receipts.
const receiptTimeout = 10 * time.Second

// consume pulls from one of this host's durable consumers while the
// connection is up and hands what it gets to handle, in batches as
// pullBatches makes them; handle acks or naks each message.
func (h *Hub) consume(ctx context.Context, s *session, stream string, cons jetstream.Consumer, handle func(context.Context, *session, []jetstream.Msg)) {
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
		err = pullBatches(lctx, cons, func(msgs []jetstream.Msg) bool {
			handle(ctx, s, msgs)
			bo.reset()
			return false
		})
		if lctx.Err() != nil {
			continue
		}
		if errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrConsumerDeleted) {
			cons = nil
		}
		h.log.Debug("hub pull failed", slog.String("consumer", durable), slog.Any("err", err))
		bo.wait(lctx)
	}
}

// consumeMsgs pulls this host's messages in batches while the connection
// is up (see pullBatches) and stores each batch in stream order. When a
// batch could not all be stored, pulling stops, and resumes once the
// hub had the time to queue what was naked again: redeliveries then
// come before new messages.
func (h *Hub) consumeMsgs(ctx context.Context, s *session) {
	bo := newBackoff(250*time.Millisecond, 10*time.Second)
	cons := s.msgs
	durable := cons.CachedInfo().Name
	ackWait := cons.CachedInfo().Config.AckWait
	ord := msgOrder{floorWait: 2*ackWait + retryDelay}
	for ctx.Err() == nil {
		lctx, err := s.link.waitUp(ctx)
		if err != nil {
			return
		}
		if cons == nil {
			if cons, err = s.js.Consumer(lctx, hubwire.StreamMsg, durable); err != nil {
				if ctx.Err() == nil {
					h.log.Warn("cannot bind a hub consumer", slog.String("consumer", durable), slog.Any("err", err))
				}
				cons = nil
				bo.wait(lctx)
				continue
			}
		}
		if ord.stranded {
			if err := h.awaitStranded(lctx, cons); err != nil {
				if lctx.Err() == nil {
					h.log.Debug("cannot read the hub consumer's state", slog.String("consumer", durable), slog.Any("err", err))
					bo.wait(lctx)
				}
				continue
			}
			ord.stranded = false
		}
		err = pullBatches(lctx, cons, func(msgs []jetstream.Msg) bool {
			bo.reset()
			return h.handleMsgs(ctx, s, msgs, &ord)
		})
		if errors.Is(err, errPaused) {
			sleepCtx(ctx, retryDelay+time.Second)
			continue
		}
		// Pulling that ended otherwise (the connection dropped, the
		// hub said something went wrong) may have had messages on the
		// way that never arrived.
		ord.stranded = true
		if lctx.Err() != nil {
			continue
		}
		if errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrConsumerDeleted) {
			cons = nil
		}
		h.log.Debug("hub pull failed", slog.String("consumer", durable), slog.Any("err", err))
		bo.wait(lctx)
	}
}

// errPaused is pullBatches' answer when handle asked it to stop.
var errPaused = errors.New("hub: pulling paused")

// drainTimeout bounds the wait for what was on its way when pulling
// stops; what has not come by then counts as stranded.
const drainTimeout = 5 * time.Second

// pullBatches pulls from cons for as long as the connection is up
// (lctx), keeping a pull of up to fetchBatch messages open on the hub so
// that a message comes as soon as the hub has it, without a request per
// batch; and hands handle what came, in order: whatever arrived while
// the previous batch was handled, or the next message alone. So the
// batches follow the load without a timer. It returns the error that
// ended it (lctx's, or the hub's word on the pull).
//
// When handle returns true, pulling stops: what was already on its way
// is received (the subscription is drained, so nothing is left in
// transit) and naked, for the hub to deliver again after what handle
// naked, and pullBatches returns errPaused.
func pullBatches(lctx context.Context, cons jetstream.Consumer, handle func([]jetstream.Msg) (pause bool)) error {
	msgs := make(chan jetstream.Msg, fetchBatch)
	errs := make(chan error, 1)
	quit := make(chan struct{})
	cc, err := cons.Consume(func(m jetstream.Msg) {
		select {
		case msgs <- m:
		case <-quit:
			// Given up on: unacked, the hub hands it out again.
		}
	}, jetstream.PullMaxMessages(fetchBatch), jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		select {
		case errs <- err:
		default:
		}
	}))
	if err != nil {
		return err
	}
	stop := func() {
		close(quit)
		cc.Stop()
	}
	batch := make([]jetstream.Msg, 0, fetchBatch)
	for {
		batch = batch[:0]
		select {
		case m := <-msgs:
			batch = append(batch, m)
		case err := <-errs:
			stop()
			return err
		case <-lctx.Done():
			stop()
			return lctx.Err()
		}
	more:
		for len(batch) < fetchBatch {
			select {
			case m := <-msgs:
				batch = append(batch, m)
			default:
				break more
			}
		}
		if handle(batch) {
			return pause(lctx, cc, msgs, quit, stop)
		}
	}
}

// pause ends pullBatches at handle's request: it drains the
// subscription, so that what the hub sent before the pull ended is
// received, and naks all of that for the hub to deliver again later.
func pause(lctx context.Context, cc jetstream.ConsumeContext, msgs chan jetstream.Msg, quit chan struct{}, stop func()) error {
	cc.Drain()
	var left []jetstream.Msg
	timeout := time.NewTimer(drainTimeout)
	defer timeout.Stop()
	for done := false; !done; {
		select {
		case m := <-msgs:
			left = append(left, m)
		case <-cc.Closed():
			done = true
		case <-timeout.C:
			stop()
			return fmt.Errorf("hub: pulling paused, but the hub did not end the pull within %s", drainTimeout)
		case <-lctx.Done():
			stop()
			return lctx.Err()
		}
	}
	close(quit)
	for len(msgs) > 0 {
		left = append(left, <-msgs)
	}
	for _, m := range left {
		_ = m.NakWithDelay(retryDelay)
	}
	return errPaused
}

// awaitStranded waits, after a pull that ended early, until messages the
// hub sent but this host never got have been queued for redelivery (one
// AckWait after they were sent): a pull before then would hand out later
// messages first. Without unacked messages there is nothing to wait for.
func (h *Hub) awaitStranded(ctx context.Context, cons jetstream.Consumer) error {
	info, err := cons.Info(ctx)
	if err != nil {
		return err
	}
	if info.NumAckPending == 0 {
		return nil
	}
	h.log.Info("waiting for the hub to redeliver unacknowledged messages before new ones",
		slog.Int("unacked", info.NumAckPending), slog.Duration("wait", info.Config.AckWait))
	sleepCtx(ctx, info.Config.AckWait+time.Second)
	return ctx.Err()
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// msgOrder is what the msg consumer remembers between batches to store
// messages in stream order although up to fetchBatch are out at a time.
type msgOrder struct {
	// stranded: the last pull ended early (see awaitStranded).
	stranded bool
	// floor is the stream sequence of a message that could not be
	// stored and was naked: no later message is stored before it comes
	// back. Zero: none.
	floor uint64
	// since is when floor was last naked; after floorWait without it
	// (it aged out of the stream) the order is kept without it.
	since     time.Time
	floorWait time.Duration
}

// inbound is one message of a batch on its way through handleMsgs.
type inbound struct {
	jm       jetstream.Msg
	seq      uint64 // stream sequence
	fromTok  string
	fromHost string
	rcpt     hubwire.Receipt
	msg      *message.Message // nil: nothing to deliver (expired)
	settled  bool             // termed already
}

// handleMsgs delivers a batch of this host's messages in stream order,
// publishes their receipts and, once the hub has taken every one (in a
// goroutine, while the next batch is stored), acks them. A message that
// cannot be stored now is naked with every later one of the batch, and
// it reports true: the caller pauses so that the hub redelivers them
// before anything newer.
func (h *Hub) handleMsgs(ctx context.Context, s *session, msgs []jetstream.Msg, ord *msgOrder) (pause bool) {
	if ord.floor != 0 && time.Since(ord.since) > ord.floorWait {
		h.log.Warn("a hub message naked for later did not come back; going on without it", slog.Uint64("stream_seq", ord.floor))
		ord.floor = 0
	}
	// In stream order: redeliveries need not come in it (the hub queues
	// them as their delays end), and a batch may hold both.
	seqd := make([]seqMsg, len(msgs))
	for i, jm := range msgs {
		seqd[i].jm = jm
		if md, err := jm.Metadata(); err == nil {
			seqd[i].seq = md.Sequence.Stream
		}
	}
	slices.SortStableFunc(seqd, func(a, b seqMsg) int { return cmp.Compare(a.seq, b.seq) })
	items := make([]inbound, 0, len(msgs))
	var later []jetstream.Msg // overtook ord.floor: back to the hub
	for i, sm := range seqd {
		if ord.floor != 0 && sm.seq > ord.floor {
			for _, l := range seqd[i:] {
				later = append(later, l.jm)
			}
			break
		}
		if sm.seq == ord.floor {
			ord.floor = 0
		}
		items = append(items, h.decodeMsg(sm.jm, sm.seq))
	}

	var deliver []*message.Message
	for i := range items {
		if it := &items[i]; !it.settled && it.msg != nil {
			deliver = append(deliver, it.msg)
		}
	}
	errs := h.deliverBatch(ctx, deliver)
	notNow := len(items) // the first message that cannot be stored now
	j := 0
	for i := range items {
		it := &items[i]
		if it.settled || it.msg == nil {
			continue
		}
		err := errs[j]
		j++
		switch {
		case err == nil || errors.Is(err, store.ErrDuplicate):
			// A duplicate was stored before, and its receipt may not have
			// reached the hub: send it again.
			it.rcpt.State = hubwire.ReceiptDelivered
		case errors.Is(err, pipeline.ErrDropped):
			it.rcpt.State, it.rcpt.Detail = hubwire.ReceiptRefused, "refused by the recipient's policy"
		case errors.Is(err, message.ErrInvalid) || errors.Is(err, store.ErrInvalid):
			it.rcpt.State, it.rcpt.Detail = hubwire.ReceiptRefused, "refused as invalid by the recipient's host"
		default:
			if i < notNow {
				notNow = i
				h.log.Warn("cannot store a hub message; the hub will deliver it and the ones after it again",
					slog.String("hub_id", it.rcpt.ID), slog.String("from_host", it.fromHost), slog.Any("err", err))
			}
		}
	}

	done := items[:notNow]
	wait := h.publishReceipts(ctx, s, done)
	// The next batch is stored while the hub takes these receipts: a
	// message is acked once its receipt is in the hub, which does not
	// depend on the order of storing. The consumer's MaxAckPending
	// bounds how many wait so.
	go func() {
		for i, err := range wait() {
			it := &done[i]
			if it.settled {
				continue
			}
			if err != nil {
				// Stored (or expired) already: a redelivery is a duplicate
				// that gets its receipt again, wherever it falls.
				h.log.Warn("cannot send a receipt; the hub will deliver the message again",
					slog.String("hub_id", it.rcpt.ID), slog.String("from_host", it.fromHost), slog.Any("err", err))
				h.settleMsg(it.jm, func() error { return it.jm.NakWithDelay(retryDelay) })
				continue
			}
			h.settleMsg(it.jm, it.jm.Ack)
		}
	}()
	back := append(itemMsgs(items[notNow:]), later...)
	if notNow < len(items) {
		ord.floor, ord.since = items[notNow].seq, time.Now()
	}
	for _, jm := range back {
		h.settleMsg(jm, func() error { return jm.NakWithDelay(retryDelay) })
	}
	return len(back) > 0
}

// seqMsg is a message with its stream sequence.
type seqMsg struct {
	jm  jetstream.Msg
	seq uint64
}

func itemMsgs(items []inbound) []jetstream.Msg {
	var out []jetstream.Msg
	for _, it := range items {
		if !it.settled {
			out = append(out, it.jm)
		}
	}
	return out
}

// decodeMsg reads one message of a batch: a message without a host or
// that does not decode is terminated (without an id the sender could not
// match a receipt); an expired one gets the expired receipt and nothing
// to deliver.
func (h *Hub) decodeMsg(jm jetstream.Msg, seq uint64) inbound {
	it := inbound{jm: jm, seq: seq}
	var err error
	it.fromTok, it.fromHost, err = subjectHost(jm.Subject())
	if err != nil {
		h.log.Warn("hub message on a subject without a host", slog.String("subject", jm.Subject()))
		h.settleMsg(jm, jm.Term)
		it.settled = true
		return it
	}
	env, err := hubwire.DecodeEnvelope(jm.Data())
	if err != nil {
		h.log.Warn("malformed hub message", slog.String("from_host", it.fromHost), slog.Any("err", err))
		h.settleMsg(jm, jm.Term)
		it.settled = true
		return it
	}
	it.rcpt = hubwire.Receipt{ID: env.ID, To: env.To}
	now := h.now()
	if env.Expired(now) {
		it.rcpt.State = hubwire.ReceiptExpired
		return it
	}
	it.msg = hubMessage(env, it.fromHost, now)
	return it
}

// hubMessage is what env, published by fromHost, delivers here: its
// sender is the host the hub's permissions proved, not the envelope's.
func hubMessage(env hubwire.Envelope, fromHost string, now time.Time) *message.Message {
	// The sender's clock, kept beside the arrival: a message that waited
	// in the hub while this host was offline shows when it was written.
	sent := env.Sent.UTC()
	return &message.Message{
		Transport: message.TransportHub,
		From:      env.From,
		To:        env.To,
		Text:      env.Text,
		Time:      now,
		SentAt:    &sent,
		Source:    "hub:" + fromHost,
		HubID:     env.ID,
		Verified:  fromHost,
	}
}

// errNotTried is the answer for the messages after one that could not be
// stored now, when the Local takes one message at a time.
var errNotTried = errors.New("hub: not delivered: an earlier message of the batch was not stored")

// deliverBatch hands ms to the Local in order, in one call when it can
// take a batch.
func (h *Hub) deliverBatch(ctx context.Context, ms []*message.Message) []error {
	if len(ms) == 0 {
		return nil
	}
	if bl, ok := h.opts.Local.(BatchLocal); ok {
		return bl.DeliverBatch(ctx, ms)
	}
	errs := make([]error, len(ms))
	for i, m := range ms {
		if i > 0 && notNowErr(errs[i-1]) {
			errs[i] = errNotTried
			continue
		}
		errs[i] = h.opts.Local.Deliver(ctx, m)
	}
	return errs
}

// notNowErr says whether err from Local means "not now".
func notNowErr(err error) bool {
	return err != nil && !errors.Is(err, store.ErrDuplicate) && !errors.Is(err, pipeline.ErrDropped) &&
		!errors.Is(err, message.ErrInvalid) && !errors.Is(err, store.ErrInvalid)
}

// publishReceipts publishes the receipts of items (except the settled
// ones) without waiting for each; the returned func waits until the hub
// has taken or refused every one: one error per item.
func (h *Hub) publishReceipts(ctx context.Context, s *session, items []inbound) (wait func() []error) {
	errs := make([]error, len(items))
	if len(items) == 0 {
		return func() []error { return errs }
	}
	at := h.now()
	futs := make([]jetstream.PubAckFuture, len(items))
	for i := range items {
		it := &items[i]
		if it.settled {
			continue
		}
		it.rcpt.At = at
		b, err := hubwire.EncodeReceipt(it.rcpt)
		if err != nil {
			errs[i] = fmt.Errorf("hub: receipt for %s: %w", it.rcpt.ID, err)
			continue
		}
		subject, opts := h.receiptPublish(it.fromTok, it.rcpt)
		if futs[i], err = s.js.PublishAsync(subject, b, opts...); err != nil {
			errs[i] = fmt.Errorf("hub: publishing the %s receipt for %s: %w", it.rcpt.State, it.rcpt.ID, err)
		}
	}
	return func() []error {
		bctx, unbind := s.link.bind(ctx)
		defer unbind()
		pctx, cancel := context.WithTimeout(bctx, receiptTimeout)
		defer cancel()
		for i, f := range futs {
			if f == nil {
				continue
			}
			select {
			case <-f.Ok():
			case err := <-f.Err():
				errs[i] = fmt.Errorf("hub: publishing the %s receipt for %s: %w", items[i].rcpt.State, items[i].rcpt.ID, err)
			case <-pctx.Done():
				errs[i] = fmt.Errorf("hub: publishing the %s receipt for %s: %w", items[i].rcpt.State, items[i].rcpt.ID, pctx.Err())
			}
		}
		return errs
	}
}

// subjectHost returns the token of the host that published on subject
// (its last token; the hub's permissions let a host publish only under
// its own) and that host's name.
func subjectHost(subject string) (tok, host string, err error) {
	tok = subject[strings.LastIndexByte(subject, '.')+1:]
	host, err = hubwire.NameFromToken(tok)
	return tok, host, err
}

// handleBcasts delivers broadcasts of this host's domain, one by one.
func (h *Hub) handleBcasts(ctx context.Context, s *session, msgs []jetstream.Msg) {
	for _, jm := range msgs {
		h.handleBcast(ctx, s, jm)
	}
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
	domainTok := strings.TrimPrefix(strings.TrimSuffix(jm.Subject(), "."+fromTok), hubwire.PrefixBcast)
	if fromTok == h.hostTok || h.opts.Domain == "" || domainTok != hubwire.SubjectToken(h.opts.Domain) {
		h.settleMsg(jm, jm.Ack)
		return
	}
	env, err := hubwire.DecodeEnvelope(jm.Data())
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
	if err := h.opts.Local.Deliver(ctx, hubMessage(env, fromHost, now)); notNowErr(err) {
		h.log.Warn("cannot store a hub broadcast; the hub will deliver it again",
			slog.String("hub_id", env.ID), slog.String("from_host", fromHost), slog.Any("err", err))
		h.settleMsg(jm, func() error { return jm.NakWithDelay(retryDelay) })
		return
	}
	h.settleMsg(jm, jm.Ack)
}

// handleReceipts tells whoever waits what a batch of receipts says, and
// hands the moves they make of the sent messages they name to the
// session's recorder, which acks them once they are committed.
func (h *Hub) handleReceipts(ctx context.Context, s *session, msgs []jetstream.Msg) {
	var (
		ups  []store.SentUpdate
		held []jetstream.Msg
		rec  []<-chan struct{} // the commits of rows still being recorded
	)
	for _, jm := range msgs {
		up, was, recorded, ok := h.receiptUpdate(ctx, jm)
		if !ok {
			continue
		}
		ups = append(ups, up)
		held = append(held, jm)
		if recorded != nil {
			rec = append(rec, recorded)
			h.rowsWanted(recorded)
		}
		// Who waits for this message learns its fate now rather than
		// after the commit below: the recipient's word is what counts.
		// A receipt for a message already settled only updates the row.
		// The flight hears it first: a waiter who looks there after
		// this needs no telling.
		if !finished(was) {
			h.flights.settle(up.HubID, up.State)
			h.tell(up.HubID, up.State)
		}
	}
	if len(ups) == 0 {
		return
	}
	// Recorded by the session's recorder, beside the next batch, which is
	// told as soon as it comes rather than after this commit.
	s.recorder.add(ups, held, rec)
}

// receiptLinger is how long the moves of receipts gather before they
// are committed. Nobody waits for that commit (waiters were told, the
// hub keeps the receipts until they are acked after it), and the
// sender's commits are what a round trip waits for on this host: one
// commit of moves for many round trips, rather than one for each batch
// of receipts, leaves the store's writer to the rows of new Sends.
const receiptLinger = 20 * time.Millisecond

// recorder gathers receipts to be recorded, for the session's
// recordLoop.
type recorder struct {
	mu   sync.Mutex
	ups  []store.SentUpdate
	held []jetstream.Msg
	rec  []<-chan struct{}
	kick chan struct{}
}

func newRecorder() *recorder { return &recorder{kick: make(chan struct{}, 1)} }

func (r *recorder) add(ups []store.SentUpdate, held []jetstream.Msg, rec []<-chan struct{}) {
	r.mu.Lock()
	r.ups, r.held, r.rec = append(r.ups, ups...), append(r.held, held...), append(r.rec, rec...)
	r.mu.Unlock()
	signal(r.kick)
}

func (r *recorder) take() ([]store.SentUpdate, []jetstream.Msg, []<-chan struct{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ups, held, rec := r.ups, r.held, r.rec
	r.ups, r.held, r.rec = nil, nil, nil
	return ups, held, rec
}

// recordLoop commits what the recorder gathered, receiptLinger after the
// first of it came, until ctx ends; then what is left, so that a clean
// stop leaves no receipt to be delivered again.
func (h *Hub) recordLoop(ctx context.Context, r *recorder) {
	for ctx.Err() == nil {
		select {
		case <-r.kick:
			sleepCtx(ctx, receiptLinger)
		case <-ctx.Done():
		}
		rctx, cancel := ctx, context.CancelFunc(func() {})
		if ctx.Err() != nil {
			rctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), stopTimeout)
		}
		if ups, held, rec := r.take(); len(ups) > 0 {
			h.recordReceipts(rctx, ups, held, rec)
		}
		cancel()
	}
}

// recordReceipts commits the moves ups once the rows are there (their
// commits, rec, may still be under way when the receipts come back), and
// acks the receipts held once that is done.
func (h *Hub) recordReceipts(ctx context.Context, ups []store.SentUpdate, held []jetstream.Msg, rec []<-chan struct{}) {
	for _, ch := range rec {
		select {
		case <-ch:
		case <-ctx.Done():
		}
	}
	for i, err := range h.opts.Outbox.UpdateSentBatch(ctx, ups) {
		jm := held[i]
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			h.log.Warn("cannot record a receipt", slog.String("hub_id", ups[i].HubID), slog.Any("err", err))
			h.settleMsg(jm, func() error { return jm.NakWithDelay(retryDelay) })
			continue
		}
		h.settleMsg(jm, jm.Ack)
		h.notify(ups[i].HubID)
	}
}

// receiptUpdate reads one receipt: the move it makes of a sent message,
// the state that message had, and, while its row is still being
// committed, a channel closed once it is; if the receipt comes from the
// host it was sent to. Otherwise it settles the receipt itself and
// returns false. A message in flight is known without reading its row.
func (h *Hub) receiptUpdate(ctx context.Context, jm jetstream.Msg) (store.SentUpdate, apitype.SentState, <-chan struct{}, bool) {
	fromTok, fromHost, err := subjectHost(jm.Subject())
	if err != nil {
		h.settleMsg(jm, jm.Term)
		return store.SentUpdate{}, "", nil, false
	}
	r, err := hubwire.DecodeReceipt(jm.Data())
	if err != nil {
		h.log.Warn("malformed hub receipt", slog.String("from_host", fromHost), slog.Any("err", err))
		h.settleMsg(jm, jm.Term)
		return store.SentUpdate{}, "", nil, false
	}
	var (
		host     string
		created  time.Time
		was      apitype.SentState
		recorded <-chan struct{}
	)
	if fl, ok := h.flights.lookup(r.ID); ok {
		host, created, was, recorded = fl.host, fl.created, fl.told, fl.recorded
		if was == "" {
			was = apitype.SentSent
		}
	} else {
		row, err := h.opts.Outbox.SentByHubID(ctx, r.ID)
		if errors.Is(err, store.ErrNotFound) {
			h.log.Debug("receipt for a message this host did not send", slog.String("hub_id", r.ID), slog.String("from_host", fromHost))
			h.settleMsg(jm, jm.Ack)
			return store.SentUpdate{}, "", nil, false
		}
		if err != nil {
			h.log.Warn("cannot read a sent message for its receipt", slog.String("hub_id", r.ID), slog.Any("err", err))
			h.settleMsg(jm, func() error { return jm.NakWithDelay(retryDelay) })
			return store.SentUpdate{}, "", nil, false
		}
		host, created, was = row.Host, row.Created, row.State
	}
	if hubwire.SubjectToken(host) != fromTok {
		// Only the recipient's host can say what became of a message.
		h.log.Warn("receipt from a host the message was not sent to",
			slog.String("hub_id", r.ID), slog.String("from_host", fromHost), slog.String("host", host))
		h.settleMsg(jm, jm.Ack)
		return store.SentUpdate{}, "", nil, false
	}
	state, detail := apitype.SentDelivered, r.Detail
	switch r.State {
	case hubwire.ReceiptRead:
		state = apitype.SentRead
	case hubwire.ReceiptExpired:
		state = apitype.SentExpired
	case hubwire.ReceiptRefused:
		state = apitype.SentFailed
		if detail == "" {
			detail = "refused"
		}
	}
	// The receipt's time is the other host's clock: kept when it is
	// plausible, else this host's.
	at, now := r.At, h.now()
	if at.After(now) || at.Before(created) {
		at = now
	}
	return store.SentUpdate{HubID: r.ID, State: state, At: at, Detail: detail}, was, recorded, true
}

// settleMsg acks, naks or terms; if that fails (the connection dropped)
// the hub redelivers after AckWait, which the handlers are ready for.
func (h *Hub) settleMsg(jm jetstream.Msg, how func() error) {
	if err := how(); err != nil {
		h.log.Debug("cannot settle a hub message", slog.String("subject", jm.Subject()), slog.Any("err", err))
	}
}
