package netbios

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"
)

// nsHeaderLen is the fixed header of every name service packet: NAME_TRN_ID,
// the flags word and the four section counts (RFC 1002 4.2.1.1).
const nsHeaderLen = 12

// MaxSectionCount bounds each of QDCOUNT, ANCOUNT, NSCOUNT and ARCOUNT.
// Every packet RFC 1002 defines has at most one entry per section; the
// margin is for odd peers, the bound keeps a hostile count from sizing an
// allocation.
const MaxSectionCount = 16

// Smallest wire sizes of a section entry, used to reject counts the packet
// cannot hold before anything is allocated: a name can shrink to a 2-byte
// compression pointer.
const (
	minQuestionLen = 2 + 2 + 2         // pointer, QUESTION_TYPE, QUESTION_CLASS
	minResourceLen = 2 + 2 + 2 + 4 + 2 // pointer, RR_TYPE, RR_CLASS, TTL, RDLENGTH
)

// maxRDLength is the largest RDATA RDLENGTH can describe.
const maxRDLength = 0xFFFF

// Layout of the 16-bit word after NAME_TRN_ID.
const (
	flagResponse = 0x8000
	opcodeShift  = 11
	opcodeMax    = 0x0F
	nmFlagsMask  = 0x07F0
	rcodeMax     = 0x0F
)

// NM_FLAGS bits, in their position in the header's flags word, so that
// Flags reads as Wireshark prints it (0x0110 is RD|B).
const (
	FlagAA uint16 = 0x0400 // authoritative answer: set in every response from an owner or NBNS
	FlagTC uint16 = 0x0200 // truncated
	FlagRD uint16 = 0x0100 // recursion desired
	FlagRA uint16 = 0x0080 // recursion available: only an NBNS sets it
	FlagB  uint16 = 0x0010 // the packet was broadcast
)

// compressedQuestion is the compression pointer to the first question's
// name, which always starts right after the header: C0 0C.
var compressedQuestion = [2]byte{labelTypePointer, nsHeaderLen}

// Opcode is the OPCODE of a name service packet.
type Opcode uint8

// Opcodes (RFC 1002 4.2.1.1; 9 and 15 are Microsoft's, [MS-NBTE]).
const (
	OpcodeQuery                  Opcode = 0
	OpcodeRegistration           Opcode = 5
	OpcodeRelease                Opcode = 6
	OpcodeWACK                   Opcode = 7
	OpcodeRefresh                Opcode = 8
	OpcodeRefreshAlt             Opcode = 9
	OpcodeMultihomedRegistration Opcode = 15
)

// opcodeNames holds the name Wireshark gives each opcode, indexed by the
// opcode; "" marks an unassigned one.
var opcodeNames = [opcodeMax + 1]string{
	OpcodeQuery:                  "Name query",
	OpcodeRegistration:           "Registration",
	OpcodeRelease:                "Release",
	OpcodeWACK:                   "Wait for acknowledgment",
	OpcodeRefresh:                "Refresh",
	OpcodeRefreshAlt:             "Refresh (alternate opcode)",
	OpcodeMultihomedRegistration: "Multi-homed registration",
}

// String returns the name Wireshark gives the opcode.
func (o Opcode) String() string {
	if int(o) < len(opcodeNames) && opcodeNames[o] != "" {
		return opcodeNames[o]
	}
	return fmt.Sprintf("Opcode(%d)", uint8(o))
}

// RCode is the RCODE of a name service response.
type RCode uint8

// Response codes (RFC 1002 4.2.6, 4.2.14).
const (
	RCodeOK       RCode = 0
	RCodeFormErr  RCode = 1 // FMT_ERR: request was invalidly formatted
	RCodeServFail RCode = 2 // SRV_ERR: server failure
	RCodeNameErr  RCode = 3 // NAM_ERR: the name does not exist
	RCodeNotImp   RCode = 4 // IMP_ERR: unsupported request
	RCodeRefused  RCode = 5 // RFS_ERR: refused for policy reasons
	RCodeActive   RCode = 6 // ACT_ERR: the name is owned by another node
	RCodeConflict RCode = 7 // CFT_ERR: a unique name is owned by more than one node
)

// rcodeNames holds RFC 1002's symbol for each code, indexed by the code.
var rcodeNames = [...]string{
	RCodeOK:       "OK",
	RCodeFormErr:  "FMT_ERR",
	RCodeServFail: "SRV_ERR",
	RCodeNameErr:  "NAM_ERR",
	RCodeNotImp:   "IMP_ERR",
	RCodeRefused:  "RFS_ERR",
	RCodeActive:   "ACT_ERR",
	RCodeConflict: "CFT_ERR",
}

// String returns RFC 1002's symbol for the code.
func (r RCode) String() string {
	if int(r) < len(rcodeNames) && rcodeNames[r] != "" {
		return rcodeNames[r]
	}
	return fmt.Sprintf("RCode(%d)", uint8(r))
}

// RRType is a QUESTION_TYPE or RR_TYPE.
type RRType uint16

// Resource record types (RFC 1002 4.2.1.3).
const (
	TypeA      RRType = 0x0001
	TypeNS     RRType = 0x0002
	TypeNULL   RRType = 0x000A
	TypeNB     RRType = 0x0020
	TypeNBSTAT RRType = 0x0021
)

// String returns RFC 1002's symbol for the type.
func (t RRType) String() string {
	switch t {
	case TypeA:
		return "A"
	case TypeNS:
		return "NS"
	case TypeNULL:
		return "NULL"
	case TypeNB:
		return "NB"
	case TypeNBSTAT:
		return "NBSTAT"
	}
	return fmt.Sprintf("RRType(0x%04X)", uint16(t))
}

