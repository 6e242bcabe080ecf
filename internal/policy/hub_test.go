package policy

import (
	"strings"
	"testing"

	"github.com/BurntSushi/toml"

	"github.com/netsend/messenger/internal/message"
)

const hubT = message.TransportHub

// hubMsg is a message that came through the hub from host verified.
func hubMsg(from, verified string) *message.Message {
	m := msg(hubT, from, "ALICE", "hub:"+verified, "hi")
	m.Verified = verified
	return m
}

// Hub messages pass the same policy: a configurable transport without
// a network restriction (their source is "hub:HOST", no address), whose
// verified host "hub:HOST" entries and trust_verified can name.
func TestHubTransport(t *testing.T) {
	rpcLocal := Options{RPCAllow: []Net{{Local: true}}}
	forged := msg(smb, "hub:HOSTB", "ALICE", "127.0.0.1:1", "hi")
	forgedMark := msg(smb, "bob", "ALICE", "127.0.0.1:1", "hi")
	forgedMark.Verified = "HOSTB"
	unverified := hubMsg("bob", "")
	for _, tc := range []struct {
		name, spec string
		m          *message.Message
		action     Action
		rule       string
		field      string
		match      string
	}{
		{"default delivers", ``, hubMsg("bob", "HOSTB"), Deliver, "", "", ""},
		{"switched off", "[transports.hub]\nenabled = false", hubMsg("bob", "HOSTB"), Drop, "hub.disabled", "transport", ""},
		{"quarantined", "[transports.hub]\nquarantine = true", hubMsg("bob", "HOSTB"), Quarantine, "hub.quarantine", "transport", ""},
		{"trusted host", "trust = [\"hub:HOSTB\"]\nallow_senders = [\"NOBODY\"]", hubMsg("bob", "HOSTB"), Deliver, "trust", "verified", "hub:HOSTB"},
		{"trusted host in any case", "trust = [\"HUB:hostb\"]\nallow_senders = [\"NOBODY\"]", hubMsg("bob", "HostB"), Deliver, "trust", "verified", "hub:HOSTB"},
		{"trust names one host", "trust = [\"hub:HOSTB\"]\nallow_senders = [\"NOBODY\"]", hubMsg("bob", "HOSTC"), Quarantine, "allow_senders", "sender", "not listed"},
		{"a sender named hub:HOST is no host", "trust = [\"hub:HOSTB\"]\nallow_senders = [\"NOBODY\"]", forged, Quarantine, "allow_senders", "sender", "not listed"},
		{"a verified mark off the hub proves nothing", "trust = [\"hub:HOSTB\"]\nallow_senders = [\"NOBODY\"]", forgedMark, Quarantine, "allow_senders", "sender", "not listed"},
		{"trust does not open the hub quarantine", "trust = [\"hub:HOSTB\"]\n[transports.hub]\nquarantine = true", hubMsg("bob", "HOSTB"), Quarantine, "hub.quarantine", "transport", ""},
		{"blocked host", `block_senders = ["hub:HOSTB"]`, hubMsg("bob", "HOSTB"), Drop, "block_senders", "verified", "hub:HOSTB"},
		{"block spares other hosts", `block_senders = ["hub:HOSTB"]`, hubMsg("bob", "HOSTC"), Deliver, "", "", ""},
		{"allowed host", `allow_senders = ["hub:HOSTB"]`, hubMsg("bob", "HOSTB"), Deliver, "", "", ""},
		{"host not allowed", `allow_senders = ["hub:HOSTB"]`, hubMsg("bob", "HOSTC"), Quarantine, "allow_senders", "sender", "not listed"},
		{"trust_verified", "trust_verified = true\nallow_senders = [\"NOBODY\"]", hubMsg("bob", "HOSTB"), Deliver, "trust_verified", "verified", ""},
		{"trust_verified beats rules", "trust_verified = true\n[[rule]]\nname = \"no-hub\"\ntransport = [\"hub\"]\naction = \"drop\"", hubMsg("bob", "HOSTB"), Deliver, "trust_verified", "verified", ""},
		{"trust_verified needs a verified host", "trust_verified = true\nallow_senders = [\"NOBODY\"]", unverified, Quarantine, "allow_senders", "sender", "not listed"},
		{"trust_verified is for the hub only", "trust_verified = true\nallow_senders = [\"NOBODY\"]", forgedMark, Quarantine, "allow_senders", "sender", "not listed"},
		{"a block entry beats trust_verified", "trust_verified = true\nblock_senders = [\"hub:HOSTB\"]", hubMsg("bob", "HOSTB"), Drop, "block_senders", "verified", "hub:HOSTB"},
		{"a blocked sender name beats trust_verified", "trust_verified = true\nblock_senders = [\"MALLORY\"]", hubMsg("mallory", "HOSTB"), Drop, "block_senders", "sender", "MALLORY"},
		{"trust_verified keeps the hub quarantine", "trust_verified = true\n[transports.hub]\nquarantine = true", hubMsg("bob", "HOSTB"), Quarantine, "hub.quarantine", "transport", ""},
		{"off by default", `allow_senders = ["NOBODY"]`, hubMsg("bob", "HOSTB"), Quarantine, "allow_senders", "sender", "not listed"},
		{"rule by transport", "[[rule]]\nname = \"hold-hub\"\ntransport = [\"hub\"]\naction = \"quarantine\"", hubMsg("bob", "HOSTB"), Quarantine, "hold-hub", "transport", ""},
		{"network entries never match", `block_senders = ["0.0.0.0/0", "::/0"]`, hubMsg("bob", "HOSTB"), Deliver, "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := compileTOML(t, tc.spec, rpcLocal).Decide(tc.m)
			if v.Action != tc.action || v.Rule != tc.rule || v.Field != tc.field || v.Match != tc.match {
				t.Errorf("got %v %q field %q match %q (%s), want %v %q field %q match %q",
					v.Action, v.Rule, v.Field, v.Match, v.Explain(), tc.action, tc.rule, tc.field, tc.match)
			}
		})
	}
}

