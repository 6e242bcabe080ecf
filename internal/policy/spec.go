package policy

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/netsend/messenger/internal/message"
)

// Spec is the spam defence as the operator writes it: the [policy] table
// of the configuration file. Compile turns it into a Policy. Values that
// can be wrong on their own (patterns, rates, networks, windows) check
// themselves as they are decoded, so a TOML decoder reports them with
// their line.
type Spec struct {
	// Trust lists senders (names), sources (CIDRs, addresses or
	// "local") and hub hosts ("hub:HOST") whose messages are always
	// delivered.
	Trust []Subject `toml:"trust"`
	// TrustVerified delivers every hub message whose sending host the
	// hub proved, as if that host were in Trust.
	TrustVerified bool `toml:"trust_verified"`
	// BlockSenders lists senders and sources whose messages are dropped.
	BlockSenders []Subject `toml:"block_senders"`
	// AllowSenders, when not empty, quarantines every sender not listed.
	AllowSenders []Subject `toml:"allow_senders"`
	// QuarantineMax caps the quarantine; the oldest go first.
	QuarantineMax int `toml:"quarantine_max"`
	// Rules are tried in order; the first whose every condition holds
	// decides.
	Rules []RuleSpec `toml:"rule"`
	Rate  RateSpec   `toml:"rate"`
	Flood FloodSpec  `toml:"flood"`
	// SpamRun holds back one text sent to many recipients or from many
	// sources within a window.
	SpamRun SpamRunSpec `toml:"spam_run"`
	// Transports switch each transport on or off and say which networks
	// may use it. RPC's are rpc.allow and rpc.trust.
	Transports map[string]TransportSpec `toml:"transports"`
}

// RuleSpec is one [[policy.rule]]: conditions (all must hold) and an action.
type RuleSpec struct {
	Name      string   `toml:"name"`
	Sender    *Pattern `toml:"sender,omitempty"`
	Recipient *Pattern `toml:"recipient,omitempty"`
	Source    []Net    `toml:"source,omitempty"`
	Transport []string `toml:"transport,omitempty"`
	Text      *Pattern `toml:"text,omitempty"`
	// URL matches any URL in the text ("." for any URL at all).
	URL    *Pattern `toml:"url,omitempty"`
	Action string   `toml:"action"`
}

// RateSpec limits messages with token buckets. A limit that is nil is off.
type RateSpec struct {
	PerSource *Limit `toml:"per_source,omitempty"`
	PerSender *Limit `toml:"per_sender,omitempty"`
	Global    *Limit `toml:"global,omitempty"`
	// MaxTracked caps the sources and the senders remembered, each; the
	// least recently seen are forgotten first.
	MaxTracked int `toml:"max_tracked"`
}

// Limit is a rate and the burst allowed above it.
type Limit struct {
	Rate  Rate `toml:"rate"`
	Burst int  `toml:"burst,omitempty"` // 0: the rate's count
}

// FloodSpec switches flood mode on: once more than Threshold messages a
// second exceed a rate limit, everything the policy would hold back is
// dropped without being stored, for Hold after the flood stops.
type FloodSpec struct {
	Threshold int      `toml:"threshold"`
	Hold      Duration `toml:"hold"`
}

// SpamRunSpec: the same text (case, spacing and digits ignored) to at
// least Recipients recipients, or from at least Sources sources, within
// Window is quarantined from then on. 0 switches a count off.
type SpamRunSpec struct {
	Window     Duration `toml:"window"`
	Recipients int      `toml:"recipients"`
	Sources    int      `toml:"sources"`
	// MaxTexts caps the texts remembered.
	MaxTexts int `toml:"max_texts"`
}

// TransportSpec is what one transport may do. Nil fields keep defaults.
type TransportSpec struct {
	Enabled    *bool `toml:"enabled,omitempty"`
	Allow      []Net `toml:"allow,omitempty"`
	Quarantine *bool `toml:"quarantine,omitempty"`
}

// DefaultSpec is the spam defence with no configuration: SMB and mailslot
// from this host's networks only, spam runs held back, floods dropped.
// Rate limits are off: a busy UPS or monitoring sender is legitimate, and
// what a site considers too many is its own call.
func DefaultSpec() Spec {
	return Spec{
		QuarantineMax: 10000,
		Rate:          RateSpec{MaxTracked: 65536},
		Flood:         FloodSpec{Threshold: 1000, Hold: Duration{30 * time.Second}},
		SpamRun:       SpamRunSpec{Window: Duration{10 * time.Minute}, Recipients: 20, Sources: 20, MaxTexts: 16384},
		Transports: map[string]TransportSpec{
			"smb":      {Allow: []Net{{Local: true}}},
			"mailslot": {Allow: []Net{{Local: true}}},
		},
	}
}

// Pattern is a regular expression compiled when it is read.
type Pattern struct{ *regexp.Regexp }

