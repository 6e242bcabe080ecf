package udpsock

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"
	"sync"
	"time"
)

// The UDP servers (name service, datagrams, RPC) share one skeleton: a
// read loop that ends when its context does (WakeOnDone, ReadError), a
// per-packet handler that survives its own panics (Recover), and, where
// a packet needs the store, a bounded pool of workers that a flood cannot
// grow: a packet that finds the queue full is rejected, not queued
// (Pool.Offer).

// WakeOnDone sets conn's read deadline when ctx ends, so that a blocked
// read returns; stop undoes the arrangement.
func WakeOnDone(ctx context.Context, conn *net.UDPConn) (stop func() bool) {
	return context.AfterFunc(ctx, func() { conn.SetReadDeadline(time.Now()) })
}

// ReadError sorts the error of a read in a serve loop: done with a nil
// error when ctx has ended, not done on a deadline (read again), and
// done with the error, named by who, otherwise.
func ReadError(ctx context.Context, err error, who string) (done bool, _ error) {
	if ctx.Err() != nil {
		return true, nil
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false, nil
	}
	return true, fmt.Errorf("%s: reading: %w", who, err)
}

// Recover, deferred by a packet handler, logs a panic of the handler as
// msg and calls reset (which clears the handler's results), so that one
// packet cannot stop the server.
func Recover(log *slog.Logger, msg string, reset func()) {
	if p := recover(); p != nil {
		log.Error(msg, slog.Any("panic", p), slog.String("stack", string(debug.Stack())))
		if reset != nil {
			reset()
		}
	}
}

// Pool is a bounded queue of jobs and the workers that do them.
type Pool[J any] struct {
	queue chan J
	wg    sync.WaitGroup
}

// NewPool starts workers goroutines doing work on the jobs offered, of
// which at most size wait.
func NewPool[J any](workers, size int, work func(J)) *Pool[J] {
	p := &Pool[J]{queue: make(chan J, size)}
	for range workers {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			for j := range p.queue {
				work(j)
			}
		}()
	}
	return p
}

// Offer queues j, or reports false when the queue is full.
func (p *Pool[J]) Offer(j J) bool {
	select {
	case p.queue <- j:
		return true
	default:
		return false
	}
}

// Close waits for the queued jobs to be done; nothing may be offered
// after it.
func (p *Pool[J]) Close() {
	close(p.queue)
	p.wg.Wait()
}
