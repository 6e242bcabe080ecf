// Package sender is the sending half of the service: `net send` to a name
// (a NetBIOS session to NAME<03>, SMB message commands), to everyone or a
// domain (the MESSNGR mailslot broadcast), to the users of this host, and
// locally. The CLI and the web page reach it through the daemon's API, so
// there is one resolver and one set of sockets for every sender.
package sender

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/netsend/messenger/internal/apitype"
	"github.com/netsend/messenger/internal/dcerpc"
	"github.com/netsend/messenger/internal/message"
	"github.com/netsend/messenger/internal/names"
	"github.com/netsend/messenger/internal/netbios"
	"github.com/netsend/messenger/internal/resolve"
	"github.com/netsend/messenger/internal/smb"
	"github.com/netsend/messenger/internal/transport/rpc"
	"github.com/netsend/messenger/internal/transport/smbmsg"
)

// Limits of what we send (docs/protocols/limits.md, "Limits by field";
// docs/protocols/smb-messages.md, "Limits";
// docs/protocols/netbios-datagrams.md, "The MESSNGR payload").
const (
	// MaxText is the most OEM bytes a directed message may take: the cap
	// Samba's receiver has always had; Windows receivers take it too.
	MaxText = 1600
	// MaxBroadcastChars is Windows' limit for net send * and /domain.
	MaxBroadcastChars = 128
	// maxNameLen is a NetBIOS name's length, the most From and To carry.
	maxNameLen = 15
)

func fail(code, msg string, err error) *apitype.SendError {
	return &apitype.SendError{Code: code, Msg: msg, Err: err}
}

// Resolver finds the addresses of a NetBIOS name.
type Resolver interface {
	Resolve(ctx context.Context, name netbios.Name) (resolve.Result, error)
	Forget(name netbios.Name)
}

// Broadcaster sends MESSNGR mailslot datagrams.
type Broadcaster interface {
	Broadcast(targets []names.Interface, port int, source, group netbios.Name, from, text []byte) error
}

// RPC sends NetrSendMessage over connectionless DCE/RPC. A nil error means
// the receiver answered success.
type RPC interface {
	SendMessage(ctx context.Context, source netip.Addr, dst netip.AddrPort, from, to, text []byte) error
}

// Fallback says when a failed NetBIOS session falls back to RPC, as
// Windows' NetMessageBufferSend did.
type Fallback string

// Fallbacks.
const (
	FallbackNever  Fallback = "never"
	FallbackLocal  Fallback = "local" // only toward networks the policy trusts
	FallbackAlways Fallback = "always"
)

// Local stores a message addressed to this host.
type Local interface {
	Deliver(ctx context.Context, m *message.Message) error
}

// Sender sends messages. It is safe for concurrent use.
type Sender struct {
	Resolver   Resolver
	Datagrams  Broadcaster // nil when the datagram service is off
	Local      Local
	Names      *names.Table
	CodePage   message.CodePage
	HostName   string
	Workgroup  string
	SMBPort    int // receivers' session port, 139
	DgramPort  int // receivers' datagram port, 138
	Interfaces func() []names.Interface
	Timeout    time.Duration // per recipient
	Log        *slog.Logger

	// RPC, when set, sends with --via rpc and as the fallback.
	RPC           RPC
	RPCPort       int // receivers' RPC port, 135
	Fallback      Fallback
	TrustedForRPC func(netip.Addr) bool // for FallbackLocal

	// Hub, when set, carries messages to names its registry knows, and
	// broadcasts to domains beyond this subnet.
	Hub Hub

	mu    sync.Mutex
	samba map[netip.AddrPort]bool // receivers that drop a bare 0xD0
}