// UnmarshalText implements encoding.TextUnmarshaler.
func (p *Pattern) UnmarshalText(b []byte) error {
	re, err := regexp.Compile(string(b))
	if err != nil {
		return fmt.Errorf("bad regular expression %q: %w", b, err)
	}
	p.Regexp = re
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (p Pattern) MarshalText() ([]byte, error) {
	if p.Regexp == nil {
		return nil, nil
	}
	return []byte(p.String()), nil
}

// Rate is "N/duration": at most N messages per duration, on average.
type Rate struct {
	N   int
	Per time.Duration
}

// ParseRate reads "N/duration" ("10/1m", "1000/1s"; "10/m" means 10/1m).
func ParseRate(s string) (Rate, error) {
	n, per, ok := strings.Cut(s, "/")
	if !ok {
		return Rate{}, fmt.Errorf("rate %q is not N/duration, like 10/1m", s)
	}
	count, err := strconv.Atoi(strings.TrimSpace(n))
	if err != nil || count < 1 {
		return Rate{}, fmt.Errorf("rate %q: %q is not a positive count", s, n)
	}
	per = strings.TrimSpace(per)
	if per != "" && (per[0] < '0' || per[0] > '9') {
		per = "1" + per
	}
	d, err := time.ParseDuration(per)
	if err != nil || d <= 0 {
		return Rate{}, fmt.Errorf("rate %q: %q is not a positive duration", s, per)
	}
	return Rate{N: count, Per: d}, nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (r *Rate) UnmarshalText(b []byte) error {
	v, err := ParseRate(string(b))
	*r = v
	return err
}

// MarshalText implements encoding.TextMarshaler.
func (r Rate) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

func (r Rate) String() string {
	d := r.Per.String()
	// "1m", not time's "1m0s": as people write it.
	if strings.HasSuffix(d, "m0s") {
		d = strings.TrimSuffix(d, "0s")
	}
	if strings.HasSuffix(d, "h0m") {
		d = strings.TrimSuffix(d, "0m")
	}
	return strconv.Itoa(r.N) + "/" + d
}

// Net is a CIDR, an address, or "local" (loopback and this host's
// networks).
type Net struct {
	Prefix netip.Prefix
	Local  bool
}

// ParseNet reads a CIDR, a bare address (a /32 or /128), or "local".
func ParseNet(s string) (Net, error) {
	if s == "local" {
		return Net{Local: true}, nil
	}
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return Net{}, fmt.Errorf("%q is not a network: %w", s, err)
		}
		return Net{Prefix: p.Masked()}, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return Net{}, fmt.Errorf("%q is neither \"local\", an address nor a CIDR like 192.168.1.0/24", s)
	}
	return Net{Prefix: netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())}, nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (n *Net) UnmarshalText(b []byte) error {
	v, err := ParseNet(string(b))
	*n = v
	return err
}

// MarshalText implements encoding.TextMarshaler.
func (n Net) MarshalText() ([]byte, error) { return []byte(n.String()), nil }

func (n Net) String() string {
	if n.Local {
		return "local"
	}
	return n.Prefix.String()
}

// Subject is a sender name, a source network or a hub host: entries of
// trust and block lists. "hub:HOST" is the host the hub proved sent a
// message (Message.Verified), which only hub messages have; anything else
// that reads as a network is one; the rest are NetBIOS names. Names and
// hosts are compared without regard to case.
type Subject struct {
	Name string
	Net  *Net
	// Hub is the verified sending host of a "hub:HOST" entry, upper-cased.
	Hub string
}

// hubPrefix marks a list entry as a host the hub verifies.
const hubPrefix = "hub:"

// ParseSubject reads a hub host ("hub:HOST"), a network ("local", an
// address, a CIDR) or a name.
func ParseSubject(s string) (Subject, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Subject{}, fmt.Errorf("empty sender or network")
	}
	if len(s) >= len(hubPrefix) && strings.EqualFold(s[:len(hubPrefix)], hubPrefix) {
		host := strings.TrimSpace(s[len(hubPrefix):])
		switch {
		case host == "":
			return Subject{}, fmt.Errorf("%q names no host: hub:HOST", s)
		case !utf8.ValidString(host) || strings.ContainsFunc(host, unicode.IsSpace) || strings.ContainsFunc(host, unicode.IsControl):
			return Subject{}, fmt.Errorf("%q: a hub host is one word", s)
		case len(host) > message.MaxNameLen:
			return Subject{}, fmt.Errorf("hub host of %d bytes is too long", len(host))
		}
		return Subject{Hub: strings.ToUpper(host)}, nil
	}
	if n, err := ParseNet(s); err == nil {
		return Subject{Net: &n}, nil
	}
	if strings.Contains(s, "/") {
		// Meant as a CIDR, so say what is wrong with it.
		_, err := ParseNet(s)
		return Subject{}, err
	}
	if len(s) > 255 {
		return Subject{}, fmt.Errorf("sender name of %d bytes is too long", len(s))
	}
	return Subject{Name: strings.ToUpper(s)}, nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Subject) UnmarshalText(b []byte) error {
	v, err := ParseSubject(string(b))
	*s = v
	return err
}

// MarshalText implements encoding.TextMarshaler.
func (s Subject) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

func (s Subject) String() string {
	if s.Net != nil {
		return s.Net.String()
	}
	if s.Hub != "" {
		return hubPrefix + s.Hub
	}
	return s.Name
}

// Duration is a time.Duration that reads and writes as "30s".
type Duration struct{ time.Duration }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("%q is not a duration like 30s or 10m", b)
	}
	d.Duration = v
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }
