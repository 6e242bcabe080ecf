package hubwire

import (
	"slices"
	"testing"
)

// TestHubStreamsAreProvisioned: the streams hosts may read the info of,
// and Status reports, are the ones Provision makes.
func TestHubStreamsAreProvisioned(t *testing.T) {
	var made []string
	for _, cfg := range StreamConfigs(1) {
		made = append(made, cfg.Name)
	}
	if !slices.Equal(StreamNames(), made) {
		t.Errorf("StreamNames() = %q, StreamConfigs makes %q", StreamNames(), made)
	}
}
