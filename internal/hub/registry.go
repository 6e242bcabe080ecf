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

	"github.com/netsend/messenger/internal/hubwire"
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
// whether that host is online: the host that registered the name first
// among those still claiming it (nameOwner), else the one seen last.
// ErrUnknownName when no host holds it. While the hub cannot be reached
// it answers what it last learnt, or ErrNotConnected if it learnt
// nothing about the name.
func (h *Hub) Lookup(ctx context.Context, name string) (host string, online bool, err error) {
	if err := h.refusedErr(); err != nil {
		return "", false, err
	}
	tok := hubwire.SubjectToken(name)
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

// queryName asks the registry which host holds the name whose token is
// nameTok.
func (h *Hub) queryName(ctx context.Context, s *session, nameTok string) (string, bool, error) {
	c, err := nameOwner(ctx, s.namesStream, s.hosts, nameTok, h.now(), h.opts.claimLifetime)
	if err != nil {
		return "", false, err
	}
	host, err := hubwire.NameFromToken(c.hostTok)
	if err != nil {
		return "", false, err
	}
	return host, c.online, nil
}

// claimant is a host holding a name in the registry, as nameOwner
// judged it.
type claimant struct {
	hostTok string
	online  bool
}

// nameOwner picks, among the hosts holding the name whose token is
// nameTok, the one the name belongs to, as WINS would: the first to
// register it whose claim is still live. Order and liveness are the
// server's — a key's stream sequence, an entry's stored time — because
// whatever a host writes into a record (its "seen" time, say) is only
// its word, and a forged clock must not outrank the owner. A host keeps
// its key's sequence while its claim lives (putNames does not rewrite
// it), so a latecomer's key is always the younger. When no claim is
// live, the host that wrote its presence last gets the name, so that
// messages to it still queue where it was last. ErrUnknownName when no
// host holds it. now is the reader's clock: its skew from the server's
// only moves the lifetime's end a little, and no other host can move it.
func nameOwner(ctx context.Context, names jetstream.Stream, hosts jetstream.KeyValue, nameTok string, now time.Time, lifetime time.Duration) (claimant, error) {
	var holders []string // in stream order: the first registrant first
	err := scanKeys(ctx, names, hubwire.BucketNames, "*."+nameTok, func(key string, _ *jetstream.RawStreamMsg) {
		if hostTok, _, ok := strings.Cut(key, "."); ok {
			if _, err := hubwire.NameFromToken(hostTok); err == nil {
				holders = append(holders, hostTok)
			}
		}
	})
	if err != nil {
		return claimant{}, err
	}
	if len(holders) == 0 {
		return claimant{}, ErrUnknownName
	}
	var last claimant
	var lastAt time.Time
	for _, hostTok := range holders {
		p, err := readPresence(ctx, hosts, hostTok)
		if err != nil {
			return claimant{}, err
		}
		if p.live(now, lifetime) {
			return claimant{hostTok: hostTok, online: p.isOnline(now)}, nil
		}
		if last.hostTok == "" || p.at.After(lastAt) {
			last, lastAt = claimant{hostTok: hostTok}, p.at
		}
	}
	return last, nil
}

// presence is what the registry says of a host: whether it said it is
// online, and when, by the server's clock, it last said anything.
type presence struct {
	known  bool // the host has a record
	online bool
	at     time.Time
}

func (p presence) live(now time.Time, lifetime time.Duration) bool {
	return p.known && now.Sub(p.at) < lifetime
}

func (p presence) isOnline(now time.Time) bool {
	return p.online && now.Sub(p.at) < onlineWindow
}

// readPresence reads a host's record; a host that never announced itself
// is unknown. The record's own "seen" time is ignored: the host wrote
// it, and a time years ahead would keep it online for years.
func readPresence(ctx context.Context, hosts jetstream.KeyValue, hostTok string) (presence, error) {
	e, err := hosts.Get(ctx, hostTok)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return presence{}, nil
	}
	if err != nil {
		return presence{}, fmt.Errorf("hub: reading host %s: %w", hostTok, err)
	}
	return presenceOf(e.Value(), e.Created()), nil
}

// presenceOf is a host record's presence stored at serverTime. A record
// that does not decode still proves the host wrote it then, but not
// that it is online.
func presenceOf(value []byte, serverTime time.Time) presence {
	rec, err := hubwire.DecodeHostRecord(value)
	return presence{known: true, online: err == nil && rec.Online, at: serverTime}
}

// scanKeys calls fn with each live key of bucket matching pattern (a
// subject pattern relative to the bucket) and its stored message, in
// stream order. It reads the bucket's stream message by message (a direct get
// of the next message on the subject): a key watch would need a
// consumer, which hosts may not create.
func scanKeys(ctx context.Context, str jetstream.Stream, bucket, pattern string, fn func(key string, m *jetstream.RawStreamMsg)) error {
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
			fn(key, m)
		}
	}
	return fmt.Errorf("hub: listing %s: more than %d keys", bucket, maxKeysScanned)
}

// hostsOnline lists the hosts the registry has online, sorted.
func (h *Hub) hostsOnline(ctx context.Context, s *session) ([]string, error) {
	now := h.now()
	out := []string{}
	err := scanKeys(ctx, s.hostsStream, hubwire.BucketHosts, "*", func(key string, m *jetstream.RawStreamMsg) {
		host, err := hubwire.NameFromToken(key)
		if err != nil {
			return
		}
		if presenceOf(m.Data, m.Time).isOnline(now) {
			out = append(out, host)
		}
	})
	slices.Sort(out)
	return out, err
}

