package hubauth

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/netsend/messenger/internal/hubwire"
)

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
	for _, cfg := range hubwire.StreamConfigs(o.Replicas) {
		if _, err := js.CreateOrUpdateStream(ctx, cfg); err != nil {
			return fmt.Errorf("hub: provisioning stream %s: %w", cfg.Name, err)
		}
	}
	for _, h := range o.Hosts {
		for _, c := range hubwire.HostConsumers(h) {
			if _, err := js.CreateOrUpdateConsumer(ctx, c.Stream, c.Config); err != nil {
				return fmt.Errorf("hub: provisioning consumer %s on %s: %w", c.Config.Durable, c.Stream, err)
			}
		}
	}
	return nil
}
