// Package resolve finds the IPv4 addresses of a NetBIOS name, usually a
// messenger name NAME<03>, the way Windows NetBT did before net send opened
// its session: lmhosts, a WINS server, a broadcast name query on each
// subnet, and the hosts file and DNS, in a configurable order, with a
// short-lived cache in front.
//
// One Resolver serves every sender. Concurrent lookups of the same name
// share one set of queries, so a burst of messages to one recipient puts
// one query on the wire, not one per message.
package resolve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/netsend/messenger/internal/names"
	"github.com/netsend/messenger/internal/netbios"
)

// Method is one way of resolving a name.
type Method string

// Methods, named as in Samba's "name resolve order".
const (
	LMHosts   Method = "lmhosts" // the lmhosts file
	WINS      Method = "wins"    // unicast name query to the WINS server
	Broadcast Method = "bcast"   // broadcast name query on each interface
	Hosts     Method = "hosts"   // /etc/hosts and DNS, through net.Resolver
)

// DefaultOrder is NetBT's order for an H-node with DNS enabled, minus the
// name cache, which the Resolver keeps itself.
var DefaultOrder = []Method{LMHosts, WINS, Broadcast, Hosts}

func (m Method) known() bool {
	switch m {
	case LMHosts, WINS, Broadcast, Hosts:
		return true
	}
	return false
}

// ParseOrder reads an order such as "lmhosts,wins,bcast,hosts". Commas and
// spaces both separate, so Samba's "lmhosts wins bcast host" works too, as
// do the aliases "host", "dns" and "broadcast".
func ParseOrder(s string) ([]Method, error) {
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
	if len(fields) == 0 {
		return nil, errors.New("resolve: empty name resolve order")
	}
	order := make([]Method, 0, len(fields))
	for _, f := range fields {
		m := Method(strings.ToLower(f))
		switch m {
		case "host", "dns":
			m = Hosts
		case "broadcast":
			m = Broadcast
		}
		order = append(order, m)
	}
	if err := checkOrder(order); err != nil {
		return nil, err
	}
	return order, nil
}

func checkOrder(order []Method) error {
	for i, m := range order {
		if !m.known() {
			return fmt.Errorf("resolve: unknown name resolve method %q (want lmhosts, wins, bcast or hosts)", string(m))
		}
		if slices.Contains(order[:i], m) {
			return fmt.Errorf("resolve: name resolve method %q listed twice", string(m))
		}
	}
	return nil
}

// Defaults for Config fields left zero.
const (
	DefaultLMHostsPath      = "/etc/samba/lmhosts"
	DefaultPort             = 137
	DefaultBroadcastTimeout = 250 * time.Millisecond // RFC 1002 BCAST_REQ_RETRY_TIMEOUT
	DefaultWINSTimeout      = time.Second
	DefaultTries            = 3 // RFC 1002 BCAST_REQ_RETRY_COUNT
	DefaultCacheTTL         = 60 * time.Second
	DefaultNegativeCacheTTL = 5 * time.Second
)

// maxCacheEntries bounds the cache: senders may be asked for any number of
// made-up names.
const maxCacheEntries = 4096

// Config configures a Resolver. The zero value resolves by lmhosts,
// broadcast (if Interfaces is set) and hosts/DNS.
type Config struct {
	Order       []Method // nil: DefaultOrder
	LMHostsPath string   // "": DefaultLMHostsPath; a missing file is no entries
	// WINS is the WINS server; the zero value leaves the WINS step out.
	// Port 0 means 137.
	WINS netip.AddrPort
	// Interfaces lists the networks to broadcast on; only their Broadcast
	// addresses are used. It is called once per broadcast step, so it
	// follows interfaces coming and going. nil or empty leaves the
	// broadcast step out.
	Interfaces func() []names.Interface
	// BroadcastPort is where broadcast queries go; 0 means 137. Tests set
	// it, since they cannot own port 137.
	BroadcastPort int
	Scope         string
	// Timeout is how long each try waits for answers; 0 means 250 ms for
	// broadcast and 1 s for WINS.
	Timeout time.Duration
	// Retries is the number of tries per method (RFC 1002's retry counts
	// count tries too); 0 means 3.
	Retries int
	// CacheTTL is how long a found name is remembered, NegativeCacheTTL
	// how long a name that was not found is; 0 means 60 s and 5 s, a
	// negative value turns that cache off.
	CacheTTL         time.Duration
	NegativeCacheTTL time.Duration
	Resolver         *net.Resolver // for Hosts; nil: net.DefaultResolver
	Log              *slog.Logger  // nil: discard
}