// announce keeps this host's names and presence in the registry: both on
// connect and reconnect, the names again when they change, the presence
// every heartbeat. Each heartbeat also puts back a name key the hub lost
// (an admin released it, a store was wiped) and checks which of this
// host's names another host holds.
func (h *Hub) announce(ctx context.Context, s *session) {
	t := time.NewTicker(h.opts.heartbeat)
	defer t.Stop()
	namesDue, presenceDue, claimsDue := true, true, true
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
			// After both: a claim is judged by the presence just written.
			if claimsDue && !namesDue && !presenceDue {
				if err := h.checkClaims(ctx, s); err != nil {
					if ctx.Err() != nil {
						return
					}
					h.log.Debug("cannot check this host's names on the hub", slog.Any("err", err))
				} else {
					claimsDue = false
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			namesDue, presenceDue, claimsDue = true, true, true
		case <-h.namesChanged:
			namesDue, claimsDue = true, true
		case <-changed:
			// Back after a break: the hub may have lost what it had
			// (another cluster, a wiped store), so say it all again.
			namesDue, presenceDue, claimsDue = true, true, true
		}
	}
}

// ownNames are this host's names the registry can hold, by token.
func (h *Hub) ownNames() map[string]string {
	want := map[string]string{}
	for _, n := range h.opts.Names() {
		if hubwire.NameProblem(n) == "" {
			want[hubwire.SubjectToken(n)] = strings.ToUpper(n)
		}
	}
	return want
}

// putNames writes a key for each of this host's names the registry lacks
// and deletes the keys of the names it no longer has. A key already there
// is left alone: its stream sequence is the age of the claim, and
// rewriting it would make an owner younger than a host claiming the name
// after it. Only when this host's claims have lapsed (no presence within
// the claim lifetime, by the hub's clock) are they all written anew,
// behind any host that claimed the names meanwhile.
func (h *Hub) putNames(ctx context.Context, s *session) error {
	want := h.ownNames()
	have := map[string]bool{}
	var stale []string
	err := scanKeys(ctx, s.namesStream, hubwire.BucketNames, h.hostTok+".*", func(key string, _ *jetstream.RawStreamMsg) {
		nameTok := key[len(h.hostTok)+1:]
		have[nameTok] = true
		if _, keep := want[nameTok]; !keep {
			stale = append(stale, nameTok)
		}
	})
	if err != nil {
		return err
	}
	if len(have) > 0 {
		p, err := readPresence(ctx, s.hosts, h.hostTok)
		if err != nil {
			return err
		}
		if !p.live(h.now(), h.opts.claimLifetime) {
			h.log.Info("this host's claims on the hub lapsed; registering its names again", slog.Time("last_presence", p.at))
			clear(have)
		}
	}
	for nameTok, name := range want {
		if have[nameTok] {
			continue
		}
		b, err := hubwire.EncodeNameRecord(hubwire.NameRecord{Host: h.opts.HostName, Name: name})
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

// checkClaims finds which of this host's names another host holds, and
// reports each change (a warning to the operator, Options.NameState).
func (h *Hub) checkClaims(ctx context.Context, s *session) error {
	want := h.ownNames()
	owners := map[string]string{} // name token to the other host holding it
	now := h.now()
	for nameTok := range want {
		c, err := nameOwner(ctx, s.namesStream, s.hosts, nameTok, now, h.opts.claimLifetime)
		if errors.Is(err, ErrUnknownName) {
			continue // not registered yet: putNames will
		}
		if err != nil {
			return err
		}
		if c.hostTok != h.hostTok {
			owner, err := hubwire.NameFromToken(c.hostTok)
			if err != nil {
				return err
			}
			owners[nameTok] = owner
		}
	}
	h.conflictMu.Lock()
	defer h.conflictMu.Unlock()
	for nameTok, owner := range owners {
		if h.conflicts[nameTok] == owner {
			continue
		}
		h.log.Warn("name conflict on the hub: another host registered this name first; messages to it go there",
			slog.String("name", want[nameTok]), slog.String("holder", owner))
		if _, was := h.conflicts[nameTok]; !was && h.opts.NameState != nil {
			h.opts.NameState(want[nameTok], true)
		}
		if h.conflicts == nil {
			h.conflicts = map[string]string{}
		}
		h.conflicts[nameTok] = owner
	}
	for nameTok := range h.conflicts {
		if _, still := owners[nameTok]; still {
			continue
		}
		delete(h.conflicts, nameTok)
		name, ours := want[nameTok]
		if !ours {
			continue // no longer this host's name: nothing to clear
		}
		h.log.Info("name is this host's on the hub again", slog.String("name", name))
		if h.opts.NameState != nil {
			h.opts.NameState(name, false)
		}
	}
	return nil
}

// NameConflicts lists this host's names that another host holds on the
// hub, as the last check found, sorted.
func (h *Hub) NameConflicts() []string {
	h.conflictMu.Lock()
	defer h.conflictMu.Unlock()
	out := make([]string, 0, len(h.conflicts))
	for nameTok := range h.conflicts {
		if n, err := hubwire.NameFromToken(nameTok); err == nil {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

func (h *Hub) putPresence(ctx context.Context, s *session, online bool) error {
	b, err := hubwire.EncodeHostRecord(hubwire.HostRecord{Host: h.opts.HostName, Domain: h.opts.Domain, Online: online, Seen: h.now()})
	if err != nil {
		return err
	}
	if _, err := s.hosts.Put(ctx, h.hostTok, b); err != nil {
		return fmt.Errorf("hub: announcing host: %w", err)
	}
	return nil
}
