package policy

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"time"

	"github.com/netsend/messenger/internal/config/setting"
	"github.com/netsend/messenger/internal/message"
)

// Options are what the policy takes from outside its own table.
type Options struct {
	// RPCAllow and RPCTrust are rpc.allow and rpc.trust.
	RPCAllow []Net
	RPCTrust bool
	// Prev, when set, hands its rate and spam-run state to the new
	// policy if their settings did not change, so that a reload does not
	// forgive a flood in progress.
	Prev *Policy
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// transportNames are the transports a spec may configure. Alerts, like
// the API, come from this host (the CLI) or from the ingest listener,
// which checks a token, so neither has a network restriction by default.
// Hub messages have no network source at all ("hub:HOST"): the hub's
// credentials and permissions authenticate the sending host, which the
// lists name as "hub:HOST".
var transportNames = []message.Transport{message.TransportSMB, message.TransportMailslot, message.TransportRPC, message.TransportAPI, message.TransportAlert, message.TransportHub}

// transportList is transportNames as error messages list them.
const transportList = "smb, mailslot, rpc, api, alert, hub"

// Compile checks spec as a whole and builds the policy. Every problem
// is reported, each as a *setting.Error.
func Compile(spec Spec, o Options) (*Policy, error) {
	var errs []error
	bad := func(table string, index int, name, key, format string, args ...any) {
		errs = append(errs, &setting.Error{Table: table, Index: index, Name: name, Key: key, Err: fmt.Errorf(format, args...)})
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	p := &Policy{Transports: map[message.Transport]TransportRule{}, spec: spec, now: o.Now}

	if spec.QuarantineMax < 1 {
		bad("policy", -1, "", "quarantine_max", "%d: the quarantine must hold at least one message", spec.QuarantineMax)
	}
	checkLists(spec, bad)
	p.trust, p.block, p.allowSenders = newSubjects(spec.Trust), newSubjects(spec.BlockSenders), newSubjects(spec.AllowSenders)

	for key := range spec.Transports {
		if !knownTransport(key) {
			bad("policy.transports", -1, "", key, "unknown transport (%s)", transportList)
		}
	}
	for _, t := range transportNames {
		ts := spec.Transports[string(t)]
		table := "policy.transports." + string(t)
		r := TransportRule{}
		if ts.Enabled != nil && !*ts.Enabled {
			r.Disabled = true
			if len(ts.Allow) > 0 || ts.Quarantine != nil {
				bad(table, -1, "", "enabled", "the transport is off, yet allow or quarantine is set")
			}
		}
		if ts.Quarantine != nil {
			r.Quarantine = *ts.Quarantine
		}
		switch t {
		case message.TransportRPC:
			if len(ts.Allow) > 0 || ts.Quarantine != nil {
				bad(table, -1, "", "allow", "RPC's networks and quarantine are rpc.allow and rpc.trust; set them there")
			}
			r.Allow, r.Quarantine = NewNetworks(o.RPCAllow), !o.RPCTrust
		case message.TransportSMB, message.TransportMailslot:
			// The sender of a session or datagram from elsewhere is
			// nobody this host knows; a site that wants the world says
			// 0.0.0.0/0 explicitly.
			allow := ts.Allow
			if allow == nil {
				allow = []Net{{Local: true}}
			}
			r.Allow = NewNetworks(allow)
		case message.TransportHub:
			if len(ts.Allow) > 0 {
				bad(table, -1, "", "allow", "hub messages come from no network address; name their hosts as \"hub:HOST\" in trust, block_senders or allow_senders")
			}
		default:
			if len(ts.Allow) > 0 {
				r.Allow = NewNetworks(ts.Allow)
			}
		}
		p.Transports[t] = r
	}

	seen := map[string]int{}
	for i, rs := range spec.Rules {
		r, err := compileRule(rs)
		if err != nil {
			errs = append(errs, &setting.Error{Table: "policy.rule", Index: i, Name: rs.Name, Key: err.key, Err: err.err})
			continue
		}
		if j, dup := seen[rs.Name]; dup {
			bad("policy.rule", i, rs.Name, "name", "the name is already used by rule %d", j)
		}
		seen[rs.Name] = i
		p.rules = append(p.rules, r)
	}

	checkRates(spec, bad)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if prev := o.Prev; prev != nil && prev.rates != nil && reflect.DeepEqual(prev.spec.Rate, spec.Rate) && reflect.DeepEqual(prev.spec.Flood, spec.Flood) {
		p.rates = prev.rates
	} else if spec.Rate.PerSource != nil || spec.Rate.PerSender != nil || spec.Rate.Global != nil {
		p.rates = newRates(&spec)
	}
	if prev := o.Prev; prev != nil && prev.runs != nil && prev.spec.SpamRun == spec.SpamRun {
		p.runs = prev.runs
	} else if p.runs = newSpamRuns(&spec.SpamRun); p.runs != nil {
		p.runs.desc = runDesc(spec.SpamRun)
	}
	return p, nil
}

func knownTransport(s string) bool {
	for _, t := range transportNames {
		if string(t) == s {
			return true
		}
	}
	return false
}

// checkLists rejects an entry that is both trusted and blocked, or both
// allowed and blocked: which should win is anyone's guess.
func checkLists(spec Spec, bad func(table string, index int, name, key, format string, args ...any)) {
	blocked := map[string]bool{}
	for _, s := range spec.BlockSenders {
		blocked[s.String()] = true
	}
	for _, s := range spec.Trust {
		if blocked[s.String()] {
			bad("policy", -1, "", "trust", "%s is also in block_senders", s)
		}
	}
	for _, s := range spec.AllowSenders {
		if blocked[s.String()] {
			bad("policy", -1, "", "allow_senders", "%s is also in block_senders", s)
		}
	}
}

type ruleError struct {
	key string
	err error
}

func compileRule(rs RuleSpec) (rule, *ruleError) {
	fail := func(key, format string, args ...any) (rule, *ruleError) {
		return rule{}, &ruleError{key, fmt.Errorf(format, args...)}
	}
	if rs.Name == "" {
		return fail("name", "every rule needs a name: it is what quarantined messages and metrics show")
	}
	if strings.ContainsAny(rs.Name, " \t\n\"") {
		return fail("name", "%q: a name is one word", rs.Name)
	}
	a, ok := ParseAction(rs.Action)
	if !ok {
		return fail("action", "%q is not deliver, quarantine or drop", rs.Action)
	}
	r := rule{name: rs.Name, action: a}
	re := func(p *Pattern) *regexp.Regexp {
		if p == nil || p.Regexp == nil {
			return nil
		}
		return p.Regexp
	}
	r.sender, r.recipient, r.text, r.url = re(rs.Sender), re(rs.Recipient), re(rs.Text), re(rs.URL)
	if len(rs.Source) > 0 {
		r.sources = NewNetworks(rs.Source)
	}
	for _, t := range rs.Transport {
		if !knownTransport(t) {
			return fail("transport", "%q is not smb, mailslot, rpc, api, alert or hub", t)
		}
		r.transports = append(r.transports, message.Transport(t))
	}
	if r.sender == nil && r.recipient == nil && r.text == nil && r.url == nil && r.sources == nil && len(r.transports) == 0 {
		return fail("", "no condition (sender, recipient, source, transport, text or url): it would match every message")
	}
	return r, nil
}

func checkRates(spec Spec, bad func(table string, index int, name, key, format string, args ...any)) {
	for key, l := range map[string]*Limit{"per_source": spec.Rate.PerSource, "per_sender": spec.Rate.PerSender, "global": spec.Rate.Global} {
		if l == nil {
			continue
		}
		if l.Rate.N < 1 || l.Rate.Per <= 0 {
			bad("policy.rate", -1, "", key, "needs rate = \"N/duration\", like \"10/1m\"")
		}
		if l.Burst < 0 {
			bad("policy.rate", -1, "", key, "burst %d is negative", l.Burst)
		}
	}
	if spec.Rate.MaxTracked < 0 {
		bad("policy.rate", -1, "", "max_tracked", "%d is negative", spec.Rate.MaxTracked)
	}
	if spec.Flood.Threshold < 0 {
		bad("policy.flood", -1, "", "threshold", "%d is negative", spec.Flood.Threshold)
	}
	if spec.Flood.Threshold > 0 && spec.Flood.Hold.Duration <= 0 {
		bad("policy.flood", -1, "", "hold", "must be positive when threshold is set")
	}
	sr := spec.SpamRun
	for key, n := range map[string]int{"recipients": sr.Recipients, "sources": sr.Sources} {
		if n < 0 || n == 1 || n > maxRunCount {
			bad("policy.spam_run", -1, "", key, "%d: count from 2 to %d, or 0 for off", n, maxRunCount)
		}
	}
	if (sr.Recipients > 0 || sr.Sources > 0) && sr.Window.Duration <= 0 {
		bad("policy.spam_run", -1, "", "window", "must be positive")
	}
	if sr.MaxTexts < 0 {
		bad("policy.spam_run", -1, "", "max_texts", "%d is negative", sr.MaxTexts)
	}
}

func runDesc(s SpamRunSpec) string {
	var parts []string
	if s.Recipients > 0 {
		parts = append(parts, fmt.Sprintf("%d recipients", s.Recipients))
	}
	if s.Sources > 0 {
		parts = append(parts, fmt.Sprintf("%d sources", s.Sources))
	}
	return "the same text to " + strings.Join(parts, " or from ") + " within " + s.Window.String()
}

// Spec returns the spec the policy was compiled from.
func (p *Policy) Spec() Spec { return p.spec }