// Result is where a name was found.
type Result struct {
	Addrs  []netip.Addr // IPv4, the best first
	Method Method
	Cached bool // answered from the cache, nothing was sent
}

// ErrNotFound means no method found the name. The error Resolve returns
// wraps it and says which methods were tried. Its text is NetBT's
// NERR_NameNotFound message, which net send printed.
var ErrNotFound = errors.New("the name could not be found on the network")

// errSkipped means a method does not apply: WINS without a server,
// broadcast without interfaces.
var errSkipped = errors.New("method not configured")

// Resolver resolves NetBIOS names. It is safe for concurrent use.
type Resolver struct {
	order      []Method
	lmhosts    *lmhostsFile // nil when LMHosts is not in the order
	wins       netip.AddrPort
	interfaces func() []names.Interface
	bcastPort  uint16
	scope      string
	bcastWait  time.Duration
	winsWait   time.Duration
	tries      int
	posTTL     time.Duration
	negTTL     time.Duration
	dns        *net.Resolver
	log        *slog.Logger
	now        func() time.Time // tests move the clock

	nextID atomic.Uint32

	mu    sync.Mutex
	cache map[netbios.Name]cacheEntry
	calls map[netbios.Name]*call
}

type cacheEntry struct {
	res     Result
	err     error
	expires time.Time
}

// call is one lookup in progress, shared by every Resolve that asks for
// the name while it runs.
type call struct {
	done    chan struct{}
	cancel  context.CancelFunc
	waiters int // under Resolver.mu
	res     Result
	err     error
}

