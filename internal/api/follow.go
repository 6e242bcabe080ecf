package api

// Follower lets a stream outside this package (the ntfy-style
// subscriptions of the ingest listener) read the hub as GET /v1/events
// does: at its own pace, finding in the store what it lagged past.
type Follower struct{ sub *subscription }

// Follow starts a stream at the next event; head is the highest message
// id committed before it, where a stream that replays nothing begins.
func (h *EventBus) Follow() (f *Follower, head int64) {
	sub, head := h.subscribe()
	return &Follower{sub: sub}, head
}

// Take appends to buf the events after the last one taken, up to
// cap(buf); see subscription.take for missed, wake and closed.
func (f *Follower) Take(buf []Event) (evs []Event, missed uint64, wake <-chan struct{}, closed bool) {
	return f.sub.take(buf)
}

// Close ends the stream's place in the hub.
func (f *Follower) Close() { f.sub.close() }

// Released reports whether e shows a message again under its old id (a
// release from the quarantine), which a stream sends although it is not
// above the last id it sent.
func (e Event) Released() bool { return e.released }
