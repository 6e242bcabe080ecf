package firewall

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"testing"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/xt"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

func msgName(t netlink.HeaderType) string {
	switch int(t) {
	case unix.NFNL_MSG_BATCH_BEGIN:
		return "batch-begin"
	case unix.NFNL_MSG_BATCH_END:
		return "batch-end"
	}
	names := map[int]string{
		unix.NFT_MSG_NEWTABLE: "newtable", unix.NFT_MSG_DELTABLE: "deltable",
		unix.NFT_MSG_NEWSET: "newset", unix.NFT_MSG_NEWSETELEM: "newsetelem",
		unix.NFT_MSG_NEWCHAIN: "newchain", unix.NFT_MSG_NEWRULE: "newrule",
	}
	if int(t)>>8 == unix.NFNL_SUBSYS_NFTABLES {
		if n, ok := names[int(t)&0xff]; ok {
			return n
		}
	}
	return fmt.Sprintf("type%#x", int(t))
}

// TestApplyIsOneBatch checks that everything Apply changes goes to the
// kernel in one send, framed as one nfnetlink batch, in the order that
// makes it idempotent: add, delete, add the table, then its contents.
func TestApplyIsOneBatch(t *testing.T) {
	r, err := Build(Options{Allow: prefixes(t, "10.99.5.2/32")})
	if err != nil {
		t.Fatal(err)
	}
	var sends [][]string
	c, err := nftables.New(nftables.WithTestDial(func(req []netlink.Message) ([]netlink.Message, error) {
		var names []string
		for _, m := range req {
			names = append(names, msgName(m.Header.Type))
		}
		sends = append(sends, names)
		return req, nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	if err := queueRuleset(c, r); err != nil {
		t.Fatal(err)
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	want := []string{"batch-begin", "newtable", "deltable", "newtable",
		"newset", "newsetelem", // allow4 and its elements
		"newset",               // allow6, empty
		"newset", "newsetelem", // udp ports
		"newset", "newsetelem", // tcp ports
		"newchain",
		"newrule", "newrule", "newrule", "newrule", "newrule", "newrule",
		"batch-end"}
	if len(sends) < 1 || fmt.Sprint(sends[0]) != fmt.Sprint(want) {
		t.Fatalf("first send %v\nwant %v", sends, want)
	}
	if len(sends) > 1 {
		for _, s := range sends[1:] {
			for _, n := range s {
				if n != "batch-begin" && n != "batch-end" && n[:4] == "new" {
					t.Errorf("a change went out after the batch: %v", sends)
				}
			}
		}
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		err  error
		want error
	}{
		{&netlink.OpError{Op: "receive", Err: syscall.EPERM}, ErrPermission},
		{fmt.Errorf("conn.Receive: %w", errors.Join(&netlink.OpError{Op: "receive", Err: os.ErrPermission})), ErrPermission},
		{&netlink.OpError{Op: "dial", Err: syscall.EPROTONOSUPPORT}, ErrUnavailable},
		{&netlink.OpError{Op: "receive", Err: syscall.EOPNOTSUPP}, ErrUnavailable},
	}
	for _, tt := range tests {
		got := classify("applying", tt.err)
		if !errors.Is(got, tt.want) {
			t.Errorf("classify(%v) = %v, want %v", tt.err, got, tt.want)
		}
		if !errors.Is(got, tt.err) {
			t.Errorf("classify(%v) lost the cause", tt.err)
		}
	}
	if err := classify("x", syscall.EINVAL); errors.Is(err, ErrPermission) || errors.Is(err, ErrUnavailable) {
		t.Errorf("EINVAL classified as %v", err)
	}
	if err := classifyList(&netlink.OpError{Op: "receive", Err: syscall.EINVAL}); !errors.Is(err, ErrUnavailable) {
		t.Errorf("EINVAL from a table dump classified as %v", err)
	}
	if err := classifyList(&netlink.OpError{Op: "receive", Err: syscall.EPERM}); !errors.Is(err, ErrPermission) {
		t.Errorf("EPERM from a table dump classified as %v", err)
	}
}

func TestMentionsOf(t *testing.T) {
	dport := &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2}
	l4 := func(p byte) []expr.Any {
		return []expr.Any{
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{p}},
		}
	}
	cat := func(parts ...[]expr.Any) []expr.Any {
		var out []expr.Any
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	drop := []expr.Any{&expr.Verdict{Kind: expr.VerdictDrop}}
	sets := map[string][]portRange{"netbios": {{137, 139}}, "web": {{80, 80}, {443, 443}}}
	tests := []struct {
		name  string
		exprs []expr.Any
		want  string
	}{
		{"tcp dport 139 drop", cat(l4(unix.IPPROTO_TCP), []expr.Any{dport, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{0, 139}}}, drop),
			"[{tcp 139  false drop}]"},
		{"udp dport 130-140 reject", cat(l4(unix.IPPROTO_UDP), []expr.Any{dport, &expr.Range{Op: expr.CmpOpEq, Register: 1, FromData: []byte{0, 130}, ToData: []byte{0, 140}}, &expr.Reject{}}),
			"[{udp 135  false reject} {udp 137  false reject} {udp 138  false reject}]"},
		{"th dport @netbios accept", []expr.Any{dport, &expr.Lookup{SourceRegister: 1, SetName: "netbios"}, &expr.Verdict{Kind: expr.VerdictAccept}},
			"[{udp 137  false accept} {udp 138  false accept} {tcp 139  false accept}]"},
		{"tcp dport @web drop", cat(l4(unix.IPPROTO_TCP), []expr.Any{dport, &expr.Lookup{SourceRegister: 1, SetName: "web"}}, drop),
			"[]"},
		{"tcp dport != 139 drop", cat(l4(unix.IPPROTO_TCP), []expr.Any{dport, &expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte{0, 139}}}, drop),
			"[]"},
		{"iptables -p tcp --dport 445 -j DROP", cat([]expr.Any{
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 9, Len: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_TCP}},
			&expr.Match{Name: "tcp", Info: &xt.Tcp{DstPorts: [2]uint16{445, 445}}},
		}, drop), "[{tcp 445  false drop}]"},
		{"no port at all", cat(l4(unix.IPPROTO_TCP), drop), "[]"},
		{"ip saddr 10.0.0.1 drop", []expr.Any{
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{10, 0, 0, 1}},
			&expr.Verdict{Kind: expr.VerdictDrop},
		}, "[]"},
	}
	for _, tt := range tests {
		got := fmt.Sprint(mentionsOf(tt.exprs, sets))
		if got == "[]" && tt.want == "[]" {
			continue
		}
		if got != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, got, tt.want)
		}
	}
}

func TestPortRangesFromElements(t *testing.T) {
	// nft lists "tcp dport { 135-139, 445 }" as an interval set with an
	// end past each range and a leading end at 0.
	elems := []intervalKey{
		{[]byte{0x01, 0xbe}, true}, {[]byte{0x01, 0xbd}, false},
		{[]byte{0, 140}, true}, {[]byte{0, 135}, false},
		{[]byte{0, 0}, true},
	}
	got := fmt.Sprint(portRangesFromElements(elems, true))
	if want := "[{135 139} {445 445}]"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	got = fmt.Sprint(portRangesFromElements([]intervalKey{{[]byte{0, 137}, false}, {[]byte{1}, false}}, false))
	if want := "[{137 137}]"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}
