package firewall

import (
	"fmt"
	"net"
	"net/netip"
)

// LocalNetworks returns the networks this host is directly connected to:
// the prefix of every address on every interface that is up and is not
// loopback (loopback is always open anyway). It is read once, when the
// firewall is applied; a network that comes later is not allowed until
// the next apply.
func LocalNetworks() ([]netip.Prefix, error) {
	ifaces, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("listing interfaces: %w", err)
	}
	var out []netip.Prefix
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			return nil, fmt.Errorf("addresses of %s: %w", ifc.Name, err)
		}
		out = append(out, interfacePrefixes(addrs)...)
	}
	return canonicalPrefixes(out), nil
}

func interfacePrefixes(addrs []net.Addr) []netip.Prefix {
	var out []netip.Prefix
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ip, ok := netip.AddrFromSlice(ipn.IP)
		if !ok {
			continue
		}
		ip = ip.Unmap()
		ones, bits := ipn.Mask.Size()
		if bits == 0 || ip.IsLoopback() {
			continue
		}
		if ip.Is4() && bits == 128 {
			ones -= 96
		}
		if p, err := ip.Prefix(ones); err == nil {
			out = append(out, p)
		}
	}
	return out
}
