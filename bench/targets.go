package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// startOurs runs our daemon as a session-benchmark target, its pop-up
// sink writing to /dev/null.
func startOurs(work string) (*target, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	// Every benchmark client comes from 127.0.0.1, so the per-source cap
	// (one host's share, 16 by default) would measure refusals, not
	// throughput: it gets the whole of max_sessions here.
	d, err := startOurDaemon(work, "--bind", "127.0.0.1", "--smb-port", strconv.Itoa(port), "--smb-max-sessions-per-source", "1024")
	if err != nil {
		return nil, err
	}
	return &target{
		name: "messenger", addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), called: "BENCHHOST",
		pid:    func() []int { return []int{d.pid()} },
		stored: d.stored,
		stop:   d.stop,
	}, nil
}

func buildMessenger(work string) (string, error) {
	bin := filepath.Join(work, "messenger")
	build := exec.Command("go", "build", "-o", bin, "github.com/netsend/messenger/cmd/messenger")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		return "", fmt.Errorf("building messenger: %w", err)
	}
	return bin, nil
}

// startSmbd runs Samba's smbd on a loopback high port as a WinPopup
// receiver whose message command appends each message to a file, as
// docs/protocols/peers.md, "smbd as a message receiver", describes.
func startSmbd(work string) (*target, error) {
	smbd, err := exec.LookPath("smbd")
	if err != nil {
		return nil, fmt.Errorf("smbd is not installed (apt-get install samba): %w", err)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(work, "smbd")
	msgDir := filepath.Join(dir, "msgs")
	dirs, err := sambaDirs(dir, "msgs")
	if err != nil {
		return nil, err
	}
	os.Chmod(dir, 0o755)
	// The message command runs as the guest account, so the file must be
	// writable by it.
	if err := os.Chmod(msgDir, 0o1777); err != nil {
		return nil, err
	}
	msgFile := filepath.Join(msgDir, "msgs.txt")
	if err := writeFile(msgFile, "", 0o666); err != nil {
		return nil, err
	}
	os.Chmod(msgFile, 0o666)
	conf := fmt.Sprintf(`[global]
   workgroup = BENCH
   netbios name = SMBPEER
   interfaces = lo
   bind interfaces only = yes
   smb ports = %d
   server min protocol = NT1
   disable netbios = no
   dns proxy = no
   load printers = no
   printing = bsd
   printcap name = /dev/null
   disable spoolss = yes
   server role = standalone server
   map to guest = bad user
   log file = %[2]s/log.%%m
   log level = 0
%[4]s   message command = /bin/sh -c 'cat %%s >> %[3]s; rm -f %%s' &
`, port, dir, msgFile, dirs)
	confPath := filepath.Join(dir, "smb.conf")
	if err := writeFile(confPath, conf, 0o644); err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(work, "smbd.log"))
	if err != nil {
		return nil, err
	}
	// No --no-process-group: smbd then puts itself in its own group and a
	// signal to it reaches only it and its children.
	cmd := exec.Command(smbd, "--foreground", "--debug-stdout", "-s", confPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	t := &target{
		name: "smbd", addr: addr, called: "SMBPEER",
		pid:    func() []int { return []int{cmd.Process.Pid} },
		stored: func() (int, error) { return countLines(msgFile) },
		stop: func() {
			cmd.Process.Signal(syscall.SIGTERM)
			cmd.Wait()
			logf.Close()
		},
	}
	err = waitFor("smbd listening", 30*time.Second, func() error {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return err
		}
		return c.Close()
	})
	if err != nil {
		t.stop()
		return nil, err
	}
	return t, nil
}

// sambaDirs makes under dir the directories a private Samba daemon keeps
// its state in, and extra ones, and returns the smb.conf lines that send
// it there rather than to the system's.
func sambaDirs(dir string, extra ...string) (string, error) {
	subs := []string{"lock", "state", "cache", "pid", "private", "ncalrpc"}
	for _, sub := range append(subs, extra...) {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return "", err
		}
	}
	return fmt.Sprintf(`   lock directory = %[1]s/lock
   state directory = %[1]s/state
   cache directory = %[1]s/cache
   pid directory = %[1]s/pid
   private dir = %[1]s/private
   ncalrpc dir = %[1]s/ncalrpc
`, dir), nil
}

func countLines(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	n := 0
	r := bufio.NewReaderSize(f, 1<<16)
	buf := make([]byte, 1<<16)
	for {
		k, err := r.Read(buf)
		n += bytes.Count(buf[:k], []byte{'\n'})
		if err != nil {
			return n, nil
		}
	}
}
