package kfilter

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/netsend/messenger/internal/message"
	"github.com/netsend/messenger/internal/policy"
)

type blocks map[netip.Addr]time.Duration

func (b blocks) Block(a netip.Addr, hold time.Duration, _ time.Time) bool {
	b[a] = hold
	return true
}

// TestGuardInstallsFloodingSources: a datagram source over its limit in
// flood mode is installed with flood.hold; a trusted one, one over its
// limit on SMB, and one whose sender name is blocked are not.
func TestGuardInstallsFloodingSources(t *testing.T) {
	spec := policy.DefaultSpec()
	if _, err := toml.Decode(`trust = ["127.0.0.1"]
block_senders = ["SPAMMER"]
[transports.smb]
allow = ["0.0.0.0/0"]
[transports.mailslot]
allow = ["0.0.0.0/0"]
[rate]
per_source = { rate = "2/1s" }
[flood]
threshold = 2
hold = "9s"
`, &spec); err != nil {
		t.Fatal(err)
	}
	p, err := policy.Compile(spec, policy.Options{RPCAllow: []policy.Net{{Local: true}}})
	if err != nil {
		t.Fatal(err)
	}
	got := blocks{}
	g := &Guard{Holder: policy.NewHolder(p), Filter: got}
	send := func(tr message.Transport, from, source string, n int) {
		for i := range n {
			g.Decide(&message.Message{Transport: tr, From: from, To: "BOB", Source: source, Text: fmt.Sprint("text ", i)})
		}
	}
	send(message.TransportMailslot, "X", "127.0.0.1:138", 20)
	send(message.TransportSMB, "X", "198.51.100.2:1000", 20)
	send(message.TransportMailslot, "SPAMMER", "198.51.100.3:138", 3)
	send(message.TransportMailslot, "X", "203.0.113.9:138", 20)
	send(message.TransportRPC, "X", "127.0.0.2:135", 20)
	want := blocks{netip.MustParseAddr("203.0.113.9"): 9 * time.Second, netip.MustParseAddr("127.0.0.2"): 9 * time.Second}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("installed %v, want %v", got, want)
	}
}
