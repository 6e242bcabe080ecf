package audit

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
)

// Socket is one line of /proc/net/{tcp,tcp6,udp,udp6}.
type Socket struct {
	Proto  string // "tcp" or "udp", as the file it came from
	Local  netip.AddrPort
	Remote netip.AddrPort
	// State is the kernel's TCP state number; UDP sockets reuse it
	// (7, "close", for an unconnected one).
	State uint8
	UID   uint32
	Inode uint64
}

// tcpListen is TCP_LISTEN in the kernel's numbering.
const tcpListen = 0x0A

// Listening reports whether the socket waits for peers: a TCP socket in
// LISTEN, or a UDP socket bound locally and connected to no one.
func (s Socket) Listening() bool {
	if s.Proto == "tcp" {
		return s.State == tcpListen
	}
	return s.Remote.Port() == 0 && s.Remote.Addr().IsUnspecified()
}

// errProcNet marks a line of a /proc/net table that does not parse.
var errProcNet = errors.New("malformed /proc/net line")

// ParseProcNet parses the text of /proc/net/tcp, tcp6, udp or udp6 (proto
// is "tcp" or "udp"; the address length tells the family). The heading
// line is skipped; any other line that does not parse is an error naming
// its number and field, since a half-read table would give a wrong audit.
//
// Addresses are printed by the kernel as 32-bit words in host byte order,
// so they are decoded with the byte order of the machine reading them.
func ParseProcNet(data []byte, proto string) ([]Socket, error) {
	if proto != "tcp" && proto != "udp" {
		return nil, fmt.Errorf("parsing /proc/net: protocol %q is not tcp or udp", proto)
	}
	var out []Socket
	for n, line := range bytes.Split(data, []byte("\n")) {
		fields := bytes.Fields(line)
		if len(fields) == 0 || (n == 0 && bytes.Equal(fields[0], []byte("sl"))) {
			continue
		}
		s, err := parseProcNetLine(fields, proto)
		if err != nil {
			return nil, fmt.Errorf("parsing /proc/net/%s line %d: %w", proto, n+1, err)
		}
		out = append(out, s)
	}
	return out, nil
}

func parseProcNetLine(f [][]byte, proto string) (Socket, error) {
	// sl local rem st tx:rx tr:when retrnsmt uid timeout inode ...
	if len(f) < 10 {
		return Socket{}, fmt.Errorf("%w: %d fields, want at least 10", errProcNet, len(f))
	}
	s := Socket{Proto: proto}
	var err error
	if s.Local, err = parseHexAddrPort(f[1]); err != nil {
		return Socket{}, fmt.Errorf("local address: %w", err)
	}
	if s.Remote, err = parseHexAddrPort(f[2]); err != nil {
		return Socket{}, fmt.Errorf("remote address: %w", err)
	}
	if s.Local.Addr().BitLen() != s.Remote.Addr().BitLen() {
		return Socket{}, fmt.Errorf("%w: local and remote addresses of different families", errProcNet)
	}
	st, err := strconv.ParseUint(string(f[3]), 16, 8)
	if err != nil {
		return Socket{}, fmt.Errorf("%w: state %q", errProcNet, f[3])
	}
	s.State = uint8(st)
	uid, err := strconv.ParseUint(string(f[7]), 10, 32)
	if err != nil {
		return Socket{}, fmt.Errorf("%w: uid %q", errProcNet, f[7])
	}
	s.UID = uint32(uid)
	if s.Inode, err = strconv.ParseUint(string(f[9]), 10, 64); err != nil {
		return Socket{}, fmt.Errorf("%w: inode %q", errProcNet, f[9])
	}
	return s, nil
}

// parseHexAddrPort reads "0100007F:0089" or the 32-digit IPv6 form.
func parseHexAddrPort(b []byte) (netip.AddrPort, error) {
	i := bytes.IndexByte(b, ':')
	if i < 0 {
		return netip.AddrPort{}, fmt.Errorf("%w: %q has no port", errProcNet, b)
	}
	hexAddr, hexPort := b[:i], b[i+1:]
	if len(hexPort) != 4 {
		return netip.AddrPort{}, fmt.Errorf("%w: port %q is not 4 hex digits", errProcNet, hexPort)
	}
	port, err := strconv.ParseUint(string(hexPort), 16, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("%w: port %q", errProcNet, hexPort)
	}
	var raw [16]byte
	n := len(hexAddr) / 2
	if len(hexAddr) != 8 && len(hexAddr) != 32 {
		return netip.AddrPort{}, fmt.Errorf("%w: address %q is neither 8 nor 32 hex digits", errProcNet, hexAddr)
	}
	if _, err := hex.Decode(raw[:n], hexAddr); err != nil {
		return netip.AddrPort{}, fmt.Errorf("%w: address %q", errProcNet, hexAddr)
	}
	// Each 32-bit word was printed as a host-order number; undo that.
	for w := 0; w < n; w += 4 {
		binary.NativeEndian.PutUint32(raw[w:], binary.BigEndian.Uint32(raw[w:]))
	}
	var addr netip.Addr
	if n == 4 {
		addr = netip.AddrFrom4([4]byte(raw[:4]))
	} else {
		addr = netip.AddrFrom16(raw)
	}
	return netip.AddrPortFrom(addr, uint16(port)), nil
}
