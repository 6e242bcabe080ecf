package hub

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/netsend/messenger/internal/hubwire"
)

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
		return "", notProvisioned("stream "+hubwire.KVStream(hubwire.BucketNames), err)
	}
	hostTok := hubwire.SubjectToken(host)
	if host == "" {
		hosts, err := js.KeyValue(ctx, hubwire.BucketHosts)
		if err != nil {
			return "", notProvisioned("bucket "+hubwire.BucketHosts, err)
		}
		c, err := nameOwner(ctx, names, hosts, nameTok, time.Now(), claimLifetime)
		if err != nil {
			return "", fmt.Errorf("hub: releasing %q: %w", name, err)
		}
		hostTok = c.hostTok
	} else {
		kv, err := js.KeyValue(ctx, hubwire.BucketNames)
		if err != nil {
			return "", notProvisioned("bucket "+hubwire.BucketNames, err)
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
