// Package ptytest opens pseudo-terminals for tests of code that writes to
// users' terminals, as net/http/httptest does for HTTP.
package ptytest

import (
	"errors"
	"os"
	"strconv"
	"syscall"
	"time"
	"unsafe"
)

// ErrUnavailable means the system has no pseudo-terminals to give.
var ErrUnavailable = errors.New("no pseudo-terminals here")

// PTY is an open pseudo-terminal pair.
type PTY struct {
	Master *os.File
	slave  *os.File
	// Line is the slave's name under /dev, as utmp records it: "pts/7".
	Line string
}

// Open opens a pair. The slave stays open so that what is written to it
// can be read from Master.
func Open() (*PTY, error) {
	// Non-blocking, so that the runtime poller serves the master and read
	// deadlines work.
	fd, err := syscall.Open("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, errors.Join(ErrUnavailable, err)
	}
	master := os.NewFile(uintptr(fd), "/dev/ptmx")
	var unlock int32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, master.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); e != 0 {
		master.Close()
		return nil, e
	}
	var n uint32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, master.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); e != 0 {
		master.Close()
		return nil, e
	}
	line := "pts/" + strconv.Itoa(int(n))
	slave, err := os.OpenFile("/dev/"+line, os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		master.Close()
		return nil, err
	}
	return &PTY{Master: master, slave: slave, Line: line}, nil
}

// Close closes both ends.
func (p *PTY) Close() error { return errors.Join(p.slave.Close(), p.Master.Close()) }

// Read returns what arrived on the terminal within wait.
func (p *PTY) Read(wait time.Duration) string {
	p.Master.SetReadDeadline(time.Now().Add(wait))
	var out []byte
	buf := make([]byte, 4096)
	for {
		n, err := p.Master.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			return string(out)
		}
	}
}

// Mesg sets the terminal's group write bit, as mesg y and mesg n do.
func (p *PTY) Mesg(accept bool) error {
	mode := os.FileMode(0o600)
	if accept {
		mode = 0o620
	}
	return os.Chmod("/dev/"+p.Line, mode)
}
