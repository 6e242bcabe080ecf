package policy

import (
	"net/netip"
	"testing"

	"github.com/netsend/messenger/internal/message"
)

func TestDecide(t *testing.T) {
	allow, err := ParseNetworks([]string{"local", "192.0.2.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	p := &Policy{Transports: map[message.Transport]TransportRule{
		message.TransportRPC:      {Allow: allow, Quarantine: true},
		message.TransportMailslot: {Allow: allow},
	}}
	for _, tc := range []struct {
		transport message.Transport
		source    string
		want      Action
		rule      string
	}{
		{message.TransportSMB, "203.0.113.9:1234", Deliver, ""},
		{message.TransportRPC, "127.0.0.1:1234", Quarantine, "rpc.quarantine"},
		{message.TransportRPC, "192.0.2.7:135", Quarantine, "rpc.quarantine"},
		{message.TransportRPC, "203.0.113.9:135", Drop, "rpc.allow"},
		{message.TransportRPC, "not an address", Drop, "rpc.allow"},
		{message.TransportMailslot, "127.0.0.5:138", Deliver, ""},
		{message.TransportMailslot, "198.51.100.1:138", Drop, "mailslot.allow"},
	} {
		v := p.Decide(&message.Message{Transport: tc.transport, Source: tc.source})
		if v.Action != tc.want || v.Rule != tc.rule {
			t.Errorf("%s from %s: %v %q, want %v %q", tc.transport, tc.source, v.Action, v.Rule, tc.want, tc.rule)
		}
	}
	if _, err := ParseNetworks([]string{"10.0.0.0/33"}); err == nil {
		t.Error("ParseNetworks accepted a bad CIDR")
	}
	var zero Policy
	if v := zero.Decide(&message.Message{Transport: message.TransportRPC, Source: "203.0.113.9:1"}); v.Action != Deliver {
		t.Errorf("zero policy: %v", v)
	}
}

// Admits must agree with the first two steps of Decide: what it refuses,
// Decide would drop, so the transports can stay silent in its place.
func TestAdmits(t *testing.T) {
	allow, err := ParseNetworks([]string{"10.0.0.0/8"})
	if err != nil {
		t.Fatal(err)
	}
	p := NewHolder(&Policy{Transports: map[message.Transport]TransportRule{
		message.TransportRPC:      {Allow: allow, Quarantine: true},
		message.TransportMailslot: {Disabled: true},
		message.TransportAPI:      {},
	}})
	for _, tc := range []struct {
		transport message.Transport
		source    string
		want      bool
	}{
		{message.TransportRPC, "10.1.2.3:135", true},
		{message.TransportRPC, "127.0.0.1:135", false},
		{message.TransportMailslot, "10.1.2.3:138", false},
		{message.TransportAPI, "203.0.113.9:1", true},
		{message.TransportSMB, "203.0.113.9:1", true}, // no rule: everyone
	} {
		ap := netip.MustParseAddrPort(tc.source)
		if _, got := p.AdmitSource(tc.transport, ap.Addr()); got != tc.want {
			t.Errorf("AdmitSource(%s, %s) = %v, want %v", tc.transport, tc.source, got, tc.want)
		}
		dropped := p.Decide(&message.Message{Transport: tc.transport, Source: tc.source}).Action == Drop
		if dropped == tc.want {
			t.Errorf("%s from %s: AdmitSource %v but Decide dropped=%v", tc.transport, tc.source, tc.want, dropped)
		}
	}
}
