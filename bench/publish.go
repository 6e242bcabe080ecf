package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// publishToken is the ingest token the publish benchmark uses; the
// daemon only ever sees its SHA-256.
const publishToken = "bench-publish-token-0123456789abcdef"

// runPublish measures ntfy-style HTTP publishes (POST /TOPIC with the
// text as body, a Bearer token) to our ingest listener, each answered
// only after the alert is committed to the store. No ntfy or Gotify
// server runs here, so the figure stands alone, like mailslot's.
func runPublish(duration time.Duration, levelList string, maxMsgs int, keep bool) error {
	levels, err := parseLevels(levelList)
	if err != nil {
		return err
	}
	work, cleanup, err := workDir("messenger-bench-", keep)
	if err != nil {
		return err
	}
	defer cleanup()
	port, err := freePort()
	if err != nil {
		return err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	sum := sha256.Sum256([]byte(publishToken))
	// No de-duplication and no rate limit: every publish is a new alert
	// from the same source, which the defaults would hold back.
	conf := filepath.Join(work, "messenger.toml")
	if err := writeFile(conf, `[alert]
ingest_addr = "`+addr+`"
dedup_window = "0s"
rate_limit = 0

[[alert.token]]
name = "bench"
sha256 = "`+hex.EncodeToString(sum[:])+`"
to = ["BENCHHOST"]
`, 0o600); err != nil {
		return err
	}
	d, err := startOurDaemon(work, "--config", conf)
	if err != nil {
		return err
	}
	defer d.stop()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1024}}
	url := "http://" + addr + "/bench"
	t := &target{
		name:   "messenger",
		called: "BENCHHOST", // unused by send, but load parses it
		pid:    func() []int { return []int{d.pid()} },
		stored: d.stored,
		send: func(ctx context.Context, text string) error {
			return publishOne(ctx, client, url, text)
		},
	}
	if err := waitFor("ingest listener", 30*time.Second, func() error { return publishOne(context.Background(), client, url, "ready") }); err != nil {
		return err
	}

	fmt.Printf("ntfy-style HTTP publishes (POST /TOPIC, Bearer token, keep-alive), %v per level, loopback, %s\n\n", duration, machine())
	tw := tabwriter.NewWriter(os.Stdout, 0, 8, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "clients\ttarget\tmsgs/s\tp50 ms\tp99 ms\tCPU µs/msg\tRSS MiB\terrors\tstored\t")
	for _, c := range levels {
		r, err := load(context.Background(), t, c, duration, maxMsgs)
		if err != nil {
			return fmt.Errorf("publish at %d clients: %w", c, err)
		}
		fmt.Fprintf(tw, "%d\t%s\t%.0f\t%.2f\t%.2f\t%.0f\t%.1f\t%d\t%d\t\n", c, t.name, r.rate(),
			ms(r.p50), ms(r.p99), r.cpuPerMsg(), float64(r.rss)/(1<<20), r.errors, r.stored)
	}
	return tw.Flush()
}

// publishOne publishes text as ntfy's curl -d would and reads the answer,
// so that the connection is reused.
func publishOne(ctx context.Context, client *http.Client, url, text string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(text))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+publishToken)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("publish: %s: %s", resp.Status, body)
	}
	return nil
}
