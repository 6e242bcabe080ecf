// Package hubreg reads the hub's name registry as every reader must:
// which host a name belongs to (NameOwner, the first live claim, judged
// by the server's sequence and clock), and whether a host is online. The
// daemon's runtime (package hub) looks names up and checks its claims
// with it; an admin releases a claim with ReleaseName.
package hubreg

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/netsend/messenger/internal/hubwire"
)

// Timings of the registry (docs/protocols/hub.md, "Timings").
const (
	// OnlineWindow is how recent a host's presence must be for it to
	// count as online; its heartbeat writes one well within it.
	OnlineWindow = 60 * time.Second
	// ClaimLifetime is how long a host's names stay its after it last
	// wrote its presence, by the hub's clock: a weekend off keeps them,
	// while the names of a host that is gone for good pass to the next
	// claimant without an admin (as a WINS record goes extinct).
	ClaimLifetime = 72 * time.Hour
)

// ErrUnknownName: the registry has no host for the name.
var ErrUnknownName = errors.New("hub: the registry has no host for this name")

// maxKeysScanned bounds one registry listing: no name is held by more
// hosts, and no hub has more hosts, than this.
const maxKeysScanned = 100000

// Claimant is a host holding a name in the registry, as NameOwner
// judged it.
type Claimant struct {
	HostTok string // the host's hubwire.SubjectToken
	Online  bool
}

// NameOwner picks, among the hosts holding the name whose token is
// nameTok, the one the name belongs to, as WINS would: the first to
// register it whose claim is still live. Order and liveness are the
// server's — a key's stream sequence, an entry's stored time — because
// whatever a host writes into a record (its "seen" time, say) is only
// its word, and a forged clock must not outrank the owner. A host keeps
// its key's sequence while its claim lives (package hub's putNames
// does not rewrite it), so a latecomer's key is always the younger. When no claim is
// live, the host that wrote its presence last gets the name, so that
// messages to it still queue where it was last. ErrUnknownName when no
// host holds it. now is the reader's clock: its skew from the server's
// only moves the lifetime's end a little, and no other host can move it.
func NameOwner(ctx context.Context, names jetstream.Stream, hosts jetstream.KeyValue, nameTok string, now time.Time, lifetime time.Duration) (Claimant, error) {
	var holders []string // in stream order: the first registrant first
	err := ScanKeys(ctx, names, hubwire.BucketNames, "*."+nameTok, func(key string, _ *jetstream.RawStreamMsg) {
		if hostTok, _, ok := strings.Cut(key, "."); ok {
			if _, err := hubwire.NameFromToken(hostTok); err == nil {
				holders = append(holders, hostTok)
			}
		}
	})
	if err != nil {
		return Claimant{}, err
	}
	if len(holders) == 0 {
		return Claimant{}, ErrUnknownName
	}
	var last Claimant
	var lastAt time.Time
	for _, hostTok := range holders {
		p, err := ReadPresence(ctx, hosts, hostTok)
		if err != nil {
			return Claimant{}, err
		}
		if p.Live(now, lifetime) {
			return Claimant{HostTok: hostTok, Online: p.IsOnline(now)}, nil
		}
		if last.HostTok == "" || p.At.After(lastAt) {
			last, lastAt = Claimant{HostTok: hostTok}, p.At
		}
	}
	return last, nil
}

// Presence is what the registry says of a host: whether it said it is
// online, and when, by the server's clock, it last said anything.
type Presence struct {
	Known  bool // the host has a record
	Online bool
	At     time.Time
}

// Live reports whether the host's claims still hold at now: it wrote
// its presence within lifetime.
func (p Presence) Live(now time.Time, lifetime time.Duration) bool {
	return p.Known && now.Sub(p.At) < lifetime
}

// IsOnline reports whether the host said it is online within
// OnlineWindow of now.
func (p Presence) IsOnline(now time.Time) bool {
	return p.Online && now.Sub(p.At) < OnlineWindow
}

