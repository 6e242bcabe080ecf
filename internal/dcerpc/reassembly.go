package dcerpc

import (
	"container/list"
	"fmt"
)

// Default caps of a Reassembler. A NetrSendMessage stub at the default
// limits is at most 3×12 count bytes, 256+256+4096 string bytes and 4
// padding bytes, 4648 in all, which fits 8 KiB with room for a stricter
// or looser peer; 16 fragments allow pieces of 512 bytes, far smaller than
// real senders', which fill a datagram. ISS flagged "unnecessary
// fragmentation" of this call as an attack sign, so there is no reason to
// be generous.
const (
	DefaultMaxFragments = 16
	DefaultMaxCallBytes = 8192
	DefaultMaxCalls     = 64
)

// maxFragNum bounds the fragment cap: fragnum is 16 bits.
const maxFragNum = 1 << 16

// callKey identifies a call being reassembled. C706 identifies a call by
// activity and sequence number; the packet type keeps a request and its
// response apart should one Reassembler see both.
type callKey struct {
	activity UUID
	seqNum   uint32
	ptype    PacketType
}

// pendingCall is a call with some fragments received.
type pendingCall struct {
	key   callKey
	first Header // the first fragment received; later ones must agree
	frags map[uint16][]byte
	last  int // fragnum of the last fragment, or -1 until it arrives
	bytes int
	elem  *list.Element
}

// Reassembler collects the fragments of connectionless calls (C706 12.5.3.2
// and 12.6) into whole bodies. It holds state the caller owns and is not
// safe for concurrent use.
//
// Memory is bounded by the caps whatever arrives: at most maxCalls calls
// are pending (a new call evicts the oldest pending one), each holding at
// most maxFragments fragments and maxBytes body bytes, so Bytes() never
// exceeds maxCalls×maxBytes; per-fragment bookkeeping adds a constant per
// fragment held. There is no timer: a call whose fragments stop arriving
// stays until evicted, and a caller that wants time-based expiry can
// replace the Reassembler or rely on the call cap.
type Reassembler struct {
	maxFrags, maxBytes, maxCalls int

	calls map[callKey]*pendingCall
	age   *list.List // of *pendingCall, oldest first
	bytes int
}

// NewReassembler returns a Reassembler with the given caps: fragments per
// call (at most 65536, what fragnum can count), body bytes per call and
// calls pending at once. A cap ≤ 0 takes its default.
func NewReassembler(maxFragments, maxBytes, maxCalls int) *Reassembler {
	if maxFragments <= 0 {
		maxFragments = DefaultMaxFragments
	}
	if maxBytes <= 0 {
		maxBytes = DefaultMaxCallBytes
	}
	if maxCalls <= 0 {
		maxCalls = DefaultMaxCalls
	}
	return &Reassembler{
		maxFrags: min(maxFragments, maxFragNum),
		maxBytes: maxBytes,
		maxCalls: maxCalls,
		calls:    make(map[callKey]*pendingCall),
		age:      list.New(),
	}
}

// Len returns the number of calls pending.
func (r *Reassembler) Len() int { return len(r.calls) }

// Bytes returns the fragment body bytes held for pending calls.
func (r *Reassembler) Bytes() int { return r.bytes }

func reassemblyError(k callKey, field string, err error) error {
	return fmt.Errorf("dcerpc: reassembling %v %v seq %d: %s: %w", k.ptype, k.activity, k.seqNum, field, err)
}

