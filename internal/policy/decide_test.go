package policy

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/netsend/messenger/internal/config/setting"
	"github.com/netsend/messenger/internal/message"
)

// clock is a settable time for rate limits and windows.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func compileTOML(t *testing.T, src string, o Options) *Policy {
	t.Helper()
	spec := DefaultSpec()
	if _, err := toml.Decode(src, &spec); err != nil {
		t.Fatalf("decoding %q: %v", src, err)
	}
	p, err := Compile(spec, o)
	if err != nil {
		t.Fatalf("compiling %q: %v", src, err)
	}
	return p
}

func msg(tr message.Transport, from, to, source, text string) *message.Message {
	return &message.Message{Transport: tr, From: from, To: to, Source: source, Text: text}
}

const (
	smb  = message.TransportSMB
	mail = message.TransportMailslot
	rpcT = message.TransportRPC
)

// TestDecideRuleKinds checks each kind of rule alone, then together in
// the order of precedence the package documents.
func TestDecideRuleKinds(t *testing.T) {
	rpcLocal := Options{RPCAllow: []Net{{Local: true}}}
	for _, tc := range []struct {
		name   string
		spec   string
		opts   Options
		m      *message.Message
		action Action
		rule   string
		field  string
	}{
		{"default delivers local smb", ``, rpcLocal, msg(smb, "ALICE", "BOB", "127.0.0.1:1", "hi"), Deliver, "", ""},
		{"default drops smb from afar", ``, rpcLocal, msg(smb, "ALICE", "BOB", "203.0.113.9:1", "hi"), Drop, "smb.allow", "source"},
		{"default drops mailslot from afar", ``, rpcLocal, msg(mail, "ALICE", "BOB", "203.0.113.9:138", "hi"), Drop, "mailslot.allow", "source"},
		{"rpc quarantined even from local", ``, rpcLocal, msg(rpcT, "ALICE", "BOB", "127.0.0.1:135", "hi"), Quarantine, "rpc.quarantine", "transport"},
		{"rpc.trust delivers", ``, Options{RPCAllow: []Net{{Local: true}}, RPCTrust: true}, msg(rpcT, "ALICE", "BOB", "127.0.0.1:135", "hi"), Deliver, "", ""},
		{"rpc from afar dropped", ``, rpcLocal, msg(rpcT, "ALICE", "BOB", "198.51.100.1:135", "hi"), Drop, "rpc.allow", "source"},
		{"transport off", "[transports.mailslot]\nenabled = false", rpcLocal, msg(mail, "ALICE", "BOB", "127.0.0.1:138", "hi"), Drop, "mailslot.disabled", "transport"},
		{"transport open to the world", "[transports.smb]\nallow = [\"0.0.0.0/0\"]", rpcLocal, msg(smb, "ALICE", "BOB", "203.0.113.9:1", "hi"), Deliver, "", ""},
		{"transport quarantine", "[transports.smb]\nquarantine = true", rpcLocal, msg(smb, "ALICE", "BOB", "127.0.0.1:1", "hi"), Quarantine, "smb.quarantine", "transport"},
		{"trust by name", `trust = ["ups"]` + "\n[transports.smb]\nquarantine = true\n", rpcLocal, msg(smb, "ups", "BOB", "127.0.0.1:1", "hi"), Quarantine, "smb.quarantine", "transport"},
		{"trust by name delivers", `trust = ["ups"]` + "\n" + `block_senders = ["127.0.0.0/8"]`, rpcLocal, msg(smb, "Ups", "BOB", "127.0.0.1:1", "hi"), Deliver, "trust", "sender"},
		{"trust by network", `trust = ["127.0.0.2"]` + "\n" + `allow_senders = ["NOBODY"]`, rpcLocal, msg(smb, "X", "BOB", "127.0.0.2:1", "hi"), Deliver, "trust", "source"},
		{"trust does not open rpc quarantine", `trust = ["127.0.0.1"]`, rpcLocal, msg(rpcT, "X", "BOB", "127.0.0.1:1", "hi"), Quarantine, "rpc.quarantine", "transport"},
		{"block by name", `block_senders = ["spammer"]`, rpcLocal, msg(smb, "SPAMMER", "BOB", "127.0.0.1:1", "hi"), Drop, "block_senders", "sender"},
		{"block by network", `block_senders = ["127.0.0.64/26"]`, rpcLocal, msg(smb, "X", "BOB", "127.0.0.65:1", "hi"), Drop, "block_senders", "source"},
		{"block beats rules", "block_senders = [\"X\"]\n[[rule]]\nname = \"ok\"\nsender = \"X\"\naction = \"deliver\"", rpcLocal, msg(smb, "X", "BOB", "127.0.0.1:1", "hi"), Drop, "block_senders", "sender"},
		{"allow_senders holds others", `allow_senders = ["ALICE"]`, rpcLocal, msg(smb, "MALLORY", "BOB", "127.0.0.1:1", "hi"), Quarantine, "allow_senders", "sender"},
		{"allow_senders lets listed in", `allow_senders = ["ALICE"]`, rpcLocal, msg(smb, "alice", "BOB", "127.0.0.1:1", "hi"), Deliver, "", ""},
		{"text rule", "[[rule]]\nname = \"pills\"\ntext = \"(?i)viagra\"\naction = \"drop\"", rpcLocal, msg(smb, "X", "BOB", "127.0.0.1:1", "Cheap VIAGRA now"), Drop, "pills", "text"},
		{"url rule", "[[rule]]\nname = \"links\"\nurl = \"\\\\.example$\"\naction = \"quarantine\"", rpcLocal, msg(smb, "X", "BOB", "127.0.0.1:1", "visit http://spam.example now"), Quarantine, "links", "url"},
		{"url rule misses other urls", "[[rule]]\nname = \"links\"\nurl = \"\\\\.example$\"\naction = \"quarantine\"", rpcLocal, msg(smb, "X", "BOB", "127.0.0.1:1", "see www.golang.org"), Deliver, "", ""},
		{"recipient rule", "[[rule]]\nname = \"no-admin\"\nrecipient = \"^ADMINISTRATOR$\"\naction = \"quarantine\"", rpcLocal, msg(smb, "X", "ADMINISTRATOR", "127.0.0.1:1", "hi"), Quarantine, "no-admin", "recipient"},
		{"sender regex rule", "[[rule]]\nname = \"bots\"\nsender = \"^BOT\\\\d+$\"\naction = \"drop\"", rpcLocal, msg(smb, "BOT17", "BOB", "127.0.0.1:1", "hi"), Drop, "bots", "sender"},
		{"source and transport rule", "[[rule]]\nname = \"lab\"\nsource = [\"127.0.0.128/25\"]\ntransport = [\"mailslot\"]\naction = \"quarantine\"", rpcLocal, msg(mail, "X", "BOB", "127.0.0.200:138", "hi"), Quarantine, "lab", "source"},
		{"rule needs every condition", "[[rule]]\nname = \"lab\"\nsource = [\"127.0.0.128/25\"]\ntransport = [\"mailslot\"]\naction = \"quarantine\"", rpcLocal, msg(smb, "X", "BOB", "127.0.0.200:1", "hi"), Deliver, "", ""},
		{"first rule wins", "[[rule]]\nname = \"a\"\ntext = \"x\"\naction = \"deliver\"\n[[rule]]\nname = \"b\"\ntext = \"x\"\naction = \"drop\"", rpcLocal, msg(smb, "X", "BOB", "127.0.0.1:1", "x"), Deliver, "a", "text"},
		{"deliver rule beats allow_senders", "allow_senders = [\"A\"]\n[[rule]]\nname = \"ok\"\nrecipient = \"BOB\"\naction = \"deliver\"", rpcLocal, msg(smb, "X", "BOB", "127.0.0.1:1", "x"), Deliver, "ok", "recipient"},
		{"rule beats transport quarantine", "[transports.smb]\nquarantine = true\n[[rule]]\nname = \"bad\"\ntext = \"x\"\naction = \"drop\"", rpcLocal, msg(smb, "X", "BOB", "127.0.0.1:1", "x"), Drop, "bad", "text"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := compileTOML(t, tc.spec, tc.opts)
			v := p.Decide(tc.m)
			if v.Action != tc.action || v.Rule != tc.rule || v.Field != tc.field {
				t.Errorf("got %v %q field %q (%s), want %v %q field %q", v.Action, v.Rule, v.Field, v.Explain(), tc.action, tc.rule, tc.field)
			}
		})
	}
}

