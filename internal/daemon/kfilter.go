package daemon

import (
	"log/slog"
	"net"
	"time"

	"github.com/netsend/messenger/internal/pipeline"
	"github.com/netsend/messenger/internal/transport/kfilter"
)

// kernelFilterSources is the room of the kernel filter's map: more
// sources than a flood from one network brings, and under a megabyte of
// kernel memory, which is allocated as sources come.
const kernelFilterSources = 16384

// kernelFilter puts the kernel filter on the datagram and RPC sockets
// when kernel_filter is on and the system allows it, and returns the
// policy the pipeline judges with: the policy in force, behind a
// kfilter.Guard when the filter is on. It says in one line which is in
// force.
func (d *daemon) kernelFilter() pipeline.Policy {
	groups := append([][]*net.UDPConn{d.ln.dgram}, d.ln.rpcGroups...)
	sockets := 0
	for _, g := range groups {
		sockets += len(g)
	}
	if sockets == 0 {
		return d.spam.holder
	}
	if !d.cfg.KernelFilter {
		d.log.Info("kernel filter off (kernel_filter = false): the policy judges every datagram in user space")
		return d.spam.holder
	}
	f, err := kfilter.New(kernelFilterSources)
	if err == nil {
		for _, g := range groups {
			if err = f.Attach(g); err != nil {
				f.Close()
				break
			}
		}
	}
	if err != nil {
		d.log.Info("kernel filter not in force: the policy judges every datagram in user space", slog.Any("reason", err))
		return d.spam.holder
	}
	d.kf = f
	d.met.AddKernelFilter(func() float64 { return float64(f.Dropped()) }, func() float64 { return float64(f.Sources()) })
	// A source condemned under the old policy is judged again by the new.
	d.spam.onChange = f.Clear
	d.log.Info("kernel filter in force: datagrams of flooding and blocked sources are dropped before the socket buffer",
		slog.Int("sockets", sockets))
	return &kfilter.Guard{Holder: d.spam.holder, Filter: f}
}

// sweepKernelFilter releases, every second, the sources whose hold ran
// out, with a line saying how much each sent in vain; it closes the
// filter when the daemon stops.
func (d *daemon) sweepKernelFilter() {
	f := d.kf
	if f == nil {
		return
	}
	log := packetLog(d.log.With(slog.String("part", "kernel filter")))
	d.g.Go("kernel filter", func() error {
		defer f.Close()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-d.g.ctx.Done():
				return nil
			case now := <-t.C:
				for _, r := range f.Sweep(now) {
					log.Info("kernel filter released a source; the policy judges it again", slog.String("source", r.Addr.String()),
						slog.Uint64("dropped", r.Dropped), slog.Duration("held", now.Sub(r.Since).Round(time.Second)))
				}
			}
		}
	})
}