// ClassIN is the only QUESTION_CLASS and RR_CLASS NetBIOS uses.
const ClassIN uint16 = 0x0001

// NodeType is the owner node type (ONT) of NB_FLAGS and NAME_FLAGS, kept
// in its wire position (bits 13-14) so that it can be OR-ed into either.
type NodeType uint16

// Owner node types. RFC 1002 reserves 0x6000; Microsoft uses it for the
// H-node, and that is what Windows and Samba put on the wire.
const (
	ONTB NodeType = 0x0000
	ONTP NodeType = 0x2000
	ONTM NodeType = 0x4000
	ONTH NodeType = 0x6000

	ontMask = 0x6000
)

// String names the node type as nbtstat does.
func (t NodeType) String() string {
	switch t & ontMask {
	case ONTB:
		return "B-node"
	case ONTP:
		return "P-node"
	case ONTM:
		return "M-node"
	}
	return "H-node"
}

// NBFlags is the NB_FLAGS field of an NB resource record entry.
type NBFlags uint16

// NBGroup marks a group name; without it the name is unique.
const NBGroup NBFlags = 0x8000

// nbReserved are the NB_FLAGS bits RFC 1002 reserves.
const nbReserved NBFlags = 0x1FFF

// Group reports whether the G bit is set.
func (f NBFlags) Group() bool { return f&NBGroup != 0 }

// ONT returns the owner node type.
func (f NBFlags) ONT() NodeType { return NodeType(f) & ontMask }

// String formats the flags as Wireshark does, e.g. "unique, B-node".
func (f NBFlags) String() string {
	s := "unique, " + f.ONT().String()
	if f.Group() {
		s = "group, " + f.ONT().String()
	}
	if r := f & nbReserved; r != 0 {
		s += fmt.Sprintf(", reserved 0x%04X", uint16(r))
	}
	return s
}

// NameFlags is the NAME_FLAGS field of a node status entry.
type NameFlags uint16

// Node status name flags (RFC 1002 4.2.18); the owner node type sits in
// the same bits as in NB_FLAGS.
const (
	NameGroup NameFlags = 0x8000 // G: group name
	NameDRG   NameFlags = 0x1000 // being deregistered
	NameCNF   NameFlags = 0x0800 // in conflict
	NameACT   NameFlags = 0x0400 // active; set on every live name
	NamePRM   NameFlags = 0x0200 // the permanent node name

	nameReserved NameFlags = 0x01FF
)

// Group reports whether the G bit is set.
func (f NameFlags) Group() bool { return f&NameGroup != 0 }

// ONT returns the owner node type.
func (f NameFlags) ONT() NodeType { return NodeType(f) & ontMask }

// String formats the flags as nmblookup -A does, e.g. "unique, B-node,
// active".
func (f NameFlags) String() string {
	var sb strings.Builder
	if f.Group() {
		sb.WriteString("group, ")
	} else {
		sb.WriteString("unique, ")
	}
	sb.WriteString(f.ONT().String())
	for _, b := range [...]struct {
		bit  NameFlags
		text string
	}{{NameDRG, "deregistering"}, {NameCNF, "conflict"}, {NameACT, "active"}, {NamePRM, "permanent"}} {
		if f&b.bit != 0 {
			sb.WriteString(", ")
			sb.WriteString(b.text)
		}
	}
	if r := f & nameReserved; r != 0 {
		fmt.Fprintf(&sb, ", reserved 0x%04X", uint16(r))
	}
	return sb.String()
}

// Question is an entry of the question section.
type Question struct {
	Name  Name
	Scope string
	Type  RRType
	Class uint16
}

// String formats the question as Wireshark's summary does.
func (q Question) String() string {
	return fmt.Sprintf("%s %v%s", scoped(q.Name, q.Scope), q.Type, classSuffix(q.Class))
}

// Resource is a resource record of the answer, authority or additional
// section. Data is the raw RDATA and aliases the buffer given to
// ParseNameServicePacket; ParseNBData and ParseNodeStatus interpret it.
type Resource struct {
	Name  Name
	Scope string
	Type  RRType
	Class uint16
	TTL   uint32
	Data  []byte
}

// String formats the record as Wireshark's summary does, with the RDATA
// decoded where the type says how.
func (r Resource) String() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s %v%s, TTL %d", scoped(r.Name, r.Scope), r.Type, classSuffix(r.Class), r.TTL)
	switch r.Type {
	case TypeNB:
		if entries, err := ParseNBData(r.Data); err == nil {
			for _, e := range entries {
				fmt.Fprintf(&sb, ", %v", e)
			}
			return sb.String()
		}
	case TypeNBSTAT:
		if s, err := ParseNodeStatus(r.Data); err == nil {
			fmt.Fprintf(&sb, ", %v", s)
			return sb.String()
		}
	}
	fmt.Fprintf(&sb, ", %d bytes of RDATA", len(r.Data))
	return sb.String()
}

// classSuffix keeps summaries short: IN is the only class anyone sends.
func classSuffix(class uint16) string {
	if class == ClassIN {
		return ""
	}
	return fmt.Sprintf(" class 0x%04X", class)
}

