package resolve

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/netsend/messenger/internal/netbios"
)

// Limits on what an lmhosts file may make us hold. Real files have a few
// dozen lines; the bounds only keep a wrong path (a log file, a disk
// image) from costing memory.
const (
	// MaxLMHostsSize is how many bytes of an lmhosts file are read.
	MaxLMHostsSize = 1 << 20
	// MaxLMHostsEntries is how many entries ParseLMHosts returns.
	MaxLMHostsEntries = 10000
	// maxLMHostsErrors is how many line errors are reported one by one;
	// a binary file would otherwise produce one per "line".
	maxLMHostsErrors = 50
)

// Sentinel errors wrapped by the LMHostsError values ParseLMHosts returns.
var (
	// ErrLMHostsSyntax means a line could not be read as an entry and was
	// skipped, or a field of an entry was ignored.
	ErrLMHostsSyntax = errors.New("lmhosts syntax error")
	// ErrLMHostsUnsupported means a directive this resolver does not
	// follow: #INCLUDE and the #BEGIN_ALTERNATE block fetch files from
	// SMB shares, which a Unix daemon has no business doing.
	ErrLMHostsUnsupported = errors.New("unsupported lmhosts directive")
	// ErrLMHostsLimit means the file was larger than MaxLMHostsSize or had
	// more than MaxLMHostsEntries entries; the rest was ignored.
	ErrLMHostsLimit = errors.New("lmhosts limit reached")
)

// LMHostsError is a problem on one line of an lmhosts file.
type LMHostsError struct {
	Line int
	Err  error
}

func (e *LMHostsError) Error() string { return fmt.Sprintf("lmhosts line %d: %v", e.Line, e.Err) }

func (e *LMHostsError) Unwrap() error { return e.Err }

// LMHostsEntry is one line of an lmhosts file: IPADDRESS NAME [#PRE]
// [#DOM:domain] [#MH].
type LMHostsEntry struct {
	Line int // 1-based
	Addr netip.Addr
	// Name is upper-cased (ASCII letters) and space-padded. Its suffix
	// byte means something only when HasSuffix is set; otherwise the
	// entry stands for every service of that computer, which is how
	// NetBT read a plain name.
	Name      netbios.Name
	HasSuffix bool
	// Pre is #PRE: NetBT loaded such entries into its name cache at
	// start, so they win over WINS and broadcast.
	Pre bool
	// Domain is #DOM:domain, upper-cased: the entry's address is also a
	// member of DOMAIN<1C>, the domain controllers group.
	Domain string
	// MultiHomed is #MH: one of several addresses of the same name.
	MultiHomed bool
}

// String renders the entry as an lmhosts line that ParseLMHosts reads back
// to the same entry: the plain or NAME#XX form where the name allows it,
// the quoted form with \0xNN escapes otherwise.
func (e LMHostsEntry) String() string {
	var sb strings.Builder
	sb.WriteString(e.Addr.String())
	sb.WriteByte(' ')
	raw := e.Name.Bytes()
	base := raw[:netbios.NameLen-1]
	trimmed := bytes.TrimRight(base, " ")
	if bareName(trimmed) {
		sb.Write(trimmed)
		if e.HasSuffix {
			fmt.Fprintf(&sb, "#%02X", e.Name.Suffix())
		}
	} else {
		sb.WriteByte('"')
		name := trimmed
		if e.HasSuffix {
			name = base // the suffix must be the 16th character
		}
		for _, c := range name {
			if c < 0x20 || c >= 0x7F || c == '"' || c == '\\' {
				fmt.Fprintf(&sb, `\0x%02X`, c)
			} else {
				sb.WriteByte(c)
			}
		}
		if e.HasSuffix {
			fmt.Fprintf(&sb, `\0x%02X`, e.Name.Suffix())
		}
		sb.WriteByte('"')
	}
	if e.Pre {
		sb.WriteString(" #PRE")
	}
	if e.Domain != "" {
		sb.WriteString(" #DOM:")
		sb.WriteString(e.Domain)
	}
	if e.MultiHomed {
		sb.WriteString(" #MH")
	}
	return sb.String()
}

// bareName reports whether name can be written without quotes: no
// whitespace, no control bytes, nothing the parser would take for a quote
// or the start of a suffix or comment.
func bareName(name []byte) bool {
	if len(name) == 0 {
		return false
	}
	for _, c := range name {
		if c <= 0x20 || c == 0x7F || c == '"' || c == '#' {
			return false
		}
	}
	return true
}

