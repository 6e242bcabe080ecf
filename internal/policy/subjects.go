package policy

import (
	"net/netip"

	"github.com/netsend/messenger/internal/message"
)

// subjects is a compiled trust, block or allow list: sender names and
// source networks.
type subjects struct {
	names map[string]string // upper-cased name → itself, to return without copying
	nets  *Networks
}

func newSubjects(list []Subject) *subjects {
	if len(list) == 0 {
		return nil
	}
	s := &subjects{names: map[string]string{}}
	var nets []Net
	for _, e := range list {
		if e.Net != nil {
			nets = append(nets, *e.Net)
			continue
		}
		s.names[e.Name] = e.Name
	}
	s.nets = NewNetworks(nets)
	return s
}

// match reports whether m's sender or source is listed.
func (s *subjects) match(m *message.Message, addr netip.Addr, hasAddr bool) (field, value, entry string, ok bool) {
	if e, ok := s.lookupName(m.From); ok {
		return "sender", m.From, e, true
	}
	if hasAddr && !s.nets.empty() {
		if e, ok := s.nets.Match(addr); ok {
			return "source", m.Source, e, true
		}
	}
	return "", "", "", false
}

// lookupName finds name without regard to ASCII case. Names are short
// (NetBIOS: 15 bytes), so they are folded on the stack; the map lookup
// with a converted byte slice does not allocate.
func (s *subjects) lookupName(name string) (string, bool) {
	if len(s.names) == 0 || len(name) > message.MaxNameLen {
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
	e, ok := s.names[string(buf[:len(name)])]
	return e, ok
}
