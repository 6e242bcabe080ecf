package daemon

import (
	"log/slog"

	"github.com/netsend/messenger/internal/caps"
)

// dropCapabilities gives up CAP_BPF and CAP_NET_BIND_SERVICE, which the
// packaged unit grants for the start alone, once every listener is open
// (the embedded hub's included) and the kernel filter is attached: from
// here on the daemon only uses the descriptors it holds, and nothing
// opens a socket on a low port or loads a program again (reloads change
// the policy and the filter's map, never a listener). docs/security.md
// tells the whole story.
func (d *daemon) dropCapabilities() {
	var dropped []string
	// The filter's map is still read and written after this; where the
	// kernel wants CAP_BPF for that too, the check fails and it is kept.
	var check func() error
	if d.kf != nil {
		check = d.kf.Check
	}
	got, err := caps.Drop(check, "cap_bpf")
	if err != nil {
		d.log.Warn("CAP_BPF kept: this kernel wants it for every use of the kernel filter's map, not only to load it",
			slog.Any("reason", err))
	}
	dropped = append(dropped, got...)
	got, err = caps.Drop(nil, "cap_net_bind_service")
	if err != nil {
		d.log.Warn("CAP_NET_BIND_SERVICE not dropped", slog.Any("err", err))
	}
	dropped = append(dropped, got...)
	if len(dropped) > 0 {
		d.log.Info("capabilities dropped: every socket is open and the kernel filter attached", slog.Any("dropped", dropped))
	}
}