// TestPrecedence checks each adjacent pair of the documented order where
// one message meets both rules: the earlier one decides.
func TestPrecedence(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	for _, tc := range []struct {
		name, spec string
		m          *message.Message
		warm       int // messages sent first, to use up limits or windows
		rule       string
	}{
		{"disabled before allow", "[transports.smb]\nenabled = false", msg(smb, "A", "B", "203.0.113.1:1", "x"), 0, "smb.disabled"},
		{"allow before trust", `trust = ["A"]`, msg(smb, "A", "B", "203.0.113.1:1", "x"), 0, "smb.allow"},
		{"trust before block", "trust = [\"A\"]\nblock_senders = [\"127.0.0.0/8\"]", msg(smb, "A", "B", "127.0.0.1:1", "x"), 0, "trust"},
		{"block before rate", "block_senders = [\"A\"]\n[rate]\nglobal = { rate = \"1/1h\" }", msg(smb, "A", "B", "127.0.0.1:1", "x"), 3, "block_senders"},
		{"rate before rules", "[rate]\nper_source = { rate = \"1/1h\" }\n[[rule]]\nname = \"ok\"\ntext = \"x\"\naction = \"deliver\"", msg(smb, "A", "B", "127.0.0.1:1", "x"), 1, "rate.per_source"},
		{"rules before spam run", "[spam_run]\nrecipients = 2\n[[rule]]\nname = \"ok\"\ntext = \"x\"\naction = \"deliver\"", msg(smb, "A", "B", "127.0.0.1:1", "x"), 3, "ok"},
		{"spam run before allow_senders", "allow_senders = [\"Z\"]\n[spam_run]\nrecipients = 2", msg(smb, "A", "B", "127.0.0.1:1", "x"), 3, "spam_run"},
		{"allow_senders before transport quarantine", "allow_senders = [\"Z\"]\n[transports.smb]\nquarantine = true", msg(smb, "A", "B", "127.0.0.1:1", "x"), 0, "allow_senders"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := compileTOML(t, tc.spec, Options{Now: c.now})
			for i := range tc.warm {
				w := *tc.m
				w.To = "R" + itoaTest(i)
				p.Decide(&w)
			}
			if v := p.Decide(tc.m); v.Rule != tc.rule {
				t.Errorf("decided by %q (%v), want %q", v.Rule, v.Action, tc.rule)
			}
		})
	}
}