// ReadPresence reads a host's record; a host that never announced itself
// is unknown. The record's own "seen" time is ignored: the host wrote
// it, and a time years ahead would keep it online for years.
func ReadPresence(ctx context.Context, hosts jetstream.KeyValue, hostTok string) (Presence, error) {
	e, err := hosts.Get(ctx, hostTok)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Presence{}, nil
	}
	if err != nil {
		return Presence{}, fmt.Errorf("hub: reading host %s: %w", hostTok, err)
	}
	return PresenceOf(e.Value(), e.Created()), nil
}

// PresenceOf is a host record's presence stored at serverTime. A record
// that does not decode still proves the host wrote it then, but not
// that it is online.
func PresenceOf(value []byte, serverTime time.Time) Presence {
	rec, err := hubwire.DecodeHostRecord(value)
	return Presence{Known: true, Online: err == nil && rec.Online, At: serverTime}
}

// ScanKeys calls fn with each live key of bucket matching pattern (a
// subject pattern relative to the bucket) and its stored message, in
// stream order. It reads the bucket's stream message by message (a
// direct get of the next message on the subject): a key watch would
// need a consumer, which hosts may not create.
func ScanKeys(ctx context.Context, str jetstream.Stream, bucket, pattern string, fn func(key string, m *jetstream.RawStreamMsg)) error {
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

// ReleaseName drops host's claim on name from the registry, so that the
// name passes to the next host claiming it: an admin's remedy for the
// claim of a host that is gone, which would otherwise hold the name for
// the claim lifetime. host "" releases the claim the name belongs to now.
// It needs an admin connection: hosts may not purge, and write only their
// own keys. A host still running registers the name again at its next
// heartbeat, behind every other claimant. It returns the host released.
func ReleaseName(ctx context.Context, js jetstream.JetStream, name, host string) (string, error) {
	if why := hubwire.NameProblem(name); why != "" {
		return "", fmt.Errorf("hub: releasing %q: %s", name, why)
	}
	nameTok := hubwire.SubjectToken(name)
	names, err := js.Stream(ctx, hubwire.KVStream(hubwire.BucketNames))
	if err != nil {
		return "", NotProvisioned("stream "+hubwire.KVStream(hubwire.BucketNames), err)
	}
	hostTok := hubwire.SubjectToken(host)
	if host == "" {
		hosts, err := js.KeyValue(ctx, hubwire.BucketHosts)
		if err != nil {
			return "", NotProvisioned("bucket "+hubwire.BucketHosts, err)
		}
		c, err := NameOwner(ctx, names, hosts, nameTok, time.Now(), ClaimLifetime)
		if err != nil {
			return "", fmt.Errorf("hub: releasing %q: %w", name, err)
		}
		hostTok = c.HostTok
	} else {
		kv, err := js.KeyValue(ctx, hubwire.BucketNames)
		if err != nil {
			return "", NotProvisioned("bucket "+hubwire.BucketNames, err)
		}
		if _, err := kv.Get(ctx, hostTok+"."+nameTok); errors.Is(err, jetstream.ErrKeyNotFound) {
			return "", fmt.Errorf("hub: releasing %q: %w: %s holds no claim on it", name, ErrUnknownName, host)
		} else if err != nil {
			return "", fmt.Errorf("hub: releasing %q: %w", name, err)
		}
	}
	// A purge, not a delete: the admin may not publish into the bucket,
	// and the key is gone rather than marked, as if never registered.
	subj := "$KV." + hubwire.BucketNames + "." + hostTok + "." + nameTok
	if err := names.Purge(ctx, jetstream.WithPurgeSubject(subj)); err != nil {
		return "", fmt.Errorf("hub: releasing %q from %s: %w", name, hostTok, err)
	}
	released, err := hubwire.NameFromToken(hostTok)
	if err != nil {
		return "", err
	}
	return released, nil
}

// NotProvisioned is err binding what ("stream X", "bucket Y",
// "consumer C on S"), saying so when the admin has not provisioned it.
func NotProvisioned(what string, err error) error {
	if errors.Is(err, jetstream.ErrStreamNotFound) || errors.Is(err, jetstream.ErrBucketNotFound) ||
		errors.Is(err, jetstream.ErrConsumerNotFound) {
		return fmt.Errorf("hub: %s is not provisioned (messenger hub provision): %w", what, err)
	}
	return fmt.Errorf("hub: binding %s: %w", what, err)
}