// ParseLMHosts reads an lmhosts file in the Windows format, with Samba's
// NAME#XX suffix form as well:
//
//	192.168.1.20   BOB                  #PRE #DOM:WORKGROUP  # a comment
//	192.168.1.21   "APPNAME        \0x14"
//	192.168.1.22   FILESRV#20
//
// It is lenient, as NetBT and nmbd were: a line it cannot read is skipped
// and the rest of the file still counts. Every skipped line or ignored
// field is reported in the returned error, a join of *LMHostsError values
// wrapping ErrLMHostsSyntax, ErrLMHostsUnsupported or ErrLMHostsLimit, so
// a non-nil error comes with valid entries.
func ParseLMHosts(data []byte) ([]LMHostsEntry, error) {
	var p lmhostsParser
	truncated := false
	if len(data) > MaxLMHostsSize {
		data = data[:MaxLMHostsSize]
		// A line cut in the middle would be misread; drop it whole.
		if i := bytes.LastIndexByte(data, '\n'); i >= 0 {
			data = data[:i+1]
		}
		truncated = true
	}
	line := 0
	for len(data) > 0 {
		var text []byte
		text, data, _ = bytes.Cut(data, []byte{'\n'})
		line++
		if len(p.entries) == MaxLMHostsEntries {
			p.fail(line, fmt.Errorf("more than %d entries; the rest of the file is ignored: %w", MaxLMHostsEntries, ErrLMHostsLimit))
			break
		}
		p.line(line, text)
	}
	if truncated {
		p.fail(line+1, fmt.Errorf("file larger than %d bytes; the rest is ignored: %w", MaxLMHostsSize, ErrLMHostsLimit))
	}
	return p.entries, p.err()
}

type lmhostsParser struct {
	entries []LMHostsEntry
	errs    []error
	dropped int // errors beyond maxLMHostsErrors
}

func (p *lmhostsParser) fail(line int, err error) {
	if len(p.errs) == maxLMHostsErrors {
		p.dropped++
		return
	}
	p.errs = append(p.errs, &LMHostsError{Line: line, Err: err})
}

func (p *lmhostsParser) err() error {
	if p.dropped > 0 {
		p.errs = append(p.errs, fmt.Errorf("lmhosts: %d more problems not listed", p.dropped))
	}
	return errors.Join(p.errs...)
}

// lmSpace is what separates fields; \r is among it so that files written
// on Windows read the same.
func lmSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'
}

