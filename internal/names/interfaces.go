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
