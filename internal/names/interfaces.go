package names

import (
	"net"
	"net/netip"
	"slices"
)

// BroadcastInterfaces lists the interfaces NetBIOS broadcasts go out on:
// up, not loopback, with an IPv4 broadcast address, and among only when
// only is not empty. Loopback has no broadcast, so a daemon confined to lo
// never sends one.
func BroadcastInterfaces(only []string) []Interface {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil
	}
	var out []Interface
	for _, ifi := range ifs {
		if ifi.Flags&net.FlagUp == 0 || ifi.Flags&net.FlagBroadcast == 0 || ifi.Flags&net.FlagLoopback != 0 {
			continue
		}
		if len(only) > 0 && !slices.Contains(only, ifi.Name) {
			continue
		}
		addrs, _ := ifi.Addrs()
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ip, ok := netip.AddrFromSlice(ipn.IP)
			if !ok || !ip.Unmap().Is4() {
				continue
			}
			ip = ip.Unmap()
			ones, bits := ipn.Mask.Size()
			if bits != 32 || ones >= 31 {
				continue
			}
			b := ip.As4()
			for i := range b {
				b[i] |= ^ipn.Mask[i]
			}
			out = append(out, Interface{Name: ifi.Name, Addr: ip, Bits: ones, Broadcast: netip.AddrFrom4(b)})
		}
	}
	return out
}

// Reachable keeps the interfaces a socket bound to bound can broadcast
// on: all of them for a socket bound to every address, else only the one
// holding that address. A socket bound to 127.0.0.1 reaches none: the
// kernel refuses to send from loopback to another network, and a name
// announced there would point peers at an address they cannot use.
func Reachable(ifs []Interface, bound netip.Addr) []Interface {
	bound = bound.Unmap()
	if !bound.IsValid() || bound.IsUnspecified() {
		return ifs
	}
	var out []Interface
	for _, ifc := range ifs {
		if ifc.Addr == bound {
			out = append(out, ifc)
		}
	}
	return out
}
