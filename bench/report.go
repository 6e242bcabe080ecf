package main

import (
	"fmt"
	"html"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Report gathers what one run measured, for the Markdown report with its
// charts (-report DIR).
type Report struct {
	Date     string
	Machine  string
	Duration time.Duration
	SMB      []pairRow
	NBNS     []pairRow
	Mailslot *mailslotRow
	Mix      *mixRow
	Flood    *floodRow
	Hub      []hubRow
}

// pairRow is one concurrency level of a side-by-side benchmark.
type pairRow struct {
	Clients          int
	Ours, Peer       float64 // per second
	OursP99, PeerP99 float64 // milliseconds
	OursCPU, PeerCPU float64 // µs per message or answer
}

// hubRow is one concurrency level of the hub benchmark on one topology:
// round trips per second (message stored by the recipient, receipt back).
type hubRow struct {
	Nodes, Clients           int
	Ours, Bare, SMB          float64 // per second
	OursP99, BareP99, SMBP99 float64 // milliseconds
	// OursCPU and BareCPU are the machine's CPU per round trip (the
	// nats-servers, the bench process, and for ours both daemons), µs.
	OursCPU, BareCPU float64
}

type mailslotRow struct {
	Sent, Stored int
	PerSecond    float64
}

type floodRow struct {
	Spam, SpamStored          int
	Trusted, TrustedDelivered int
	InOrder                   bool
	KernelDropped             int // spam the kernel filter dropped unread
	RSS                       []rssSample
}

type rssSample struct {
	At  time.Duration
	RSS int64
}

// Write puts README.md and the SVG charts into dir.
func (r *Report) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var md strings.Builder
	fmt.Fprintf(&md, "# Benchmarks\n\nMeasured %s on %s by `go run ./bench -report docs/benchmarks` (%v per level). ", r.Date, r.Machine, r.Duration)
	md.WriteString("Ours and the peer doing the same job (Samba; bare JetStream for the hub) run on the same machine, in the same run, driven by the same load generator; the machine's CPUs are shared with the generator, so figures move between runs.\n\n")
	md.WriteString(r.figuresMarkdown())
	charts := map[string]string{}
	if len(r.SMB) > 0 {
		md.WriteString("## SMB send-message sessions: messenger vs smbd\n\n")
		md.WriteString("Each client sends complete `smbclient -M`-style sessions (session request, 0xD5, 0xD7, 0xD6) over loopback; smbd runs a `message command` that appends to a file, our daemon commits each message to SQLite (`synchronous=FULL`) before it answers.\n\n")
		md.WriteString("| clients | messenger msgs/s | smbd msgs/s | ratio | p99 ms (ours / smbd) | CPU µs per message (ours / smbd) |\n|---:|---:|---:|---:|---:|---:|\n")
		for _, row := range r.SMB {
			fmt.Fprintf(&md, "| %d | %.0f | %.0f | %.1f× | %.2f / %.2f | %.0f / %.0f |\n", row.Clients, row.Ours, row.Peer, ratio(row.Ours, row.Peer), row.OursP99, row.PeerP99, row.OursCPU, row.PeerCPU)
		}
		md.WriteString("\n![SMB sessions per second](smb.svg)\n\n")
		charts["smb.svg"] = barChart("SMB message sessions per second", "smbd", r.SMB)
	}
	if len(r.NBNS) > 0 {
		md.WriteString("## NetBIOS name queries: messenger vs nmbd\n\n")
		md.WriteString("Unicast name queries, 4 outstanding per client; nmbd ignores loopback, so both servers run in one network namespace and the generator in another, joined by a veth pair.\n\n")
		md.WriteString("| clients | messenger answers/s | nmbd answers/s | ratio | p99 ms (ours / nmbd) | CPU µs per answer (ours / nmbd) |\n|---:|---:|---:|---:|---:|---:|\n")
		for _, row := range r.NBNS {
			fmt.Fprintf(&md, "| %d | %.0f | %.0f | %.1f× | %.2f / %.2f | %.1f / %.1f |\n", row.Clients, row.Ours, row.Peer, ratio(row.Ours, row.Peer), row.OursP99, row.PeerP99, row.OursCPU, row.PeerCPU)
		}
		md.WriteString("\n![Name queries per second](nbns.svg)\n\n")
		charts["nbns.svg"] = barChart("NetBIOS name queries answered per second", "nmbd", r.NBNS)
	}
	if m := r.Mailslot; m != nil {
		fmt.Fprintf(&md, "## MESSNGR datagrams\n\nNo peer handles this mailslot (nmbd ignores it). Our daemon decoded and durably stored %.0f datagrams/s (%d of %d sent in a paced run).\n\n", m.PerSecond, m.Stored, m.Sent)
	}
	if m := r.Mix; m != nil {
		fmt.Fprintf(&md, "## Spam mix\n\nMESSNGR datagrams and NetrSendMessage calls from 200 loopback addresses, one legitimate mailslot message in a hundred from a trusted address: %d datagrams sent, %d judged (%.0f per second), of which %d dropped by the kernel filter once the policy had found their source flooding and %d decoded and judged by the policy in user space; %d lost for want of socket-buffer space before the daemon read them (UDP has no flow control); %d of %d legitimate messages delivered (%.1f%%).\n\n",
			m.Sent, m.Judged, m.PerSecond, m.KernelDropped, m.Judged-m.KernelDropped, m.BufferLost, m.LegitDelivered, m.Legit, m.LegitShare())
	}
	if f := r.Flood; f != nil {
		fmt.Fprintf(&md, "## Flood\n\nA spoofed-source spam flood of %d mailslot datagrams from many 127.x.y.z addresses, with %d messages of a trusted sender interleaved: %d of the trusted messages were delivered (in order: %v); %d spam messages were stored (quarantined up to the cap), the rest dropped. Resident memory of the daemon during the run:\n\n![RSS during the flood](flood-rss.svg)\n\n",
			f.Spam, f.Trusted, f.TrustedDelivered, f.InOrder, f.SpamStored)
		charts["flood-rss.svg"] = lineChart("Daemon RSS during the flood (MiB)", f.RSS)
	}
	if len(r.Hub) > 0 {
		md.WriteString("## The NATS hub: messenger vs bare JetStream\n\n")
		md.WriteString("Daemon A sends to BOB on daemon B through the hub and waits for the delivered receipt (`messenger send --wait`): A publishes, B stores the message in SQLite and publishes the receipt, A's waiter wakes. Each client sends one message at a time. The peer is a bare JetStream client in the same cluster and run doing the same round trip under the same permissions, streams and consumer settings (publish, consume, publish the receipt and wait for the hub to take it, ack, consume the receipt) with no store, registry or API, where ours commits to SQLite on both hosts before a round trip counts (A's sent row, B's message); the legacy column is A sending to B over an SMB session (the session's reply comes after B stored it). Three nodes means a three-node nats-server cluster with replicas 3; its three servers, both daemons and the generator share the machine's CPUs. CPU per round trip is the whole machine's share of it: the nats-servers, the bench process and, for ours, both daemons.\n\n")
		md.WriteString("| nodes | clients | messenger via hub msgs/s | bare JetStream round trips/s | ratio | messenger via SMB msgs/s | p99 ms (hub / bare / SMB) | CPU µs per round trip (hub / bare) |\n|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		var chart []pairRow
		for _, row := range r.Hub {
			fmt.Fprintf(&md, "| %d | %d | %.0f | %.0f | %.2f× | %.0f | %.2f / %.2f / %.2f | %.0f / %.0f |\n", row.Nodes, row.Clients, row.Ours, row.Bare, ratio(row.Ours, row.Bare), row.SMB, row.OursP99, row.BareP99, row.SMBP99, row.OursCPU, row.BareCPU)
			if row.Nodes == 3 {
				chart = append(chart, pairRow{Clients: row.Clients, Ours: row.Ours, Peer: row.Bare})
			}
		}
		if len(chart) > 0 {
			md.WriteString("\n![Hub round trips per second, three nodes](hub.svg)\n\n")
			charts["hub.svg"] = barChart("Hub round trips with receipts per second (3 nodes, R3)", "bare JetStream", chart)
		}
	}
	for name, svg := range charts {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(svg), 0o644); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(dir, "README.md"), []byte(md.String()), 0o644)
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// barChart draws ours beside the peer per concurrency level, on a log
// scale: the two differ by one to two orders of magnitude.
func barChart(title, peer string, rows []pairRow) string {
	const w, h, left, bottom, top = 640, 360, 70, 40, 40
	plotW, plotH := float64(w-left-20), float64(h-top-bottom)
	maxV := 1.0
	for _, r := range rows {
		maxV = math.Max(maxV, math.Max(r.Ours, r.Peer))
	}
	logMax := math.Ceil(math.Log10(maxV))
	y := func(v float64) float64 {
		if v < 1 {
			v = 1
		}
		return top + plotH - plotH*math.Log10(v)/logMax
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", w, h)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/><text x="%d" y="20" font-size="14">%s</text>`+"\n", w, h, left, html.EscapeString(title))
	for p := 0.0; p <= logMax; p++ {
		yy := y(math.Pow(10, p))
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/><text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", left, w-20, yy, yy, left-6, yy+4, siFormat(math.Pow(10, p)))
	}
	group := plotW / float64(len(rows))
	barW := group / 3
	for i, r := range rows {
		x := float64(left) + float64(i)*group + barW/2
		for j, v := range []float64{r.Ours, r.Peer} {
			color := "#2b6cb0"
			if j == 1 {
				color = "#c05621"
			}
			bx := x + float64(j)*barW
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/><text x="%.1f" y="%.1f" text-anchor="middle" font-size="10">%s</text>`+"\n",
				bx, y(v), barW-2, top+plotH-y(v), color, bx+barW/2, y(v)-3, siFormat(v))
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%d clients</text>`+"\n", x+barW, h-bottom+16, r.Clients)
	}
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="10" height="10" fill="#2b6cb0"/><text x="%d" y="%d">messenger</text>`, w-190, h-14, w-176, h-5)
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="10" height="10" fill="#c05621"/><text x="%d" y="%d">%s</text>`+"\n</svg>\n", w-100, h-14, w-86, h-5, html.EscapeString(peer))
	return b.String()
}

// lineChart draws RSS samples over time.
func lineChart(title string, samples []rssSample) string {
	const w, h, left, bottom, top = 640, 300, 60, 40, 40
	plotW, plotH := float64(w-left-20), float64(h-top-bottom)
	var maxT, maxMB float64 = 1, 1
	for _, s := range samples {
		maxT = math.Max(maxT, s.At.Seconds())
		maxMB = math.Max(maxMB, float64(s.RSS)/(1<<20))
	}
	maxMB = math.Ceil(maxMB/10) * 10
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", w, h)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/><text x="%d" y="20" font-size="14">%s</text>`+"\n", w, h, left, html.EscapeString(title))
	for mb := 0.0; mb <= maxMB; mb += maxMB / 5 {
		yy := top + plotH - plotH*mb/maxMB
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/><text x="%d" y="%.1f" text-anchor="end">%.0f</text>`+"\n", left, w-20, yy, yy, left-6, yy+4, mb)
	}
	var pts []string
	for _, s := range samples {
		x := float64(left) + plotW*s.At.Seconds()/maxT
		yy := top + plotH - plotH*(float64(s.RSS)/(1<<20))/maxMB
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, yy))
	}
	fmt.Fprintf(&b, `<polyline fill="none" stroke="#2b6cb0" stroke-width="2" points="%s"/>`+"\n", strings.Join(pts, " "))
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">seconds (%.0f s in all)</text>`+"\n</svg>\n", left+int(plotW/2), h-10, maxT)
	return b.String()
}

func siFormat(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.1fM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1fk", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}
