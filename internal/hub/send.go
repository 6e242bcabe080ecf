package hub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/netsend/messenger/internal/apitype"
	"github.com/netsend/messenger/internal/hubwire"
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
	// LocalUser is the local account sending, kept with the sent row.
	LocalUser string
}

// SendResult is what became of a message Send accepted.
type SendResult struct {
	// Sent is the row kept for it: State is queued (the hub has not
	// taken it yet) or sent; Host is the recipient's host.
	Sent apitype.Sent `json:"sent"`
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
	row := apitype.Sent{
		HubID: hubwire.NewID(), To: req.To, From: req.From, Text: req.Text,
		Created: now, Updated: now, State: apitype.SentQueued, LocalUser: req.LocalUser,
	}
	if req.Expires > 0 {
		row.Expires = now.Add(req.Expires)
	}
	env, err := hubwire.EncodeEnvelope(hubwire.Envelope{ID: row.HubID, To: row.To, From: row.From, Text: row.Text, Sent: row.Created, Expires: row.Expires})
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
	h.active.Add(1)
	defer h.active.Add(-1)
	p := &pendingSend{row: row, out: outgoing{hubID: row.HubID, subject: h.msgSubject(row.Host), body: env}, done: make(chan error, 1)}
	h.submit(p)
	select {
	case err := <-p.done:
		if err != nil {
			return SendResult{}, fmt.Errorf("hub: sending: %w", err)
		}
	case <-ctx.Done():
		// The publisher still records it; what became of it is in
		// `messenger sent`.
		return SendResult{}, ctx.Err()
	}
	return SendResult{Sent: p.row, Online: online}, nil
}

// pendingSend is a Send waiting for the publisher.
type pendingSend struct {
	row  apitype.Sent // set by the publisher once recorded
	out  outgoing
	done chan error // buffered: the publisher never waits for a Send
}

// submit hands p to the publisher. The first Send to find none running
// becomes it: it publishes what waits — its own and whatever came
// meanwhile — as one batch, and if more came while it did, passes the
// work on to a goroutine of its own, so that no Send serves others for
// long.
func (h *Hub) submit(p *pendingSend) {
	h.sendMu.Lock()
	h.pending = append(h.pending, p)
	lead := !h.publishing
	h.publishing = true
	h.sendMu.Unlock()
	if lead {
		h.publishPending(false)
	}
}

// publishPending publishes the waiting Sends a batch at a time; unless
// carryOn, it returns after one batch and leaves the rest to a new
// goroutine.
func (h *Hub) publishPending(carryOn bool) {
	for {
		h.sendMu.Lock()
		n := min(len(h.pending), outboxBatch)
		if n == 0 {
			h.publishing = false
			h.sendMu.Unlock()
			return
		}
		batch := slices.Clone(h.pending[:n])
		h.pending = slices.Delete(h.pending, 0, n)
		h.sendMu.Unlock()
		h.publishBatch(batch)
		if !carryOn {
			go h.publishPending(true)
			return
		}
	}
}

