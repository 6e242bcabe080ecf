package names

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/netsend/messenger/internal/netbios"
)

// Interface is one network our names are announced on.
type Interface struct {
	Name      string
	Addr      netip.Addr
	Bits      int // subnet prefix length
	Broadcast netip.Addr
}

// Reply is a name service response to one of our requests.
type Reply struct {
	From   netip.AddrPort
	Packet netbios.NameServicePacket
}

// Wire is how the registrar reaches the network: the name service
// transport, which owns the UDP 137 socket.
type Wire interface {
	NewTransactionID() uint16
	Interfaces() []Interface
	// Send sends p to dst. Responses with p's transaction id arrive on
	// replies until done is called.
	Send(p netbios.NameServicePacket, dst netip.AddrPort) (replies <-chan Reply, done func(), err error)
}

// exchange sends p and passes each response to on until on returns true,
// wait has passed, or ctx ends.
func exchange(ctx context.Context, w Wire, p netbios.NameServicePacket, dst netip.AddrPort, wait time.Duration, on func(Reply) bool) error {
	replies, done, err := w.Send(p, dst)
	if err != nil {
		return err
	}
	defer done()
	if wait <= 0 {
		return nil
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
			return nil
		case rep := <-replies:
			if on(rep) {
				return nil
			}
		}
	}
}

// NodeType is how names are registered: by broadcast (B), with a WINS
// server (P), or WINS first and broadcast when it does not answer (H).
type NodeType byte

// Node types.
const (
	BNode NodeType = 'b'
	PNode NodeType = 'p'
	HNode NodeType = 'h'
)

// NBFlags are the owner-node-type bits announced for our names.
func (t NodeType) NBFlags() netbios.NBFlags {
	switch t {
	case PNode:
		return netbios.NBFlags(netbios.ONTP)
	case HNode:
		return netbios.NBFlags(netbios.ONTH)
	}
	return netbios.NBFlags(netbios.ONTB)
}

// RFC 1002 timers for B-nodes and a WINS client.
const (
	bcastRetryTimeout = 250 * time.Millisecond
	bcastRetryCount   = 3
	winsRetryTimeout  = 2 * time.Second
	winsRetryCount    = 3
	maxWACK           = 60 * time.Second
)

// Registrar announces, defends (through the transport's answers) and
// releases the names of a table on the network.
type Registrar struct {
	Table    *Table
	Wire     Wire
	NodeType NodeType
	WINS     netip.AddrPort // P and H nodes
	Scope    string
	TTL      time.Duration
	Log      *slog.Logger

	// Timer overrides for tests; zero means the RFC values above.
	bcastWait, winsWait time.Duration

	mu       sync.Mutex
	refresh  map[[16]byte]context.CancelFunc // WINS refresh timers per name
	refreshG sync.WaitGroup
}

// errNoWINS means the WINS server did not answer at all.
var errNoWINS = errors.New("the WINS server did not answer")

// Register claims e's name on the network and records the outcome in the
// table: registered, or conflict (returned as ErrConflict).
func (r *Registrar) Register(ctx context.Context, e Entry) error {
	r.Table.SetState(e.Name, StateRegistering)
	var err error
	switch r.NodeType {
	case PNode:
		err = r.registerWINS(ctx, e)
	case HNode:
		err = r.registerWINS(ctx, e)
		if errors.Is(err, errNoWINS) {
			r.Log.Warn("nbns: WINS server silent; registering by broadcast", slog.String("name", e.Name.String()))
			err = r.registerBroadcast(ctx, e)
		}
	default:
		err = r.registerBroadcast(ctx, e)
	}
	switch {
	case err == nil:
		r.Table.SetState(e.Name, StateRegistered)
		r.Log.Info("nbns: name registered", slog.String("name", e.Name.String()), slog.String("node_type", string(r.NodeType)))
		return nil
	case errors.Is(err, ErrConflict):
		r.Table.SetState(e.Name, StateConflict)
		r.Log.Warn("nbns: name conflict", slog.String("name", e.Name.String()), slog.Any("err", err))
		return err
	case errors.Is(err, errNoWINS):
		// A P-node without its server cannot prove the name is free; it
		// keeps answering for it locally and says so.
		r.Table.SetState(e.Name, StateRegistered)
		r.Log.Warn("nbns: WINS server did not answer; name used unregistered", slog.String("name", e.Name.String()))
		return nil
	default:
		r.Table.SetState(e.Name, StateRegistered)
		return err
	}
}

