package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// figure is one number of a run set beside its peer's from the same run,
// with the floor or ceiling an issue set for it, if any.
type figure struct {
	What       string
	Ours, Peer string // formatted, with units
	PeerName   string
	Ratio      string // ours / peer, or "" without a peer
	Target     string // e.g. "≥ 0.8×"; "" when none was set
	Met        *bool  // nil without a target
}

func metIf(ok bool) *bool { return &ok }

// Figures lists, for every benchmark the run measured, the figures the
// issues judge by: each with its peer and the ratio, and whether a
// target set for it was met.
func (r *Report) Figures() []figure {
	var fs []figure
	for _, row := range r.SMB {
		fs = append(fs,
			figure{What: fmt.Sprintf("SMB sessions/s, %d clients", row.Clients), Ours: fmt.Sprintf("%.0f", row.Ours), PeerName: "smbd", Peer: fmt.Sprintf("%.0f", row.Peer), Ratio: times(row.Ours, row.Peer)},
			figure{What: fmt.Sprintf("SMB CPU µs/message, %d clients", row.Clients), Ours: fmt.Sprintf("%.0f", row.OursCPU), PeerName: "smbd", Peer: fmt.Sprintf("%.0f", row.PeerCPU), Ratio: times(row.OursCPU, row.PeerCPU)})
	}
	for _, row := range r.NBNS {
		q := ratio(row.OursCPU, row.PeerCPU)
		fs = append(fs,
			figure{What: fmt.Sprintf("name answers/s, %d clients", row.Clients), Ours: fmt.Sprintf("%.0f", row.Ours), PeerName: "nmbd", Peer: fmt.Sprintf("%.0f", row.Peer), Ratio: times(row.Ours, row.Peer)},
			figure{What: fmt.Sprintf("name answer CPU µs, %d clients", row.Clients), Ours: fmt.Sprintf("%.1f", row.OursCPU), PeerName: "nmbd", Peer: fmt.Sprintf("%.1f", row.PeerCPU), Ratio: times(row.OursCPU, row.PeerCPU),
				Target: "≤ 0.33×", Met: metIf(row.PeerCPU > 0 && q <= 0.33)})
	}
	if m := r.Mix; m != nil {
		fs = append(fs,
			figure{What: "spam mix: legitimate delivered", Ours: fmt.Sprintf("%.1f %%", m.LegitShare()), Target: "≥ 99 %", Met: metIf(m.LegitShare() >= 99)},
			figure{What: "spam mix: datagrams judged/s", Ours: fmt.Sprintf("%.0f", m.PerSecond), Target: "≥ 200000", Met: metIf(m.PerSecond >= 200_000)})
	}
	for _, row := range r.Hub {
		what := fmt.Sprintf("hub round trips/s, %d node(s), %d clients", row.Nodes, row.Clients)
		f := figure{What: what, Ours: fmt.Sprintf("%.0f", row.Ours), PeerName: "bare JetStream", Peer: fmt.Sprintf("%.0f", row.Bare), Ratio: times(row.Ours, row.Bare)}
		p99 := figure{What: fmt.Sprintf("hub p99 ms, %d node(s), %d clients", row.Nodes, row.Clients), Ours: fmt.Sprintf("%.1f", row.OursP99), PeerName: "bare JetStream", Peer: fmt.Sprintf("%.1f", row.BareP99), Ratio: times(row.OursP99, row.BareP99)}
		// The floors of issue 21: at 8 clients, 0.8× the bare client on one
		// node with p99 under 20 ms, and the bare client's rate on three.
		if row.Clients == 8 && row.Nodes == 1 {
			f.Target, f.Met = "≥ 0.8×", metIf(ratio(row.Ours, row.Bare) >= 0.8)
			p99.Target, p99.Met = "< 20 ms", metIf(row.OursP99 < 20)
		}
		if row.Clients == 8 && row.Nodes == 3 {
			f.Target, f.Met = "≥ 1.0×", metIf(ratio(row.Ours, row.Bare) >= 1)
		}
		fs = append(fs, f, p99)
	}
	return fs
}

func times(a, b float64) string {
	if b == 0 {
		return ""
	}
	return fmt.Sprintf("%.2f×", a/b)
}

func (f figure) verdict() string {
	switch {
	case f.Met == nil:
		return ""
	case *f.Met:
		return "met"
	default:
		return "NOT met"
	}
}

// PrintFigures writes the run's figures as a table, one per line.
func (r *Report) PrintFigures(w io.Writer) error {
	fs := r.Figures()
	if len(fs) == 0 {
		return nil
	}
	fmt.Fprintln(w, "Figures against their peers (same run):")
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "  figure\tours\tpeer\tratio\ttarget\t\t")
	for _, f := range fs {
		peer := "—"
		if f.PeerName != "" {
			peer = f.PeerName + " " + f.Peer
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t\n", f.What, f.Ours, peer, orDash(f.Ratio), orDash(f.Target), f.verdict())
	}
	return tw.Flush()
}

// figuresMarkdown is the same table for the report.
func (r *Report) figuresMarkdown() string {
	fs := r.Figures()
	if len(fs) == 0 {
		return ""
	}
	var md strings.Builder
	md.WriteString("## Against the peers and the targets\n\nEach figure beside its peer's in the same run, and the target an issue set for it.\n\n")
	md.WriteString("| figure | ours | peer | ratio | target | |\n|---|---:|---:|---:|---:|---|\n")
	for _, f := range fs {
		peer := "—"
		if f.PeerName != "" {
			peer = f.PeerName + " " + f.Peer
		}
		fmt.Fprintf(&md, "| %s | %s | %s | %s | %s | %s |\n", f.What, f.Ours, peer, orDash(f.Ratio), orDash(f.Target), f.verdict())
	}
	md.WriteString("\n")
	return md.String()
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