// New checks cfg and returns a Resolver.
func New(cfg Config) (*Resolver, error) {
	order := cfg.Order
	if order == nil {
		order = DefaultOrder
	}
	if len(order) == 0 {
		return nil, errors.New("resolve: empty name resolve order")
	}
	if err := checkOrder(order); err != nil {
		return nil, err
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("resolve: negative query timeout %v", cfg.Timeout)
	}
	// Building a query checks the scope the way the wire will.
	if _, err := netbios.AppendNameServicePacket(nil, netbios.NameQueryRequest(0, netbios.WildcardName(), cfg.Scope, false, true)); err != nil {
		return nil, fmt.Errorf("resolve: NetBIOS scope %q: %w", cfg.Scope, err)
	}
	r := &Resolver{
		order:      slices.Clone(order),
		interfaces: cfg.Interfaces,
		scope:      cfg.Scope,
		bcastWait:  cmpOr(cfg.Timeout, DefaultBroadcastTimeout),
		winsWait:   cmpOr(cfg.Timeout, DefaultWINSTimeout),
		tries:      cfg.Retries,
		posTTL:     cmpOr(cfg.CacheTTL, DefaultCacheTTL),
		negTTL:     cmpOr(cfg.NegativeCacheTTL, DefaultNegativeCacheTTL),
		dns:        cfg.Resolver,
		log:        cfg.Log,
		now:        time.Now,
		cache:      make(map[netbios.Name]cacheEntry),
		calls:      make(map[netbios.Name]*call),
	}
	if r.tries <= 0 {
		r.tries = DefaultTries
	}
	if r.dns == nil {
		r.dns = net.DefaultResolver
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	switch p := cfg.BroadcastPort; {
	case p == 0:
		r.bcastPort = DefaultPort
	case p < 0 || p > 0xFFFF:
		return nil, fmt.Errorf("resolve: broadcast port %d out of range", p)
	default:
		r.bcastPort = uint16(p)
	}
	if cfg.WINS.Addr().IsValid() {
		a := cfg.WINS.Addr().Unmap()
		if !a.Is4() || a.IsUnspecified() {
			return nil, fmt.Errorf("resolve: WINS server %v is not an IPv4 host address", cfg.WINS.Addr())
		}
		port := cfg.WINS.Port()
		if port == 0 {
			port = DefaultPort
		}
		r.wins = netip.AddrPortFrom(a, port)
	}
	if slices.Contains(r.order, LMHosts) {
		path := cfg.LMHostsPath
		if path == "" {
			path = DefaultLMHostsPath
		}
		r.lmhosts = &lmhostsFile{path: path, log: r.log}
	}
	// Transaction ids start anywhere, as RFC 1002 suggests, so that a
	// restarted daemon does not match answers meant for its predecessor.
	r.nextID.Store(rand.Uint32())
	return r, nil
}

func cmpOr(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// cacheKey folds case: NetBT looked names up without regard to it, and
// BOB<03> and bob<03> must share a cache entry and a lookup.
func cacheKey(n netbios.Name) netbios.Name {
	b := n.Bytes()
	for i := range netbios.NameLen - 1 {
		b[i] = upperASCII(b[i])
	}
	return netbios.NameFromBytes(b)
}

// Resolve returns the addresses of name. An error wraps ErrNotFound when
// no method found the name, or ctx's error when ctx ended first.
func (r *Resolver) Resolve(ctx context.Context, name netbios.Name) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, fmt.Errorf("resolving %v: %w", name, err)
	}
	key := cacheKey(name)

	r.mu.Lock()
	if e, ok := r.cache[key]; ok {
		if r.now().Before(e.expires) {
			r.mu.Unlock()
			res := e.res
			res.Addrs = slices.Clone(res.Addrs)
			res.Cached = true
			return res, e.err
		}
		delete(r.cache, key)
	}
	c, ok := r.calls[key]
	if !ok {
		// The lookup outlives the caller that started it as long as
		// someone still waits for it; it keeps ctx's values (a logger,
		// a trace) but not its cancellation.
		lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		c = &call{done: make(chan struct{}), cancel: cancel}
		r.calls[key] = c
		go r.run(lctx, key, name, c)
	}
	c.waiters++
	r.mu.Unlock()

	select {
	case <-c.done:
		res := c.res
		res.Addrs = slices.Clone(res.Addrs)
		return res, c.err
	case <-ctx.Done():
		r.mu.Lock()
		c.waiters--
		if c.waiters == 0 {
			// Nobody wants the answer any more: stop sending, and let
			// the next Resolve start afresh rather than join a lookup
			// that is being torn down.
			c.cancel()
			if r.calls[key] == c {
				delete(r.calls, key)
			}
		}
		r.mu.Unlock()
		return Result{}, fmt.Errorf("resolving %v: %w", name, ctx.Err())
	}
}

// run performs the lookup of c and publishes its outcome.
func (r *Resolver) run(ctx context.Context, key, name netbios.Name, c *call) {
	defer c.cancel()
	res, err := r.lookup(ctx, name)
	r.mu.Lock()
	if r.calls[key] == c {
		delete(r.calls, key)
	}
	// An abandoned lookup's outcome is an artefact of its cancellation.
	if ctx.Err() == nil {
		r.remember(key, res, err)
	}
	c.res, c.err = res, err
	r.mu.Unlock()
	close(c.done)
}

// remember caches a lookup's outcome; r.mu is held.
func (r *Resolver) remember(key netbios.Name, res Result, err error) {
	ttl := r.posTTL
	if err != nil {
		var nf *notFoundError
		if !errors.As(err, &nf) || nf.failures {
			// Only a clean "nobody has it" is worth repeating; a
			// socket error may be gone on the next try.
			return
		}
		ttl = r.negTTL
	}
	if ttl <= 0 {
		return
	}
	now := r.now()
	if len(r.cache) >= maxCacheEntries {
		for k, e := range r.cache {
			if !now.Before(e.expires) {
				delete(r.cache, k)
			}
		}
		// Still full of live entries: make room with an arbitrary one.
		for k := range r.cache {
			if len(r.cache) < maxCacheEntries {
				break
			}
			delete(r.cache, k)
		}
	}
	res.Addrs = slices.Clone(res.Addrs)
	r.cache[key] = cacheEntry{res: res, err: err, expires: now.Add(ttl)}
}

// Forget drops what the cache holds for name, for a sender whose
// connection to a cached address failed: the name may have moved.
func (r *Resolver) Forget(name netbios.Name) {
	r.mu.Lock()
	delete(r.cache, cacheKey(name))
	r.mu.Unlock()
}