func TestRateLimits(t *testing.T) {
	for _, tc := range []struct {
		name, spec string
		vary       func(i int) *message.Message
		allowed    int
		rule       string
	}{
		{"per source", "[rate]\nper_source = { rate = \"3/1m\" }", func(i int) *message.Message {
			return msg(smb, "S"+string(rune('A'+i)), "BOB", "127.0.0.9:1", "t")
		}, 3, "rate.per_source"},
		{"per source with burst", "[rate]\nper_source = { rate = \"1/1m\", burst = 5 }", func(i int) *message.Message {
			return msg(smb, "A", "BOB", "127.0.0.9:1", "t")
		}, 5, "rate.per_source"},
		{"per sender across sources", "[rate]\nper_sender = { rate = \"2/1h\" }", func(i int) *message.Message {
			return msg(smb, "spammer", "BOB", "127.0.1."+string(rune('1'+i))+":1", "t")
		}, 2, "rate.per_sender"},
		{"global", "[rate]\nglobal = { rate = \"4/1s\" }", func(i int) *message.Message {
			return msg(smb, "S"+string(rune('A'+i)), "BOB", "127.0.2."+string(rune('1'+i))+":1", "t")
		}, 4, "rate.global"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &clock{t: time.Unix(1000, 0)}
			p := compileTOML(t, tc.spec+"\n[flood]\nthreshold = 0", Options{Now: c.now})
			for i := range tc.allowed {
				if v := p.Decide(tc.vary(i)); v.Action != Deliver {
					t.Fatalf("message %d: %v %q, want deliver", i, v.Action, v.Rule)
				}
			}
			v := p.Decide(tc.vary(tc.allowed))
			if v.Action != Quarantine || v.Rule != tc.rule {
				t.Fatalf("message over the limit: %v %q, want quarantine %q", v.Action, v.Rule, tc.rule)
			}
			// Trust is exempt from every limit.
			trusted := compileTOML(t, "trust = [\"127.0.0.0/8\"]\n"+tc.spec, Options{Now: c.now})
			for i := range tc.allowed + 5 {
				if v := trusted.Decide(tc.vary(i % 8)); v.Action != Deliver {
					t.Fatalf("trusted message %d: %v %q", i, v.Action, v.Rule)
				}
			}
		})
	}
	// Tokens come back with time.
	c := &clock{t: time.Unix(1000, 0)}
	p := compileTOML(t, "[rate]\nper_source = { rate = \"1/1s\" }", Options{Now: c.now})
	m := msg(smb, "A", "B", "127.0.0.9:1", "t")
	if p.Decide(m).Action != Deliver || p.Decide(m).Action != Quarantine {
		t.Fatal("second message within a second not held")
	}
	c.t = c.t.Add(time.Second)
	if v := p.Decide(m); v.Action != Deliver {
		t.Fatalf("after a second: %v %q", v.Action, v.Rule)
	}
}