// NameServicePacket is a name service packet (RFC 1002 4.2.1). Flags holds
// the NM_FLAGS bits (FlagAA, FlagTC, FlagRD, FlagRA, FlagB) in their header
// position; Opcode and RCode hold 4-bit values.
//
// RFC 1002 asks that the RR_NAME of a registration, refresh or release
// request be a compression pointer to the question's name, and Windows and
// Samba send C0 0C there. CompressNames asks AppendNameServicePacket to do
// the same: every record whose name and scope equal the first question's
// is written as C0 0C. ParseNameServicePacket sets it when a record's name
// was C0 0C, so a parsed request is re-encoded as it arrived.
type NameServicePacket struct {
	TransactionID uint16
	Response      bool
	Opcode        Opcode
	Flags         uint16
	RCode         RCode

	Questions  []Question
	Answers    []Resource
	Authority  []Resource
	Additional []Resource

	CompressNames bool
}

// HeaderFlags returns the 16-bit word after NAME_TRN_ID (R, OPCODE,
// NM_FLAGS, RCODE), as Wireshark shows it: 0x8500 for an owner's positive
// query response. Out-of-range fields are masked; AppendNameServicePacket
// rejects them instead.
func (p NameServicePacket) HeaderFlags() uint16 {
	w := uint16(p.Opcode&opcodeMax)<<opcodeShift | p.Flags&nmFlagsMask | uint16(p.RCode&rcodeMax)
	if p.Response {
		w |= flagResponse
	}
	return w
}

// String summarises the packet as a protocol analyser would: operation,
// transaction ID, flags, response code and every entry.
func (p NameServicePacket) String() string {
	var sb strings.Builder
	sb.WriteString(p.Opcode.String())
	if p.Response {
		sb.WriteString(" response")
	} else {
		sb.WriteString(" request")
	}
	fmt.Fprintf(&sb, ", ID 0x%04X, flags 0x%04X (%s)", p.TransactionID, p.HeaderFlags(), nmFlagsString(p.Flags))
	if p.Response || p.RCode != RCodeOK {
		fmt.Fprintf(&sb, ", %v", p.RCode)
	}
	for _, q := range p.Questions {
		fmt.Fprintf(&sb, "; question %v", q)
	}
	for _, s := range [...]struct {
		name string
		rrs  []Resource
	}{{"answer", p.Answers}, {"authority", p.Authority}, {"additional", p.Additional}} {
		for _, r := range s.rrs {
			fmt.Fprintf(&sb, "; %s %v", s.name, r)
		}
	}
	return sb.String()
}

