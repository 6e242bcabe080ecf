package policy

import (
	"net/netip"

	"github.com/netsend/messenger/internal/message"
)

// subjects is a compiled trust, block or allow list: sender names,
// source networks and verified hub hosts.
type subjects struct {
	names map[string]string // upper-cased name → itself, to return without copying
	hubs  map[string]string // upper-cased host → its entry, "hub:HOST"
	nets  *Networks
}

func newSubjects(list []Subject) *subjects {
	if len(list) == 0 {
		return nil
	}
	s := &subjects{names: map[string]string{}, hubs: map[string]string{}}
	var nets []Net
	for _, e := range list {
		switch {
		case e.Net != nil:
			nets = append(nets, *e.Net)
		case e.Hub != "":
			s.hubs[e.Hub] = e.String()
		default:
			s.names[e.Name] = e.Name
		}
	}
	s.nets = NewNetworks(nets)
	return s
}

// match reports whether m's sender, source or verified host is listed.
// Only a hub message has a verified host: the mark on anything else
// proves nothing, so "hub:" entries never match it.
func (s *subjects) match(m *message.Message, addr netip.Addr, hasAddr bool) (field, value, entry string, ok bool) {
	if e, ok := lookupFolded(s.names, m.From); ok {
		return "sender", m.From, e, true
	}
	if m.Transport == message.TransportHub && m.Verified != "" {
		if e, ok := lookupFolded(s.hubs, m.Verified); ok {
			return "verified", m.Verified, e, true
		}
	}
	if hasAddr && !s.nets.empty() {
		if e, ok := s.nets.Match(addr); ok {
			return "source", m.Source, e, true
		}
	}
	return "", "", "", false
}

// lookupFolded finds name in a map keyed by upper-cased names without
// regard to ASCII case. Names are short (NetBIOS: 15 bytes), so they are
// folded on the stack; the map lookup with a converted byte slice does
// not allocate.
func lookupFolded(m map[string]string, name string) (string, bool) {
	if len(m) == 0 || len(name) > message.MaxNameLen {
		return "", false
	}
	var buf [message.MaxNameLen]byte
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		buf[i] = c
	}
	e, ok := m[string(buf[:len(name)])]
	return e, ok
}