// publishBatch records batch in the outbox and has the hub take it. When
// the hub is up and nothing older waits in the outbox, the batch is
// published first and recorded as sent (or failed) in one commit: one
// round trip and one sync for the lot. Otherwise it is recorded queued,
// behind what waits, for the outbox loop. A daemon stopped between the
// publish and the commit has its messages delivered all the same, with
// no row for their receipts; their Sends never returned, so no caller
// was told they were accepted.
//
// Once the hub has taken every message of the batch (or closed it), the
// commit goes on in a goroutine of its own and the next batch is
// published meanwhile: the order of rows matters only in the outbox,
// and none of these goes there. A batch with a row left queued is
// committed before the next one is looked at, so that the outbox keeps
// the order its rows were sent in.
func (h *Hub) publishBatch(batch []*pendingSend) {
	// Not any Send's context: the batch is theirs together. The record
	// is not bounded by the publish's time, so that a slow hub cannot
	// lose what it has not taken.
	ctx := context.Background()
	h.pubMu.Lock()
	locked := true
	unlock := func() {
		if locked {
			locked = false
			h.pubMu.Unlock()
		}
	}
	defer unlock()
	waiting := 0
	if !h.outboxEmpty {
		n, err := h.opts.Outbox.CountSent(ctx, apitype.SentQueued)
		if err != nil {
			for _, p := range batch {
				p.done <- fmt.Errorf("reading the outbox: %w", err)
			}
			return
		}
		waiting, h.outboxEmpty = n, n == 0
	}
	// Before the publish: a receipt can come back before the commit.
	recorded := h.flights.add(batch)
	if s := h.current(); s != nil && waiting == 0 {
		h.publishFirst(ctx, s, batch)
	}
	// The outbox's bound holds for what stays queued.
	room := h.opts.OutboxMax - waiting
	keep := make([]*pendingSend, 0, len(batch))
	var closed []string // rows no receipt will name
	for _, p := range batch {
		switch p.row.State {
		case apitype.SentQueued:
			if room <= 0 {
				p.done <- fmt.Errorf("%w: %d messages wait for the hub", ErrOutboxFull, h.opts.OutboxMax)
				closed = append(closed, p.row.HubID)
				continue
			}
			room--
		case apitype.SentFailed, apitype.SentExpired:
			closed = append(closed, p.row.HubID)
		}
		keep = append(keep, p)
	}
	h.flights.drop(closed)
	rows := make([]*apitype.Sent, len(keep))
	queued := false
	for i, p := range keep {
		rows[i] = &p.row
		queued = queued || p.row.State == apitype.SentQueued
	}
	if !queued {
		unlock()
		h.queueRows(rowBatch{keep: keep, rows: rows, recorded: recorded})
		return
	}
	h.outboxEmpty = false
	h.record(ctx, keep, rows, recorded, true)
}

// record commits the rows of a batch and answers their Sends; recorded
// is closed once the commit is done.
func (h *Hub) record(ctx context.Context, keep []*pendingSend, rows []*apitype.Sent, recorded chan struct{}, queued bool) {
	defer close(recorded)
	for i, err := range h.opts.Outbox.AddSentBatch(ctx, rows) {
		p := keep[i]
		if err != nil && p.row.State != apitype.SentQueued {
			// The hub has it and will deliver it: that is the answer;
			// only its receipts find no row.
			h.log.Error("a message the hub took was not recorded", slog.String("hub_id", p.row.HubID), slog.Any("err", err))
			err = nil
		}
		p.done <- err
	}
	if queued {
		signal(h.kick)
	}
}

// publishFirst publishes batch and sets each row's state to what the hub
// made of it: sent, failed (no hub would take it) or, when the hub did
// not answer, still queued. Its messages come from concurrent Sends, so
// no order among them is promised: they go out without waiting for
// each other, and the hub answers each (an atomic batch would cost the
// hub a staging store per batch, and its order is not needed here).
func (h *Hub) publishFirst(ctx context.Context, s *session, batch []*pendingSend) {
	outs := make([]outgoing, len(batch))
	byID := make(map[string]*pendingSend, len(batch))
	for i, p := range batch {
		outs[i] = p.out
		byID[p.out.hubID] = p
	}
	pctx, unbind := s.link.bind(ctx)
	defer unbind()
	pctx, cancel := context.WithTimeout(pctx, publishTimeout)
	defer cancel()
	res, err := h.publishUnordered(pctx, s, outs)
	now := h.now()
	for _, id := range res.took {
		byID[id].row.State, byID[id].row.Updated = apitype.SentSent, now
	}
	for _, c := range res.closed {
		p := byID[c.hubID]
		p.row.State, p.row.Updated, p.row.Detail = c.state, now, c.detail
	}
	if err != nil {
		h.log.Debug("messages queued for the hub", slog.Int("messages", len(batch)-len(res.took)-len(res.closed)), slog.Any("err", err))
	}
}

// publishUnordered hands msgs to the hub all at once and waits for its
// answer to each: those it took, those no hub would take (closed), and
// an error for the rest, which wait in the outbox.
func (h *Hub) publishUnordered(pctx context.Context, s *session, msgs []outgoing) (publishOutcome, error) {
	var res publishOutcome
	if len(msgs) == 1 {
		return h.publish(pctx, s, msgs)
	}
	futs := make([]jetstream.PubAckFuture, len(msgs))
	var errs []error
	for i, o := range msgs {
		m := nats.NewMsg(o.subject)
		m.Data = o.body
		m.Header.Set(jetstream.MsgIDHeader, o.hubID)
		m.Header.Set(jetstream.ExpectedStreamHeader, hubwire.StreamMsg)
		f, err := s.js.PublishMsgAsync(m)
		if err != nil {
			errs = append(errs, fmt.Errorf("hub: publishing %s: %w", o.hubID, err))
			continue
		}
		futs[i] = f
	}
	for i, f := range futs {
		if f == nil {
			continue
		}
		o := msgs[i]
		select {
		case <-f.Ok():
			res.took = append(res.took, o.hubID)
		case err := <-f.Err():
			if errors.Is(err, jetstream.ErrStreamMessageExceedsMaximum) {
				res.closed = append(res.closed, closedRow{o.hubID, apitype.SentFailed, "too large for the hub"})
				continue
			}
			errs = append(errs, fmt.Errorf("hub: publishing %s: %w", o.hubID, err))
		case <-pctx.Done():
			errs = append(errs, fmt.Errorf("hub: publishing %s: %w", o.hubID, pctx.Err()))
		}
	}
	return res, errors.Join(errs...)
}

