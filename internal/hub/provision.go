package hub

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// The stream and bucket names (StreamMsg, BucketNames...) are in hub.go.

// RegistryUpdates is the subject prefix where the server republishes every
// change of a registry bucket: a change of key K of BucketNames arrives
// on RegistryUpdates(BucketNames)+"."+K, with the headers Nats-Subject,
// Nats-Sequence and KV-Operation (DEL, PURGE) of the stored entry. It
// replaces kv.Watch, which hosts may not use (it creates a consumer). No
// stream captures it, and only the server publishes there.
func RegistryUpdates(bucket string) string { return "messenger.registry." + bucket }

// MsgConsumer, RcptConsumer and BcastConsumer name host's durable pull
// consumers on StreamMsg, StreamRcpt and StreamBcast.
func MsgConsumer(host string) string   { return "msg_" + SubjectToken(host) }
func RcptConsumer(host string) string  { return "rcpt_" + SubjectToken(host) }
func BcastConsumer(host string) string { return "bcast_" + SubjectToken(host) }

// kvStream is the stream behind a key-value bucket, as nats.go names it.
func kvStream(bucket string) string { return "KV_" + bucket }

// hubStreams names the streams StreamConfigs makes, in its order.
var hubStreams = []string{StreamMsg, StreamRcpt, StreamBcast, kvStream(BucketNames), kvStream(BucketHosts)}

// Limits the hub enforces whatever the clients do: an envelope is at most
// MaxEnvelopeSize (wire.go: 4,095 characters of up to 6 JSON bytes each),
// headers add the message id; a registry value is at most MaxRecordSize.
const (
	maxHubMsgSize   = MaxEnvelopeSize + 1<<10
	duplicateWindow = 2 * time.Minute
)

// StreamConfigs are the hub's streams and buckets. None allows what would
// let one host's publish reach beyond its own subjects: no rollup (a
// "Nats-Rollup: all" header would wipe a whole registry), no per-message
// TTL, schedules or counters, no republish, no sources. The message
// stream takes atomic batches, which is how a host's outbox keeps its
// order at one round trip per batch: every message of a batch is still a
// publish the host's permissions check one by one, and a batch id is the
// publisher's random 128 bits, so no host can join or break another's
// batch; one that leaves batches open only uses up the stream's batches
// in flight, and the others then publish one message at a time.
func StreamConfigs(replicas int) []jetstream.StreamConfig {
	if replicas < 1 {
		replicas = 1
	}
	msgs := func(name, subjects string, maxAge time.Duration) jetstream.StreamConfig {
		return jetstream.StreamConfig{
			Name:       name,
			Subjects:   []string{subjects},
			Retention:  jetstream.LimitsPolicy,
			Discard:    jetstream.DiscardOld,
			MaxAge:     maxAge,
			MaxMsgSize: maxHubMsgSize,
			Storage:    jetstream.FileStorage,
			Replicas:   replicas,
			Duplicates: duplicateWindow,
			DenyDelete: true,
		}
	}
	kv := func(bucket string) jetstream.StreamConfig {
		// What nats.go's CreateKeyValue makes, less AllowRollup, and
		// republishing changes to the hosts.
		return jetstream.StreamConfig{
			Name:              kvStream(bucket),
			Subjects:          []string{"$KV." + bucket + ".>"},
			Retention:         jetstream.LimitsPolicy,
			Discard:           jetstream.DiscardNew,
			MaxMsgsPerSubject: 1,
			MaxMsgs:           -1,
			MaxBytes:          -1,
			MaxConsumers:      -1,
			MaxMsgSize:        MaxRecordSize,
			Storage:           jetstream.FileStorage,
			Replicas:          replicas,
			Duplicates:        duplicateWindow,
			DenyDelete:        true,
			AllowDirect:       true,
			RePublish: &jetstream.RePublish{
				Source:      "$KV." + bucket + ".>",
				Destination: RegistryUpdates(bucket) + ".>",
			},
		}
	}
	msg := msgs(StreamMsg, "messenger.msg.>", 7*24*time.Hour)
	msg.AllowAtomicPublish = true
	return []jetstream.StreamConfig{
		msg,
		msgs(StreamRcpt, "messenger.rcpt.>", 7*24*time.Hour),
		msgs(StreamBcast, "messenger.bcast.>", 24*time.Hour),
		kv(BucketNames),
		kv(BucketHosts),
	}
}

// HostConsumer is one of a host's durable pull consumers.
type HostConsumer struct {
	Stream string
	Config jetstream.ConsumerConfig
}

// MsgMaxAckPending is how many of a host's messages may be out unacked:
// the host takes them in batches, stores each batch in stream order with
// shared commits, and acks none before it is stored and its receipt is in
// the hub (receive.go keeps the order when one fails).
const MsgMaxAckPending = 64

// MsgAckWait is how long a host's message may stay unacknowledged before
// the hub hands it out again.
const MsgAckWait = 10 * time.Second

