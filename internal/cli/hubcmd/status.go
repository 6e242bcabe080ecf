package hubcmd

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/spf13/cobra"

	"github.com/netsend/messenger/internal/api"
	"github.com/netsend/messenger/internal/cli/cmdutil"
	"github.com/netsend/messenger/internal/hub"
)

func newHubStatusCmd(g *cmdutil.Globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status [--json]",
		Short: "Show the hub connection, cluster peers, streams, what is pending and the receipts owed",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var st hub.Status
			var listener string
			if err := g.Call(cmd, func(ctx context.Context, c *api.Client) (err error) {
				if st, err = c.HubStatus(ctx); err != nil {
					return err
				}
				listener = hubListener(ctx, c)
				return nil
			}); err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if asJSON {
				return json.NewEncoder(w).Encode(st)
			}
			conn := "not connected"
			if st.Connected {
				conn = "connected to " + st.URL
				if st.ServerName != "" {
					conn += " (" + st.ServerName + ")"
				}
			}
			fmt.Fprintf(w, "Host:       %s (domain %s)\n", st.Host, st.Domain)
			fmt.Fprintf(w, "Hub:        %s\n", conn)
			if listener != "" {
				fmt.Fprintf(w, "Listening:  %s\n", listener)
			}
			switch {
			case st.ClusterName != "":
				fmt.Fprintf(w, "Cluster:    %s: %s\n", st.ClusterName, strings.Join(st.ClusterPeers, ", "))
			case len(st.ClusterPeers) > 0:
				fmt.Fprintf(w, "Server:     %s (no cluster)\n", strings.Join(st.ClusterPeers, ", "))
			}
			for _, s := range st.Streams {
				fmt.Fprintf(w, "Stream:     %s: %d messages, %d bytes, leader %s\n", s.Name, s.Messages, s.Bytes, s.Leader)
			}
			fmt.Fprintf(w, "Pending:    %d for this host in the hub, %d in the local outbox\n", st.Pending, st.Outbox)
			fmt.Fprintf(w, "Receipts:   %d read receipts kept here until the hub takes them\n", st.ReceiptsOwed)
			fmt.Fprintf(w, "Online:     %s\n", strings.Join(st.HostsOnline, ", "))
			if len(st.NameConflicts) > 0 {
				fmt.Fprintf(w, "Conflicts:  %s (registered first by other hosts)\n", strings.Join(st.NameConflicts, ", "))
			}
			for _, e := range st.Errors {
				fmt.Fprintf(w, "Unknown:    %s\n", e)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the status as JSON")
	return cmd
}

// hubListener describes the embedded server's listener for other hosts
// from the daemon's listeners ("" when it has none), saying whether
// their messages cross the network in clear.
func hubListener(ctx context.Context, c *api.Client) string {
	st, err := c.Status(ctx)
	if err != nil {
		return ""
	}
	for _, l := range st.Listeners {
		if l.Transport != "hub" {
			continue
		}
		if strings.HasPrefix(l.Addr, "tls://") {
			return l.Addr + " (TLS only)"
		}
		if u, err := url.Parse(l.Addr); err == nil {
			if ip := net.ParseIP(u.Hostname()); ip != nil && ip.IsLoopback() {
				return l.Addr + " (loopback only: no other host can join)"
			}
		}
		return l.Addr + " (no TLS: messages between hosts cross the network in clear)"
	}
	return ""
}
