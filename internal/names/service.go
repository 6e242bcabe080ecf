package names

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/netsend/messenger/internal/utmp"
)

// AliasStore keeps run-time aliases across restarts.
type AliasStore interface {
	AddAlias(ctx context.Context, a Alias) error
	DeleteAlias(ctx context.Context, name string) error
	Aliases(ctx context.Context) ([]Alias, error)
}

// Alias is a run-time alias as it is remembered: its name and the local
// account it belongs to (empty: a host name).
type Alias struct {
	Name  string
	Owner string
}

// Service is the table together with its life on the network: what
// `messenger name add/del` and the user watcher change, registered as
// they change. Without a registrar (name service off) names count as
// registered at once.
type Service struct {
	Table     *Table
	Registrar *Registrar // nil when the name service is off
	Store     AliasStore
	Log       *slog.Logger

	// One change at a time: an add racing a delete of the same name must
	// not leave the network and the table disagreeing.
	mu sync.Mutex
}

// Start loads the stored aliases and registers every name. Names that
// lose to another node are left in state conflict.
func (s *Service) Start(ctx context.Context) error {
	stored, err := s.Store.Aliases(ctx)
	if err != nil {
		return err
	}
	for _, a := range stored {
		if _, err := s.Table.AddAlias(a.Name, a.Owner); err != nil && !errors.Is(err, ErrExists) {
			s.Log.Warn("stored alias no longer valid; skipped", slog.String("alias", a.Name), slog.Any("err", err))
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.Table.List() {
		s.register(ctx, e)
	}
	return nil
}

func (s *Service) register(ctx context.Context, e Entry) error {
	if s.Registrar == nil {
		s.Table.SetState(e.Name, StateRegistered)
		return nil
	}
	return s.Registrar.Register(ctx, e)
}

func (s *Service) release(ctx context.Context, e Entry) {
	if s.Registrar != nil {
		s.Registrar.Release(ctx, e)
	}
}

// List returns the table's names.
func (s *Service) List() []Entry { return s.Table.List() }

// AddAlias adds a message alias, registers it, and remembers it. If
// another node holds the name the alias stays listed in state conflict,
// is not remembered, and the error wraps ErrConflict. owner is the local
// account the alias belongs to, empty for a host name.
func (s *Service) AddAlias(ctx context.Context, name, owner string) (Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, err := s.Table.AddAlias(name, owner)
	if err != nil {
		return e, err
	}
	if err := s.register(ctx, e); err != nil {
		e, _ = s.Table.Lookup(e.Name)
		return e, err
	}
	if err := s.Store.AddAlias(ctx, Alias{Name: e.Text, Owner: owner}); err != nil {
		return e, fmt.Errorf("remembering alias %v: %w", e.Name, err)
	}
	e, _ = s.Table.Lookup(e.Name)
	return e, nil
}

// DeleteAlias releases a message alias and forgets it. The computer name
// and aliases from the configuration file cannot be deleted.
func (s *Service) DeleteAlias(ctx context.Context, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, err := s.Table.CheckRemovable(name)
	if err != nil {
		return err
	}
	s.release(ctx, e)
	s.Table.Remove(e.Name)
	if err := s.Store.DeleteAlias(ctx, e.Text); err != nil && e.Source == SourceAlias && e.State != StateConflict {
		s.Log.Warn("forgetting alias", slog.String("alias", e.Name.String()), slog.Any("err", err))
	}
	return nil
}

// Stop releases every name we hold, as a clean shutdown should.
func (s *Service) Stop(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.Table.List() {
		if e.State == StateRegistered {
			s.release(ctx, e)
		}
	}
	if s.Registrar != nil {
		s.Registrar.Close()
	}
}

// WatchUsers keeps the names of logged-in users current from the utmp
// file at path until ctx ends: new users are registered, users who left
// are released. Logins change rarely, so polling is enough.
func (s *Service) WatchUsers(ctx context.Context, path string, interval time.Duration) {
	var last []string
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		recs, err := utmp.ReadFile(path)
		if err != nil {
			s.Log.Warn("reading logged-in users", slog.String("path", path), slog.Any("err", err))
		} else if users := utmp.Users(recs); !slices.Equal(users, last) {
			last = users
			s.mu.Lock()
			added, removed := s.Table.SetUsers(users)
			for _, e := range removed {
				s.release(ctx, e)
			}
			for _, e := range added {
				s.register(ctx, e)
			}
			s.mu.Unlock()
			s.Log.Info("logged-in user names", slog.Any("users", users))
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
