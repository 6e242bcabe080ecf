package firewall

import (
	"testing"

	"github.com/google/nftables"
)

// TestFamilyName checks that every table family still maps to the name
// nft gives it, and that an unknown one falls back as before.
func TestFamilyName(t *testing.T) {
	for f, want := range map[nftables.TableFamily]string{
		nftables.TableFamilyINet:        "inet",
		nftables.TableFamilyIPv4:        "ip",
		nftables.TableFamilyIPv6:        "ip6",
		nftables.TableFamilyARP:         "arp",
		nftables.TableFamilyBridge:      "bridge",
		nftables.TableFamilyNetdev:      "netdev",
		nftables.TableFamilyUnspecified: "family0",
		nftables.TableFamily(4):         "family4",
	} {
		if got := familyName(f); got != want {
			t.Errorf("familyName(%d) = %q, want %q", f, got, want)
		}
	}
}
