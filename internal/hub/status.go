package hub

import (
	"context"
	"fmt"

	"github.com/netsend/messenger/internal/apitype"
	"github.com/netsend/messenger/internal/hubwire"
)

// Status is what `messenger hub status` shows.
type Status struct {
	Host      string `json:"host"`
	Domain    string `json:"domain,omitempty"`
	Connected bool   `json:"connected"`
	// URL is the server connected to (credentials redacted); ServerName
	// and ClusterName are what that server calls itself and its cluster.
	URL         string `json:"url,omitempty"`
	ServerName  string `json:"server_name,omitempty"`
	ClusterName string `json:"cluster_name,omitempty"`
	// ClusterPeers are the servers holding MESSENGER_MSG, its leader
	// first.
	ClusterPeers []string       `json:"cluster_peers,omitempty"`
	Streams      []StreamStatus `json:"streams,omitempty"`
	// Pending counts the messages the hub holds for this host: not yet
	// delivered to it, or delivered and not yet acknowledged.
	Pending uint64 `json:"pending"`
	// Outbox counts the messages waiting here for the hub to take them.
	Outbox int `json:"outbox"`
	// ReceiptsOwed counts the receipts (read) kept here for other hosts
	// until the hub takes them.
	ReceiptsOwed int      `json:"receipts_owed"`
	HostsOnline  []string `json:"hosts_online"`
	// NameConflicts are this host's names another host registered first
	// on the hub, which get no messages here.
	NameConflicts []string `json:"name_conflicts,omitempty"`
	// Errors lists what could not be asked of the hub (a stream whose
	// leader is being elected, say); the rest is still shown.
	Errors []string `json:"errors,omitempty"`
}

// StreamStatus is one stream's size and leader.
type StreamStatus struct {
	Name     string `json:"name"`
	Messages uint64 `json:"messages"`
	Bytes    uint64 `json:"bytes"`
	Leader   string `json:"leader,omitempty"`
}

// Status reports the connection, the streams and what waits. Only the
// Outbox failing to answer is an error; what the hub cannot tell is in
// Status.Errors.
func (h *Hub) Status(ctx context.Context) (Status, error) {
	st := Status{Host: h.opts.HostName, Domain: h.opts.Domain, HostsOnline: []string{}, NameConflicts: h.NameConflicts()}
	n, err := h.opts.Outbox.CountSent(ctx, apitype.SentQueued)
	if err != nil {
		return Status{}, fmt.Errorf("hub: status: %w", err)
	}
	st.Outbox = n
	if st.ReceiptsOwed, err = h.opts.Outbox.CountOwedReceipts(ctx); err != nil {
		return Status{}, fmt.Errorf("hub: status: %w", err)
	}
	if err := h.refusedErr(); err != nil {
		st.Errors = append(st.Errors, err.Error())
	}
	s := h.current()
	if s == nil {
		return st, nil
	}
	ctx, cancel := s.link.bind(ctx)
	defer cancel()
	st.Connected = true
	st.URL = h.connectedURL(s.nc)
	st.ServerName = s.nc.ConnectedServerName()
	st.ClusterName = s.nc.ConnectedClusterName()
	for _, name := range hubwire.StreamNames() {
		str, err := s.js.Stream(ctx, name)
		if err != nil {
			st.Errors = append(st.Errors, fmt.Sprintf("stream %s: %v", name, err))
			continue
		}
		info := str.CachedInfo()
		ss := StreamStatus{Name: name, Messages: info.State.Msgs, Bytes: info.State.Bytes}
		if c := info.Cluster; c != nil {
			ss.Leader = c.Leader
			if name == hubwire.StreamMsg {
				if c.Leader != "" {
					st.ClusterPeers = append(st.ClusterPeers, c.Leader)
				}
				for _, p := range c.Replicas {
					if p != nil {
						st.ClusterPeers = append(st.ClusterPeers, p.Name)
					}
				}
			}
		}
		st.Streams = append(st.Streams, ss)
	}
	if len(st.ClusterPeers) == 0 && st.ServerName != "" {
		st.ClusterPeers = []string{st.ServerName}
	}
	if info, err := s.msgs.Info(ctx); err != nil {
		st.Errors = append(st.Errors, fmt.Sprintf("consumer %s: %v", hubwire.MsgConsumer(h.opts.HostName), err))
	} else {
		st.Pending = info.NumPending + uint64(info.NumAckPending)
	}
	if online, err := h.hostsOnline(ctx, s); err != nil {
		st.Errors = append(st.Errors, err.Error())
	} else {
		st.HostsOnline = online
	}
	return st, nil
}