// msgSubject is where a message to host goes.
func (h *Hub) msgSubject(host string) string {
	return hubwire.PrefixMsg + hubwire.SubjectToken(host) + "." + h.hostTok
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
	id := hubwire.NewID()
	b, err := hubwire.EncodeEnvelope(hubwire.Envelope{ID: id, To: "*", From: from, Text: text, Sent: h.now()})
	if err != nil {
		return fmt.Errorf("hub: broadcasting: %w", err)
	}
	subject := hubwire.PrefixBcast + hubwire.SubjectToken(domain) + "." + h.hostTok
	if _, err := s.js.Publish(ctx, subject, b, jetstream.WithMsgID(id), jetstream.WithExpectStream(hubwire.StreamBcast)); err != nil {
		return fmt.Errorf("hub: broadcasting to %q: %w", domain, err)
	}
	return nil
}

func checkInput(field, v string) error {
	if why := hubwire.NameProblem(v); why != "" {
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
		if len(rows) > 0 {
			h.outboxEmpty = false
		}
		fresh := slices.DeleteFunc(rows, func(r apitype.Sent) bool { return r.ID <= after && r.ID != 0 })
		if len(fresh) == 0 {
			return published, nil
		}
		pctx, cancel := s.link.bind(ctx)
		res, err := h.publishRows(pctx, s, fresh)
		cancel()
		now := h.now()
		for _, c := range res.closed {
			h.settle(ctx, c.hubID, c.state, now, c.detail)
		}
		h.markSent(ctx, res.took)
		for _, id := range res.took {
			published[id] = true
		}
		if err != nil {
			return published, err
		}
		after = fresh[len(fresh)-1].ID
		if len(rows) < outboxBatch {
			return published, nil
		}
	}
}

// outgoing is a queued row ready to publish.
type outgoing struct {
	hubID   string
	subject string
	body    []byte
}

// publishOutcome is what the hub made of a batch: the ids it took, in
// order, and the messages no hub will ever take (expired, unencodable,
// too large), to be closed rather than hold the outbox up.
type publishOutcome struct {
	took   []string
	closed []closedRow
}

type closedRow struct {
	hubID  string
	state  apitype.SentState
	detail string
}

// publishRows hands queued rows to the hub, in their order, as publish
// does. pctx is bound to the connection.
func (h *Hub) publishRows(pctx context.Context, s *session, rows []apitype.Sent) (publishOutcome, error) {
	var res publishOutcome
	now := h.now()
	ready := make([]outgoing, 0, len(rows))
	for _, r := range rows {
		if !r.Expires.IsZero() && !now.Before(r.Expires) {
			res.closed = append(res.closed, closedRow{r.HubID, apitype.SentExpired, "expired in the outbox before the hub took it"})
			continue
		}
		b, err := hubwire.EncodeEnvelope(hubwire.Envelope{ID: r.HubID, To: r.To, From: r.From, Text: r.Text, Sent: r.Created, Expires: r.Expires})
		if err != nil {
			res.closed = append(res.closed, closedRow{r.HubID, apitype.SentFailed, "cannot be sent: " + err.Error()})
			continue
		}
		ready = append(ready, outgoing{hubID: r.HubID, subject: h.msgSubject(r.Host), body: b})
	}
	more, err := h.publish(pctx, s, ready)
	res.took, res.closed = more.took, append(res.closed, more.closed...)
	return res, err
}

