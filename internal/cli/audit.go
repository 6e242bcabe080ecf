package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/netsend/messenger/internal/audit"
	"github.com/netsend/messenger/internal/cli/cmdutil"
	"github.com/netsend/messenger/internal/firewall"
)

func newAuditCmd(g *cmdutil.Globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Check which messenger-spam ports are open on this host, to whom, and what to do",
		Long: `For each port of the classic advice (UDP 135, 137, 138; TCP 135, 139, 445)
show what listens on it and which program, whether the messenger firewall
or other nftables rules block it, and a verdict with advice; then whether
the messenger daemon's configured listeners reach networks its policy
does not restrict. Run it as root to see every program and the ruleset.

--json prints one JSON document: {"ports": [...], "firewall": {...},
"daemon": {...}}.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var opts audit.Options
			if cfg, err := g.Load(); err != nil {
				opts.ConfigErr = err
			} else {
				opts.Config = &cfg
			}
			if fw, err := firewall.Open(); err != nil {
				opts.RulesetErr = err
			} else {
				defer fw.Close()
				opts.Ruleset = fw
			}
			rep, err := audit.Run(opts)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(w)
				enc.SetEscapeHTML(false)
				enc.SetIndent("", "  ")
				return enc.Encode(rep)
			}
			return writeAudit(w, rep)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as one JSON document")
	return cmd
}

func writeAudit(w io.Writer, rep audit.Report) error {
	fmt.Fprintln(w, "Ports of the advice against messenger spam:")
	fmt.Fprintln(w)
	for _, p := range rep.Ports {
		fmt.Fprintf(w, "%s %d  %s\n", strings.ToUpper(p.Proto), p.Port, p.Service)
		fmt.Fprintf(w, "  verdict:   %s\n", p.Verdict)
		if len(p.Listeners) > 0 {
			var ls []string
			for _, l := range p.Listeners {
				s := l.Address
				var progs []string
				for _, pr := range l.Programs {
					progs = append(progs, fmt.Sprintf("%s[%d]", pr.Name, pr.PID))
				}
				if len(progs) > 0 {
					s += " by " + strings.Join(progs, ", ")
				}
				ls = append(ls, s)
			}
			fmt.Fprintf(w, "  listening: %s\n", strings.Join(ls, "; "))
		}
		fmt.Fprintf(w, "  firewall:  %s\n", p.Firewall)
		for _, o := range p.OtherRules {
			fmt.Fprintf(w, "  rule:      %s\n", o)
		}
		fmt.Fprintf(w, "  advice:    %s\n\n", p.Advice)
	}

	fw := rep.Firewall
	switch {
	case !fw.Readable:
		fmt.Fprintf(w, "Firewall: could not read the ruleset: %s\n", fw.Error)
	case fw.Installed:
		allow := "none"
		if len(fw.Allow) > 0 {
			allow = strings.Join(fw.Allow, ", ")
		}
		dm := ""
		if fw.DomainMember {
			dm = " (domain member: TCP 445 left open)"
		}
		fmt.Fprintf(w, "Firewall: messenger firewall in force%s; allowed networks: %s\n", dm, allow)
	default:
		fmt.Fprintln(w, "Firewall: messenger firewall not applied")
	}
	if fw.Readable && fw.Error != "" {
		fmt.Fprintf(w, "  (%s)\n", fw.Error)
	}
	if len(fw.OtherTables) > 0 {
		fmt.Fprintf(w, "  other rulesets present: %s\n", strings.Join(fw.OtherTables, ", "))
	}

	fmt.Fprintln(w, "\nThe messenger daemon, as configured:")
	if rep.Daemon.Error != "" {
		fmt.Fprintf(w, "  configuration unreadable: %s\n", rep.Daemon.Error)
		return nil
	}
	if len(rep.Daemon.Transports) == 0 {
		fmt.Fprintln(w, "  no network listeners configured")
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	for _, t := range rep.Daemon.Transports {
		state := "not listening now"
		if t.Listening {
			state = "listening"
		}
		exposed := "ok"
		if t.Exposed {
			exposed = "EXPOSED"
		}
		fmt.Fprintf(tw, "  %s\t%s %d\t%s\t%s\t%s\n", t.Name, strings.ToUpper(t.Proto), t.Port, state, exposed, t.Reach)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, t := range rep.Daemon.Transports {
		fmt.Fprintf(w, "  %s %s %d: %s\n", t.Name, strings.ToUpper(t.Proto), t.Port, t.Advice)
	}
	return nil
}
