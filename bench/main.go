// Command bench measures our daemon side by side with the Samba peer that
// does the same job, on the same machine, in the same run, driven by the
// same load generator, and prints the ratio:
//
//   - smb: SMB send-message sessions against smbd (with a message command
//     that appends to a file), over loopback: messages/s, p50/p99 session
//     latency, CPU per message, RSS;
//
//   - nbns: unicast name queries against nmbd, which ignores loopback, so
//     both run in a network namespace and the generator in a second one,
//     joined by a veth pair: answers/s and latency;
//
//   - mailslot: MESSNGR datagrams decoded and stored per second (no peer
//     handles this mailslot, so the figure stands alone);
//
//   - mix: datagrams (mailslot, RPC) decoded and judged per second under a
//     spam mix from many loopback addresses, with the share of legitimate
//     messages delivered;
//
//   - flood: a spoofed-source spam flood with a trusted sender
//     interleaved, and the daemon's memory over time;
//
//   - hub: messages through the NATS hub with a delivered receipt each,
//     on one nats-server and on a three-node cluster, beside a bare
//     JetStream client doing the same round trip and the legacy SMB path;
//
//   - publish: ntfy-style HTTP publishes to the alert ingest listener,
//     each answered after its commit (no ntfy or Gotify runs here, so the
//     figure stands alone; not part of all).
//
// With -report DIR it also writes a Markdown report with SVG charts.
//
//	go run ./bench                        # both, 5s per level, levels 1,8,32
//	go run ./bench -duration 10s -levels 1,4,16,64 smb
//
// Needs root and Samba installed; scripts/test.sh installs it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

func main() {
	duration := flag.Duration("duration", 5*time.Second, "load time per concurrency level and target")
	levels := flag.String("levels", "1,8,32", "concurrency levels (comma-separated)")
	maxMsgs := flag.Int("max", 2_000_000, "upper bound on messages per level and target")
	keep := flag.Bool("keep", false, "keep the work directory")
	profile := flag.String("profile", "", "hub: profile both daemons (CPU, execution trace) into this directory")
	reportDir := flag.String("report", "", "also write a Markdown report with SVG charts into this directory (e.g. docs/benchmarks)")
	flag.Parse()
	rep := &Report{Date: time.Now().Format("2006-01-02"), Machine: machine(), Duration: *duration}
	var err error
	step := func(run func() error) {
		if err == nil {
			err = run()
			fmt.Println()
		}
	}
	smb := func() error { return runSMB(*duration, *levels, *maxMsgs, *keep, rep) }
	nbns := func() error { return runNBNS(*duration, *levels, *keep, rep) }
	mailslot := func() error { return runMailslot(*duration, rep) }
	flood := func() error { return runFlood(*duration, rep) }
	mix := func() error { return runDatagrams(*duration, rep) }
	hub := func() error { return runHub(*duration, *levels, *keep, *profile, rep) }
	publish := func() error { return runPublish(*duration, *levels, *maxMsgs, *keep) }
	switch what := flag.Arg(0); what {
	case "", "all":
		step(smb)
		step(nbns)
		step(mailslot)
		step(mix)
		step(flood)
		step(hub)
	case "smb":
		step(smb)
	case "nbns":
		step(nbns)
	case "mailslot":
		step(mailslot)
	case "flood":
		step(flood)
	case "mix":
		step(mix)
	case "hub":
		step(hub)
	case "publish":
		step(publish)
	case nbnsLoadCmd:
		err = nbnsLoad(flag.Args()[1:])
	default:
		err = fmt.Errorf("unknown benchmark %q (smb, nbns, mailslot, mix, flood, hub, publish, all)", what)
	}
	if err == nil {
		err = rep.PrintFigures(os.Stdout)
	}
	if err == nil && *reportDir != "" {
		err = rep.Write(*reportDir)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func parseLevels(list string) ([]int, error) {
	var levels []int
	for _, f := range strings.Split(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 1024 {
			return nil, fmt.Errorf("bad concurrency level %q (1..1024)", f)
		}
		levels = append(levels, n)
	}
	return levels, nil
}

func runSMB(duration time.Duration, levelList string, maxMsgs int, keep bool, rep *Report) error {
	levels, err := parseLevels(levelList)
	if err != nil {
		return err
	}
	work, cleanup, err := workDir("messenger-bench-", keep)
	if err != nil {
		return err
	}
	defer cleanup()
	// smbd's message command runs as the guest account, which must reach
	// the message file inside.
	if err := os.Chmod(work, 0o755); err != nil {
		return err
	}

	ours, err := startOurs(work)
	if err != nil {
		return err
	}
	defer ours.stop()
	peer, err := startSmbd(work)
	if err != nil {
		return err
	}
	defer peer.stop()

	fmt.Printf("SMB send-message sessions (0xD5/0xD7/0xD6, 64-byte text), %v per level, loopback, %s\n\n", duration, machine())
	tw := tabwriter.NewWriter(os.Stdout, 0, 8, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "clients\ttarget\tmsgs/s\tp50 ms\tp99 ms\tCPU µs/msg\tRSS MiB\terrors\tstored\tratio msgs/s\t")
	for _, c := range levels {
		var results [2]result
		for i, t := range []*target{ours, peer} {
			r, err := load(context.Background(), t, c, duration, maxMsgs)
			if err != nil {
				return fmt.Errorf("%s at %d clients: %w", t.name, c, err)
			}
			results[i] = r
		}
		rep.SMB = append(rep.SMB, pairRow{Clients: c, Ours: results[0].rate(), Peer: results[1].rate(),
			OursP99: ms(results[0].p99), PeerP99: ms(results[1].p99), OursCPU: results[0].cpuPerMsg(), PeerCPU: results[1].cpuPerMsg()})
		for i, t := range []*target{ours, peer} {
			r := results[i]
			ratio := ""
			if i == 0 && results[1].rate() > 0 {
				ratio = fmt.Sprintf("%.1fx", r.rate()/results[1].rate())
			}
			fmt.Fprintf(tw, "%d\t%s\t%.0f\t%.2f\t%.2f\t%.0f\t%.1f\t%d\t%d\t%s\t\n", c, t.name, r.rate(),
				ms(r.p50), ms(r.p99), r.cpuPerMsg(), float64(r.rss)/(1<<20), r.errors, r.stored, ratio)
		}
	}
	return tw.Flush()
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func machine() string {
	out, _ := exec.Command("nproc").Output()
	return fmt.Sprintf("%s CPUs", strings.TrimSpace(string(out)))
}

// target is one receiver under test.
type target struct {
	name   string
	addr   string
	called string
	pid    func() []int        // processes whose CPU and RSS count
	stored func() (int, error) // messages the receiver has kept so far
	// send, when set, sends one message text its own way instead of an
	// SMB session to addr.
	send func(ctx context.Context, text string) error
	stop func()
}

var errNotReady = errors.New("not ready")

func waitFor(what string, timeout time.Duration, cond func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: %w", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func writeFile(path, content string, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(content), mode)
}

// workDir makes a temporary directory for one benchmark; cleanup removes
// it unless keep, in which case its path is printed for a look after.
func workDir(prefix string, keep bool) (dir string, cleanup func(), err error) {
	dir, err = os.MkdirTemp("", prefix)
	if err != nil {
		return "", nil, err
	}
	if keep {
		fmt.Println("work directory:", dir)
		return dir, func() {}, nil
	}
	return dir, func() { os.RemoveAll(dir) }, nil
}