// publish hands msgs to the hub in their order: as one atomic batch when
// there are several and the hub takes batches, else (or when it refuses
// the batch) one at a time. On an error the messages not taken wait for
// the next try.
func (h *Hub) publish(pctx context.Context, s *session, msgs []outgoing) (publishOutcome, error) {
	var res publishOutcome
	if len(msgs) > 1 && !h.noAtomic.Load() {
		err := h.publishAtomic(pctx, s, msgs)
		var apiErr *jetstream.APIError
		switch {
		case err == nil:
			for _, o := range msgs {
				res.took = append(res.took, o.hubID)
			}
			return res, nil
		case !errors.As(err, &apiErr):
			// Lost on the way, or no answer: nothing is known to be
			// stored, and what was is kept once when published again.
			return res, err
		case apiErr.ErrorCode == atomicPublishDisabled:
			h.noAtomic.Store(true)
		}
		// The hub refused the batch as a whole (one of its messages was
		// stored before, too large, too many batches in flight): one at
		// a time tells which, and keeps the order.
		h.log.Debug("hub refused a batch; publishing it message by message", slog.Any("err", err))
	}
	for _, o := range msgs {
		_, err := s.js.Publish(pctx, o.subject, o.body, jetstream.WithMsgID(o.hubID), jetstream.WithExpectStream(hubwire.StreamMsg))
		if errors.Is(err, jetstream.ErrStreamMessageExceedsMaximum) {
			// The hub's limit is lower than ours: retrying cannot help.
			res.closed = append(res.closed, closedRow{o.hubID, apitype.SentFailed, "too large for the hub"})
			continue
		}
		if err != nil {
			return res, fmt.Errorf("hub: publishing %s: %w", o.hubID, err)
		}
		res.took = append(res.took, o.hubID)
	}
	return res, nil
}

// The headers of JetStream's atomic batches, and the error code of a
// stream that takes none (nats-server's ADR-50).
const (
	batchIDHeader         = "Nats-Batch-Id"
	batchSequenceHeader   = "Nats-Batch-Sequence"
	batchCommitHeader     = "Nats-Batch-Commit"
	atomicPublishDisabled = 10174
)

// publishAtomic publishes msgs as one atomic batch: the hub stores all of
// them, in order, or none. So the order of the outbox holds even when a
// stream leader changes halfway, at one round trip per batch instead of
// one per message. Only the commit is answered; a message of the batch
// that went missing makes the hub refuse the commit.
func (h *Hub) publishAtomic(ctx context.Context, s *session, msgs []outgoing) error {
	batch := hubwire.NewID()
	for i, o := range msgs {
		m := nats.NewMsg(o.subject)
		m.Data = o.body
		m.Header.Set(jetstream.MsgIDHeader, o.hubID)
		m.Header.Set(jetstream.ExpectedStreamHeader, hubwire.StreamMsg)
		m.Header.Set(batchIDHeader, batch)
		m.Header.Set(batchSequenceHeader, strconv.Itoa(i+1))
		if i < len(msgs)-1 {
			if err := s.nc.PublishMsg(m); err != nil {
				return fmt.Errorf("hub: publishing batch %s: %w", batch, err)
			}
			continue
		}
		m.Header.Set(batchCommitHeader, "1")
		if _, err := s.js.PublishMsg(ctx, m); err != nil {
			return fmt.Errorf("hub: committing batch %s of %d: %w", batch, len(msgs), err)
		}
	}
	return nil
}

// markSent records that the hub took the rows ids. A row left queued
// (the store failed) is published again by the next flush, which the hub
// recognises as the same message.
func (h *Hub) markSent(ctx context.Context, ids []string) {
	if len(ids) == 0 {
		return
	}
	now := h.now()
	ups := make([]store.SentUpdate, len(ids))
	for i, id := range ids {
		ups[i] = store.SentUpdate{HubID: id, State: apitype.SentSent, At: now}
	}
	for i, err := range h.opts.Outbox.UpdateSentBatch(ctx, ups) {
		if err != nil {
			h.log.Warn("cannot mark a message sent", slog.String("hub_id", ids[i]), slog.Any("err", err))
		}
	}
}

// settle moves a row to a final state and wakes whoever waits for it.
func (h *Hub) settle(ctx context.Context, hubID string, state apitype.SentState, at time.Time, detail string) {
	if err := h.opts.Outbox.UpdateSent(ctx, hubID, state, at, detail); err != nil {
		h.log.Warn("cannot update a sent message", slog.String("hub_id", hubID), slog.String("state", string(state)), slog.Any("err", err))
		return
	}
	h.notify(hubID)
}

