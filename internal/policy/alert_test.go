package policy

import (
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/netsend/messenger/internal/message"
)

// Alerts pass the same policy as every message: configurable as
// policy.transports.alert, open to every source by default (the CLI says
// "local", the ingest listener checks a token), and subject to the lists
// and rules.
func TestAlertTransport(t *testing.T) {
	alertT := message.TransportAlert
	rpcLocal := Options{RPCAllow: []Net{{Local: true}}}
	for _, tc := range []struct {
		name, spec string
		m          *message.Message
		action     Action
		rule       string
	}{
		{"default delivers from the CLI", ``, msg(alertT, "MSGHOST", "ALICE", "local", "disk full"), Deliver, ""},
		{"default delivers from the ingest listener afar", ``, msg(alertT, "MSGHOST", "ALICE", "203.0.113.9:40000", "disk full"), Deliver, ""},
		{"switched off", "[transports.alert]\nenabled = false", msg(alertT, "MSGHOST", "ALICE", "local", "x"), Drop, "alert.disabled"},
		{"networks limited", "[transports.alert]\nallow = [\"127.0.0.0/8\"]", msg(alertT, "MSGHOST", "ALICE", "203.0.113.9:40000", "x"), Drop, "alert.allow"},
		{"quarantined", "[transports.alert]\nquarantine = true", msg(alertT, "MSGHOST", "ALICE", "127.0.0.1:1", "x"), Quarantine, "alert.quarantine"},
		{"blocked sender", `block_senders = ["MSGHOST"]`, msg(alertT, "MSGHOST", "ALICE", "local", "x"), Drop, "block_senders"},
		{"rule by transport", "[[rule]]\nname = \"no-alerts\"\ntransport = [\"alert\"]\naction = \"quarantine\"", msg(alertT, "MSGHOST", "ALICE", "local", "x"), Quarantine, "no-alerts"},
		{"rule by transport spares others", "[[rule]]\nname = \"no-alerts\"\ntransport = [\"alert\"]\naction = \"quarantine\"", msg(message.TransportAPI, "MSGHOST", "ALICE", "local", "x"), Deliver, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := compileTOML(t, tc.spec, rpcLocal).Decide(tc.m)
			if v.Action != tc.action || v.Rule != tc.rule {
				t.Errorf("got %v %q (%s), want %v %q", v.Action, v.Rule, v.Explain(), tc.action, tc.rule)
			}
		})
	}

	c := &clock{t: time.Unix(1000, 0)}
	p := compileTOML(t, "[rate]\nper_sender = { rate = \"1/1h\" }", Options{RPCAllow: []Net{{Local: true}}, Now: c.now})
	first, second := p.Decide(msg(alertT, "MSGHOST", "ALICE", "local", "a")), p.Decide(msg(alertT, "MSGHOST", "BOB", "local", "b"))
	if first.Action != Deliver || second.Rule != "rate.per_sender" {
		t.Errorf("per-sender rate limit on alerts: first %v %q, second %v %q; want deliver, then rate.per_sender", first.Action, first.Rule, second.Action, second.Rule)
	}

	spec := DefaultSpec()
	if _, err := toml.Decode("[transports.irc]\nenabled = true\n[[rule]]\nname = \"x\"\ntransport = [\"fax\"]\naction = \"drop\"", &spec); err != nil {
		t.Fatal(err)
	}
	_, err := Compile(spec, rpcLocal)
	if err == nil {
		t.Fatal("unknown transports accepted")
	}
	for _, want := range []string{"unknown transport (smb, mailslot, rpc, api, alert, hub)", `"fax" is not smb, mailslot, rpc, api, alert or hub`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}