// HostConsumers are host's durable pull consumers: its messages, in
// stream order (up to MsgMaxAckPending unacked at a time); the receipts for what it sent;
// and every domain's broadcasts — the provisioner does not know a host's
// domain, so the host skips other domains and its own broadcasts. A host
// provisioned now gets broadcasts from now on, not the day before.
func HostConsumers(host string) []HostConsumer {
	t := SubjectToken(host)
	pull := func(name, filter string) jetstream.ConsumerConfig {
		return jetstream.ConsumerConfig{
			Durable:       name,
			FilterSubject: filter,
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       30 * time.Second,
			DeliverPolicy: jetstream.DeliverAllPolicy,
		}
	}
	msg := pull(MsgConsumer(host), "messenger.msg."+t+".>")
	msg.MaxAckPending = MsgMaxAckPending
	// A batch is stored and answered in well under a second; an ack lost
	// with a failed server holds the host's messages until this passes,
	// and a redelivery of what was stored meanwhile is only a duplicate.
	msg.AckWait = MsgAckWait
	bcast := pull(BcastConsumer(host), "messenger.bcast.>")
	bcast.DeliverPolicy = jetstream.DeliverNewPolicy
	return []HostConsumer{
		{StreamMsg, msg},
		{StreamRcpt, pull(RcptConsumer(host), "messenger.rcpt."+t+".>")},
		{StreamBcast, bcast},
	}
}

// ProvisionOptions say what Provision creates.
type ProvisionOptions struct {
	Replicas int      // of every stream; 1 on a single server, 3 in a 3-node cluster
	Hosts    []string // hosts whose consumers to create
}

// Provision creates or updates the hub's streams and buckets and the
// hosts' consumers. It needs an admin connection (AdminPermissions):
// hosts may not create any of these (see HostPermissions). Running it
// again changes nothing but what differs; a revoked host's consumers are
// kept, so that its queued messages wait for a new key.
func Provision(ctx context.Context, js jetstream.JetStream, o ProvisionOptions) error {
	for _, cfg := range StreamConfigs(o.Replicas) {
		if _, err := js.CreateOrUpdateStream(ctx, cfg); err != nil {
			return fmt.Errorf("hub: provisioning stream %s: %w", cfg.Name, err)
		}
	}
	for _, h := range o.Hosts {
		for _, c := range HostConsumers(h) {
			if _, err := js.CreateOrUpdateConsumer(ctx, c.Stream, c.Config); err != nil {
				return fmt.Errorf("hub: provisioning consumer %s on %s: %w", c.Config.Durable, c.Stream, err)
			}
		}
	}
	return nil
}

// ReleaseName drops host's claim on name from the registry, so that the
// name passes to the next host claiming it: an admin's remedy for the
// claim of a host that is gone, which would otherwise hold the name for
// the claim lifetime. host "" releases the claim the name belongs to now.
// It needs an admin connection: hosts may not purge, and write only their
// own keys. A host still running registers the name again at its next
// heartbeat, behind every other claimant. It returns the host released.
func ReleaseName(ctx context.Context, js jetstream.JetStream, name, host string) (string, error) {
	if why := nameProblem(name); why != "" {
		return "", fmt.Errorf("hub: releasing %q: %s", name, why)
	}
	nameTok := SubjectToken(name)
	names, err := js.Stream(ctx, kvStream(BucketNames))
	if err != nil {
		return "", notProvisioned("stream "+kvStream(BucketNames), err)
	}
	hostTok := SubjectToken(host)
	if host == "" {
		hosts, err := js.KeyValue(ctx, BucketHosts)
		if err != nil {
			return "", notProvisioned("bucket "+BucketHosts, err)
		}
		c, err := nameOwner(ctx, names, hosts, nameTok, time.Now(), claimLifetime)
		if err != nil {
			return "", fmt.Errorf("hub: releasing %q: %w", name, err)
		}
		hostTok = c.hostTok
	} else {
		kv, err := js.KeyValue(ctx, BucketNames)
		if err != nil {
			return "", notProvisioned("bucket "+BucketNames, err)
		}
		if _, err := kv.Get(ctx, hostTok+"."+nameTok); errors.Is(err, jetstream.ErrKeyNotFound) {
			return "", fmt.Errorf("hub: releasing %q: %w: %s holds no claim on it", name, ErrUnknownName, host)
		} else if err != nil {
			return "", fmt.Errorf("hub: releasing %q: %w", name, err)
		}
	}
	// A purge, not a delete: the admin may not publish into the bucket,
	// and the key is gone rather than marked, as if never registered.
	subj := "$KV." + BucketNames + "." + hostTok + "." + nameTok
	if err := names.Purge(ctx, jetstream.WithPurgeSubject(subj)); err != nil {
		return "", fmt.Errorf("hub: releasing %q from %s: %w", name, hostTok, err)
	}
	released, err := NameFromToken(hostTok)
	if err != nil {
		return "", err
	}
	return released, nil
}
