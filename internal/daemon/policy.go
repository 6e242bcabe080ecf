package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"

	"github.com/netsend/messenger/internal/api"
	"github.com/netsend/messenger/internal/apitype"
	"github.com/netsend/messenger/internal/config"
	"github.com/netsend/messenger/internal/message"
	"github.com/netsend/messenger/internal/policy"
	"github.com/netsend/messenger/internal/store"
)

// ErrPolicy wraps a policy that would not compile: a reload or an
// addition the daemon refused, leaving the old policy in force.
var ErrPolicy = api.ErrPolicyRefused

// spamPolicy keeps the policy in force: the configuration file's [policy]
// and rpc settings, plus the senders and networks blocked or trusted at
// run time (kept in the store). Every change compiles a whole new policy
// first, so a bad one changes nothing.
type spamPolicy struct {
	holder *policy.Holder
	store  *store.Store
	load   func() (config.Config, error)
	log    *slog.Logger

	mu  sync.Mutex // one change at a time
	cfg config.Config
	// onChange, when set, is called after each change of the policy in
	// force (the kernel filter forgets the sources it condemned).
	onChange func()
}

// put puts p in force.
func (sp *spamPolicy) put(p *policy.Policy) {
	sp.holder.Store(p)
	if sp.onChange != nil {
		sp.onChange()
	}
}

func newSpamPolicy(ctx context.Context, cfg config.Config, st *store.Store, load func() (config.Config, error), log *slog.Logger) (*spamPolicy, error) {
	sp := &spamPolicy{store: st, load: load, log: log, cfg: cfg}
	p, err := sp.compile(ctx, cfg, nil, "", "")
	if err != nil {
		return nil, err
	}
	sp.holder = policy.NewHolder(p)
	return sp, nil
}

// compile builds the policy of cfg with the stored run-time entries and,
// when list is set, one more.
func (sp *spamPolicy) compile(ctx context.Context, cfg config.Config, prev *policy.Policy, list, value string) (*policy.Policy, error) {
	entries, err := sp.store.PolicyEntries(ctx)
	if err != nil {
		return nil, err
	}
	if list != "" {
		entries = append(entries, store.PolicyEntry{List: list, Value: value})
	}
	spec := cfg.Policy
	spec.Trust = append([]policy.Subject(nil), spec.Trust...)
	spec.BlockSenders = append([]policy.Subject(nil), spec.BlockSenders...)
	for _, e := range entries {
		s, err := policy.ParseSubject(e.Value)
		if err != nil {
			return nil, fmt.Errorf("%w: %s %q: %w", ErrPolicy, e.List, e.Value, err)
		}
		if e.List == store.ListTrust {
			spec.Trust = append(spec.Trust, s)
		} else {
			spec.BlockSenders = append(spec.BlockSenders, s)
		}
	}
	p, err := cfg.CompilePolicyWith(spec, prev)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPolicy, err)
	}
	return p, nil
}

// Reload reads the configuration file again and puts its policy in
// force. Settings outside the policy need a restart.
func (sp *spamPolicy) Reload(ctx context.Context) error {
	_, err := sp.reload(ctx, "")
	return err
}

// reload is Reload for the API: file, when set, must be the file the
// daemon reads (the CLI's --config), and a daemon without a file says so
// rather than "reloading" its embedded defaults.
func (sp *spamPolicy) reload(ctx context.Context, file string) (apitype.PolicyReload, error) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if sp.load == nil {
		return apitype.PolicyReload{}, fmt.Errorf("%w: this daemon was started without a configuration loader", ErrPolicy)
	}
	cfg, err := sp.load()
	if err == nil && cfg.Source() == "" {
		return apitype.PolicyReload{}, api.ErrNoConfigFile
	}
	if err == nil && file != "" && !sameFile(file, cfg.Source()) {
		return apitype.PolicyReload{}, fmt.Errorf("%w: spam reload reloads the daemon's own configuration file (%s); --config names %s, a file the daemon does not read",
			ErrPolicy, cfg.Source(), file)
	}
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		sp.log.Error("policy reload refused; the old policy stays", slog.Any("err", err))
		return apitype.PolicyReload{}, fmt.Errorf("%w: %w", ErrPolicy, err)
	}
	p, err := sp.compile(ctx, cfg, sp.holder.Load(), "", "")
	if err != nil {
		sp.log.Error("policy reload refused; the old policy stays", slog.Any("err", err))
		return apitype.PolicyReload{}, err
	}
	sp.put(p)
	sp.store.SetQuarantineMax(cfg.Policy.QuarantineMax)
	sp.cfg = cfg
	sp.log.Info("policy reloaded", slog.String("config", cfg.Source()), slog.Int("rules", len(cfg.Policy.Rules)))
	return apitype.PolicyReload{Status: "reloaded", Config: cfg.Source(), Rules: len(cfg.Policy.Rules)}, nil
}

// sameFile says whether paths a and b name one file (a relative --config
// of the daemon and the CLI's absolute path compare equal).
func sameFile(a, b string) bool {
	fa, err1 := os.Stat(a)
	fb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(fa, fb)
}

