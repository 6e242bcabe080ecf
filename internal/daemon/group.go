package daemon

import (
	"context"
	"log/slog"
	"sync"
)

// group runs the daemon's goroutines, each under a name: the first to
// fail is logged under its name and stops the others (it cancels the
// group's context); Wait waits for them all.
type group struct {
	ctx    context.Context
	cancel context.CancelFunc
	log    *slog.Logger
	wg     sync.WaitGroup

	mu    sync.Mutex
	names []string // in the order started, for the log
}

func newGroup(ctx context.Context, log *slog.Logger) *group {
	g := &group{log: log}
	g.ctx, g.cancel = context.WithCancel(ctx)
	return g
}

// task is one goroutine of a group: done closes when it has returned
// with err.
type task struct {
	name string
	done chan struct{}
	err  error
}

// Go runs f as the goroutine name. An error from f is logged as "name
// stopped" and ends the group's context, so the daemon stops.
func (g *group) Go(name string, f func() error) *task {
	t := &task{name: name, done: make(chan struct{})}
	g.mu.Lock()
	g.names = append(g.names, name)
	g.mu.Unlock()
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		defer close(t.done)
		if t.err = f(); t.err != nil {
			g.log.Error(name+" stopped", slog.Any("err", t.err))
			g.cancel()
		}
	}()
	return t
}

// Names are the goroutines started so far.
func (g *group) Names() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.names...)
}

// Wait waits for every goroutine of the group to return.
func (g *group) Wait() { g.wg.Wait() }