// Add takes one packet of a call. A packet without Flags1Frag is a whole
// call, as is fragment 0 flagged last: body is p.Body itself and complete
// is true. Otherwise the fragment is copied (p.Body may live in a reused
// read buffer) and kept by fragnum until the one flagged Flags1LastFrag and
// every fragment below it are present; then body is a new slice of the
// fragments in order and complete is true. The caller takes the call's
// identity (interface, opnum, drep, …) from p.Header, which Add has checked
// against the call's first fragment.
//
// A fragment already held is ignored (retransmissions are normal). Errors
// drop the packet: a fragnum at or above the fragment cap and a call over
// the byte cap also discard the call, which could never complete; a
// fragment that contradicts the call (ErrFragment) leaves the call as it
// was, so a forged fragment cannot kill it.
func (r *Reassembler) Add(p Packet) (body []byte, complete bool, err error) {
	k := callKey{activity: p.Activity, seqNum: p.SeqNum, ptype: p.Type}
	c := r.calls[k]
	if p.Flags1&Flags1Frag == 0 {
		// A retransmission of the whole call in one packet supersedes
		// any fragments of it.
		if c != nil {
			r.drop(c)
		}
		return p.Body, true, nil
	}
	fn := int(p.FragNum)
	if fn >= r.maxFrags {
		if c != nil {
			r.drop(c)
		}
		return nil, false, reassemblyError(k, "fragnum", fmt.Errorf("%d, limit %d fragments: %w", fn, r.maxFrags, ErrTooMany))
	}
	last := p.Flags1&Flags1LastFrag != 0
	if c == nil {
		if last && fn == 0 {
			return p.Body, true, nil
		}
		if len(p.Body) > r.maxBytes {
			return nil, false, reassemblyError(k, "len", fmt.Errorf("%d bytes, limit %d per call: %w", len(p.Body), r.maxBytes, ErrTooLong))
		}
		c = r.newCall(k, p.Header)
	} else if err := c.agrees(p.Header); err != nil {
		return nil, false, reassemblyError(k, "header", err)
	}
	if _, dup := c.frags[p.FragNum]; dup {
		return nil, false, nil
	}
	if err := c.placeLast(fn, last); err != nil {
		return nil, false, reassemblyError(k, "fragnum", err)
	}
	if c.bytes+len(p.Body) > r.maxBytes {
		r.drop(c)
		return nil, false, reassemblyError(k, "len", fmt.Errorf("%d bytes held and %d more, limit %d per call: %w", c.bytes, len(p.Body), r.maxBytes, ErrTooLong))
	}
	c.frags[p.FragNum] = append([]byte(nil), p.Body...)
	c.bytes += len(p.Body)
	r.bytes += len(p.Body)
	if last {
		c.last = fn
	}
	if c.last < 0 || len(c.frags) != c.last+1 {
		return nil, false, nil
	}
	// Fragments are numbered from 0 and none is above last, so holding
	// last+1 of them means holding each of 0..last.
	body = make([]byte, 0, c.bytes)
	for i := range c.last + 1 {
		body = append(body, c.frags[uint16(i)]...)
	}
	r.drop(c)
	return body, true, nil
}

// newCall starts a call, evicting the oldest pending one at the cap.
func (r *Reassembler) newCall(k callKey, h Header) *pendingCall {
	if len(r.calls) >= r.maxCalls {
		r.drop(r.age.Front().Value.(*pendingCall))
	}
	c := &pendingCall{key: k, first: h, frags: make(map[uint16][]byte), last: -1}
	c.elem = r.age.PushBack(c)
	r.calls[k] = c
	return c
}

func (r *Reassembler) drop(c *pendingCall) {
	r.bytes -= c.bytes
	r.age.Remove(c.elem)
	delete(r.calls, c.key)
}

// agrees checks that a later fragment belongs to the same call as the
// first: a body assembled from fragments of different byte orders or
// operations would be nonsense.
func (c *pendingCall) agrees(h Header) error {
	f := c.first
	switch {
	case h.Interface != f.Interface:
		return fmt.Errorf("interface %v, call has %v: %w", h.Interface, f.Interface, ErrFragment)
	case h.InterfaceVersion != f.InterfaceVersion:
		return fmt.Errorf("if_vers 0x%08x, call has 0x%08x: %w", h.InterfaceVersion, f.InterfaceVersion, ErrFragment)
	case h.OpNum != f.OpNum:
		return fmt.Errorf("opnum %d, call has %d: %w", h.OpNum, f.OpNum, ErrFragment)
	case h.Object != f.Object:
		return fmt.Errorf("object %v, call has %v: %w", h.Object, f.Object, ErrFragment)
	case h.DataRep != f.DataRep:
		return fmt.Errorf("drep %x, call has %x: %w", h.DataRep[:], f.DataRep[:], ErrFragment)
	}
	return nil
}

// placeLast checks fragment fn against what is known of the last fragment.
func (c *pendingCall) placeLast(fn int, last bool) error {
	if last {
		if c.last >= 0 {
			return fmt.Errorf("%d flagged last, %d was: %w", fn, c.last, ErrFragment)
		}
		for n := range c.frags {
			if int(n) > fn {
				return fmt.Errorf("%d flagged last, %d already received: %w", fn, n, ErrFragment)
			}
		}
		return nil
	}
	if c.last >= 0 && fn > c.last {
		return fmt.Errorf("%d after last fragment %d: %w", fn, c.last, ErrFragment)
	}
	return nil
}