func nmFlagsString(f uint16) string {
	var parts []string
	for _, b := range [...]struct {
		bit  uint16
		name string
	}{{FlagAA, "AA"}, {FlagTC, "TC"}, {FlagRD, "RD"}, {FlagRA, "RA"}, {0x0040, "0x0040"}, {0x0020, "0x0020"}, {FlagB, "B"}} {
		if f&b.bit != 0 {
			parts = append(parts, b.name)
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "|")
}

// ParseNameServicePacket parses a name service packet. Names may use
// compression pointers, each of which must point strictly backwards, so a
// walk always ends. Unknown opcodes, record types and classes, and the two
// NM_FLAGS bits RFC 1002 reserves, are returned as they are: answering them
// is the caller's decision. Bytes after the last record are ignored, as
// DNS parsers do. Resource Data aliases b.
func ParseNameServicePacket(b []byte) (NameServicePacket, error) {
	var p NameServicePacket
	if err := ParseNameServicePacketInto(&p, b); err != nil {
		return NameServicePacket{}, err
	}
	return p, nil
}

// ParseNameServicePacketInto is ParseNameServicePacket into *p, reusing
// the storage of p's sections, so that a server parsing every request into
// the same packet allocates nothing (an empty section is then an empty
// slice rather than nil). On error *p holds nothing of b.
func ParseNameServicePacketInto(p *NameServicePacket, b []byte) error {
	qs, an, ns, ar := p.Questions[:0], p.Answers[:0], p.Authority[:0], p.Additional[:0]
	*p = NameServicePacket{Questions: qs, Answers: an, Authority: ns, Additional: ar}
	if err := p.parse(b); err != nil {
		*p = NameServicePacket{Questions: qs, Answers: an, Authority: ns, Additional: ar}
		return err
	}
	return nil
}

// sized returns s with length n, reusing its storage when it is large
// enough; a nil s stays nil for n = 0.
func sized[E any](s []E, n int) []E {
	if n <= cap(s) {
		return s[:n]
	}
	return make([]E, n)
}

func (p *NameServicePacket) parse(b []byte) error {
	if len(b) < nsHeaderLen {
		return nsParseError("header", fmt.Errorf("%d of %d bytes: %w", len(b), nsHeaderLen, ErrShort))
	}
	off := 0
	p.TransactionID, off, _ = unpackUint16(b, off)
	w, off, _ := unpackUint16(b, off)
	p.Response = w&flagResponse != 0
	p.Opcode = Opcode(w >> opcodeShift & opcodeMax)
	p.Flags = w & nmFlagsMask
	p.RCode = RCode(w & rcodeMax)

	var counts [4]int
	for i, field := range [...]string{"QDCOUNT", "ANCOUNT", "NSCOUNT", "ARCOUNT"} {
		var c uint16
		c, off, _ = unpackUint16(b, off)
		if c > MaxSectionCount {
			return nsParseError(field, fmt.Errorf("%d exceeds %d: %w", c, MaxSectionCount, ErrTooMany))
		}
		counts[i] = int(c)
	}
	qd, rrs := counts[0], counts[1]+counts[2]+counts[3]
	if need := nsHeaderLen + qd*minQuestionLen + rrs*minResourceLen; need > len(b) {
		return nsParseError("header", fmt.Errorf("QDCOUNT %d, ANCOUNT %d, NSCOUNT %d, ARCOUNT %d need at least %d bytes, packet has %d: %w",
			counts[0], counts[1], counts[2], counts[3], need, len(b), ErrShort))
	}

	p.Questions = sized(p.Questions, qd)
	for i := range p.Questions {
		q := &p.Questions[i]
		var err error
		if q.Name, q.Scope, off, err = decodeName(b, off, true); err != nil {
			return nsParseError(fmt.Sprintf("question %d QUESTION_NAME", i), err)
		}
		var t uint16
		if t, off, err = unpackUint16(b, off); err != nil {
			return nsParseError(fmt.Sprintf("question %d QUESTION_TYPE", i), err)
		}
		q.Type = RRType(t)
		if q.Class, off, err = unpackUint16(b, off); err != nil {
			return nsParseError(fmt.Sprintf("question %d QUESTION_CLASS", i), err)
		}
	}

	p.Answers = sized(p.Answers, counts[1])
	p.Authority = sized(p.Authority, counts[2])
	p.Additional = sized(p.Additional, counts[3])
	for _, s := range [...]struct {
		name string
		rrs  []Resource
	}{{"answer", p.Answers}, {"authority", p.Authority}, {"additional", p.Additional}} {
		for i := range s.rrs {
			var compressed bool
			var field string
			var err error
			s.rrs[i], off, compressed, field, err = parseResource(b, off)
			if err != nil {
				return nsParseError(fmt.Sprintf("%s %d %s", s.name, i, field), err)
			}
			if compressed && qd > 0 {
				p.CompressNames = true
			}
		}
	}
	return nil
}

// parseResource parses the record at off. compressed reports whether its
// name was exactly the pointer C0 0C; on error field names the culprit.
func parseResource(b []byte, off int) (r Resource, next int, compressed bool, field string, err error) {
	compressed = off >= 0 && off+2 <= len(b) && [2]byte(b[off:off+2]) == compressedQuestion
	if r.Name, r.Scope, off, err = decodeName(b, off, true); err != nil {
		return Resource{}, off, false, "RR_NAME", err
	}
	var t, rdlen uint16
	if t, off, err = unpackUint16(b, off); err != nil {
		return Resource{}, off, false, "RR_TYPE", err
	}
	r.Type = RRType(t)
	if r.Class, off, err = unpackUint16(b, off); err != nil {
		return Resource{}, off, false, "RR_CLASS", err
	}
	if r.TTL, off, err = unpackUint32(b, off); err != nil {
		return Resource{}, off, false, "TTL", err
	}
	if rdlen, off, err = unpackUint16(b, off); err != nil {
		return Resource{}, off, false, "RDLENGTH", err
	}
	if r.Data, off, err = unpackBytes(b, off, int(rdlen)); err != nil {
		return Resource{}, off, false, fmt.Sprintf("RDATA (RDLENGTH %d)", rdlen), err
	}
	return r, off, compressed, "", nil
}

func nsParseError(field string, err error) error {
	return fmt.Errorf("netbios: parsing name service packet: %s: %w", field, err)
}

func nsBuildError(field string, err error) error {
	return fmt.Errorf("netbios: building name service packet: %s: %w", field, err)
}

// check finds everything AppendNameServicePacket cannot encode, so that
// the writing itself cannot fail half-way.
func (p NameServicePacket) check() error {
	if p.Opcode > opcodeMax {
		return nsBuildError("OPCODE", fmt.Errorf("%d does not fit in 4 bits: %w", p.Opcode, ErrBadFlags))
	}
	if p.RCode > rcodeMax {
		return nsBuildError("RCODE", fmt.Errorf("%d does not fit in 4 bits: %w", p.RCode, ErrBadFlags))
	}
	if p.Flags&^nmFlagsMask != 0 {
		return nsBuildError("NM_FLAGS", fmt.Errorf("0x%04X has bits outside 0x%04X: %w", p.Flags, nmFlagsMask, ErrBadFlags))
	}
	for _, s := range [...]struct {
		field string
		n     int
	}{{"QDCOUNT", len(p.Questions)}, {"ANCOUNT", len(p.Answers)}, {"NSCOUNT", len(p.Authority)}, {"ARCOUNT", len(p.Additional)}} {
		if s.n > MaxSectionCount {
			return nsBuildError(s.field, fmt.Errorf("%d entries, more than %d: %w", s.n, MaxSectionCount, ErrTooMany))
		}
	}
	for i, q := range p.Questions {
		if err := checkScope(q.Scope); err != nil {
			return nsBuildError(fmt.Sprintf("question %d QUESTION_NAME", i), err)
		}
	}
	for _, s := range [...]struct {
		name string
		rrs  []Resource
	}{{"answer", p.Answers}, {"authority", p.Authority}, {"additional", p.Additional}} {
		for i, r := range s.rrs {
			if err := checkScope(r.Scope); err != nil {
				return nsBuildError(fmt.Sprintf("%s %d RR_NAME", s.name, i), err)
			}
			if len(r.Data) > maxRDLength {
				return nsBuildError(fmt.Sprintf("%s %d RDATA", s.name, i), fmt.Errorf("%d bytes, more than %d: %w", len(r.Data), maxRDLength, ErrTooLong))
			}
		}
	}
	return nil
}

// AppendNameServicePacket appends p in wire form. Names are written in
// full, except that with CompressNames set a record named like the first
// question is written as the pointer C0 0C. On error b is returned
// unchanged.
func AppendNameServicePacket(b []byte, p NameServicePacket) ([]byte, error) {
	if err := p.check(); err != nil {
		return b, err
	}
	be := binary.BigEndian
	b = be.AppendUint16(b, p.TransactionID)
	b = be.AppendUint16(b, p.HeaderFlags())
	b = be.AppendUint16(b, uint16(len(p.Questions)))
	b = be.AppendUint16(b, uint16(len(p.Answers)))
	b = be.AppendUint16(b, uint16(len(p.Authority)))
	b = be.AppendUint16(b, uint16(len(p.Additional)))
	for _, q := range p.Questions {
		b, _ = AppendEncodedName(b, q.Name, q.Scope)
		b = be.AppendUint16(b, uint16(q.Type))
		b = be.AppendUint16(b, q.Class)
	}
	for _, rrs := range [...][]Resource{p.Answers, p.Authority, p.Additional} {
		for _, r := range rrs {
			if p.CompressNames && len(p.Questions) > 0 && r.Name == p.Questions[0].Name && r.Scope == p.Questions[0].Scope {
				b = append(b, compressedQuestion[:]...)
			} else {
				b, _ = AppendEncodedName(b, r.Name, r.Scope)
			}
			b = be.AppendUint16(b, uint16(r.Type))
			b = be.AppendUint16(b, r.Class)
			b = be.AppendUint32(b, r.TTL)
			b = be.AppendUint16(b, uint16(len(r.Data)))
			b = append(b, r.Data...)
		}
	}
	return b, nil
}

// nbEntryLen is one NB RDATA entry: NB_FLAGS and NB_ADDRESS.
const nbEntryLen = 6

// MaxNBEntries bounds the entries ParseNBData returns and AppendNBData
// writes. A WINS answer for a domain's <1C> group lists at most 25
// addresses; 128 entries (768 bytes) exceed any 576-byte NBNS datagram.
const MaxNBEntries = 128

// NBEntry is one entry of NB RDATA: who owns the name, and how.
type NBEntry struct {
	Flags NBFlags
	Addr  netip.Addr // IPv4
}

// String formats the entry as "unique, B-node 192.168.1.20".
func (e NBEntry) String() string {
	return fmt.Sprintf("%v %v", e.Flags, e.Addr)
}

// ParseNBData parses the RDATA of an NB record: one or more 6-byte
// entries. Reserved NB_FLAGS bits are kept as they came.
func ParseNBData(rdata []byte) ([]NBEntry, error) {
	n := len(rdata) / nbEntryLen
	switch {
	case len(rdata) == 0:
		return nil, fmt.Errorf("netbios: parsing NB RDATA: no entries: %w", ErrShort)
	case len(rdata)%nbEntryLen != 0:
		return nil, fmt.Errorf("netbios: parsing NB RDATA: %d bytes is not a whole number of %d-byte entries: %w", len(rdata), nbEntryLen, ErrLengthMismatch)
	case n > MaxNBEntries:
		return nil, fmt.Errorf("netbios: parsing NB RDATA: %d entries, more than %d: %w", n, MaxNBEntries, ErrTooMany)
	}
	entries := make([]NBEntry, n)
	for i := range entries {
		off := i * nbEntryLen
		f, off, _ := unpackUint16(rdata, off)
		a, _, _ := unpackBytes(rdata, off, 4)
		entries[i] = NBEntry{Flags: NBFlags(f), Addr: netip.AddrFrom4([4]byte(a))}
	}
	return entries, nil
}

// AppendNBData appends entries as NB RDATA. Addresses must be IPv4 or
// IPv4-mapped IPv6. On error b is returned unchanged.
func AppendNBData(b []byte, entries []NBEntry) ([]byte, error) {
	if len(entries) == 0 {
		return b, fmt.Errorf("netbios: building NB RDATA: no entries: %w", ErrShort)
	}
	if len(entries) > MaxNBEntries {
		return b, fmt.Errorf("netbios: building NB RDATA: %d entries, more than %d: %w", len(entries), MaxNBEntries, ErrTooMany)
	}
	for i, e := range entries {
		if !e.Addr.Unmap().Is4() {
			return b, fmt.Errorf("netbios: building NB RDATA: entry %d NB_ADDRESS %v: %w", i, e.Addr, ErrBadAddress)
		}
	}
	for _, e := range entries {
		a := e.Addr.Unmap().As4()
		b = binary.BigEndian.AppendUint16(b, uint16(e.Flags))
		b = append(b, a[:]...)
	}
	return b, nil
}

// Node status RDATA layout (RFC 1002 4.2.18).
const (
	nodeNameLen   = NameLen + 2 // raw name, NAME_FLAGS
	statisticsLen = 46
	maxNodeNames  = 0xFF // NUM_NAMES is one byte
)

// NodeName is one entry of a node status response's NODE_NAME array. The
// name is the raw 16 bytes, not encoded.
type NodeName struct {
	Name  Name
	Flags NameFlags
}

// String formats the entry as nmblookup -A does, "BOB<03> unique, B-node,
// active".
func (n NodeName) String() string {
	return fmt.Sprintf("%v %v", n.Name, n.Flags)
}

// Statistics is the STATISTICS block that ends a node status response
// (RFC 1002 4.2.18). Only UnitID, the MAC address, means anything today;
// nmbd sends all 46 bytes as zeros.
type Statistics struct {
	UnitID                      [6]byte
	Jumpers                     uint8
	TestResult                  uint8
	VersionNumber               uint16
	PeriodOfStatistics          uint16
	NumberOfCRCs                uint16
	NumberAlignmentErrors       uint16
	NumberOfCollisions          uint16
	NumberSendAborts            uint16
	NumberGoodSends             uint32
	NumberGoodReceives          uint32
	NumberRetransmits           uint16
	NumberNoResourceConditions  uint16
	NumberFreeCommandBlocks     uint16
	TotalNumberCommandBlocks    uint16
	MaxTotalNumberCommandBlocks uint16
	NumberPendingSessions       uint16
	MaxNumberPendingSessions    uint16
	MaxTotalSessionsPossible    uint16
	SessionDataPacketSize       uint16
}

// NodeStatus is the RDATA of a node status response: the names the node
// holds and its statistics.
type NodeStatus struct {
	Names      []NodeName
	Statistics Statistics
}

// String formats the name table and MAC address as nbtstat -A does.
func (s NodeStatus) String() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%d names", len(s.Names))
	for i, n := range s.Names {
		if i == 0 {
			sb.WriteString(": ")
		} else {
			sb.WriteString("; ")
		}
		sb.WriteString(n.String())
	}
	u := s.Statistics.UnitID
	fmt.Fprintf(&sb, "; MAC %02x:%02x:%02x:%02x:%02x:%02x", u[0], u[1], u[2], u[3], u[4], u[5])
	return sb.String()
}

