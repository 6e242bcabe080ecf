package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/netsend/messenger/internal/netbios"
	"github.com/netsend/messenger/internal/transport/smbmsg"
)

// result is one target's figures at one concurrency level.
type result struct {
	ok, errors int
	elapsed    time.Duration
	p50, p99   time.Duration
	cpu        time.Duration // the target's CPU time during the level
	rss        int64         // the target's resident memory after the level
	stored     int           // messages the target kept during the level
}

func (r result) rate() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.ok) / r.elapsed.Seconds()
}

func (r result) cpuPerMsg() float64 {
	if r.ok == 0 {
		return 0
	}
	return float64(r.cpu.Microseconds()) / float64(r.ok)
}

// load runs clients concurrent senders against t for d (or until max
// messages), each opening a session, sending one multi-block message the
// way smbclient -M does, and closing (or calling t.send, when set). A
// message counts when the 0xD6 success reply (or t.send's nil) arrived.
func load(ctx context.Context, t *target, clients int, d time.Duration, max int) (result, error) {
	called, err := netbios.NewName(t.called, 0x03)
	if err != nil {
		return result{}, err
	}
	calling, _ := netbios.NewName("BENCHCLIENT", 0x00)
	before, err := t.stored()
	if err != nil {
		return result{}, err
	}
	cpuBefore := cpuTime(t.pid())

	var sent atomic.Int64
	var errCount atomic.Int64
	lat := make([][]time.Duration, clients)
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	for g := 0; g < clients; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(deadline) && sent.Add(1) <= int64(max); i++ {
				// 64 bytes, one line, so smbd's file counts one line each.
				text := fmt.Sprintf("bench %d-%d %s", g, i, strings.Repeat("x", 64))[:62] + "\r\n"
				t0 := time.Now()
				var err error
				if t.send != nil {
					err = t.send(ctx, text)
				} else {
					err = sendOne(ctx, t.addr, called, calling, text)
				}
				if err != nil {
					if errCount.Add(1) == 1 {
						fmt.Fprintf(os.Stderr, "bench: %s: first error: %v\n", t.name, err)
					}
					continue
				}
				lat[g] = append(lat[g], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	r := result{ok: len(all), errors: int(errCount.Load()), elapsed: elapsed}
	if len(all) > 0 {
		slices.Sort(all)
		r.p50 = all[len(all)/2]
		r.p99 = all[len(all)*99/100]
	}
	// smbd runs its message command in the background: give it time to
	// write what it acknowledged before counting.
	waitFor("stored count", 30*time.Second, func() error {
		n, err := t.stored()
		if err != nil {
			return err
		}
		r.stored = n - before
		if r.stored < r.ok {
			return errNotReady
		}
		return nil
	})
	r.cpu = cpuTime(t.pid()) - cpuBefore
	r.rss = rssBytes(t.pid())
	return r, nil
}

func sendOne(ctx context.Context, addr string, called, calling netbios.Name, text string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, err := smbmsg.Dial(ctx, addr, called, calling)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c.SendMultiBlock([]byte("bench"), []byte(called.Base()), []byte(text), 127)
}

// cpuTime sums user and system time of the processes and their reaped
// children (smbd forks one child per session).
func cpuTime(pids []int) time.Duration {
	var ticks int64
	for _, pid := range pids {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		// After the command name: state is field 3; utime..cstime are 14..17.
		for _, i := range []int{11, 12, 13, 14} {
			v, _ := strconv.ParseInt(fields[i], 10, 64)
			ticks += v
		}
	}
	return time.Duration(ticks) * time.Second / 100
}

func rssBytes(pids []int) int64 {
	var total int64
	for _, pid := range pids {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/statm")
		if err != nil {
			continue
		}
		f := strings.Fields(string(b))
		if len(f) > 1 {
			pages, _ := strconv.ParseInt(f[1], 10, 64)
			total += pages * int64(os.Getpagesize())
		}
	}
	return total
}