func trimLMSpace(b []byte) []byte {
	for len(b) > 0 && lmSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && lmSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

// nextField splits off the field at the start of b (which starts with a
// non-space byte) and returns it and what follows, leading space trimmed.
func nextField(b []byte) (field, rest []byte) {
	i := 0
	for i < len(b) && !lmSpace(b[i]) {
		i++
	}
	return b[:i], trimLMSpace(b[i:])
}

func (p *lmhostsParser) line(n int, text []byte) {
	text = trimLMSpace(text)
	if len(text) == 0 {
		return
	}
	if text[0] == '#' {
		directive, _ := nextField(text)
		for _, d := range [...]string{"#INCLUDE", "#BEGIN_ALTERNATE", "#END_ALTERNATE"} {
			if bytes.EqualFold(directive, []byte(d)) {
				p.fail(n, fmt.Errorf("%s ignored: %w", d, ErrLMHostsUnsupported))
			}
		}
		return // a comment
	}

	field, rest := nextField(text)
	addr, err := netip.ParseAddr(string(field))
	switch {
	case err != nil:
		p.fail(n, fmt.Errorf("address %q: %w", clip(field), ErrLMHostsSyntax))
		return
	case !addr.Is4():
		p.fail(n, fmt.Errorf("address %v is not IPv4: %w", addr, ErrLMHostsSyntax))
		return
	case addr.IsUnspecified():
		p.fail(n, fmt.Errorf("address %v is unspecified: %w", addr, ErrLMHostsSyntax))
		return
	}
	e := LMHostsEntry{Line: n, Addr: addr}

	if len(rest) == 0 || rest[0] == '#' {
		p.fail(n, fmt.Errorf("no name after %v: %w", addr, ErrLMHostsSyntax))
		return
	}
	if rest[0] == '"' {
		e.Name, e.HasSuffix, rest, err = quotedName(rest[1:])
	} else {
		field, rest = nextField(rest)
		e.Name, e.HasSuffix, err = plainName(field)
	}
	if err != nil {
		p.fail(n, fmt.Errorf("%w: %w", err, ErrLMHostsSyntax))
		return
	}

	for len(rest) > 0 {
		field, rest = nextField(rest)
		switch {
		case bytes.EqualFold(field, []byte("#PRE")):
			e.Pre = true
		case bytes.EqualFold(field, []byte("#MH")):
			e.MultiHomed = true
		case len(field) >= len("#DOM:") && bytes.EqualFold(field[:len("#DOM:")], []byte("#DOM:")):
			dom := field[len("#DOM:"):]
			if len(dom) == 0 || len(dom) > netbios.NameLen-1 {
				p.fail(n, fmt.Errorf("#DOM: domain %q must be 1 to %d bytes; ignored: %w", clip(dom), netbios.NameLen-1, ErrLMHostsSyntax))
				continue
			}
			e.Domain = upperASCIIString(string(dom))
		case field[0] == '#':
			rest = nil // the comment runs to the end of the line
		default:
			// Samba's parser reads a "flags" field here; neither it nor
			// NetBT gives it a meaning for lookups.
			p.fail(n, fmt.Errorf("unexpected field %q ignored: %w", clip(field), ErrLMHostsSyntax))
		}
	}
	p.entries = append(p.entries, e)
}

// clip shortens a field quoted in an error: a line can be a megabyte long.
func clip(b []byte) []byte {
	const n = 40
	if len(b) > n {
		return b[:n]
	}
	return b
}

// plainName reads an unquoted name: up to 15 bytes, optionally followed by
// Samba's #XX with a hexadecimal suffix.
func plainName(field []byte) (netbios.Name, bool, error) {
	base, suffix, hasSuffix := bytes.Cut(field, []byte{'#'})
	var s byte
	if hasSuffix {
		v, err := strconv.ParseUint(string(suffix), 16, 8)
		if err != nil || len(suffix) > 2 {
			return netbios.Name{}, false, fmt.Errorf("name %q: the suffix after '#' must be 1 or 2 hexadecimal digits", clip(field))
		}
		s = byte(v)
	}
	for _, c := range base {
		if c < 0x20 || c == 0x7F || c == '"' {
			return netbios.Name{}, false, fmt.Errorf("name %q contains byte 0x%02X", clip(field), c)
		}
	}
	n, err := nameFromBase(base, s)
	return n, hasSuffix, err
}

// quotedName reads a name after its opening quote, up to the closing one,
// turning each \0xNN into byte NN. Sixteen bytes make the last one the
// suffix, as in "DOMAIN         \0x1B"; fewer are the name alone.
func quotedName(b []byte) (netbios.Name, bool, []byte, error) {
	var raw [netbios.NameLen]byte
	n := 0
	for i := 0; ; i++ {
		if i == len(b) {
			return netbios.Name{}, false, nil, errors.New("quoted name has no closing quote")
		}
		c := b[i]
		if c == '"' {
			b = b[i+1:]
			break
		}
		if c == '\\' && i+5 <= len(b) && b[i+1] == '0' && (b[i+2] == 'x' || b[i+2] == 'X') {
			if v, err := strconv.ParseUint(string(b[i+3:i+5]), 16, 8); err == nil {
				c = byte(v)
				i += 4
			}
		}
		if n == len(raw) {
			return netbios.Name{}, false, nil, fmt.Errorf("quoted name longer than %d bytes", netbios.NameLen)
		}
		raw[n] = c
		n++
	}
	if len(b) > 0 && !lmSpace(b[0]) {
		return netbios.Name{}, false, nil, errors.New("no space after the quoted name")
	}
	rest := trimLMSpace(b)
	if n == netbios.NameLen {
		name, err := nameFromBase(raw[:netbios.NameLen-1], raw[netbios.NameLen-1])
		return name, true, rest, err
	}
	name, err := nameFromBase(raw[:n], 0)
	return name, false, rest, err
}

// nameFromBase pads base with spaces and upper-cases its ASCII letters;
// unlike netbios.NewName it accepts any byte, because a quoted lmhosts name
// may hold whatever a special application registered.
func nameFromBase(base []byte, suffix byte) (netbios.Name, error) {
	var raw [netbios.NameLen]byte
	switch {
	case len(bytes.TrimRight(base, " ")) == 0:
		return netbios.Name{}, errors.New("empty name")
	case len(base) > netbios.NameLen-1:
		return netbios.Name{}, fmt.Errorf("name %q is longer than %d bytes", clip(base), netbios.NameLen-1)
	}
	for i := range netbios.NameLen - 1 {
		raw[i] = ' '
		if i < len(base) {
			raw[i] = upperASCII(base[i])
		}
	}
	raw[netbios.NameLen-1] = suffix
	return netbios.NameFromBytes(raw), nil
}

// upperASCIIString upper-cases ASCII letters only: strings.ToUpper would
// rewrite OEM bytes that are not valid UTF-8.
func upperASCIIString(s string) string {
	b := []byte(s)
	for i, c := range b {
		b[i] = upperASCII(c)
	}
	return string(b)
}

func upperASCII(c byte) byte {
	if 'a' <= c && c <= 'z' {
		return c - ('a' - 'A')
	}
	return c
}

// sameBase compares the 15 name bytes of a and b ignoring ASCII case; the
// suffix is left out.
func sameBase(a, b netbios.Name) bool {
	ra, rb := a.Bytes(), b.Bytes()
	for i := range netbios.NameLen - 1 {
		if upperASCII(ra[i]) != upperASCII(rb[i]) {
			return false
		}
	}
	return true
}

// matchLMHosts returns the addresses entries give name, in file order. All
// matching lines count, not only the first as in NetBT, so that #MH
// entries work and a sender has every address to try; the first is still
// the one NetBT would have used. With pre, only #PRE entries are used. A
// query for DOMAIN<1C> also gets every entry marked #DOM:DOMAIN.
func matchLMHosts(entries []LMHostsEntry, name netbios.Name, pre bool) []netip.Addr {
	var addrs []netip.Addr
	domain := ""
	if name.Suffix() == 0x1C {
		domain = upperASCIIString(name.Base())
	}
	for _, e := range entries {
		if pre && !e.Pre {
			continue
		}
		hit := sameBase(e.Name, name) && (!e.HasSuffix || e.Name.Suffix() == name.Suffix())
		if !hit && (domain == "" || e.Domain != domain) {
			continue
		}
		addrs = appendUnique(addrs, e.Addr)
	}
	return addrs
}

func appendUnique(addrs []netip.Addr, a netip.Addr) []netip.Addr {
	if slices.Contains(addrs, a) {
		return addrs
	}
	return append(addrs, a)
}

// lmhostsFile is the lmhosts file on disk, parsed again whenever its
// modification time or size changes, so that an administrator's edit takes
// effect without a restart and an unchanged file costs one stat.
type lmhostsFile struct {
	path string
	log  *slog.Logger

	mu      sync.Mutex
	valid   bool // modTime and size describe what entries came from
	modTime time.Time
	size    int64
	entries []LMHostsEntry
	lastErr string // the stat error last logged
}

// current returns the entries of the file as it is now; nil when it is
// missing or unreadable.
func (f *lmhostsFile) current() []LMHostsEntry {
	fi, err := os.Stat(f.path)
	f.mu.Lock()
	defer f.mu.Unlock()
	if err != nil {
		// A missing file is the normal case and says nothing; anything
		// else is said once, not on every lookup.
		if msg := err.Error(); msg != f.lastErr && (f.valid || !errors.Is(err, fs.ErrNotExist)) {
			f.log.Warn("resolve: lmhosts file unavailable; using no entries", slog.String("path", f.path), slog.Any("err", err))
			f.lastErr = msg
		}
		f.valid, f.entries = false, nil
		return nil
	}
	f.lastErr = ""
	if f.valid && fi.ModTime().Equal(f.modTime) && fi.Size() == f.size {
		return f.entries
	}
	f.valid, f.modTime, f.size = true, fi.ModTime(), fi.Size()
	f.entries = nil
	data, err := readLimited(f.path)
	if err != nil {
		f.log.Warn("resolve: cannot read lmhosts file", slog.String("path", f.path), slog.Any("err", err))
		return nil
	}
	entries, perr := ParseLMHosts(data)
	if perr != nil {
		var le *LMHostsError
		for _, e := range unjoin(perr) {
			if errors.As(e, &le) {
				f.log.Warn("resolve: lmhosts line skipped or partly ignored", slog.String("path", f.path), slog.Int("line", le.Line), slog.Any("err", le.Err))
			} else {
				f.log.Warn("resolve: lmhosts problem", slog.String("path", f.path), slog.Any("err", e))
			}
		}
	}
	f.entries = entries
	f.log.Debug("resolve: lmhosts loaded", slog.String("path", f.path), slog.Int("entries", len(entries)))
	return entries
}

// readLimited reads at most one byte more than MaxLMHostsSize, so that
// ParseLMHosts sees that the file is too large.
func readLimited(path string) ([]byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening lmhosts: %w", err)
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, MaxLMHostsSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading lmhosts %s: %w", path, err)
	}
	return data, nil
}

// unjoin lists the errors an errors.Join combined.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