// ParseNodeStatus parses the RDATA of a node status response. NUM_NAMES
// and every name it announces must be present. The STATISTICS block may be
// short or missing, and what is missing reads as zero: the name list is
// what a sender needs (Windows' net send to an address picks the <03> name
// from it), the statistics are informational, and rejecting a whole answer
// over a truncated trailer would help nobody. Bytes after the 46 of
// STATISTICS are ignored for the same reason.
func ParseNodeStatus(rdata []byte) (NodeStatus, error) {
	num, off, err := unpackUint8(rdata, 0)
	if err != nil {
		return NodeStatus{}, fmt.Errorf("netbios: parsing node status: NUM_NAMES: %w", err)
	}
	if need := 1 + int(num)*nodeNameLen; need > len(rdata) {
		return NodeStatus{}, fmt.Errorf("netbios: parsing node status: NUM_NAMES %d needs %d bytes, RDATA has %d: %w", num, need, len(rdata), ErrShort)
	}
	var s NodeStatus
	if num > 0 {
		s.Names = make([]NodeName, num)
	}
	for i := range s.Names {
		raw, next, _ := unpackBytes(rdata, off, NameLen)
		f, next, _ := unpackUint16(rdata, next)
		s.Names[i] = NodeName{Name: NameFromBytes([NameLen]byte(raw)), Flags: NameFlags(f)}
		off = next
	}
	var st [statisticsLen]byte
	copy(st[:], rdata[off:])
	s.Statistics = decodeStatistics(&st)
	return s, nil
}

