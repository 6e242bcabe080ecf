package config

import (
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/netsend/messenger/internal/config/setting"
	"github.com/netsend/messenger/internal/message"
	"github.com/netsend/messenger/internal/names"
)

// Alert configures the Alerter service: who is told of which
// administrative alerts, how repeats and floods are held back, and the
// tokens and topics of the ntfy/Gotify/Alertmanager ingest listener.
type Alert struct {
	// DedupWindow suppresses a repeat of the same alert (same key and
	// status) to the same recipient within this long; 0 switches it off.
	DedupWindow Duration `toml:"dedup_window"`
	// RateLimit is the most alerts a minute one source may raise (a token
	// bucket with a burst of as many); 0 means no limit.
	RateLimit int `toml:"rate_limit"`
	// IngestAddr is the HOST:PORT of the compatibility listener (ntfy,
	// Gotify, Alertmanager webhooks); empty switches it off.
	IngestAddr string `toml:"ingest_addr"`
	// From is the sender name alerts show; empty means the host name.
	From string `toml:"from"`
	// Groups name sets of recipients, usable wherever a recipient is.
	Groups map[string][]string `toml:"groups"`
	// Routes say who gets what. An alert goes to every recipient of every
	// route it matches; with no route at all, everything goes to the
	// host name.
	Routes []AlertRoute `toml:"route"`
	// Tokens admit tools to the ingest listener.
	Tokens []AlertToken `toml:"token"`
	// Topics map an ntfy topic to its recipients.
	Topics map[string][]string `toml:"topics"`
}

// AlertRoute is one [[alert.route]].
type AlertRoute struct {
	// Sources are the alert sources the route takes; empty takes every
	// source.
	Sources []string `toml:"sources"`
	// Severity is the least severity the route takes; empty means info.
	Severity string `toml:"severity"`
	// To lists recipient names and groups.
	To []string `toml:"to"`
}

// AlertToken is one [[alert.token]]: a tool allowed to raise alerts
// through the ingest listener.
type AlertToken struct {
	Name string `toml:"name"`
	// SHA256 is the hex SHA-256 of the token; the token itself is stored
	// nowhere (messenger alert token NAME makes one).
	SHA256 string `toml:"sha256"`
	// To, when set, sends what comes with this token to these names and
	// groups instead of routing it.
	To []string `toml:"to,omitempty"`
	// Source, when set, is the alert source of what comes with this token.
	Source string `toml:"source,omitempty"`
}

// Defaults of the [alert] table.
const (
	DefaultAlertDedupWindow = 5 * time.Minute
	DefaultAlertRateLimit   = 60
)

func defaultAlert() Alert {
	return Alert{DedupWindow: Duration{DefaultAlertDedupWindow}, RateLimit: DefaultAlertRateLimit}
}

// ntfyTopic is what ntfy accepts as a topic name.
var ntfyTopic = regexp.MustCompile(`^[-_A-Za-z0-9]{1,64}$`)

// maxSenderName is the longest sender name the wire carries (a NetBIOS
// name's 15 bytes).
const maxSenderName = 15