func TestFloodMode(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	p := compileTOML(t, "[rate]\nglobal = { rate = \"10/1s\" }\n[flood]\nthreshold = 5\nhold = \"10s\"", Options{Now: c.now})
	var quarantined, dropped int
	for i := range 40 {
		v := p.Decide(msg(smb, "S", "B", "127.0.0.1:1", "t"+string(rune('a'+i%26))))
		switch v.Action {
		case Quarantine:
			quarantined++
		case Drop:
			dropped++
			if v.Rule != "flood" || v.Match != "rate.global" {
				t.Fatalf("drop %q matching %q, want flood over rate.global", v.Rule, v.Match)
			}
		}
	}
	// 10 delivered, 5 over the limit quarantined (the flood bucket's
	// burst), then flood mode drops the other 25.
	if quarantined != 5 || dropped != 25 {
		t.Errorf("quarantined %d, dropped %d; want 5 and 25", quarantined, dropped)
	}
	// In flood mode any quarantine is a drop; a trusted sender still gets through.
	tr := compileTOML(t, "trust = [\"UPS\"]\n[rate]\nglobal = { rate = \"10/1s\" }\n[flood]\nthreshold = 5\nhold = \"10s\"", Options{Now: c.now, Prev: p})
	if tr.rates != p.rates {
		t.Error("reload with the same rates did not keep the flood state")
	}
	if v := tr.Decide(msg(smb, "UPS", "B", "127.0.0.1:1", "on battery")); v.Action != Deliver {
		t.Errorf("trusted sender in flood mode: %v %q", v.Action, v.Rule)
	}
	c.t = c.t.Add(11 * time.Second)
	if v := tr.Decide(msg(smb, "S", "B", "127.0.0.1:1", "later")); v.Action != Deliver {
		t.Errorf("after the hold: %v %q", v.Action, v.Rule)
	}
}

func TestSpamRun(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	p := compileTOML(t, "[spam_run]\nwindow = \"1m\"\nrecipients = 3\nsources = 4\n[flood]\nthreshold = 0", Options{Now: c.now})
	// Case, spacing, digits and punctuation do not make a new text.
	texts := []string{"Buy cheap software now!", "buy CHEAP software now 1", "Buy  cheap software, now 22"}
	for i, to := range []string{"A", "B"} {
		if v := p.Decide(msg(smb, "X", to, "127.0.0.1:1", texts[i])); v.Action != Deliver {
			t.Fatalf("recipient %d: %v %q", i, v.Action, v.Rule)
		}
	}
	v := p.Decide(msg(smb, "X", "C", "127.0.0.1:1", texts[2]))
	if v.Action != Quarantine || v.Rule != "spam_run" {
		t.Fatalf("third recipient: %v %q, want spam_run", v.Action, v.Rule)
	}
	// Other text is untouched; the window ends.
	if v := p.Decide(msg(smb, "X", "D", "127.0.0.1:1", "lunch?")); v.Action != Deliver {
		t.Errorf("other text: %v %q", v.Action, v.Rule)
	}
	c.t = c.t.Add(2 * time.Minute)
	if v := p.Decide(msg(smb, "X", "E", "127.0.0.1:1", texts[0])); v.Action != Deliver {
		t.Errorf("after the window: %v %q", v.Action, v.Rule)
	}
	// Many sources, one recipient.
	for i := range 3 {
		p.Decide(msg(smb, "X", "Z", "127.0.3."+string(rune('1'+i))+":1", "same from everywhere"))
	}
	if v := p.Decide(msg(smb, "X", "Z", "127.0.3.9:1", "same from everywhere")); v.Rule != "spam_run" {
		t.Errorf("fourth source: %v %q", v.Action, v.Rule)
	}
}

func TestTablesStayBounded(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	p := compileTOML(t, "[rate]\nper_source = { rate = \"1/1h\" }\nper_sender = { rate = \"1/1h\" }\nmax_tracked = 64\n[spam_run]\nmax_texts = 64\nrecipients = 2", Options{Now: c.now})
	for i := range 5000 {
		a := byte(i >> 8)
		b := byte(i)
		src := "127.1." + itoaTest(int(a)) + "." + itoaTest(int(b)) + ":1"
		p.Decide(msg(smb, "S"+itoaTest(i), "B", src, "text "+itoaTest(i)+strings.Repeat("x", i%7)))
	}
	if n := p.rates.source.t.len(); n > 64 {
		t.Errorf("%d sources tracked, cap 64", n)
	}
	if n := p.rates.sender.t.len(); n > 64 {
		t.Errorf("%d senders tracked, cap 64", n)
	}
	if n := p.runs.t.len(); n > 64 {
		t.Errorf("%d texts tracked, cap 64", n)
	}
	// The most recent source is still remembered: it is over its limit.
	if v := p.Decide(msg(smb, "NEW", "B", "127.1.19.135:1", "fresh")); v.Rule != "rate.per_source" {
		t.Errorf("most recent source forgotten: %v %q", v.Action, v.Rule)
	}
}

func itoaTest(n int) string {
	if n == 0 {
		return "0"
	}
	s := ""
	for ; n > 0; n /= 10 {
		s = string(rune('0'+n%10)) + s
	}
	return s
}

func TestCompileErrors(t *testing.T) {
	for _, tc := range []struct {
		spec, want string
	}{
		{`trust = ["X"]` + "\n" + `block_senders = ["x"]`, `policy.trust: X is also in block_senders`},
		{`allow_senders = ["10.0.0.0/8"]` + "\n" + `block_senders = ["10.0.0.0/8"]`, `policy.allow_senders`},
		{"[[rule]]\ntext = \"x\"\naction = \"drop\"", `policy.rule[0].name: every rule needs a name`},
		{"[[rule]]\nname = \"a\"\ntext = \"x\"\naction = \"burn\"", `policy.rule[0] ("a").action: "burn" is not deliver`},
		{"[[rule]]\nname = \"a\"\naction = \"drop\"", `policy.rule[0] ("a"): no condition`},
		{"[[rule]]\nname = \"a\"\ntext = \"x\"\naction = \"drop\"\n[[rule]]\nname = \"a\"\ntext = \"y\"\naction = \"drop\"", `policy.rule[1] ("a").name: the name is already used by rule 0`},
		{"[[rule]]\nname = \"a\"\ntransport = [\"irc\"]\naction = \"drop\"", `"irc" is not smb`},
		{"[transports.rpc]\nallow = [\"10.0.0.0/8\"]", `rpc.allow and rpc.trust`},
		{"[transports.smb]\nenabled = false\nallow = [\"local\"]", `policy.transports.smb.enabled: the transport is off`},
		{"[transports.gopher]\nenabled = false", `policy.transports.gopher: unknown transport`},
		{"quarantine_max = 0", `policy.quarantine_max`},
		{"[rate]\nper_source = { burst = 3 }", `policy.rate.per_source: needs rate`},
		{"[spam_run]\nrecipients = 1", `policy.spam_run.recipients`},
		{"[flood]\nthreshold = 5\nhold = \"0s\"", `policy.flood.hold`},
	} {
		spec := DefaultSpec()
		if _, err := toml.Decode(tc.spec, &spec); err != nil {
			t.Fatalf("%q: %v", tc.spec, err)
		}
		_, err := Compile(spec, Options{})
		var fe *setting.Error
		if err == nil || !errors.As(err, &fe) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want one containing %q", tc.spec, err, tc.want)
		}
	}
	// Values wrong on their own fail while decoding, where TOML knows the line.
	for _, src := range []string{
		"[[rule]]\nname = \"a\"\ntext = \"(unclosed\"\naction = \"drop\"",
		"trust = [\"10.0.0.0/33\"]",
		"[rate]\nglobal = { rate = \"ten/1s\" }",
		"[rate]\nglobal = { rate = \"10/fortnight\" }",
		"[spam_run]\nwindow = \"soon\"",
	} {
		spec := DefaultSpec()
		_, err := toml.Decode(src, &spec)
		var pe toml.ParseError
		if !errors.As(err, &pe) || pe.Position.Line < 1 {
			t.Errorf("%q: %v, want a parse error with a line", src, err)
		}
	}
}