func decodeStatistics(b *[statisticsLen]byte) Statistics {
	be := binary.BigEndian
	var s Statistics
	copy(s.UnitID[:], b[0:6])
	s.Jumpers, s.TestResult = b[6], b[7]
	s.VersionNumber = be.Uint16(b[8:])
	s.PeriodOfStatistics = be.Uint16(b[10:])
	s.NumberOfCRCs = be.Uint16(b[12:])
	s.NumberAlignmentErrors = be.Uint16(b[14:])
	s.NumberOfCollisions = be.Uint16(b[16:])
	s.NumberSendAborts = be.Uint16(b[18:])
	s.NumberGoodSends = be.Uint32(b[20:])
	s.NumberGoodReceives = be.Uint32(b[24:])
	s.NumberRetransmits = be.Uint16(b[28:])
	s.NumberNoResourceConditions = be.Uint16(b[30:])
	s.NumberFreeCommandBlocks = be.Uint16(b[32:])
	s.TotalNumberCommandBlocks = be.Uint16(b[34:])
	s.MaxTotalNumberCommandBlocks = be.Uint16(b[36:])
	s.NumberPendingSessions = be.Uint16(b[38:])
	s.MaxNumberPendingSessions = be.Uint16(b[40:])
	s.MaxTotalSessionsPossible = be.Uint16(b[42:])
	s.SessionDataPacketSize = be.Uint16(b[44:])
	return s
}

func appendStatistics(b []byte, s Statistics) []byte {
	be := binary.BigEndian
	b = append(b, s.UnitID[:]...)
	b = append(b, s.Jumpers, s.TestResult)
	for _, v := range [...]uint16{s.VersionNumber, s.PeriodOfStatistics, s.NumberOfCRCs, s.NumberAlignmentErrors, s.NumberOfCollisions, s.NumberSendAborts} {
		b = be.AppendUint16(b, v)
	}
	b = be.AppendUint32(b, s.NumberGoodSends)
	b = be.AppendUint32(b, s.NumberGoodReceives)
	for _, v := range [...]uint16{s.NumberRetransmits, s.NumberNoResourceConditions, s.NumberFreeCommandBlocks, s.TotalNumberCommandBlocks,
		s.MaxTotalNumberCommandBlocks, s.NumberPendingSessions, s.MaxNumberPendingSessions, s.MaxTotalSessionsPossible, s.SessionDataPacketSize} {
		b = be.AppendUint16(b, v)
	}
	return b
}