func (r *Registrar) entryFlags(e Entry) netbios.NBFlags {
	f := r.NodeType.NBFlags()
	if e.Group {
		f |= netbios.NBGroup
	}
	return f
}

// registerBroadcast is the B-node procedure (RFC 1001 15.2.2): broadcast
// the request three times, 250 ms apart; a negative response from the
// owner is a conflict; silence makes the name ours, which a final
// overwrite demand announces. A network the broadcast cannot reach is
// skipped with a warning: nobody there can defend the name, and the
// caller asked for the name, not for the network.
func (r *Registrar) registerBroadcast(ctx context.Context, e Entry) error {
	ttl := uint32(r.TTL / time.Second)
ifaces:
	for _, ifc := range r.Wire.Interfaces() {
		entry := netbios.NBEntry{Flags: r.entryFlags(e), Addr: ifc.Addr}
		dst := netip.AddrPortFrom(ifc.Broadcast, 137)
		var conflict *Reply
		for try := 0; try < bcastRetryCount && conflict == nil; try++ {
			req, err := netbios.NameRegistrationRequest(r.Wire.NewTransactionID(), e.Name, r.Scope, ttl, entry, true)
			if err != nil {
				return err
			}
			err = exchange(ctx, r.Wire, req, dst, cmp.Or(r.bcastWait, bcastRetryTimeout), func(rep Reply) bool {
				if !e.Group && rep.Packet.Opcode == netbios.OpcodeRegistration && rep.Packet.RCode != netbios.RCodeOK {
					conflict = &rep
					return true
				}
				return false
			})
			if err != nil {
				if ctx.Err() != nil {
					return err
				}
				r.Log.Warn("nbns: registration broadcast failed; name not announced there", slog.String("name", e.Name.String()),
					slog.String("interface", ifc.Name), slog.Any("err", err))
				continue ifaces
			}
		}
		if conflict != nil {
			return fmt.Errorf("%v on %s: %w (defended by %v, %v)", e.Name, ifc.Name, ErrConflict, conflict.From.Addr(), conflict.Packet.RCode)
		}
		demand, err := netbios.NameOverwriteDemand(r.Wire.NewTransactionID(), e.Name, r.Scope, ttl, entry)
		if err != nil {
			return err
		}
		if err := exchange(ctx, r.Wire, demand, dst, 0, nil); err != nil {
			if ctx.Err() != nil {
				return err
			}
			r.Log.Warn("nbns: overwrite demand failed", slog.String("name", e.Name.String()),
				slog.String("interface", ifc.Name), slog.Any("err", err))
		}
	}
	return nil
}

// winsAddr is the address we register with the WINS server: ours on the
// interface toward it, else the first we have.
func (r *Registrar) winsAddr() netip.Addr {
	ifs := r.Wire.Interfaces()
	for _, ifc := range ifs {
		if netip.PrefixFrom(ifc.Addr, ifc.Bits).Contains(r.WINS.Addr()) {
			return ifc.Addr
		}
	}
	if len(ifs) > 0 {
		return ifs[0].Addr
	}
	return netip.IPv4Unspecified()
}

// registerWINS is the P-node procedure (RFC 1001 15.2.1): a unicast
// request, a positive or negative answer, WACKs honoured; a refresh is
// scheduled at half the granted TTL.
func (r *Registrar) registerWINS(ctx context.Context, e Entry) error {
	entry := netbios.NBEntry{Flags: r.entryFlags(e), Addr: r.winsAddr()}
	ttl := uint32(r.TTL / time.Second)
	for try := 0; try < winsRetryCount; try++ {
		req, err := netbios.NameRegistrationRequest(r.Wire.NewTransactionID(), e.Name, r.Scope, ttl, entry, false)
		if err != nil {
			return err
		}
		answer, err := r.askWINS(ctx, req)
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			// A request that cannot leave (no route, a loopback-bound
			// socket) is a server that does not answer: the caller gets
			// the name, the log the reason.
			r.Log.Warn("nbns: sending to the WINS server failed", slog.String("name", e.Name.String()), slog.Any("err", err))
			continue
		}
		if answer == nil {
			continue
		}
		if answer.RCode != netbios.RCodeOK {
			return fmt.Errorf("%v: %w (WINS server %v answered %v)", e.Name, ErrConflict, r.WINS, answer.RCode)
		}
		granted := time.Duration(ttl) * time.Second
		if len(answer.Answers) > 0 && answer.Answers[0].TTL > 0 {
			granted = time.Duration(answer.Answers[0].TTL) * time.Second
		}
		r.scheduleRefresh(e, entry, granted)
		return nil
	}
	return errNoWINS
}