// Send validates req and sends it. A request-level problem (bad text,
// bad name) is an *Error; per-recipient outcomes are in the deliveries.
func (s *Sender) Send(ctx context.Context, req apitype.SendRequest) ([]apitype.Delivery, error) {
	targets := 0
	for _, set := range []bool{req.To != "" && req.To != "*", req.To == "*" || req.Domain != "", req.Users} {
		if set {
			targets++
		}
	}
	if targets != 1 || (req.To == "*" && req.Domain != "") {
		return nil, fail(apitype.CodeBadRequest, "say exactly one of: a name, '*', a domain, or all users", nil)
	}
	switch req.Via {
	case "hub":
		if s.Hub == nil {
			return nil, fail(apitype.CodeNotAvailable, "the hub is switched off in this daemon", nil)
		}
		if req.To == "*" || req.Domain != "" || req.Users || req.Address != "" {
			return nil, fail(apitype.CodeBadRequest, "--via hub sends to one name, found in the hub's registry", nil)
		}
	case "", "smb":
	case "rpc":
		if s.RPC == nil {
			return nil, fail(apitype.CodeNotAvailable, "sending by RPC is not available in this daemon", nil)
		}
		if req.To == "*" || req.Domain != "" || req.Users {
			return nil, fail(apitype.CodeBadRequest, "--via rpc sends to one name only", nil)
		}
	default:
		return nil, fail(apitype.CodeBadRequest, fmt.Sprintf("via %q is not hub, smb or rpc", req.Via), nil)
	}
	var source netip.Addr
	if req.Source != "" {
		var err error
		if source, err = netip.ParseAddr(req.Source); err != nil {
			return nil, fail(apitype.CodeBadRequest, fmt.Sprintf("source %q is not an IP address", req.Source), err)
		}
	}
	if req.Text == "" {
		return nil, fail(apitype.CodeBadRequest, "the message text is empty", nil)
	}
	if !utf8.ValidString(req.Text) {
		return nil, fail(apitype.CodeBadRequest, "the message text is not valid UTF-8", nil)
	}
	from := req.From
	if from == "" {
		from = s.HostName
	}
	fromOEM, err := s.CodePage.EncodeStrict(from)
	if err != nil {
		return nil, fail(apitype.CodeUnencodable, "the sender name cannot be written in "+s.CodePage.Name(), err)
	}
	if len(fromOEM) > maxNameLen || bytes.ContainsAny(fromOEM, "\x00") {
		return nil, fail(apitype.CodeBadRequest, fmt.Sprintf("the sender name %q is longer than %d characters", from, maxNameLen), nil)
	}
	switch {
	case req.Users:
		return s.toUsers(ctx, from, req.Text, req.LocalUser), nil
	case req.To == "*" || req.Domain != "":
		d, err := s.broadcast(req, fromOEM)
		if err != nil {
			return nil, err
		}
		out := []apitype.Delivery{d}
		if s.Hub != nil {
			out = append(out, s.hubBroadcast(ctx, req, from))
		}
		return out, nil
	default:
		return []apitype.Delivery{s.direct(ctx, req, source, from, fromOEM)}, nil
	}
}

// toUsers delivers to every user logged in here, as net send /users did
// to the sessions of a server.
func (s *Sender) toUsers(ctx context.Context, from, text, localUser string) []apitype.Delivery {
	var out []apitype.Delivery
	for _, e := range s.Names.List() {
		if e.Source == names.SourceUser {
			out = append(out, s.local(ctx, e.Text, from, text, localUser))
		}
	}
	if out == nil {
		out = []apitype.Delivery{{To: "(users)", Via: "local", Code: apitype.CodeNameNotFound, Error: "No user is logged on to this host."}}
	}
	return out
}

func (s *Sender) local(ctx context.Context, to, from, text, localUser string) apitype.Delivery {
	if n := utf8.RuneCountInString(text); n > message.MaxTextLen {
		return apitype.Delivery{To: to, Via: "local", Code: apitype.CodeTooLong, Error: fmt.Sprintf("The message is %d characters long; the limit is %d.", n, message.MaxTextLen)}
	}
	m := &message.Message{From: from, To: to, Text: text, Time: time.Now(), Transport: message.TransportAPI, Source: "local", LocalUser: localUser}
	if err := s.Local.Deliver(ctx, m); err != nil {
		return apitype.Delivery{To: to, Via: "local", Code: apitype.CodeNetwork, Error: err.Error()}
	}
	return apitype.Delivery{To: to, Via: "local"}
}

