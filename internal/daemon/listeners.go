package daemon

import (
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/netsend/messenger/internal/apitype"
	"github.com/netsend/messenger/internal/config"
)

// listeners are every socket the daemon serves, opened before anything
// runs; a nil one is off.
type listeners struct {
	smb  net.Listener
	nbns *net.UDPConn
	// dgram is the datagram port's SO_REUSEPORT group, one socket per
	// CPU; rpcGroups are those of each RPC port, rpc all their sockets.
	dgram     []*net.UDPConn
	rpcGroups [][]*net.UDPConn
	rpc       []*net.UDPConn
	sock      net.Listener
	path      string // sock's path
	http      net.Listener
	ingest    net.Listener
	// list is what GET /v1/status and the start line show.
	list []apitype.Listener
}

func (l *listeners) add(transport, network, addr string) {
	l.list = append(l.list, apitype.Listener{Transport: transport, Network: network, Addr: addr})
}

// String is the listeners as the start line shows them, one
// transport=network://address each: smb=tcp://[::]:139 nbns=udp://0.0.0.0:137.
// The hub's address is already a URL.
func (l *listeners) String() string {
	var b strings.Builder
	for i, x := range l.list {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(x.Transport)
		b.WriteByte('=')
		if !strings.Contains(x.Addr, "://") {
			b.WriteString(x.Network + "://")
		}
		b.WriteString(x.Addr)
	}
	return b.String()
}

// openListeners opens every listener cfg turns on, or none: on an error
// those already open are closed.
func openListeners(cfg config.Config) (l *listeners, err error) {
	l = &listeners{}
	defer func() {
		if err != nil {
			l.close()
		}
	}()
	if cfg.SMBPort != 0 {
		if l.smb, err = listenTCP(cfg.Bind, cfg.SMBPort, "smb-port"); err != nil {
			return l, err
		}
		l.add("smb", "tcp", l.smb.Addr().String())
	}
	if cfg.NBNSPort != 0 {
		if l.nbns, err = listenUDP(cfg.Bind, cfg.NBNSPort, "nbns-port"); err != nil {
			return l, err
		}
		l.add("nbns", "udp", l.nbns.LocalAddr().String())
	}
	if cfg.DgramPort != 0 {
		if l.dgram, err = listenUDPGroup(cfg.Bind, cfg.DgramPort, "dgram-port"); err != nil {
			return l, err
		}
		l.add("mailslot", "udp", l.dgram[0].LocalAddr().String())
	}
	if cfg.RPCPort != 0 {
		for _, port := range append([]int{cfg.RPCPort}, cfg.RPC.ExtraPorts...) {
			g, err := listenUDPGroup(cfg.Bind, port, "rpc-port")
			if err != nil {
				return l, err
			}
			l.rpcGroups = append(l.rpcGroups, g)
			l.rpc = append(l.rpc, g...)
			l.add("rpc", "udp", g[0].LocalAddr().String())
		}
	}
	if l.sock, err = listenSocket(cfg.SocketPath()); err != nil {
		return l, err
	}
	l.path = cfg.SocketPath()
	l.add("api", "unix", l.path)
	if cfg.HTTPAddr != "" {
		if l.http, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
			return l, fmt.Errorf("cannot listen on --http-addr %s: %w", cfg.HTTPAddr, err)
		}
		l.add("http", "tcp", l.http.Addr().String())
	}
	if cfg.Alert.IngestAddr != "" {
		if l.ingest, err = net.Listen("tcp", cfg.Alert.IngestAddr); err != nil {
			return l, fmt.Errorf("cannot listen on alert.ingest_addr %s: %w", cfg.Alert.IngestAddr, err)
		}
		l.add("ingest", "tcp", l.ingest.Addr().String())
	}
	return l, nil
}

// closeHTTP closes the listeners HTTP servers serve, so that their Serve
// returns.
func (l *listeners) closeHTTP() {
	for _, ln := range []net.Listener{l.sock, l.http, l.ingest} {
		if ln != nil {
			ln.Close()
		}
	}
}

// close closes every listener and removes the socket.
func (l *listeners) close() {
	var closers []interface{ Close() error }
	if l.smb != nil {
		closers = append(closers, l.smb)
	}
	for _, c := range append(append([]*net.UDPConn{l.nbns}, l.dgram...), l.rpc...) {
		if c != nil {
			closers = append(closers, c)
		}
	}
	for _, c := range closers {
		c.Close()
	}
	l.closeHTTP()
	if l.sock != nil {
		os.Remove(l.path)
	}
}