func TestHubSpecErrors(t *testing.T) {
	rpcLocal := Options{RPCAllow: []Net{{Local: true}}}
	for _, tc := range []struct{ spec, want string }{
		{"[transports.hub]\nallow = [\"10.0.0.0/8\"]", `policy.transports.hub.allow: hub messages come from no network address; name their hosts as "hub:HOST"`},
		{`trust = ["hub:HOSTB"]` + "\n" + `block_senders = ["HUB:hostb"]`, "policy.trust: hub:HOSTB is also in block_senders"},
	} {
		spec := DefaultSpec()
		if _, err := toml.Decode(tc.spec, &spec); err != nil {
			t.Fatalf("decoding %q: %v", tc.spec, err)
		}
		if _, err := Compile(spec, rpcLocal); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Compile(%q): %v, want %q", tc.spec, err, tc.want)
		}
	}
}

func TestParseHubSubject(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{"hub:HOSTA", "hub:HOSTA", ""},
		{"HUB:hosta", "hub:HOSTA", ""},
		{" hub: hosta ", "hub:HOSTA", ""},
		{"hub:", "", "names no host"},
		{"hub:two words", "", "a hub host is one word"},
		{"hub:" + strings.Repeat("H", 256), "", "too long"},
		{"hubcap", "HUBCAP", ""}, // a name, not a host
	} {
		s, err := ParseSubject(tc.in)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("ParseSubject(%q) = %+v, %v; want an error saying %q", tc.in, s, err, tc.err)
		case tc.err == "" && (err != nil || s.String() != tc.want):
			t.Errorf("ParseSubject(%q) = %q, %v; want %q", tc.in, s.String(), err, tc.want)
		}
	}
	if s, _ := ParseSubject("hub:HOSTA"); s.Name != "" || s.Net != nil || s.Hub != "HOSTA" {
		t.Errorf("hub:HOSTA parsed as %+v, want only Hub", s)
	}
}

// A decision on a hub message costs no allocation either.
func TestHubDecideAllocations(t *testing.T) {
	p := compileTOML(t, "trust = [\"hub:HOSTA\"]\nblock_senders = [\"hub:HOSTC\"]\nallow_senders = [\"ALICE\"]", Options{RPCAllow: []Net{{Local: true}}})
	m := hubMsg("bob", "HOSTB")
	if v := p.Decide(m); v.Rule != "allow_senders" {
		t.Fatalf("verdict %v %q, want allow_senders", v.Action, v.Rule)
	}
	if n := testing.AllocsPerRun(1000, func() { p.Decide(m) }); n > 0 {
		t.Errorf("Decide allocates %.1f times per call", n)
	}
}