// askWINS sends one request to the WINS server and waits for its final
// answer, extending the wait when the server sends a WACK. nil means no
// answer within the timeout.
func (r *Registrar) askWINS(ctx context.Context, req netbios.NameServicePacket) (*netbios.NameServicePacket, error) {
	replies, done, err := r.Wire.Send(req, r.WINS)
	if err != nil {
		return nil, err
	}
	defer done()
	timer := time.NewTimer(cmp.Or(r.winsWait, winsRetryTimeout))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-timer.C:
			return nil, nil
		case rep := <-replies:
			if rep.Packet.Opcode == netbios.OpcodeWACK {
				wait := cmp.Or(r.winsWait, winsRetryTimeout)
				if len(rep.Packet.Answers) > 0 {
					wait = min(time.Duration(rep.Packet.Answers[0].TTL)*time.Second, maxWACK)
				}
				timer.Reset(wait)
				continue
			}
			return &rep.Packet, nil
		}
	}
}

// scheduleRefresh refreshes a WINS registration at half its TTL, for as
// long as the name is ours (RFC 1001 15.1.7).
func (r *Registrar) scheduleRefresh(e Entry, entry netbios.NBEntry, ttl time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.refresh == nil {
		r.refresh = make(map[[16]byte]context.CancelFunc)
	}
	k := key(e.Name)
	if cancel, ok := r.refresh[k]; ok {
		cancel()
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.refresh[k] = cancel
	r.refreshG.Add(1)
	go func() {
		defer r.refreshG.Done()
		interval := max(ttl/2, time.Minute)
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(interval):
			}
			req, err := netbios.NameRefreshRequest(r.Wire.NewTransactionID(), e.Name, r.Scope, uint32(ttl/time.Second), entry)
			if err != nil {
				return
			}
			answer, err := r.askWINS(ctx, req)
			switch {
			case err != nil:
				return
			case answer == nil:
				r.Log.Warn("nbns: WINS server did not answer a refresh", slog.String("name", e.Name.String()))
			case answer.RCode != netbios.RCodeOK:
				r.Table.SetState(e.Name, StateConflict)
				r.Log.Warn("nbns: WINS server refused a refresh; name lost", slog.String("name", e.Name.String()), slog.String("rcode", answer.RCode.String()))
				return
			}
		}
	}()
}

func (r *Registrar) stopRefresh(n netbios.Name) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if cancel, ok := r.refresh[key(n)]; ok {
		cancel()
		delete(r.refresh, key(n))
	}
}

// Release gives a name up on the network: broadcast by a B-node, to the
// WINS server by P and H nodes. Nobody answers a broadcast release.
func (r *Registrar) Release(ctx context.Context, e Entry) {
	r.stopRefresh(e.Name)
	if e.State == StateConflict {
		return // never ours to release
	}
	r.Table.SetState(e.Name, StateReleasing)
	if r.NodeType == PNode || r.NodeType == HNode {
		req, err := netbios.NameReleaseRequest(r.Wire.NewTransactionID(), e.Name, r.Scope, netbios.NBEntry{Flags: r.entryFlags(e), Addr: r.winsAddr()}, false)
		if err == nil {
			_, err = r.askWINS(ctx, req)
		}
		if err != nil {
			r.Log.Warn("nbns: releasing with the WINS server", slog.String("name", e.Name.String()), slog.Any("err", err))
		}
	}
	if r.NodeType == BNode || r.NodeType == HNode {
		for _, ifc := range r.Wire.Interfaces() {
			req, err := netbios.NameReleaseRequest(r.Wire.NewTransactionID(), e.Name, r.Scope, netbios.NBEntry{Flags: r.entryFlags(e), Addr: ifc.Addr}, true)
			if err == nil {
				err = exchange(ctx, r.Wire, req, netip.AddrPortFrom(ifc.Broadcast, 137), 0, nil)
			}
			if err != nil {
				r.Log.Warn("nbns: broadcasting a release", slog.String("name", e.Name.String()), slog.Any("err", err))
			}
		}
	}
	r.Log.Info("nbns: name released", slog.String("name", e.Name.String()))
}

// Close stops the refresh timers.
func (r *Registrar) Close() {
	r.mu.Lock()
	for k, cancel := range r.refresh {
		cancel()
		delete(r.refresh, k)
	}
	r.mu.Unlock()
	r.refreshG.Wait()
}