// broadcast sends to every messenger of a workgroup or domain: one
// DIRECT_GROUP datagram to DOMAIN<00> per interface. Nobody answers, so
// "sent" is all a sender can know.
func (s *Sender) broadcast(req apitype.SendRequest, fromOEM []byte) (apitype.Delivery, error) {
	group := req.Domain
	if group == "" {
		group = s.Workgroup
	}
	if n := utf8.RuneCountInString(req.Text); n > MaxBroadcastChars {
		return apitype.Delivery{}, fail(apitype.CodeTooLong, fmt.Sprintf("A broadcast message may be at most %d characters; this one has %d.", MaxBroadcastChars, n), nil)
	}
	text, err := s.CodePage.EncodeStrict(req.Text)
	if err != nil {
		return apitype.Delivery{}, fail(apitype.CodeUnencodable, "The message cannot be written in "+s.CodePage.Name()+".", err)
	}
	gname, err := netbios.NewName(string(s.CodePage.Encode(strings.ToUpper(group))), 0x00)
	if err != nil {
		return apitype.Delivery{}, fail(apitype.CodeBadRequest, fmt.Sprintf("%q is not a workgroup or domain name", group), err)
	}
	d := apitype.Delivery{To: gname.Base(), Via: "mailslot"}
	if s.Datagrams == nil {
		d.Code, d.Error = apitype.CodeNotAvailable, "The datagram service is switched off (dgram_port = 0); broadcasts cannot be sent."
		return d, nil
	}
	source, err := netbios.NewName(string(s.CodePage.Encode(strings.ToUpper(s.HostName))), 0x00)
	if err != nil {
		return d, fail(apitype.CodeBadRequest, "our host name is not a NetBIOS name", err)
	}
	targets := s.Interfaces()
	var addrs []string
	for _, t := range targets {
		addrs = append(addrs, t.Broadcast.String())
	}
	d.Addr = strings.Join(addrs, ",")
	if err := s.Datagrams.Broadcast(targets, s.DgramPort, source, gname, fromOEM, bytes.ReplaceAll(text, []byte("\n"), []byte{message.LineBreak})); err != nil {
		d.Code, d.Error = apitype.CodeNetwork, "A general network error occurred. ("+err.Error()+")"
	}
	return d, nil
}

// direct sends to one name over a NetBIOS session, or stores it here if
// the name is ours.
func (s *Sender) direct(ctx context.Context, req apitype.SendRequest, source netip.Addr, from string, fromOEM []byte) apitype.Delivery {
	to := req.To
	name, err := names.Messenger(to, s.CodePage)
	if err != nil {
		return apitype.Delivery{To: to, Via: "smb", Code: apitype.CodeBadRequest, Error: fmt.Sprintf("%q is not a messenger name: %v", to, err)}
	}
	d := apitype.Delivery{To: name.Base(), Via: "smb"}
	if req.Address == "" && s.Names.Has(name) {
		// A path insisted on cannot be taken to ourselves; delivering
		// locally anyway would hide that the path was not tested.
		if req.Via != "" {
			d.Code, d.Error = apitype.CodeBadRequest, fmt.Sprintf("%s is a name of this host: --via %s sends to another host; leave --via out to deliver here", name.Base(), req.Via)
			return d
		}
		return s.local(ctx, strings.ToUpper(to), from, req.Text, req.LocalUser)
	}
	if req.Via == "hub" {
		return s.viaHub(ctx, req, from)
	}
	if req.Via == "" && req.Address == "" && s.Hub != nil {
		// A name the registry knows belongs to a Messenger daemon: the hub
		// authenticates, keeps and confirms what a NetBIOS session cannot.
		if s.Hub.Carries(ctx, name.Base()) {
			return s.viaHub(ctx, req, from)
		}
	}
	oem, err := s.CodePage.EncodeStrict(req.Text)
	if err != nil {
		d.Code, d.Error = apitype.CodeUnencodable, "The message cannot be written in "+s.CodePage.Name()+": "+err.Error()
		return d
	}
	if n := len(bytes.ReplaceAll(oem, []byte("\n"), []byte("\r\n"))); n > MaxText {
		d.Code, d.Error = apitype.CodeTooLong, fmt.Sprintf("The message is %d bytes long in %s; the limit is %d.", n, s.CodePage.Name(), MaxText)
		return d
	}
	ctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()

	addrs, err := s.addresses(ctx, req.Address, name)
	if err != nil {
		var e *apitype.SendError
		errors.As(err, &e)
		d.Code, d.Error = e.Code, e.Error()
		return d
	}
	var last *apitype.SendError
	for _, a := range addrs {
		d.Addr, d.Via = a.String(), "smb"
		var err error
		if req.Via == "rpc" {
			d.Via = "rpc"
			err = s.viaRPC(ctx, source, a.Addr(), fromOEM, []byte(to), oem)
		} else {
			err = s.deliver(ctx, source, a, name, fromOEM, []byte(to), oem)
			if err != nil && req.Via == "" && s.fallsBack(a.Addr(), classify(err)) {
				s.Log.Info("session delivery failed; falling back to NetrSendMessage", slog.String("to", name.String()),
					slog.String("addr", a.String()), slog.Any("err", err))
				d.Via = "rpc"
				err = s.viaRPC(ctx, source, a.Addr(), fromOEM, []byte(to), oem)
			}
		}
		if err == nil {
			d.Code, d.Error = "", ""
			return d
		}
		last = classify(err)
		d.Code, d.Error = last.Code, last.Error()
		if last.Code == apitype.CodeNameNotFound && req.Address == "" {
			// A stale answer: ask afresh next time.
			s.Resolver.Forget(name)
		}
		if last.Code != apitype.CodeNetwork && last.Code != apitype.CodeTimeout {
			break
		}
	}
	return d
}

