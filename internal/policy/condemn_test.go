package policy

import (
	"fmt"
	"testing"
	"time"
)

// TestCondemnsSource: only a verdict on the address itself condemns it —
// a source over its own limit in flood mode, or a blocked network — not
// a blocked sender name, and not a source over its limit before the
// flood begins (its messages are still quarantined).
func TestCondemnsSource(t *testing.T) {
	c := &clock{t: time.Unix(1e9, 0)}
	p := compileTOML(t, `block_senders = ["SPAMMER", "192.0.2.0/24"]
[transports.mailslot]
allow = ["0.0.0.0/0"]
[rate]
per_source = { rate = "2/1s" }
[flood]
threshold = 3
hold = "7s"
`, Options{Now: c.now})
	if h := p.FloodHold(); h != 7*time.Second {
		t.Errorf("FloodHold = %v, want 7s", h)
	}
	if v := p.Decide(msg(mail, "X", "BOB", "192.0.2.7:138", "hi")); !v.CondemnsSource() {
		t.Errorf("blocked network: %+v does not condemn the source", v)
	}
	if v := p.Decide(msg(mail, "SPAMMER", "BOB", "198.51.100.1:138", "hi")); v.Action != Drop || v.CondemnsSource() {
		t.Errorf("blocked sender name: %+v, want a drop that does not condemn the source", v)
	}
	var first, last Verdict
	for i := range 10 {
		v := p.Decide(msg(mail, "X", "BOB", "203.0.113.5:138", fmt.Sprint("hi ", i)))
		if i == 2 {
			first = v
		}
		last = v
	}
	if first.Rule != "rate.per_source" || first.CondemnsSource() {
		t.Errorf("first message over the limit before flood mode: %+v, want a quarantine that condemns nothing", first)
	}
	if !last.CondemnsSource() {
		t.Errorf("in flood mode, over its own limit: %+v does not condemn the source", last)
	}
}