// Remove takes a run-time entry off list; entries of the configuration
// file are refused (api.ErrPolicyInConfig): they come back at the next
// reload, so only the file can change them.
func (sp *spamPolicy) Remove(ctx context.Context, list, value string) (string, error) {
	canonical, err := canonicalSubject(value)
	if err != nil {
		return "", err
	}
	sp.mu.Lock()
	defer sp.mu.Unlock()
	err = sp.store.DeletePolicyEntry(ctx, list, canonical)
	if errors.Is(err, store.ErrNotFound) {
		for _, e := range configEntries(sp.cfg) {
			if e.List == list && e.Value == canonical {
				return "", fmt.Errorf("%w: %s %s is in the configuration file %s; remove it there and run \"messenger spam reload\"",
					api.ErrPolicyInConfig, list, canonical, sp.cfg.Source())
			}
		}
		return "", fmt.Errorf("%w: %s is not on the %s list", store.ErrNotFound, canonical, list)
	}
	if err != nil {
		return "", err
	}
	// Taking an entry away cannot contradict anything, so this compiles.
	p, err := sp.compile(ctx, sp.cfg, sp.holder.Load(), "", "")
	if err != nil {
		return "", err
	}
	sp.put(p)
	sp.log.Info("policy entry removed", slog.String("list", list), slog.String("value", canonical))
	return canonical, nil
}

// canonicalSubject is value, a sender or network of a policy entry, as
// the policy writes it.
func canonicalSubject(value string) (string, error) {
	s, err := policy.ParseSubject(value)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrPolicy, err)
	}
	return s.String(), nil
}

// Entries lists the configuration file's entries, then the run-time ones.
func (sp *spamPolicy) Entries(ctx context.Context) ([]apitype.PolicyEntry, error) {
	stored, err := sp.store.PolicyEntries(ctx)
	if err != nil {
		return nil, err
	}
	sp.mu.Lock()
	out := configEntries(sp.cfg)
	sp.mu.Unlock()
	for _, e := range stored {
		added := e.Added
		out = append(out, apitype.PolicyEntry{List: e.List, Value: e.Value, Origin: apitype.OriginRuntime, Added: &added})
	}
	return out, nil
}

func configEntries(cfg config.Config) []apitype.PolicyEntry {
	var out []apitype.PolicyEntry
	for _, s := range cfg.Policy.BlockSenders {
		out = append(out, apitype.PolicyEntry{List: store.ListBlock, Value: s.String(), Origin: apitype.OriginConfig})
	}
	for _, s := range cfg.Policy.Trust {
		out = append(out, apitype.PolicyEntry{List: store.ListTrust, Value: s.String(), Origin: apitype.OriginConfig})
	}
	return out
}

// Add blocks or trusts a sender or network from now on and remembers it.
func (sp *spamPolicy) Add(ctx context.Context, list, value string) (string, error) {
	canonical, err := canonicalSubject(value)
	if err != nil {
		return "", err
	}
	sp.mu.Lock()
	defer sp.mu.Unlock()
	// Compiled before stored: an entry that contradicts the file (trust
	// what is blocked) is refused and leaves no trace.
	p, err := sp.compile(ctx, sp.cfg, sp.holder.Load(), list, canonical)
	if err != nil {
		return "", err
	}
	if err := sp.store.AddPolicyEntry(ctx, list, canonical); err != nil {
		return "", err
	}
	sp.put(p)
	sp.log.Info("policy entry added", slog.String("list", list), slog.String("value", canonical))
	return canonical, nil
}

// spamAPI is what the API's /v1/spam and /v1/policy routes change.
type spamAPI struct {
	policy *spamPolicy
	store  *store.Store
	shower interface{ Show(m message.Message) }
}

func (s *spamAPI) Reload(ctx context.Context, file string) (apitype.PolicyReload, error) {
	return s.policy.reload(ctx, file)
}

func (s *spamAPI) Entries(ctx context.Context) ([]apitype.PolicyEntry, error) {
	return s.policy.Entries(ctx)
}

func (s *spamAPI) Remove(ctx context.Context, list, value string) (string, error) {
	return s.policy.Remove(ctx, list, value)
}

func (s *spamAPI) Block(ctx context.Context, value string) (string, error) {
	return s.policy.Add(ctx, store.ListBlock, value)
}

func (s *spamAPI) Trust(ctx context.Context, value string) (string, error) {
	return s.policy.Add(ctx, store.ListTrust, value)
}

// showers shows a message on each of its members: the pipeline's sinks and
// the event stream, which is not one of them.
type showers []interface{ Show(m message.Message) }

func (s showers) Show(m message.Message) {
	for _, sh := range s {
		sh.Show(m)
	}
}

// Release delivers a quarantined message now: stored as unread, then
// shown by the sinks as any delivery.
func (s *spamAPI) Release(ctx context.Context, id int64) (message.Message, error) {
	m, err := s.store.Release(ctx, id)
	if err != nil {
		return m, err
	}
	s.shower.Show(m)
	return m, nil
}
