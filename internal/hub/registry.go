package hub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// maxKeysScanned bounds one registry listing: no name is held by more
// hosts, and no hub has more hosts, than this.
const maxKeysScanned = 100000

// lookupMemo remembers what the registry said about names, so that a
// send does not ask again within lookupFresh, and so that a message to a
// name looked up before can wait in the outbox while the hub is
// unreachable.
type lookupMemo struct {
	mu      sync.Mutex
	entries map[string]lookupAnswer // by name token
}

type lookupAnswer struct {
	host   string
	online bool
	at     time.Time
}

func (m *lookupMemo) get(tok string) (lookupAnswer, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.entries[tok]
	return a, ok
}

func (m *lookupMemo) put(tok string, a lookupAnswer) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.entries == nil {
		m.entries = map[string]lookupAnswer{}
	}
	m.entries[tok] = a
}

func (m *lookupMemo) forget(tok string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.entries, tok)
}

// Lookup returns the host the registry has for a messenger name and
// whether that host is online; when several hosts hold the name, an
// online one, else the one seen last. ErrUnknownName when no host holds
// it. While the hub cannot be reached it answers what it last learnt, or
// ErrNotConnected if it learnt nothing about the name.
func (h *Hub) Lookup(ctx context.Context, name string) (host string, online bool, err error) {
	if err := h.refusedErr(); err != nil {
		return "", false, err
	}
	tok := SubjectToken(name)
	now := h.now()
	memo, known := h.memo.get(tok)
	if known && now.Sub(memo.at) < lookupFresh && now.Sub(memo.at) >= 0 {
		return memo.host, memo.online, nil
	}
	s := h.current()
	if s != nil {
		qctx, cancel := s.link.bind(ctx)
		host, online, err = h.queryName(qctx, s, tok)
		cancel()
		switch {
		case err == nil:
			h.memo.put(tok, lookupAnswer{host: host, online: online, at: now})
			return host, online, nil
		case errors.Is(err, ErrUnknownName):
			h.memo.forget(tok)
			return "", false, fmt.Errorf("%w: %q", ErrUnknownName, name)
		case ctx.Err() != nil:
			return "", false, err
		}
		h.log.Debug("registry lookup failed", slog.String("name", name), slog.Any("err", err))
	}
	if known {
		return memo.host, memo.online, nil
	}
	// Nothing looked up since start: where this host last sent to the
	// name is the registry's answer then, so that a daemon restarted
	// during an outage still queues for the names it writes to.
	if host, serr := h.opts.Outbox.SentHost(ctx, name); serr == nil {
		return host, false, nil
	}
	if err == nil {
		return "", false, fmt.Errorf("hub: looking up %q: %w", name, ErrNotConnected)
	}
	return "", false, fmt.Errorf("hub: looking up %q: %w: %w", name, ErrNotConnected, err)
}

// queryName asks the registry which hosts hold the name whose token is
// nameTok and picks one.
func (h *Hub) queryName(ctx context.Context, s *session, nameTok string) (string, bool, error) {
	var holders []string
	err := scanKeys(ctx, s.namesStream, BucketNames, "*."+nameTok, func(key string, _ []byte) {
		if hostTok, _, ok := strings.Cut(key, "."); ok {
			if _, err := NameFromToken(hostTok); err == nil {
				holders = append(holders, hostTok)
			}
		}
	})
	if err != nil {
		return "", false, err
	}
	if len(holders) == 0 {
		return "", false, ErrUnknownName
	}
	slices.Sort(holders)
	now := h.now()
	var best HostRecord
	bestTok, bestOnline := "", false
	for _, hostTok := range holders {
		rec, err := h.hostRecord(ctx, s, hostTok)
		if err != nil {
			return "", false, err
		}
		on := isOnline(rec, now)
		if bestTok == "" || on && !bestOnline || on == bestOnline && rec.Seen.After(best.Seen) {
			best, bestTok, bestOnline = rec, hostTok, on
		}
	}
	host, err := NameFromToken(bestTok)
	if err != nil {
		return "", false, err
	}
	return host, bestOnline, nil
}

// hostRecord reads a host's presence; a host that never announced itself
// has the zero record (offline, never seen).
func (h *Hub) hostRecord(ctx context.Context, s *session, hostTok string) (HostRecord, error) {
	e, err := s.hosts.Get(ctx, hostTok)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return HostRecord{}, nil
	}
	if err != nil {
		return HostRecord{}, fmt.Errorf("hub: reading host %s: %w", hostTok, err)
	}
	rec, err := DecodeHostRecord(e.Value())
	if err != nil {
		h.log.Debug("malformed host record", slog.String("host", hostTok), slog.Any("err", err))
		return HostRecord{}, nil
	}
	return rec, nil
}