// AppendNodeStatus appends s as node status RDATA, always with the full
// 46-byte STATISTICS block. On error b is returned unchanged.
func AppendNodeStatus(b []byte, s NodeStatus) ([]byte, error) {
	if len(s.Names) > maxNodeNames {
		return b, fmt.Errorf("netbios: building node status: %d names, more than NUM_NAMES can count (%d): %w", len(s.Names), maxNodeNames, ErrTooMany)
	}
	b = append(b, byte(len(s.Names)))
	for _, n := range s.Names {
		raw := n.Name.Bytes()
		b = append(b, raw[:]...)
		b = binary.BigEndian.AppendUint16(b, uint16(n.Flags))
	}
	return appendStatistics(b, s.Statistics), nil
}

// Builders. Each returns the packet a messenger sends in one situation,
// with the header flags RFC 1002 and the peers use; the caller appends it
// with AppendNameServicePacket, and may adjust fields first. id is the
// NAME_TRN_ID: a request's own, or the one of the request being answered.

// NameQueryRequest is a NAME QUERY REQUEST (RFC 1002 4.2.12): flags 0x0110
// (RD|B) for the broadcast query of a B-node or of an H-node falling back,
// 0x0100 (RD) for a unicast query to a WINS server.
func NameQueryRequest(id uint16, name Name, scope string, broadcast, recursion bool) NameServicePacket {
	var flags uint16
	if recursion {
		flags |= FlagRD
	}
	if broadcast {
		flags |= FlagB
	}
	return NameServicePacket{
		TransactionID: id,
		Opcode:        OpcodeQuery,
		Flags:         flags,
		Questions:     []Question{{Name: name, Scope: scope, Type: TypeNB, Class: ClassIN}},
	}
}

// PositiveNameQueryResponse is a POSITIVE NAME QUERY RESPONSE (RFC 1002
// 4.2.13): flags 0x8500 (R|AA|RD) when the owner answers a broadcast query,
// 0x8580 (RA added) when fromNBNS. entries is who holds the name.
func PositiveNameQueryResponse(id uint16, name Name, scope string, ttl uint32, entries []NBEntry, fromNBNS bool) (NameServicePacket, error) {
	data, err := AppendNBData(nil, entries)
	if err != nil {
		return NameServicePacket{}, err
	}
	flags := FlagAA | FlagRD
	if fromNBNS {
		flags |= FlagRA
	}
	return NameServicePacket{
		TransactionID: id,
		Response:      true,
		Opcode:        OpcodeQuery,
		Flags:         flags,
		Answers:       []Resource{{Name: name, Scope: scope, Type: TypeNB, Class: ClassIN, TTL: ttl, Data: data}},
	}, nil
}

// NegativeNameQueryResponse is a NEGATIVE NAME QUERY RESPONSE (RFC 1002
// 4.2.14), which only an NBNS sends (nobody answers a broadcast query for
// a name that does not exist): flags 0x8580 plus rcode, 0x8583 for
// NAM_ERR. The answer is RFC 1002's NULL record with TTL 0 and no RDATA,
// as nmbd sends it.
func NegativeNameQueryResponse(id uint16, name Name, scope string, rcode RCode) NameServicePacket {
	return NameServicePacket{
		TransactionID: id,
		Response:      true,
		Opcode:        OpcodeQuery,
		Flags:         FlagAA | FlagRD | FlagRA,
		RCode:         rcode,
		Answers:       []Resource{{Name: name, Scope: scope, Type: TypeNULL, Class: ClassIN, Data: []byte{}}},
	}
}

// NodeStatusRequest is a NODE STATUS REQUEST (RFC 1002 4.2.17) for the
// wildcard name *<00>, as nbtstat -A and nmblookup -A send it: flags
// 0x0000, unicast to the node.
func NodeStatusRequest(id uint16, scope string) NameServicePacket {
	return NameServicePacket{
		TransactionID: id,
		Opcode:        OpcodeQuery,
		Questions:     []Question{{Name: WildcardName(), Scope: scope, Type: TypeNBSTAT, Class: ClassIN}},
	}
}

// NodeStatusResponse is a NODE STATUS RESPONSE (RFC 1002 4.2.18): flags
// 0x8400 (R|AA), one NBSTAT answer named like the question (queried, the
// wildcard in practice) with TTL 0.
func NodeStatusResponse(id uint16, queried Name, scope string, s NodeStatus) (NameServicePacket, error) {
	data, err := AppendNodeStatus(nil, s)
	if err != nil {
		return NameServicePacket{}, err
	}
	return NameServicePacket{
		TransactionID: id,
		Response:      true,
		Opcode:        OpcodeQuery,
		Flags:         FlagAA,
		Answers:       []Resource{{Name: queried, Scope: scope, Type: TypeNBSTAT, Class: ClassIN, Data: data}},
	}, nil
}

// nbResource is the NB record of one entry that registration, release,
// refresh and their responses carry.
func nbResource(name Name, scope string, ttl uint32, entry NBEntry) (Resource, error) {
	var one [1]NBEntry
	one[0] = entry
	data, err := AppendNBData(make([]byte, 0, nbEntryLen), one[:])
	if err != nil {
		return Resource{}, err
	}
	return Resource{Name: name, Scope: scope, Type: TypeNB, Class: ClassIN, TTL: ttl, Data: data}, nil
}

