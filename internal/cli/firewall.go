package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"

	"github.com/spf13/cobra"

	"github.com/netsend/messenger/internal/cli/cmdutil"
	"github.com/netsend/messenger/internal/config"
	"github.com/netsend/messenger/internal/firewall"
)

func newFirewallCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "firewall",
		Short: "Apply, show or remove the port advice against messenger spam as an nftables table",
		Long: `The classic advice against messenger spam was to block inbound UDP 135, 137,
138 and TCP 135, 139, and TCP 445 unless the machine is an Active Directory
domain member. "messenger firewall apply" installs that as an nftables table
of its own (inet messenger), "status" shows what is in force, and "remove"
deletes that table and nothing else. Loopback traffic and replies to
connections this host starts stay allowed. Needs root or CAP_NET_ADMIN.`,
	}
	cmd.AddCommand(newFirewallApplyCmd(), newFirewallStatusCmd(), newFirewallRemoveCmd())
	return cmd
}

func newFirewallApplyCmd() *cobra.Command {
	var allow, ports []string
	var allowLocal, domainMember, dryRun bool
	cmd := &cobra.Command{
		Use:   "apply",
		Short: "Block the advice's ports for everyone but the allowed networks",
		Long: `Install (or replace) the table inet messenger: inbound UDP 135, 137, 138 and
TCP 135, 139, 445 are dropped unless they come from an allowed network
(--allow CIDR, repeatable; --allow-local adds the networks this host is
connected to right now). --domain-member keeps TCP 445 open. The ports the
daemon's configuration listens on besides these (a non-default smb_port,
nbns_port, dgram_port or rpc_port, rpc.extra_ports) are closed too, read
as "messenger serve" reads them (--config, --data-dir); --port PROTO/N
(repeatable) adds more. --dry-run
prints the table in nft syntax and changes nothing. Applying is one
transaction: it either replaces the table whole or leaves it as it was.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts := firewall.Options{DomainMember: domainMember}
			cfg, err := cmdutil.GlobalsOf(cmd).Load()
			if err != nil {
				return err
			}
			opts.Extra = configuredPorts(cfg)
			for _, s := range ports {
				p, err := firewall.ParsePort(s)
				if err != nil {
					return cmdutil.Exit(cmdutil.ExitUsage, fmt.Errorf("--port: %w", err))
				}
				opts.Extra = append(opts.Extra, p)
			}
			for _, a := range allow {
				p, err := parseAllow(a)
				if err != nil {
					return cmdutil.Exit(cmdutil.ExitUsage, err)
				}
				opts.Allow = append(opts.Allow, p)
			}
			if allowLocal {
				local, err := firewall.LocalNetworks()
				if err != nil {
					return fmt.Errorf("--allow-local: %w", err)
				}
				opts.Allow = append(opts.Allow, local...)
			}
			r, err := firewall.Build(opts)
			if err != nil {
				return cmdutil.Exit(cmdutil.ExitUsage, err)
			}
			w := cmd.OutOrStdout()
			describeRuleset(w, r)
			fmt.Fprintln(w)
			fmt.Fprint(w, firewall.LegacyWarning(r))
			if dryRun {
				fmt.Fprintf(w, "\nDry run; this is the table that would be installed:\n\n%s", r)
				return nil
			}
			fw, err := openFirewall()
			if err != nil {
				return err
			}
			defer fw.Close()
			if err := fw.Apply(r); err != nil {
				return firewallError(err)
			}
			fmt.Fprintf(w, "\nApplied: table %s %s is in force. Undo with \"messenger firewall remove\".\n", firewall.Family, firewall.TableName)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&allow, "allow", nil, "network that keeps reaching the ports, as CIDR (repeatable; an address alone means that host)")
	f.BoolVar(&allowLocal, "allow-local", false, "also allow the networks this host is connected to now")
	f.StringArrayVar(&ports, "port", nil, "another port to close, PROTO/N like udp/1026 (repeatable; the configuration's ports are added without it)")
	f.BoolVar(&domainMember, "domain-member", false, "keep TCP 445 open: Active Directory domain members need it")
	f.BoolVar(&dryRun, "dry-run", false, "print what would be installed and change nothing")
	return cmd
}

// configuredPorts are the network ports the daemon listens on as
// configured; those of the advice are in the ruleset anyway.
func configuredPorts(cfg config.Config) []firewall.Port {
	var out []firewall.Port
	add := func(proto string, n int) {
		if n > 0 && n <= 65535 {
			out = append(out, firewall.Port{Proto: proto, Number: uint16(n), Service: "configured"})
		}
	}
	add("tcp", cfg.SMBPort)
	add("udp", cfg.NBNSPort)
	add("udp", cfg.DgramPort)
	if cfg.RPCPort != 0 {
		add("udp", cfg.RPCPort)
		for _, p := range cfg.RPC.ExtraPorts {
			add("udp", p)
		}
	}
	return out
}

// parseAllow reads a CIDR, or a bare address as that one host.
func parseAllow(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p, nil
	}
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	return netip.Prefix{}, fmt.Errorf("--allow %q: not a network like 192.168.1.0/24 or 2001:db8::/64", s)
}

func newFirewallStatusCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show whether the messenger firewall is in force and what it blocks",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fw, err := openFirewall()
			if err != nil {
				return err
			}
			defer fw.Close()
			st, err := fw.Read()
			if err != nil {
				return firewallError(err)
			}
			w := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(st)
			}
			if !st.Installed {
				fmt.Fprintf(w, "The messenger firewall is not in force: there is no table %s %s.\n", firewall.Family, firewall.TableName)
				return nil
			}
			fmt.Fprintf(w, "The messenger firewall is in force: table %s %s, chain %s on the input hook, priority filter - %d.\n\n",
				firewall.Family, firewall.TableName, firewall.ChainName, -firewall.Priority)
			describeRuleset(w, st.Ruleset)
			fmt.Fprintf(w, "\nDropped since applied: UDP %d packets, TCP %d packets.\n", st.Dropped["udp"].Packets, st.Dropped["tcp"].Packets)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the status as JSON")
	return cmd
}

func newFirewallRemoveCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "remove",
		Short: "Remove the messenger firewall's table, and nothing else",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fw, err := openFirewall()
			if err != nil {
				return err
			}
			defer fw.Close()
			removed, err := fw.Remove()
			if err != nil {
				return firewallError(err)
			}
			if removed {
				fmt.Fprintf(cmd.OutOrStdout(), "Removed table %s %s; the advice's ports are open again unless other rules close them.\n", firewall.Family, firewall.TableName)
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "Nothing to remove: there is no table %s %s.\n", firewall.Family, firewall.TableName)
			}
			return nil
		},
	}
}

func openFirewall() (*firewall.Firewall, error) {
	fw, err := firewall.Open()
	if err != nil {
		return nil, firewallError(err)
	}
	return fw, nil
}

// firewallError adds what to do to the kernel's refusals.
func firewallError(err error) error {
	switch {
	case errors.Is(err, firewall.ErrPermission):
		return fmt.Errorf("%w\nrun it as root, or give the program CAP_NET_ADMIN (e.g. sudo messenger firewall ...)", err)
	case errors.Is(err, firewall.ErrUnavailable):
		return fmt.Errorf("%w\nthis kernel or container offers no nftables; load nf_tables (modprobe nf_tables) or configure the host's firewall instead", err)
	}
	return err
}

// describeRuleset prints which ports are closed, which stay open, and to whom.
func describeRuleset(w io.Writer, r firewall.Ruleset) {
	fmt.Fprintln(w, "Blocked inbound, except from the allowed networks:")
	for _, p := range r.Blocked() {
		fmt.Fprintf(w, "  %-8s %s\n", strings.ToUpper(p.Proto)+" "+fmt.Sprint(p.Number), p.Service)
	}
	for _, p := range r.Extra() {
		fmt.Fprintf(w, "  %-8s %s\n", strings.ToUpper(p.Proto)+" "+fmt.Sprint(p.Number), "configured for the daemon, or --port")
	}
	if open := r.Open(); len(open) > 0 {
		fmt.Fprintln(w, "Left open (domain member):")
		for _, p := range open {
			fmt.Fprintf(w, "  %-8s %s\n", strings.ToUpper(p.Proto)+" "+fmt.Sprint(p.Number), p.Service)
		}
	}
	if len(r.Allow) == 0 {
		fmt.Fprintln(w, "Allowed networks: none (only loopback and replies to this host's own traffic)")
		return
	}
	var s []string
	for _, p := range r.Allow {
		s = append(s, p.String())
	}
	fmt.Fprintf(w, "Allowed networks: %s\n", strings.Join(s, ", "))
}
