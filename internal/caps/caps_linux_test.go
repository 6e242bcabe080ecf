//go:build linux

package caps

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// Bits of /proc/PID/status's capability masks.
const (
	bitNetBindService = 10
	bitBPF            = 39
)

// taskCaps is, for every thread of the process, each capability set of
// /proc/self/task/TID/status ("CapEff" ...) that has one of bits.
func taskCaps(t *testing.T, bits ...uint) []string {
	t.Helper()
	tasks, err := filepath.Glob("/proc/self/task/*/status")
	if err != nil || len(tasks) == 0 {
		t.Fatalf("no threads in /proc/self/task: %v", err)
	}
	var found []string
	for _, p := range tasks {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // the thread ended
		}
		for _, line := range strings.Split(string(b), "\n") {
			name, hex, ok := strings.Cut(line, ":\t")
			if !ok || !strings.HasPrefix(name, "Cap") || name == "CapBnd" {
				continue
			}
			v, err := strconv.ParseUint(hex, 16, 64)
			if err != nil {
				t.Fatalf("%s: %s", p, line)
			}
			for _, bit := range bits {
				if v&(1<<bit) != 0 {
					found = append(found, fmt.Sprintf("%s %s has bit %d", p, name, bit))
				}
			}
		}
	}
	return found
}

// TestDropChild is the process the tests below start: it does what
// CAPS_CHILD says and fails when the result is not as it should be.
func TestDropChild(t *testing.T) {
	mode := os.Getenv("CAPS_CHILD")
	if mode == "" {
		t.Skip("run by the tests below")
	}
	// Threads that exist before the drop, and stay: each must lose the
	// capabilities too, not only the one that calls Drop.
	stop := make(chan struct{})
	defer close(stop)
	for range 4 {
		go func() {
			runtime.LockOSThread()
			<-stop
		}()
	}
	switch mode {
	case "refused":
		refused := errors.New("the map needs CAP_BPF")
		var lowered []string
		_, err := Drop(func() error {
			lowered = taskCaps(t, bitBPF)
			return refused
		}, "cap_bpf")
		if !errors.Is(err, refused) {
			t.Fatalf("Drop with a failing check: %v, want its error", err)
		}
		for _, s := range lowered {
			if strings.Contains(s, "CapEff") {
				t.Errorf("CAP_BPF still effective while the check ran: %s", s)
			}
		}
		if len(taskCaps(t, bitBPF)) == 0 {
			t.Fatal("CAP_BPF is gone after a failed check")
		}
		// Still effective: the process can use it.
		dropped, err := Drop(nil, "cap_bpf")
		if err != nil || len(dropped) != 1 {
			t.Fatalf("Drop after the failed check: %v %v", dropped, err)
		}
	case "drop":
		dropped, err := Drop(func() error { return nil }, "cap_bpf", "cap_net_bind_service")
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(dropped, ",") != "cap_bpf,cap_net_bind_service" {
			t.Errorf("dropped %v", dropped)
		}
		if left := taskCaps(t, bitBPF, bitNetBindService); len(left) > 0 {
			t.Errorf("capabilities left after Drop:\n%s", strings.Join(left, "\n"))
		}
		if again, err := Drop(nil, "cap_bpf"); err != nil || len(again) != 0 {
			t.Errorf("a second Drop: %v %v, want nothing held", again, err)
		}
	}
}

// runChild runs TestDropChild in a process that holds CAP_BPF and
// CAP_NET_BIND_SERVICE in its inheritable and ambient sets as well as
// the others (setpriv, as the interop test and the unit give them).
func runChild(t *testing.T, mode string) {
	if os.Geteuid() != 0 {
		t.Skip("not root: the test needs capabilities to drop")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("setpriv (util-linux) is not installed")
	}
	cmd := exec.Command(setpriv, "--inh-caps=+bpf,+net_bind_service", "--ambient-caps=+bpf,+net_bind_service", "--",
		os.Args[0], "-test.run=^TestDropChild$", "-test.v")
	cmd.Env = append(os.Environ(), "CAPS_CHILD="+mode)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestDropChild") {
		t.Fatalf("%v\n%s", err, out)
	}
}

func TestDropEveryThreadEverySet(t *testing.T) { runChild(t, "drop") }

func TestDropKeepsWhatTheCheckRefuses(t *testing.T) { runChild(t, "refused") }

func TestDropUnknownName(t *testing.T) {
	if _, err := Drop(nil, "cap_nonsense"); err == nil {
		t.Fatal("no error for an unknown capability")
	}
}
