//go:build linux

package kfilter

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"
)

// Filter is the kernel map of sources to drop and the two programs that
// consult it: one for the first socket of a SO_REUSEPORT group, and one
// for the others, which also drops what is not addressed to this host
// alone (a broadcast reaches every socket of the group, and one copy is
// enough).
type Filter struct {
	*table
	m             *ebpf.Map
	first, others *ebpf.Program
}

// New loads the map, of room for maxSources sources, and the programs.
// It fails where eBPF is not allowed.
func New(maxSources int) (*Filter, error) {
	// Kernels before 5.11 charge maps to RLIMIT_MEMLOCK; later ones to
	// the cgroup, and this is a no-op.
	_ = rlimit.RemoveMemlock()
	// Not preallocated: a flood from a few sources should not cost the
	// kernel memory of maxSources.
	m, err := ebpf.NewMap(&ebpf.MapSpec{Name: "msgr_blocked", Type: ebpf.Hash, KeySize: 16, ValueSize: 8,
		MaxEntries: uint32(maxSources), Flags: unix.BPF_F_NO_PREALLOC})
	if errors.Is(err, unix.EPERM) {
		// Not cilium's guess (a low RLIMIT_MEMLOCK): on the kernels that
		// guess is for, root has no such limit worth the name.
		return nil, fmt.Errorf("kernel filter: creating the map: %w (loading eBPF needs CAP_BPF, or root on kernels before 5.8)", unix.EPERM)
	}
	if err != nil {
		return nil, fmt.Errorf("kernel filter: creating the map: %w", err)
	}
	f := &Filter{m: m}
	f.table = newTable(bpfMap{m}, maxSources)
	if f.first, err = load(m, false); err == nil {
		f.others, err = load(m, true)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("kernel filter: loading the program: %w", err)
	}
	return f, nil
}

func load(m *ebpf.Map, hostOnly bool) (*ebpf.Program, error) {
	return ebpf.NewProgram(&ebpf.ProgramSpec{Name: "msgr_filter", Type: ebpf.SocketFilter, License: "MIT", Instructions: program(m.FD(), hostOnly)})
}

// Offsets in struct __sk_buff, and the arguments of
// bpf_skb_load_bytes_relative.
const (
	skbLen        = 0
	skbPktType    = 4
	packetHost    = 0 // PACKET_HOST
	hdrStartNet   = 1 // BPF_HDR_START_NET
	ipv4SrcOffset = 12
	ipv6SrcOffset = 8
)

// program is the socket filter: the source address of the IP header,
// as a 16-byte key on the stack (fp-16), looked up in the map; a hit adds
// one to the source's count and drops the datagram (returns 0), anything
// else keeps it whole (returns its length).
func program(mapFD int, hostOnly bool) asm.Instructions {
	loadBytes := func(off, to, n int32) asm.Instructions {
		return asm.Instructions{
			asm.Mov.Reg(asm.R1, asm.R6),
			asm.Mov.Imm(asm.R2, off),
			asm.Mov.Reg(asm.R3, asm.RFP),
			asm.Add.Imm(asm.R3, to),
			asm.Mov.Imm(asm.R4, n),
			asm.Mov.Imm(asm.R5, hdrStartNet),
			asm.FnSkbLoadBytesRelative.Call(),
			asm.JNE.Imm(asm.R0, 0, "accept"),
		}
	}
	p := asm.Instructions{asm.Mov.Reg(asm.R6, asm.R1)}
	if hostOnly {
		p = append(p,
			asm.LoadMem(asm.R0, asm.R6, skbPktType, asm.Word),
			asm.JNE.Imm(asm.R0, packetHost, "drop"),
		)
	}
	p = append(p,
		asm.Mov.Imm(asm.R0, 0),
		asm.StoreMem(asm.RFP, -16, asm.R0, asm.DWord),
		asm.StoreMem(asm.RFP, -8, asm.R0, asm.DWord),
	)
	// The version nibble of the first byte of the IP header.
	p = append(p, loadBytes(0, -24, 1)...)
	p = append(p,
		asm.LoadMem(asm.R0, asm.RFP, -24, asm.Byte),
		asm.RSh.Imm(asm.R0, 4),
		asm.JEq.Imm(asm.R0, 6, "ipv6"),
		asm.JNE.Imm(asm.R0, 4, "accept"),
		// IPv4: ::ffff:a.b.c.d.
		asm.Mov.Imm(asm.R0, 0xffff),
		asm.StoreMem(asm.RFP, -6, asm.R0, asm.Half),
	)
	p = append(p, loadBytes(ipv4SrcOffset, -4, 4)...)
	p = append(p, asm.Ja.Label("lookup"))
	v6 := loadBytes(ipv6SrcOffset, -16, 16)
	v6[0] = v6[0].WithSymbol("ipv6")
	p = append(p, v6...)
	p = append(p,
		asm.LoadMapPtr(asm.R1, mapFD).WithSymbol("lookup"),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, -16),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, "accept"),
		asm.Mov.Imm(asm.R1, 1),
		asm.StoreXAdd(asm.R0, asm.R1, asm.DWord),
		asm.Mov.Imm(asm.R0, 0).WithSymbol("drop"),
		asm.Return(),
		asm.LoadMem(asm.R0, asm.R6, skbLen, asm.Word).WithSymbol("accept"),
		asm.Return(),
	)
	return p
}

// Attach puts the filter on the sockets of one SO_REUSEPORT group (or on
// one socket): the first takes everything not blocked, the others only
// what is addressed to this host alone.
func (f *Filter) Attach(conns []*net.UDPConn) error {
	for i, c := range conns {
		p := f.first
		if i > 0 {
			p = f.others
		}
		if err := link.AttachSocketFilter(c, p); err != nil {
			return fmt.Errorf("kernel filter: attaching to %v: %w", c.LocalAddr(), err)
		}
	}
	return nil
}

// Check reads the map through its file descriptor, as Block and Sweep
// do. On kernels before about 5.19 with kernel.unprivileged_bpf_disabled
// set, every bpf(2) command needs CAP_BPF, not only the loads: there
// Check fails once CAP_BPF is no longer effective, and the daemon keeps
// it.
func (f *Filter) Check() error {
	var n uint64
	err := f.m.Lookup([16]byte{}, &n)
	if err == nil || errors.Is(err, ebpf.ErrKeyNotExist) {
		return nil
	}
	return fmt.Errorf("kernel filter: reading the map: %w", err)
}

// Close releases the programs and the map; attached sockets keep the
// programs until they close.
func (f *Filter) Close() error {
	var errs []error
	if f.first != nil {
		errs = append(errs, f.first.Close())
	}
	if f.others != nil {
		errs = append(errs, f.others.Close())
	}
	errs = append(errs, f.m.Close())
	return errors.Join(errs...)
}

// bpfMap is the kernel map as the table uses it.
type bpfMap struct{ m *ebpf.Map }

func (b bpfMap) put(a netip.Addr) error {
	k := key(a)
	return b.m.Update(k, uint64(0), ebpf.UpdateNoExist)
}

func (b bpfMap) drops(a netip.Addr) (uint64, bool) {
	k := key(a)
	var n uint64
	if err := b.m.Lookup(k, &n); err != nil {
		return 0, false
	}
	return n, true
}

func (b bpfMap) remove(a netip.Addr) {
	k := key(a)
	_ = b.m.Delete(k)
}
