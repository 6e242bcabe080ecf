package resolve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/netsend/messenger/internal/netbios"
	"github.com/netsend/messenger/internal/transport/udpsock"
)

// maxNSPacket is the receive buffer: RFC 1002 keeps name service packets
// within 576 bytes; the margin takes odd peers without truncating them.
const maxNSPacket = 1500

// query is one name query in flight: its socket, its wire form and what a
// response must carry to belong to it.
type query struct {
	r      *Resolver
	conn   *net.UDPConn
	id     uint16
	name   netbios.Name
	packet []byte
	buf    []byte
}

// newQuery opens an ephemeral UDP socket and builds the NAME QUERY
// REQUEST. One transaction id serves every try, so that a late answer to
// the first try still counts during the second.
func (r *Resolver) newQuery(name netbios.Name, broadcast bool) (*query, error) {
	id := uint16(r.nextID.Add(1))
	pkt, err := netbios.AppendNameServicePacket(nil, netbios.NameQueryRequest(id, name, r.scope, broadcast, true))
	if err != nil {
		return nil, fmt.Errorf("building name query for %v: %w", name, err)
	}
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{})
	if err != nil {
		return nil, fmt.Errorf("opening a name query socket: %w", err)
	}
	if broadcast {
		if err := udpsock.EnableBroadcast(conn); err != nil {
			conn.Close()
			return nil, err
		}
	}
	return &query{r: r, conn: conn, id: id, name: name, packet: pkt, buf: make([]byte, maxNSPacket)}, nil
}

// watch makes ctx's end interrupt a blocked read; the returned func undoes
// it.
func (q *query) watch(ctx context.Context) func() bool {
	return context.AfterFunc(ctx, func() { q.conn.SetReadDeadline(time.Now()) })
}

// read hands each response to this query that arrives before deadline to
// handle, until handle returns true; then read returns true. Anything else
// that arrives is dropped: junk, other transactions, answers about other
// names.
func (q *query) read(ctx context.Context, deadline time.Time, handle func(from netip.AddrPort, p netbios.NameServicePacket) bool) (bool, error) {
	if err := q.conn.SetReadDeadline(deadline); err != nil {
		return false, fmt.Errorf("setting the name query read deadline: %w", err)
	}
	for {
		// After SetReadDeadline: if ctx ended just before, watch's
		// deadline may have been overwritten, and this is what notices.
		if err := ctx.Err(); err != nil {
			return false, err
		}
		n, from, err := q.conn.ReadFromUDPAddrPort(q.buf)
		if err != nil {
			if cerr := ctx.Err(); cerr != nil {
				return false, cerr
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return false, nil
			}
			return false, fmt.Errorf("reading name query responses: %w", err)
		}
		from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
		p, err := netbios.ParseNameServicePacket(q.buf[:n])
		if err != nil {
			q.r.log.Debug("resolve: ignoring malformed name service packet", slog.String("from", from.String()), slog.Any("err", err))
			continue
		}
		if !q.matches(p) {
			q.r.log.Debug("resolve: ignoring unrelated name service packet", slog.String("from", from.String()), slog.Any("packet", p))
			continue
		}
		if handle(from, p) {
			return true, nil
		}
	}
}

// matches reports whether p is a response to this query: same transaction
// id, a query response (WACK and the rest are not for queries), and about
// our name. Responses carry the name in their answer record; a question is
// accepted for a negative response that left the record out.
func (q *query) matches(p netbios.NameServicePacket) bool {
	if p.TransactionID != q.id || !p.Response || p.Opcode != netbios.OpcodeQuery {
		return false
	}
	switch {
	case len(p.Answers) > 0:
		return q.sameName(p.Answers[0].Name, p.Answers[0].Scope)
	case len(p.Questions) > 0:
		return q.sameName(p.Questions[0].Name, p.Questions[0].Scope)
	}
	return false
}

func (q *query) sameName(n netbios.Name, scope string) bool {
	return n.EqualFold(q.name) && strings.EqualFold(scope, q.r.scope)
}

// send sends the query to dst.
func (q *query) send(dst netip.AddrPort) error {
	if _, err := q.conn.WriteToUDPAddrPort(q.packet, dst); err != nil {
		return fmt.Errorf("sending name query for %v to %v: %w", q.name, dst, err)
	}
	return nil
}

// answer is what a positive response says: the owners' addresses, and
// whether the name is a group, whose other members may still answer.
func (q *query) answer(p netbios.NameServicePacket) (addrs []netip.Addr, group bool) {
	for _, rr := range p.Answers {
		if rr.Type != netbios.TypeNB || !q.sameName(rr.Name, rr.Scope) {
			continue
		}
		entries, err := netbios.ParseNBData(rr.Data)
		if err != nil {
			q.r.log.Debug("resolve: ignoring malformed NB record", slog.String("name", q.name.String()), slog.Any("err", err))
			continue
		}
		for _, e := range entries {
			group = group || e.Flags.Group()
			if a := e.Addr.Unmap(); a.Is4() && !a.IsUnspecified() {
				addrs = appendUnique(addrs, a)
			}
		}
	}
	return addrs, group
}

