package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

func newHubStatusCmd(g *globalFlags) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status [--json]",
		Short: "Show the hub connection, cluster peers, streams and what is pending",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), requestTimeout)
			defer cancel()
			st, err := c.HubStatus(ctx)
			if err != nil {
				return daemonError(err, g.dataDirHint())
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
			fmt.Fprintf(w, "Online:     %s\n", strings.Join(st.HostsOnline, ", "))
			for _, e := range st.Errors {
				fmt.Fprintf(w, "Unknown:    %s\n", e)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the status as JSON")
	return cmd
}