func isOnline(rec HostRecord, now time.Time) bool {
	return rec.Online && now.Sub(rec.Seen) < onlineWindow
}

// scanKeys calls fn with each live key of bucket matching pattern (a
// subject pattern relative to the bucket) and its value, in stream
// order. It reads the bucket's stream message by message (a direct get
// of the next message on the subject): a key watch would need a
// consumer, which hosts may not create.
func scanKeys(ctx context.Context, str jetstream.Stream, bucket, pattern string, fn func(key string, value []byte)) error {
	prefix := "$KV." + bucket + "."
	filter := prefix + pattern
	seq := uint64(1)
	for range maxKeysScanned {
		m, err := str.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(filter))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("hub: listing %s: %w", bucket, err)
		}
		seq = m.Sequence + 1
		switch m.Header.Get("KV-Operation") {
		case "DEL", "PURGE":
			continue
		}
		if key, ok := strings.CutPrefix(m.Subject, prefix); ok {
			fn(key, m.Data)
		}
	}
	return fmt.Errorf("hub: listing %s: more than %d keys", bucket, maxKeysScanned)
}

// hostsOnline lists the hosts the registry has online, sorted.
func (h *Hub) hostsOnline(ctx context.Context, s *session) ([]string, error) {
	now := h.now()
	out := []string{}
	err := scanKeys(ctx, s.hostsStream, BucketHosts, "*", func(key string, value []byte) {
		host, err := NameFromToken(key)
		if err != nil {
			return
		}
		if rec, err := DecodeHostRecord(value); err == nil && isOnline(rec, now) {
			out = append(out, host)
		}
	})
	slices.Sort(out)
	return out, err
}

// announce keeps this host's names and presence in the registry: both on
// connect and reconnect, the names again when they change, the presence
// every heartbeat.
func (h *Hub) announce(ctx context.Context, s *session) {
	t := time.NewTicker(heartbeat)
	defer t.Stop()
	namesDue, presenceDue := true, true
	for {
		changed := s.link.changedCh()
		if s.link.isUp() {
			if namesDue {
				if err := h.putNames(ctx, s); err != nil {
					if ctx.Err() != nil {
						return
					}
					h.log.Warn("cannot register this host's names on the hub", slog.Any("err", err))
				} else {
					namesDue = false
				}
			}
			if presenceDue {
				if err := h.putPresence(ctx, s, true); err != nil {
					if ctx.Err() != nil {
						return
					}
					h.log.Warn("cannot announce this host on the hub", slog.Any("err", err))
				} else {
					presenceDue = false
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			presenceDue = true
		case <-h.namesChanged:
			namesDue = true
		case <-changed:
			// Back after a break: the hub may have lost what it had
			// (another cluster, a wiped store), so say it all again.
			namesDue, presenceDue = true, true
		}
	}
}

// putNames writes a key for each of this host's names and deletes the
// keys of the names it no longer has.
func (h *Hub) putNames(ctx context.Context, s *session) error {
	want := map[string]string{}
	for _, n := range h.opts.Names() {
		if nameProblem(n) == "" {
			want[SubjectToken(n)] = strings.ToUpper(n)
		}
	}
	var stale []string
	err := scanKeys(ctx, s.namesStream, BucketNames, h.hostTok+".*", func(key string, _ []byte) {
		nameTok := key[len(h.hostTok)+1:]
		if _, keep := want[nameTok]; !keep {
			stale = append(stale, nameTok)
		}
	})
	if err != nil {
		return err
	}
	for nameTok, name := range want {
		b, err := EncodeNameRecord(NameRecord{Host: h.opts.HostName, Name: name})
		if err != nil {
			return err
		}
		if _, err := s.names.Put(ctx, h.hostTok+"."+nameTok, b); err != nil {
			return fmt.Errorf("hub: registering name %q: %w", name, err)
		}
	}
	for _, nameTok := range stale {
		if err := s.names.Delete(ctx, h.hostTok+"."+nameTok); err != nil {
			return fmt.Errorf("hub: dropping name %s: %w", nameTok, err)
		}
	}
	return nil
}

func (h *Hub) putPresence(ctx context.Context, s *session, online bool) error {
	b, err := EncodeHostRecord(HostRecord{Host: h.opts.HostName, Domain: h.opts.Domain, Online: online, Seen: h.now()})
	if err != nil {
		return err
	}
	if _, err := s.hosts.Put(ctx, h.hostTok, b); err != nil {
		return fmt.Errorf("hub: announcing host: %w", err)
	}
	return nil
}
