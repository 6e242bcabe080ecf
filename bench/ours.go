package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/netsend/messenger/internal/api"
	"github.com/netsend/messenger/internal/apitype"
)

// ourDaemon is one messenger serve the benchmarks run.
type ourDaemon struct {
	cmd     *exec.Cmd
	client  *api.Client
	sock    string
	logFile *os.File
}

// startOurDaemon builds the binary in work and runs `messenger serve`
// with its data in work/ours and the given flags (every listener the
// flags leave out is off), and waits until its API answers.
func startOurDaemon(work string, flags ...string) (*ourDaemon, error) {
	bin, err := buildMessenger(work)
	if err != nil {
		return nil, err
	}
	return runOurDaemon(bin, filepath.Join(work, "ours"), filepath.Join(work, "ours.log"), flags...)
}

// runOurDaemon runs bin as `messenger serve` with its data in dataDir and
// its log in logPath, like startOurDaemon, for benchmarks that need more
// than one daemon.
func runOurDaemon(bin, dataDir, logPath string, flags ...string) (*ourDaemon, error) {
	return runOurDaemonEnv(bin, dataDir, logPath, nil, flags...)
}

// runOurDaemonEnv is runOurDaemon with env added to the daemon's
// environment (MESSENGER_PPROF for -profile).
func runOurDaemonEnv(bin, dataDir, logPath string, env []string, flags ...string) (*ourDaemon, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	args := append([]string{"serve", "--data-dir", dataDir, "--smb-port", "0", "--nbns-port", "0", "--dgram-port", "0",
		"--rpc-port", "0", "--http-addr", "", "--host-name", "BENCHHOST", "--workgroup", "BENCH", "--user-names=false",
		"--log-level", "warn"}, flags...)
	d := &ourDaemon{cmd: exec.Command(bin, args...), sock: filepath.Join(dataDir, "messenger.sock"), logFile: logf}
	d.cmd.Stderr = logf
	if env != nil {
		d.cmd.Env = append(os.Environ(), env...)
	}
	if err := d.cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	d.client = api.NewClient(d.sock)
	if err := waitFor("messenger serve ready", 30*time.Second, func() error { _, err := d.status(); return err }); err != nil {
		d.stop()
		return nil, err
	}
	return d, nil
}

func (d *ourDaemon) status() (apitype.Status, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return d.client.Status(ctx)
}

func (d *ourDaemon) stored() (int, error) {
	s, err := d.status()
	return int(s.Stored), err
}

func (d *ourDaemon) pid() int { return d.cmd.Process.Pid }

func (d *ourDaemon) stop() {
	d.cmd.Process.Signal(syscall.SIGTERM)
	d.cmd.Wait()
	d.logFile.Close()
}
