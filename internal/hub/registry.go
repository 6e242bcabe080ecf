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

	"github.com/netsend/messenger/internal/hubreg"
	"github.com/netsend/messenger/internal/hubwire"
)

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
// among those still claiming it (hubreg.NameOwner), else the one seen
// last.
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
	c, err := hubreg.NameOwner(ctx, s.namesStream, s.hosts, nameTok, h.now(), h.opts.claimLifetime)
	if err != nil {
		return "", false, err
	}
	host, err := hubwire.NameFromToken(c.HostTok)
	if err != nil {
		return "", false, err
	}
	return host, c.Online, nil
}

// hostsOnline lists the hosts the registry has online, sorted.
func (h *Hub) hostsOnline(ctx context.Context, s *session) ([]string, error) {
	now := h.now()
	out := []string{}
	err := hubreg.ScanKeys(ctx, s.hostsStream, hubwire.BucketHosts, "*", func(key string, m *jetstream.RawStreamMsg) {
		host, err := hubwire.NameFromToken(key)
		if err != nil {
			return
		}
		if hubreg.PresenceOf(m.Data, m.Time).IsOnline(now) {
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
	err := hubreg.ScanKeys(ctx, s.namesStream, hubwire.BucketNames, h.hostTok+".*", func(key string, _ *jetstream.RawStreamMsg) {
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
		p, err := hubreg.ReadPresence(ctx, s.hosts, h.hostTok)
		if err != nil {
			return err
		}
		if !p.Live(h.now(), h.opts.claimLifetime) {
			h.log.Info("this host's claims on the hub lapsed; registering its names again", slog.Time("last_presence", p.At))
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
		c, err := hubreg.NameOwner(ctx, s.namesStream, s.hosts, nameTok, now, h.opts.claimLifetime)
		if errors.Is(err, ErrUnknownName) {
			continue // not registered yet: putNames will
		}
		if err != nil {
			return err
		}
		if c.HostTok != h.hostTok {
			owner, err := hubwire.NameFromToken(c.HostTok)
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