// check reports every problem of the [alert] table, each as a
// *setting.Error so that the file's line can be found for it. cp
// checks recipient names; nil skips them (the code page is wrong itself).
func (a *Alert) check(cp *message.CodePage) error {
	var errs []error
	bad := func(table string, index int, name, key, format string, args ...any) {
		errs = append(errs, &setting.Error{Table: table, Index: index, Name: name, Key: key, Err: fmt.Errorf(format, args...)})
	}
	if a.DedupWindow.Duration < 0 {
		bad("alert", -1, "", "dedup_window", "%v is negative (0 switches de-duplication off)", a.DedupWindow)
	}
	if a.RateLimit < 0 {
		bad("alert", -1, "", "rate_limit", "%d is negative (0 means no limit)", a.RateLimit)
	}
	if a.IngestAddr != "" {
		if err := checkHostPort(a.IngestAddr); err != nil {
			bad("alert", -1, "", "ingest_addr", "%v", err)
		}
	}
	if a.From != "" {
		switch {
		case !utf8.ValidString(a.From) || strings.ContainsRune(a.From, 0):
			bad("alert", -1, "", "from", "%q is not a sender name", a.From)
		case cp != nil && len(cp.Encode(a.From)) > maxSenderName:
			bad("alert", -1, "", "from", "%q is longer than %d characters", a.From, maxSenderName)
		}
	}

	groups := map[string]bool{}
	for _, g := range slices.Sorted(maps.Keys(a.Groups)) {
		groups[strings.ToUpper(g)] = true
	}
	// recipients checks a list of names and groups.
	recipients := func(table string, index int, name, key string, list []string) {
		if len(list) == 0 {
			bad(table, index, name, key, "names no recipient")
		}
		for _, r := range list {
			if groups[strings.ToUpper(r)] {
				continue
			}
			if err := checkRecipient(r, cp); err != nil {
				bad(table, index, name, key, "%q is neither a group of alert.groups nor a messenger name: %v", r, err)
			}
		}
	}
	for _, g := range slices.Sorted(maps.Keys(a.Groups)) {
		if !oneWord(g) {
			bad("alert.groups", -1, "", g, "a group name is one word")
		}
		for _, m := range a.Groups[g] {
			if groups[strings.ToUpper(m)] {
				bad("alert.groups", -1, "", g, "%q is a group: groups do not nest", m)
				continue
			}
			if err := checkRecipient(m, cp); err != nil {
				bad("alert.groups", -1, "", g, "%q is not a messenger name: %v", m, err)
			}
		}
		if len(a.Groups[g]) == 0 {
			bad("alert.groups", -1, "", g, "the group is empty")
		}
	}
	for i, r := range a.Routes {
		for _, s := range r.Sources {
			if err := checkAlertSource(s); err != nil {
				bad("alert.route", i, "", "sources", "%v", err)
			}
		}
		if r.Severity != "" {
			if _, err := message.ParseSeverity(r.Severity); err != nil {
				bad("alert.route", i, "", "severity", "%v", err)
			}
		}
		recipients("alert.route", i, "", "to", r.To)
	}
	seen := map[string]int{}
	for i, t := range a.Tokens {
		switch {
		case t.Name == "":
			bad("alert.token", i, "", "name", "every token needs a name: it is what the log shows")
		case !oneWord(t.Name):
			bad("alert.token", i, t.Name, "name", "%q: a name is one word", t.Name)
		}
		if j, dup := seen[t.Name]; dup && t.Name != "" {
			bad("alert.token", i, t.Name, "name", "the name is already used by token %d", j)
		}
		seen[t.Name] = i
		if raw, err := hex.DecodeString(t.SHA256); err != nil || len(raw) != 32 {
			bad("alert.token", i, t.Name, "sha256", "must be the token's SHA-256 as 64 hex digits (messenger alert token NAME prints it)")
		}
		if t.To != nil {
			recipients("alert.token", i, t.Name, "to", t.To)
		}
		if t.Source != "" {
			if err := checkAlertSource(t.Source); err != nil {
				bad("alert.token", i, t.Name, "source", "%v", err)
			}
		}
	}
	for _, topic := range slices.Sorted(maps.Keys(a.Topics)) {
		if !ntfyTopic.MatchString(topic) {
			bad("alert.topics", -1, "", topic, "%q is not an ntfy topic (1 to 64 of A-Z, a-z, 0-9, - and _)", topic)
		}
		recipients("alert.topics", -1, "", topic, a.Topics[topic])
	}
	return errors.Join(errs...)
}

func checkRecipient(name string, cp *message.CodePage) error {
	if cp == nil {
		return nil
	}
	_, err := names.Messenger(name, *cp)
	return err
}

func checkAlertSource(s string) error {
	return message.ValidateAlert(&message.Alert{Source: s, Severity: message.SeverityInfo})
}

func checkHostPort(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not HOST:PORT: %w", addr, err)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%q: %q is not a port", addr, port)
	}
	return nil
}

func oneWord(s string) bool { return s != "" && !strings.ContainsAny(s, " \t\n\"") }