// addresses turns --address or the name into where to connect.
func (s *Sender) addresses(ctx context.Context, address string, name netbios.Name) ([]netip.AddrPort, error) {
	if address != "" {
		host, port := address, s.SMBPort
		if h, p, err := net.SplitHostPort(address); err == nil {
			n, err := strconv.Atoi(p)
			if err != nil || n < 1 || n > 65535 {
				return nil, fail(apitype.CodeBadRequest, fmt.Sprintf("%q: bad port", address), nil)
			}
			host, port = h, n
		}
		if ip, err := netip.ParseAddr(host); err == nil {
			return []netip.AddrPort{netip.AddrPortFrom(ip.Unmap(), uint16(port))}, nil
		}
		ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		if err != nil || len(ips) == 0 {
			return nil, fail(apitype.CodeNameNotFound, fmt.Sprintf("The host %s could not be found.", host), err)
		}
		out := make([]netip.AddrPort, len(ips))
		for i, ip := range ips {
			out[i] = netip.AddrPortFrom(ip.Unmap(), uint16(port))
		}
		return out, nil
	}
	res, err := s.Resolver.Resolve(ctx, name)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, fail(apitype.CodeTimeout, "The name could not be resolved in time.", err)
		}
		return nil, fail(apitype.CodeNameNotFound, "The message alias could not be found on the network.", err)
	}
	out := make([]netip.AddrPort, len(res.Addrs))
	for i, ip := range res.Addrs {
		out[i] = netip.AddrPortFrom(ip, uint16(s.SMBPort))
	}
	return out, nil
}

// deliver opens a session and sends in the shape the receiver takes.
// Windows expects 0xD0 with 0x14 line breaks for a short text; Samba's
// smbd drops a 0xD0 that no negotiate preceded and shows 0x14 as it is,
// so to it we send what smbclient sends: multi-block with CR LF. A
// receiver that closes on our 0xD0, or that answers 0xD5 without a group
// id, is taken for Samba, and remembered.
func (s *Sender) deliver(ctx context.Context, source netip.Addr, addr netip.AddrPort, called netbios.Name, from, to, oem []byte) error {
	windowsText := bytes.ReplaceAll(oem, []byte("\n"), []byte{message.LineBreak})
	sambaText := bytes.ReplaceAll(oem, []byte("\n"), []byte("\r\n"))
	if len(to) > maxNameLen {
		to = to[:maxNameLen]
	}
	toOEM := s.CodePage.Encode(strings.ToUpper(string(to)))
	session := func() (*smbmsg.Client, error) {
		c, err := smbmsg.DialFrom(ctx, source, addr.String(), called, s.callingName())
		if err != nil {
			return nil, err
		}
		dl, _ := ctx.Deadline()
		c.SetDeadline(dl)
		return c, nil
	}
	s.mu.Lock()
	samba := s.samba[addr]
	s.mu.Unlock()

	if !samba && len(windowsText) <= smb.MaxBlockLen {
		c, err := session()
		if err != nil {
			return err
		}
		err = c.SendSingle(from, toOEM, windowsText)
		c.Close()
		if !errors.Is(err, smbmsg.ErrNoReply) {
			return err
		}
		s.markSamba(addr)
	}
	c, err := session()
	if err != nil {
		return err
	}
	defer c.Close()
	group, hasGroupID, err := c.StartMultiBlock(from, toOEM)
	if err != nil {
		return err
	}
	text := windowsText
	if !hasGroupID {
		text = sambaText
		s.markSamba(addr)
	}
	if err := c.SendTextBlocks(group, text, smb.MaxBlockLen); err != nil {
		return err
	}
	return c.EndMultiBlock(group)
}