// queryWINS asks the WINS server (RFC 1002 5.1.2.2, a P-node's query).
// Only its first answer counts; a negative one ends the step at once,
// since asking again would get the same answer.
func (r *Resolver) queryWINS(ctx context.Context, name netbios.Name) ([]netip.Addr, error) {
	if !r.wins.IsValid() {
		return nil, errSkipped
	}
	q, err := r.newQuery(name, false)
	if err != nil {
		return nil, err
	}
	defer q.conn.Close()
	defer q.watch(ctx)()

	var addrs []netip.Addr
	var answered error
	for try := range r.tries {
		if err := q.send(r.wins); err != nil {
			return nil, err
		}
		r.log.Debug("resolve: WINS query sent", slog.String("name", name.String()), slog.String("wins", r.wins.String()), slog.Int("try", try+1))
		done, err := q.read(ctx, time.Now().Add(r.winsWait), func(from netip.AddrPort, p netbios.NameServicePacket) bool {
			// Only the server may answer: anyone else on the path
			// could otherwise redirect our messages.
			if from.Addr() != r.wins.Addr() {
				r.log.Debug("resolve: ignoring WINS answer from another host", slog.String("from", from.String()))
				return false
			}
			switch p.RCode {
			case netbios.RCodeOK:
				a, _ := q.answer(p)
				if len(a) == 0 {
					r.log.Debug("resolve: ignoring WINS answer without addresses", slog.Any("packet", p))
					return false
				}
				addrs = a
			case netbios.RCodeNameErr:
				answered = fmt.Errorf("WINS server %v: %w", r.wins.Addr(), ErrNotFound)
			default:
				answered = fmt.Errorf("WINS server %v answered %v", r.wins.Addr(), p.RCode)
			}
			return true
		})
		if err != nil {
			return nil, err
		}
		if done {
			return addrs, answered
		}
	}
	return nil, fmt.Errorf("WINS server %v did not answer %d queries: %w", r.wins.Addr(), r.tries, ErrNotFound)
}

// queryBroadcast broadcasts the query on every interface from one socket
// (RFC 1002 5.1.1.2, a B-node's query). A unique name's first answer ends
// the step; for a group the whole try is awaited, since every member
// answers. nmbd answers each broadcast query twice, so addresses are
// collected without repeats. Nobody answers for a missing name: silence
// means ask again, and after the last try, not found.
func (r *Resolver) queryBroadcast(ctx context.Context, name netbios.Name) ([]netip.Addr, error) {
	var dsts []netip.AddrPort
	if r.interfaces != nil {
		for _, ifc := range r.interfaces() {
			b := ifc.Broadcast.Unmap()
			if !b.Is4() || b.IsUnspecified() {
				continue
			}
			d := netip.AddrPortFrom(b, r.bcastPort)
			if !slices.Contains(dsts, d) {
				dsts = append(dsts, d)
			}
		}
	}
	if len(dsts) == 0 {
		return nil, errSkipped
	}
	q, err := r.newQuery(name, true)
	if err != nil {
		return nil, err
	}
	defer q.conn.Close()
	defer q.watch(ctx)()

	var addrs []netip.Addr
	for try := range r.tries {
		var sendErrs []error
		for _, d := range dsts {
			if err := q.send(d); err != nil {
				// One interface going down must not silence the others.
				r.log.Debug("resolve: broadcast query not sent", slog.Any("err", err))
				sendErrs = append(sendErrs, err)
			}
		}
		if len(sendErrs) == len(dsts) {
			return nil, errors.Join(sendErrs...)
		}
		r.log.Debug("resolve: broadcast query sent", slog.String("name", name.String()), slog.Int("interfaces", len(dsts)), slog.Int("try", try+1))
		_, err := q.read(ctx, time.Now().Add(r.bcastWait), func(from netip.AddrPort, p netbios.NameServicePacket) bool {
			if p.RCode != netbios.RCodeOK {
				return false // only an NBNS answers negatively, and not to broadcasts
			}
			a, group := q.answer(p)
			for _, x := range a {
				addrs = appendUnique(addrs, x)
			}
			return len(addrs) > 0 && !group
		})
		if err != nil {
			return nil, err
		}
		if len(addrs) > 0 {
			return addrs, nil
		}
	}
	return nil, fmt.Errorf("no answer to %d broadcast queries: %w", r.tries, ErrNotFound)
}