func TestExplain(t *testing.T) {
	p := compileTOML(t, "[[rule]]\nname = \"pills\"\ntext = \"(?i)viagra\"\naction = \"quarantine\"", Options{})
	v := p.Decide(msg(smb, "X", "B", "127.0.0.1:1", "Cheap Viagra"))
	if got, want := v.Explain(), `rule pills (quarantine): text "Viagra" matched "(?i)viagra"`; got != want {
		t.Errorf("Explain() = %q, want %q", got, want)
	}
}

func TestDecideAllocs(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	p := compileTOML(t, benchSpec, Options{RPCAllow: []Net{{Local: true}}, Now: c.now})
	m := msg(mail, "SPAMMER", "BOB", "127.0.0.1:138", "Buy cheap software now at http://spam.example")
	p.Decide(m)
	if n := testing.AllocsPerRun(1000, func() { p.Decide(m) }); n > 0 {
		t.Errorf("Decide allocates %.1f times per call", n)
	}
}

// AdmitSource must agree with Decide's first two rules, which a listener
// applies at accept in its place.
func TestAdmitSource(t *testing.T) {
	for _, tc := range []struct {
		name, spec, addr string
		tr               message.Transport
		rule             string
		ok               bool
	}{
		{"loopback by default", ``, "127.0.0.2", smb, "", true},
		{"mapped loopback", ``, "::ffff:127.0.0.1", smb, "", true},
		{"afar by default", ``, "203.0.113.9", smb, "smb.allow", false},
		{"listed network", "[transports.smb]\nallow = [\"203.0.113.0/24\"]", "203.0.113.9", smb, "", true},
		{"listed network only", "[transports.smb]\nallow = [\"203.0.113.0/24\"]", "127.0.0.1", smb, "smb.allow", false},
		{"transport off", "[transports.smb]\nenabled = false", "127.0.0.1", smb, "smb.disabled", false},
		{"invalid address", ``, "", smb, "smb.allow", false},
		{"api from anywhere", ``, "203.0.113.9", message.TransportAPI, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := compileTOML(t, tc.spec, Options{})
			var addr netip.Addr
			if tc.addr != "" {
				addr = netip.MustParseAddr(tc.addr)
			}
			rule, ok := p.AdmitSource(tc.tr, addr)
			if rule != tc.rule || ok != tc.ok {
				t.Fatalf("AdmitSource(%v, %v) = %q, %v; want %q, %v", tc.tr, tc.addr, rule, ok, tc.rule, tc.ok)
			}
			if !addr.IsValid() {
				return
			}
			v := p.Decide(msg(tc.tr, "ALICE", "BOB", netip.AddrPortFrom(addr, 1).String(), "hi"))
			if refused := v.Action == Drop && (v.Rule == tc.rule); refused == tc.ok {
				t.Errorf("Decide says %+v; AdmitSource says ok=%v", v, tc.ok)
			}
		})
	}
}