// fallsBack reports whether a failed session delivery to addr is retried
// by RPC: not for a name the receiver told us it lacks, only when the
// receiver might listen on RPC instead (refused, silent, broken).
func (s *Sender) fallsBack(addr netip.Addr, e *apitype.SendError) bool {
	if s.RPC == nil || e.Code == apitype.CodeNameNotFound || e.Code == apitype.CodeBadRequest {
		return false
	}
	switch s.Fallback {
	case FallbackAlways:
		return true
	case FallbackLocal:
		return s.TrustedForRPC != nil && s.TrustedForRPC(addr)
	}
	return false
}

func (s *Sender) viaRPC(ctx context.Context, source, addr netip.Addr, from, to, text []byte) error {
	// NetrSendMessage carries CR LF where SMB carried 0x14 (MS-MSRP
	// 3.2.4.1 passes the text through), and its Text is one NDR string.
	return s.RPC.SendMessage(ctx, source, netip.AddrPortFrom(addr, uint16(s.RPCPort)), from, to,
		bytes.ReplaceAll(text, []byte("\n"), []byte("\r\n")))
}

func (s *Sender) markSamba(a netip.AddrPort) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.samba == nil {
		s.samba = make(map[netip.AddrPort]bool)
	}
	s.samba[a] = true
}

func (s *Sender) callingName() netbios.Name {
	n, err := netbios.NewName(string(s.CodePage.Encode(strings.ToUpper(s.HostName))), 0x00)
	if err != nil {
		n, _ = netbios.NewName("MESSENGER", 0x00)
	}
	return n
}

// classify turns a transport error into what net send would have said.
func classify(err error) *apitype.SendError {
	var refused *smbmsg.SessionRefusedError
	var rpcStatus *rpc.StatusError
	if errors.As(err, &rpcStatus) {
		switch {
		case rpcStatus.Status == dcerpc.StatusNameNotFound:
			return fail(apitype.CodeNameNotFound, "The message alias could not be found on the network.", err)
		case rpcStatus.Type == dcerpc.TypeResponse && rpcStatus.Status == dcerpc.StatusNetworkError:
			return fail(apitype.CodeNetwork, "A general network error occurred.", err)
		default:
			return fail(apitype.CodeNotAccepting, "The recipient is not accepting messages.", err)
		}
	}
	switch {
	case errors.Is(err, rpc.ErrNoAnswer):
		return fail(apitype.CodeTimeout, "The recipient did not answer in time.", err)
	case errors.Is(err, smbmsg.ErrNameNotPresent):
		return fail(apitype.CodeNameNotFound, "The message alias could not be found on the network.", err)
	case errors.As(err, &refused):
		return fail(apitype.CodeNotAccepting, "The recipient is not accepting messages.", err)
	case errors.Is(err, smb.ErrCodeMessagesOff), errors.Is(err, smb.ErrCodePaused):
		return fail(apitype.CodeNotAccepting, "The recipient is not accepting messages.", err)
	case errors.Is(err, smb.ErrCodeNoRoom):
		return fail(apitype.CodeNotAccepting, "The recipient has no room for the message.", err)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return fail(apitype.CodeTimeout, "The recipient did not answer in time.", err)
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return fail(apitype.CodeBadRequest, "The source address is not an address of this host.", err)
	case errors.Is(err, syscall.ECONNREFUSED):
		return fail(apitype.CodeNotAccepting, "The recipient is not accepting messages: nothing listens on its message port.", err)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fail(apitype.CodeTimeout, "The recipient did not answer in time.", err)
	}
	return fail(apitype.CodeNetwork, "A general network error occurred.", err)
}