// notFoundError is the error of a lookup that found nothing. It wraps
// ErrNotFound and, when some method failed rather than answered, those
// failures too.
type notFoundError struct {
	name     netbios.Name
	tried    []Method
	failures bool
	err      error // ErrNotFound, joined with the failures
}

func (e *notFoundError) Error() string {
	tried := "no method applies"
	if len(e.tried) > 0 {
		s := make([]string, len(e.tried))
		for i, m := range e.tried {
			s[i] = string(m)
		}
		tried = "tried " + strings.Join(s, ", ")
	}
	return fmt.Sprintf("resolving %v (%s): %v", e.name, tried, e.err)
}

func (e *notFoundError) Unwrap() error { return e.err }

// lookup runs the methods in order until one finds name.
func (r *Resolver) lookup(ctx context.Context, name netbios.Name) (Result, error) {
	// NetBT loaded #PRE entries into its name cache at boot, so they
	// answer before anything goes on the wire, wherever lmhosts is in
	// the order.
	if r.lmhosts != nil {
		if addrs := matchLMHosts(r.lmhosts.current(), name, true); len(addrs) > 0 {
			r.log.Debug("resolve: found in lmhosts #PRE", slog.String("name", name.String()), slog.Any("addrs", addrs))
			return Result{Addrs: addrs, Method: LMHosts}, nil
		}
	}
	nf := &notFoundError{name: name}
	var failures []error
	for _, m := range r.order {
		if err := ctx.Err(); err != nil {
			return Result{}, fmt.Errorf("resolving %v: %w", name, err)
		}
		addrs, err := r.step(ctx, m, name)
		if errors.Is(err, errSkipped) {
			continue
		}
		nf.tried = append(nf.tried, m)
		if len(addrs) > 0 {
			r.log.Debug("resolve: found", slog.String("name", name.String()), slog.String("method", string(m)), slog.Any("addrs", addrs))
			return Result{Addrs: addrs, Method: m}, nil
		}
		if cerr := ctx.Err(); cerr != nil {
			return Result{}, fmt.Errorf("resolving %v: %w", name, cerr)
		}
		if err != nil && !errors.Is(err, ErrNotFound) {
			r.log.Warn("resolve: method failed", slog.String("name", name.String()), slog.String("method", string(m)), slog.Any("err", err))
			failures = append(failures, fmt.Errorf("%s: %w", m, err))
			continue
		}
		r.log.Debug("resolve: not found", slog.String("name", name.String()), slog.String("method", string(m)))
	}
	nf.err = ErrNotFound
	if len(failures) > 0 {
		nf.failures = true
		nf.err = fmt.Errorf("%w (%w)", ErrNotFound, errors.Join(failures...))
	}
	return Result{}, nf
}

// step runs one method. No addresses and a nil or ErrNotFound error both
// mean the method did not find the name.
func (r *Resolver) step(ctx context.Context, m Method, name netbios.Name) ([]netip.Addr, error) {
	switch m {
	case LMHosts:
		return matchLMHosts(r.lmhosts.current(), name, false), nil
	case WINS:
		return r.queryWINS(ctx, name)
	case Broadcast:
		return r.queryBroadcast(ctx, name)
	case Hosts:
		return r.lookupHosts(ctx, name)
	}
	return nil, errSkipped // New accepts no other method
}

// lookupHosts resolves the name's base as a host name, as NetBT did when
// "Enable DNS for Windows resolution" was on. net.Resolver reads
// /etc/hosts before asking DNS.
func (r *Resolver) lookupHosts(ctx context.Context, name netbios.Name) ([]netip.Addr, error) {
	host := strings.ToLower(strings.TrimRight(name.Base(), " "))
	if host == "" || host == "*" {
		return nil, errSkipped
	}
	ips, err := r.dns.LookupNetIP(ctx, "ip4", host)
	if err != nil {
		var dnsErr *net.DNSError
		if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
			return nil, fmt.Errorf("looking up %q: %w", host, ErrNotFound)
		}
		return nil, fmt.Errorf("looking up %q: %w", host, err)
	}
	var addrs []netip.Addr
	for _, a := range ips {
		if a = a.Unmap(); a.Is4() && !a.IsUnspecified() {
			addrs = appendUnique(addrs, a)
		}
	}
	return addrs, nil
}