// nbRequest is the shape shared by registration, overwrite, release and
// refresh requests: the name as a question and, in the additional section,
// the NB record claiming it, named by the pointer C0 0C.
func nbRequest(id uint16, op Opcode, flags uint16, name Name, scope string, ttl uint32, entry NBEntry) (NameServicePacket, error) {
	rr, err := nbResource(name, scope, ttl, entry)
	if err != nil {
		return NameServicePacket{}, err
	}
	return NameServicePacket{
		TransactionID: id,
		Opcode:        op,
		Flags:         flags,
		Questions:     []Question{{Name: name, Scope: scope, Type: TypeNB, Class: ClassIN}},
		Additional:    []Resource{rr},
		CompressNames: true,
	}, nil
}

// NameRegistrationRequest is a NAME REGISTRATION REQUEST (RFC 1002 4.2.2):
// flags 0x2910 (RD|B) when broadcast by a B-node, 0x2900 (RD) to a WINS
// server. entry carries NBGroup for a group name and the node's own
// address.
func NameRegistrationRequest(id uint16, name Name, scope string, ttl uint32, entry NBEntry, broadcast bool) (NameServicePacket, error) {
	flags := FlagRD
	if broadcast {
		flags |= FlagB
	}
	return nbRequest(id, OpcodeRegistration, flags, name, scope, ttl, entry)
}

// NameOverwriteDemand is the NAME OVERWRITE REQUEST & DEMAND (RFC 1002
// 4.2.5) a B-node broadcasts once its registration requests drew no
// objection: flags 0x2810 (B, RD clear).
func NameOverwriteDemand(id uint16, name Name, scope string, ttl uint32, entry NBEntry) (NameServicePacket, error) {
	return nbRequest(id, OpcodeRegistration, FlagB, name, scope, ttl, entry)
}

// PositiveRegistrationResponse is a POSITIVE NAME REGISTRATION RESPONSE
// (RFC 1002 4.2.5), what an NBNS grants: flags 0xAD80 (R|AA|RD|RA), ttl
// the time the registration is valid.
func PositiveRegistrationResponse(id uint16, name Name, scope string, ttl uint32, entry NBEntry) (NameServicePacket, error) {
	rr, err := nbResource(name, scope, ttl, entry)
	if err != nil {
		return NameServicePacket{}, err
	}
	return NameServicePacket{
		TransactionID: id,
		Response:      true,
		Opcode:        OpcodeRegistration,
		Flags:         FlagAA | FlagRD | FlagRA,
		Answers:       []Resource{rr},
	}, nil
}

// NegativeRegistrationResponse is a NEGATIVE NAME REGISTRATION RESPONSE
// (RFC 1002 4.2.6): flags 0xAD80 plus rcode, 0xAD86 for ACT_ERR, the answer
// a unique name's owner unicasts to defend it. The record has TTL 0 and
// entry as RDATA; nmbd puts the requester's own entry there
// (docs/protocols/peers.md, "nmbd in network namespaces"), and RFC 1002
// leaves it open.
func NegativeRegistrationResponse(id uint16, name Name, scope string, rcode RCode, entry NBEntry) (NameServicePacket, error) {
	rr, err := nbResource(name, scope, 0, entry)
	if err != nil {
		return NameServicePacket{}, err
	}
	return NameServicePacket{
		TransactionID: id,
		Response:      true,
		Opcode:        OpcodeRegistration,
		Flags:         FlagAA | FlagRD | FlagRA,
		RCode:         rcode,
		Answers:       []Resource{rr},
	}, nil
}

// NameReleaseRequest is a NAME RELEASE REQUEST & DEMAND (RFC 1002 4.2.9),
// sent when an alias is deleted or the service stops: flags 0x3010 (B)
// broadcast, 0x3000 to a WINS server; TTL 0.
func NameReleaseRequest(id uint16, name Name, scope string, entry NBEntry, broadcast bool) (NameServicePacket, error) {
	var flags uint16
	if broadcast {
		flags = FlagB
	}
	return nbRequest(id, OpcodeRelease, flags, name, scope, 0, entry)
}

// NameRefreshRequest is a NAME REFRESH REQUEST (RFC 1002 4.2.4), sent only
// unicast to a WINS server before the registration's TTL runs out. It uses
// opcode 8 with RD, flags 0x4100, as nmbd does; RFC 1002's diagram shows
// RD clear, and some Microsoft stacks use opcode 9 instead.
func NameRefreshRequest(id uint16, name Name, scope string, ttl uint32, entry NBEntry) (NameServicePacket, error) {
	return nbRequest(id, OpcodeRefresh, FlagRD, name, scope, ttl, entry)
}

// WACKResponse is a WAIT FOR ACKNOWLEDGEMENT RESPONSE (RFC 1002 4.2.16),
// with which an NBNS asks a registrant to wait seconds more: flags 0xBC00
// (R|AA). requestFlags is the HeaderFlags of the request being
// acknowledged; its R and RCODE bits are cleared, leaving the OPCODE and
// NM_FLAGS the RFC asks for in the 2-byte RDATA. The record type is NB
// (0x0020): RFC 1002's diagram labels it "NULL (0x0020)", Wireshark decodes
// the RDATA as request flags only under NB, and nmbd sends NULL (0x000A)
// instead, so a client must accept either.
func WACKResponse(id uint16, name Name, scope string, wait uint32, requestFlags uint16) NameServicePacket {
	var data [2]byte
	binary.BigEndian.PutUint16(data[:], requestFlags&^(flagResponse|rcodeMax))
	return NameServicePacket{
		TransactionID: id,
		Response:      true,
		Opcode:        OpcodeWACK,
		Flags:         FlagAA,
		Answers:       []Resource{{Name: name, Scope: scope, Type: TypeNB, Class: ClassIN, TTL: wait, Data: data[:]}},
	}
}
