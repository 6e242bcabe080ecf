package interop

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/netsend/messenger/internal/netbios"
	"github.com/netsend/messenger/internal/transport/smbmsg"
)

// TestCrashLosesNothingAcknowledged kills the daemon with SIGKILL while
// concurrent senders are mid-stream, restarts it, and repeats. Every
// message whose final success reply (0xD0 or 0xD6) reached its sender must
// be in the inbox afterwards, exactly once; no message may be stored
// twice. The senders watch the SMB replies themselves: smbclient's exit
// status cannot tell a dropped message from a delivered one.
func TestCrashLosesNothingAcknowledged(t *testing.T) {
	cycles := 5
	if v, err := strconv.Atoi(os.Getenv("MESSENGER_CRASH_CYCLES")); err == nil && v > 0 {
		cycles = v
	}
	const senders = 8
	dataDir := t.TempDir()
	called, _ := netbios.NewName("MSGHOST", 0x03)
	calling, _ := netbios.NewName("CRASHTEST", 0x00)

	var mu sync.Mutex
	acked := map[string]bool{}
	var attempted atomic.Int64
	for cycle := 0; cycle < cycles; cycle++ {
		d := startDaemon(t, dataDir)
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for s := 0; s < senders; s++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					text := fmt.Sprintf("crash c%d s%d m%d", cycle, s, i)
					attempted.Add(1)
					if sendForCrash(d.addr(), called, calling, text, i%3 == 0) == nil {
						mu.Lock()
						acked[text] = true
						mu.Unlock()
					}
				}
			}()
		}
		time.Sleep(time.Duration(200+rand.IntN(400)) * time.Millisecond)
		d.kill()
		close(stop)
		wg.Wait()
	}

	d := startDaemon(t, dataDir)
	stored := map[string]int{}
	for _, m := range d.inbox() {
		stored[m.Text]++
	}
	lost, twice := 0, 0
	for text := range acked {
		if stored[text] == 0 {
			lost++
			if lost <= 5 {
				t.Errorf("acknowledged message %q is not in the inbox", text)
			}
		}
	}
	for text, n := range stored {
		if n > 1 {
			twice++
			if twice <= 5 {
				t.Errorf("message %q stored %d times", text, n)
			}
		}
	}
	t.Logf("%d cycles: %d attempted, %d acknowledged, %d stored, %d lost, %d stored twice",
		cycles, attempted.Load(), len(acked), len(stored), lost, twice)
	if len(acked) < cycles*10 {
		t.Errorf("only %d messages acknowledged in %d cycles; the test did not exercise the daemon", len(acked), cycles)
	}
}

// sendForCrash sends one message; nil means its final reply said success.
func sendForCrash(addr string, called, calling netbios.Name, text string, multi bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := smbmsg.Dial(ctx, addr, called, calling)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if multi {
		return c.SendMultiBlock([]byte("crasher"), []byte("MSGHOST"), []byte(text), 8)
	}
	return c.SendSingle([]byte("crasher"), []byte("MSGHOST"), []byte(text))
}