// outboxLoop publishes what Send could not, then the receipts MarkRead
// could not: on reconnect, when kicked, and every outboxTick in case
// neither came.
func (h *Hub) outboxLoop(ctx context.Context, s *session) {
	t := time.NewTicker(outboxTick)
	defer t.Stop()
	for {
		if s.link.isUp() {
			if _, err := h.flush(ctx); err != nil && ctx.Err() == nil {
				h.log.Debug("outbox not flushed", slog.Any("err", err))
			}
			paid, err := h.payOwed(ctx)
			if paid > 0 {
				h.log.Info("sent receipts kept while the hub was away", slog.Int("receipts", paid))
			}
			if err != nil && ctx.Err() == nil {
				h.log.Debug("owed receipts not all sent", slog.Any("err", err))
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
func finished(st apitype.SentState) bool {
	switch st {
	case apitype.SentDelivered, apitype.SentRead, apitype.SentExpired, apitype.SentFailed:
		return true
	}
	return false
}

// WaitDelivered waits until the message hubID is delivered (or read,
// expired or failed) and returns that state. When ctx ends first it
// returns the state then (queued or sent) with ctx's error.
//
// A message in flight is waited for without reading its row: its
// receipt tells the waiter, or told the flight before the wait began.
// Any other wake (a commit, the outbox loop settling it) reads the row.
func (h *Hub) WaitDelivered(ctx context.Context, hubID string) (apitype.SentState, error) {
	h.active.Add(1)
	defer h.active.Add(-1)
	state, read := apitype.SentState(""), false
	for {
		// Listen before looking, so that a receipt between the two is
		// not missed; a receipt takes the flight before it tells.
		w := h.listen(hubID)
		inFlight, told := false, apitype.SentState("")
		if !read {
			inFlight, told = h.flights.waitState(hubID)
		}
		if told != "" {
			h.unlisten(hubID, w)
			return told, nil
		}
		if !inFlight {
			row, err := h.opts.Outbox.SentByHubID(ctx, hubID)
			if err != nil {
				h.unlisten(hubID, w)
				return "", fmt.Errorf("hub: waiting for %s: %w", hubID, err)
			}
			if finished(row.State) {
				h.unlisten(hubID, w)
				return row.State, nil
			}
			state = row.State
		}
		read = true
		select {
		case <-w.ch:
			h.unlisten(hubID, w)
			if w.told != "" {
				return w.told, nil
			}
		case <-ctx.Done():
			h.unlisten(hubID, w)
			if state == "" {
				if row, err := h.opts.Outbox.SentByHubID(context.WithoutCancel(ctx), hubID); err == nil {
					state = row.State
				}
			}
			return state, ctx.Err()
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
func (h *Hub) notify(hubID string) { h.tell(hubID, "") }

// tell wakes the waiters of hubID with the final state a receipt just
// brought, which they take without looking at the row ("" makes them
// look).
func (h *Hub) tell(hubID string, state apitype.SentState) {
	h.waitMu.Lock()
	defer h.waitMu.Unlock()
	if w := h.waiters[hubID]; w != nil {
		w.told = state
		close(w.ch)
		delete(h.waiters, hubID) // whoever listens next gets a fresh one
	}
}

// MarkRead sends the read receipt for a message that came through the
// hub to the host it came from. Messages from elsewhere, and broadcasts,
// need none: it returns nil for them.
//
// The receipt is owed (kept in the Outbox) before it is published, and
// paid (deleted) once the hub took it; what is still owed, the hub being
// away or the publish failing, the outbox loop pays when the hub is back.
// Keeping it only after a failed publish would be one commit cheaper per
// read, but would lose it to a daemon stopped mid-publish. A receipt
// published twice (by MarkRead and the loop, or again after a crash
// between publish and delete) is kept once by the hub, and counts once at
// the sender.
//
// It returns nil once the receipt is sent or owed; an error when it is
// neither: invalid, or the Outbox failed and the hub did not take it.
func (h *Hub) MarkRead(ctx context.Context, m message.Message) error {
	if m.Transport != message.TransportHub || m.HubID == "" || m.Verified == "" || m.To == "*" {
		return nil
	}
	r := store.OwedReceipt{HubID: m.HubID, State: apitype.SentRead, Host: m.Verified, To: m.To, At: h.now()}
	owed := h.opts.Outbox.OweReceipt(ctx, r)
	if errors.Is(owed, store.ErrInvalid) {
		return fmt.Errorf("hub: read receipt for %s: %w", m.HubID, owed)
	}
	_, err := h.payReceipts(ctx, []store.OwedReceipt{r})
	switch {
	case err == nil:
		return nil
	case owed == nil:
		h.log.Info("read receipt kept until the hub takes it", slog.String("hub_id", m.HubID),
			slog.String("to_host", m.Verified), slog.Any("err", err))
		return nil
	default:
		return fmt.Errorf("hub: read receipt for %s neither kept (%w) nor sent: %w", m.HubID, owed, err)
	}
}

// receiptStates are the receipts that can be owed, as the hub says them.
var receiptStates = map[apitype.SentState]hubwire.ReceiptState{apitype.SentRead: hubwire.ReceiptRead}

// payReceipts publishes owed receipts to their hosts, waits for the hub,
// and deletes from the Outbox those it took, returning how many. One no
// hub would take is deleted too, with a warning, so that it is not owed
// for ever. The error says what is left owed, for a later round.
func (h *Hub) payReceipts(ctx context.Context, owed []store.OwedReceipt) (int, error) {
	s := h.current()
	if s == nil {
		return 0, ErrNotConnected
	}
	bctx, unbind := s.link.bind(ctx)
	defer unbind()
	pctx, cancel := context.WithTimeout(bctx, receiptTimeout)
	defer cancel()
	var (
		done []store.ReceiptKey
		errs []error
	)
	futs := make([]jetstream.PubAckFuture, len(owed))
	for i, o := range owed {
		r := hubwire.Receipt{ID: o.HubID, State: receiptStates[o.State], To: o.To, At: o.At}
		b, err := hubwire.EncodeReceipt(r)
		if err != nil {
			h.log.Warn("dropping an owed receipt no hub would take", slog.String("hub_id", o.HubID),
				slog.String("to_host", o.Host), slog.Any("err", err))
			done = append(done, o.Key())
			continue
		}
		subject, opts := h.receiptPublish(hubwire.SubjectToken(o.Host), r)
		if futs[i], err = s.js.PublishAsync(subject, b, opts...); err != nil {
			errs = append(errs, fmt.Errorf("hub: publishing the %s receipt for %s: %w", r.State, r.ID, err))
		}
	}
	paid := 0
	for i, f := range futs {
		if f == nil {
			continue
		}
		select {
		case <-f.Ok():
			done = append(done, owed[i].Key())
			paid++
		case err := <-f.Err():
			errs = append(errs, fmt.Errorf("hub: publishing the %s receipt for %s: %w", owed[i].State, owed[i].HubID, err))
		case <-pctx.Done():
			errs = append(errs, fmt.Errorf("hub: publishing the %s receipt for %s: %w", owed[i].State, owed[i].HubID, pctx.Err()))
		}
	}
	if err := h.opts.Outbox.PaidReceipts(ctx, done); err != nil {
		// Still owed, so paid again later: the hub keeps the receipt once.
		errs = append(errs, fmt.Errorf("hub: recording receipts paid: %w", err))
	}
	return paid, errors.Join(errs...)
}

// payOwed pays the receipts still owed, oldest first, a batch at a time,
// until none is owed or a batch leaves some owed (they wait for the next
// round); it returns how many the hub took.
func (h *Hub) payOwed(ctx context.Context) (int, error) {
	total := 0
	for {
		owed, err := h.opts.Outbox.OwedReceipts(ctx, outboxBatch)
		if err != nil {
			return total, fmt.Errorf("hub: reading the owed receipts: %w", err)
		}
		if len(owed) == 0 {
			return total, nil
		}
		paid, err := h.payReceipts(ctx, owed)
		total += paid
		// Stopping at a batch that was not all paid keeps this from
		// reading the same rows again and again.
		if err != nil || len(owed) < outboxBatch {
			return total, err
		}
	}
}

// receiptPublish is where a receipt to toHost goes and how.
func (h *Hub) receiptPublish(toHost string, r hubwire.Receipt) (string, []jetstream.PublishOpt) {
	return hubwire.PrefixRcpt + toHost + "." + h.hostTok,
		[]jetstream.PublishOpt{jetstream.WithMsgID(r.ID + "." + string(r.State)), jetstream.WithExpectStream(hubwire.StreamRcpt)}
}
