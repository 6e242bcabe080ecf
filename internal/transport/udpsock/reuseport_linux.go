//go:build linux

package udpsock

import (
	"context"
	"fmt"
	"math"
	"net"
	"strconv"
	"syscall"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// ListenGroup opens n UDP sockets on addr with SO_REUSEPORT: the kernel
// spreads datagrams over them by source, so that n readers, one per CPU,
// share a flood instead of one reader and one receive buffer taking it
// all. A broadcast or multicast datagram reaches every socket of a group,
// so every socket but the first drops, with a classic BPF filter, what was
// not addressed to this host alone (packet type PACKET_HOST: a broadcast
// from the network is PACKET_BROADCAST, our own looped back is
// PACKET_LOOPBACK): each datagram is read once. The exception is a
// broadcast to 127.255.255.255, which loopback marks PACKET_HOST; loopback
// has no broadcast flag, so nothing of ours sends one. (The
// eBPF filter of internal/transport/kfilter, where attached, replaces
// this one and does the same.) Port 0 takes an ephemeral port for the
// first socket and binds the others to it.
func ListenGroup(network, address string, n int) (conns []*net.UDPConn, err error) {
	defer func() {
		if err != nil {
			for _, c := range conns {
				c.Close()
			}
			conns = nil
		}
	}()
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		}); err != nil {
			return err
		}
		if serr != nil {
			return fmt.Errorf("setting SO_REUSEPORT: %w", serr)
		}
		return nil
	}}
	for i := range max(n, 1) {
		pc, err := lc.ListenPacket(context.Background(), network, address)
		if err != nil {
			return conns, err
		}
		c := pc.(*net.UDPConn)
		conns = append(conns, c)
		if i == 0 {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return conns, err
			}
			address = net.JoinHostPort(host, strconv.Itoa(c.LocalAddr().(*net.UDPAddr).Port))
			continue
		}
		if err := attachHostOnly(c); err != nil {
			return conns, err
		}
	}
	return conns, nil
}

// hostOnly keeps a datagram whose packet type is PACKET_HOST (addressed
// to this host alone) and drops the rest.
var hostOnly = func() []unix.SockFilter {
	raw, err := bpf.Assemble([]bpf.Instruction{
		bpf.LoadExtension{Num: bpf.ExtType},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.PACKET_HOST, SkipTrue: 1},
		bpf.RetConstant{Val: 0},
		bpf.RetConstant{Val: math.MaxUint32},
	})
	if err != nil {
		panic(err)
	}
	f := make([]unix.SockFilter, len(raw))
	for i, r := range raw {
		f[i] = unix.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	return f
}()

func attachHostOnly(c *net.UDPConn) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return fmt.Errorf("attaching the host-only filter: %w", err)
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptSockFprog(int(fd), unix.SOL_SOCKET, unix.SO_ATTACH_FILTER,
			&unix.SockFprog{Len: uint16(len(hostOnly)), Filter: &hostOnly[0]})
	}); err != nil {
		return fmt.Errorf("attaching the host-only filter: %w", err)
	}
	if serr != nil {
		return fmt.Errorf("attaching the host-only filter: %w", serr)
	}
	return nil
}
