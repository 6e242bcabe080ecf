package store

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The crash test runs this test binary again as a child that adds messages
// and reports each id on stdout once Add has returned; the parent kills it
// with SIGKILL and checks that every reported message survived.
const (
	crashDirEnv   = "MESSENGER_STORE_CRASH_DIR"
	crashCycleEnv = "MESSENGER_STORE_CRASH_CYCLE"
	crashPrefix   = "added "
)

// TestCrashChild is the child's body; on its own it skips.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("runs only as the child of TestCrashRecovery")
	}
	cycle := os.Getenv(crashCycleEnv)
	s, err := Open(context.Background(), dir, Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child: open:", err)
		os.Exit(2)
	}
	// Bounded in case the parent dies without killing us.
	deadline := time.Now().Add(30 * time.Second)
	var (
		mu sync.Mutex // one report per write(2), never interleaved
		wg sync.WaitGroup
	)
	for g := range 8 {
		wg.Go(func() {
			for i := 0; time.Now().Before(deadline); i++ {
				m := sample(fmt.Sprintf("cycle %s goroutine %d message %d", cycle, g, i))
				if err := s.Add(context.Background(), &m); err != nil {
					fmt.Fprintln(os.Stderr, "child: add:", err)
					os.Exit(2)
				}
				mu.Lock()
				fmt.Fprintf(os.Stdout, "%s%d %s\n", crashPrefix, m.ID, m.Text)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	os.Exit(3) // the parent should have killed us long before
}

func TestCrashRecovery(t *testing.T) {
	if os.Getenv(crashDirEnv) != "" {
		t.Skip("this is the child")
	}
	dir := t.TempDir()
	reported := map[int64]string{} // over all cycles
	for cycle := range 4 {
		n := runAndKill(t, dir, cycle, 50+40*cycle, reported)
		t.Logf("cycle %d: killed after %d reported adds", cycle, n)

		// Open and check as the restarted daemon would.
		s, err := Open(context.Background(), dir, Options{})
		if err != nil {
			t.Fatalf("cycle %d: Open after SIGKILL: %v", cycle, err)
		}
		all, err := s.List(context.Background(), ListOptions{})
		if err != nil {
			t.Fatalf("cycle %d: List: %v", cycle, err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("cycle %d: Close: %v", cycle, err)
		}
		stored := make(map[int64]string, len(all))
		texts := make(map[string]int64, len(all))
		for _, m := range all {
			stored[m.ID] = m.Text
			if other, dup := texts[m.Text]; dup {
				t.Errorf("cycle %d: text %q stored twice, ids %d and %d", cycle, m.Text, other, m.ID)
			}
			texts[m.Text] = m.ID
		}
		for id, text := range reported {
			got, ok := stored[id]
			switch {
			case !ok:
				t.Errorf("cycle %d: acknowledged id %d (%q) lost", cycle, id, text)
			case got != text:
				t.Errorf("cycle %d: id %d holds %q, acknowledged as %q", cycle, id, got, text)
			}
		}
		if t.Failed() {
			return
		}
	}
}

// runAndKill starts the child, SIGKILLs it once it has reported want adds,
// records every report it made before dying in reported, and returns how
// many it made.
func runAndKill(t *testing.T, dir string, cycle, want int, reported map[int64]string) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, crashCycleEnv+"="+strconv.Itoa(cycle))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting child: %v", err)
	}
	// A child that hangs is killed too, and the shortfall reported below.
	watchdog := time.AfterFunc(20*time.Second, func() { _ = cmd.Process.Kill() })
	defer watchdog.Stop()

	r := bufio.NewReader(out)
	n := 0
	killed := false
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			// EOF after the kill. A line cut short by the kill has no
			// newline and was never a complete report.
			if !errors.Is(err, io.EOF) {
				t.Errorf("reading child: %v", err)
			}
			break
		}
		rest, ok := strings.CutPrefix(strings.TrimSuffix(line, "\n"), crashPrefix)
		if !ok {
			continue // the test framework's own output
		}
		idText, text, _ := strings.Cut(rest, " ")
		id, err := strconv.ParseInt(idText, 10, 64)
		if err != nil {
			t.Fatalf("child reported %q", line)
		}
		if prev, dup := reported[id]; dup {
			t.Errorf("id %d reported for %q and %q", id, prev, text)
		}
		reported[id] = text
		n++
		if n == want && !killed {
			// Keep reading after the kill: reports already in the pipe were
			// made after their Add returned and must be stored too.
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatalf("killing child: %v", err)
			}
			killed = true
		}
	}
	err = cmd.Wait()
	if !killed {
		t.Fatalf("cycle %d: child reported %d of %d adds before exiting (%v); stderr:\n%s", cycle, n, want, err, stderr.String())
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ProcessState.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("cycle %d: child ended with %v, want SIGKILL; stderr:\n%s", cycle, err, stderr.String())
	}
	return n
}
