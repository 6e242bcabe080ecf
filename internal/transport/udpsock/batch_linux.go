package udpsock

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// PacketInfo returns the interface index and destination address that an
// IPv4 datagram's IP_PKTINFO control message (ipv4.FlagDst or
// ipv4.FlagInterface) carries. It does what ipv4.ControlMessage.Parse does
// for this one message without allocating, which matters when it runs for
// every datagram.
func PacketInfo(oob []byte) (ifIndex int, dst netip.Addr, ok bool) {
	// The headers are read by hand rather than with
	// unix.ParseOneSocketControlMessage, which converts the buffer to a
	// header before checking that it is long enough.
	hdrLen, dataOff := unix.SizeofCmsghdr, unix.CmsgLen(0)
	for len(oob) >= hdrLen {
		var l int
		if hdrLen == 16 { // 64-bit: cmsg_len is a size_t
			l = int(binary.NativeEndian.Uint64(oob))
		} else {
			l = int(binary.NativeEndian.Uint32(oob))
		}
		if l < dataOff || l > len(oob) {
			return 0, netip.Addr{}, false
		}
		level, typ := int32(binary.NativeEndian.Uint32(oob[hdrLen-8:])), int32(binary.NativeEndian.Uint32(oob[hdrLen-4:]))
		if data := oob[dataOff:l]; level == unix.IPPROTO_IP && typ == unix.IP_PKTINFO && len(data) >= unix.SizeofInet4Pktinfo {
			// struct in_pktinfo: ipi_ifindex (host order), ipi_spec_dst, ipi_addr.
			return int(int32(binary.NativeEndian.Uint32(data))), netip.AddrFrom4([4]byte(data[8:12])), true
		}
		next := unix.CmsgSpace(l - dataOff)
		if next >= len(oob) {
			break
		}
		oob = oob[next:]
	}
	return 0, netip.Addr{}, false
}

// WaitInKernel moves b's socket out of Go's network poller: reads and
// writes then wait in recvmmsg and sendmmsg themselves, on a blocking
// duplicate of the socket, and the *net.UDPConn b was made for is closed
// (its options stay: they belong to the socket). A server answering a
// trickle of requests otherwise pays, per batch, for a read that finds
// nothing, an epoll wait, the wake-up of the parked goroutine and of the
// runtime's monitor thread; in the kernel it is one wake-up
// (docs/performance.md, "Name queries"). Merely making the socket
// blocking is not enough: while Go's poller holds it, every datagram
// wakes the poller's thread for nothing.
//
// Call it before anyone else uses the socket; afterwards send through
// b.WriteTo, stop reads with StopOnDone, and Close b at the end.
func (b *Batch) WaitInKernel() error {
	rc, err := b.udp.SyscallConn()
	if err != nil {
		return fmt.Errorf("moving the socket out of the poller: %w", err)
	}
	dup := -1
	var serr error
	if err := rc.Control(func(fd uintptr) {
		if dup, serr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0); serr == nil {
			serr = unix.SetNonblock(dup, false)
		}
	}); err != nil {
		serr = err
	}
	if serr != nil {
		if dup >= 0 {
			unix.Close(dup)
		}
		return fmt.Errorf("moving the socket out of the poller: %w", serr)
	}
	// A blocking descriptor makes an os.File that the poller leaves
	// alone; x/net reaches it through its RawConn.
	f := os.NewFile(uintptr(dup), "udp "+b.udp.LocalAddr().String())
	b.conn = packetConn(kernelConn{UDPConn: b.udp, f: f})
	b.kernel = f
	// With MSG_WAITFORONE recvmmsg waits for the first datagram only,
	// then takes what else is queued.
	b.readFlags = unix.MSG_WAITFORONE
	// Closing Go's descriptor takes the socket out of the poller.
	b.udp.Close()
	return nil
}

// kernelConn is what x/net needs to batch on the blocking duplicate: a
// UDP connection (the closed original, for its address) whose raw
// descriptor is the duplicate's.
type kernelConn struct {
	*net.UDPConn
	f *os.File
}

func (k kernelConn) SyscallConn() (syscall.RawConn, error) { return k.f.SyscallConn() }

func shutdownRead(f *os.File) {
	if rc, err := f.SyscallConn(); err == nil {
		// On an unconnected UDP socket shutdown reports ENOTCONN, but
		// marks the socket and wakes its readers all the same.
		rc.Control(func(fd uintptr) { unix.Shutdown(int(fd), unix.SHUT_RD) })
	}
}

// sendTo sends p to `to` from the socket f, of family v6 or IPv4.
func sendTo(f *os.File, v6 bool, p []byte, to netip.AddrPort) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var sa unix.Sockaddr
	if a := to.Addr().Unmap(); a.Is4() && !v6 {
		sa = &unix.SockaddrInet4{Port: int(to.Port()), Addr: a.As4()}
	} else {
		sa = &unix.SockaddrInet6{Port: int(to.Port()), Addr: a.As16()}
	}
	var serr error
	if err := rc.Write(func(fd uintptr) bool {
		serr = unix.Sendto(int(fd), p, 0, sa)
		return true
	}); err != nil {
		return err
	}
	if serr != nil {
		return &net.OpError{Op: "write", Net: "udp", Addr: net.UDPAddrFromAddrPort(to), Err: os.NewSyscallError("sendto", serr)}
	}
	return nil
}
