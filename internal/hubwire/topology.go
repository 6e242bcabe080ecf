package hubwire

import (
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// The hub's streams and key-value buckets (StreamConfigs configures them).
const (
	StreamMsg   = "MESSENGER_MSG"   // messenger.msg.TOHOST.FROMHOST
	StreamRcpt  = "MESSENGER_RCPT"  // messenger.rcpt.SENDERHOST.FROMHOST
	StreamBcast = "MESSENGER_BCAST" // messenger.bcast.DOMAIN.FROMHOST
	BucketNames = "messenger_names" // HOSTTOKEN.NAMETOKEN -> the host holding a name
	BucketHosts = "messenger_hosts" // HOSTTOKEN -> the host's domain and presence
)

// The subject prefixes of messages, receipts and broadcasts: a full
// subject adds two tokens (SubjectToken), the addressee's (host or
// domain) and the publishing host's.
const (
	PrefixMsg   = "messenger.msg."
	PrefixRcpt  = "messenger.rcpt."
	PrefixBcast = "messenger.bcast."
)

// InboxPrefix is the reply-subject prefix host must connect with
// (nats.CustomInboxPrefix): pulled messages and API replies travel on the
// requester's inbox, so a shared _INBOX.> would let any host read, and
// ack away, every other host's messages.
func InboxPrefix(host string) string {
	return "_INBOX_" + SubjectToken(host)
}

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

// KVStream is the stream behind a key-value bucket, as nats.go names it.
func KVStream(bucket string) string { return "KV_" + bucket }

// StreamNames names the streams StreamConfigs makes, in its order.
func StreamNames() []string {
	return []string{StreamMsg, StreamRcpt, StreamBcast, KVStream(BucketNames), KVStream(BucketHosts)}
}

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
			Name:              KVStream(bucket),
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
	msg := msgs(StreamMsg, PrefixMsg+">", 7*24*time.Hour)
	msg.AllowAtomicPublish = true
	return []jetstream.StreamConfig{
		msg,
		msgs(StreamRcpt, PrefixRcpt+">", 7*24*time.Hour),
		msgs(StreamBcast, PrefixBcast+">", 24*time.Hour),
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
// the hub (package hub keeps the order when one fails).
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
	msg := pull(MsgConsumer(host), PrefixMsg+t+".>")
	msg.MaxAckPending = MsgMaxAckPending
	// A batch is stored and answered in well under a second; an ack lost
	// with a failed server holds the host's messages until this passes,
	// and a redelivery of what was stored meanwhile is only a duplicate.
	msg.AckWait = MsgAckWait
	bcast := pull(BcastConsumer(host), PrefixBcast+">")
	bcast.DeliverPolicy = jetstream.DeliverNewPolicy
	return []HostConsumer{
		{StreamMsg, msg},
		{StreamRcpt, pull(RcptConsumer(host), PrefixRcpt+t+".>")},
		{StreamBcast, bcast},
	}
}
