package netbios

import (
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netsend/messenger/internal/pcapfile"
	"github.com/netsend/messenger/internal/smb"
)

// TestTsharkDecodes writes the packets a messenger sends into a capture
// file and checks that Wireshark's dissectors read them as intended, with
// no malformed packet and no expert info. It runs only where tshark is
// installed.
func TestTsharkDecodes(t *testing.T) {
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark not installed")
	}
	alice := netip.MustParseAddr("192.168.1.10")
	bob := netip.MustParseAddr("192.168.1.20")
	bcast := netip.MustParseAddr("192.168.1.255")
	ns := func(src, dst netip.Addr, p NameServicePacket, err error) pcapfile.Datagram {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		b, err := AppendNameServicePacket(nil, p)
		if err != nil {
			t.Fatal(err)
		}
		return pcapfile.Datagram{Src: netip.AddrPortFrom(src, 137), Dst: netip.AddrPortFrom(dst, 137), Payload: b, BroadcastEthernet: dst == bcast}
	}
	bob03 := mustName(t, "BOB", 0x03)
	aliceEntry := NBEntry{Addr: alice}
	bobEntry := NBEntry{Addr: bob}
	status := NodeStatus{
		Names: []NodeName{
			{mustName(t, "BOB", 0x00), NameACT}, {bob03, NameACT},
			{mustName(t, "WORKGROUP", 0x00), NameGroup | NameACT},
		},
		Statistics: Statistics{UnitID: [6]byte{0x02, 0, 0, 0, 0, 0x14}},
	}
	positive, err := PositiveNameQueryResponse(0x1234, bob03, "", 300000, []NBEntry{bobEntry}, false)
	frames := []pcapfile.Datagram{
		ns(alice, bcast, NameQueryRequest(0x1234, bob03, "", true, true), nil),
		ns(bob, alice, positive, err),
		ns(alice, bob, NodeStatusRequest(0x0042, ""), nil),
	}
	statusResp, err := NodeStatusResponse(0x0042, WildcardName(), "", status)
	frames = append(frames, ns(bob, alice, statusResp, err))
	reg, err := NameRegistrationRequest(0x5678, bob03, "", 300000, aliceEntry, true)
	frames = append(frames, ns(alice, bcast, reg, err))
	neg, err := NegativeRegistrationResponse(0x5678, bob03, "", RCodeActive, aliceEntry)
	frames = append(frames, ns(bob, alice, neg, err))
	rel, err := NameReleaseRequest(0x5679, bob03, "", aliceEntry, true)
	frames = append(frames, ns(alice, bcast, rel, err))
	ow, err := NameOverwriteDemand(0x567A, mustName(t, "ALICE", 0x03), "", 300000, aliceEntry)
	frames = append(frames, ns(alice, bcast, ow, err))
	ref, err := NameRefreshRequest(0x567B, mustName(t, "ALICE", 0x03), "", 300000, aliceEntry)
	frames = append(frames, ns(alice, bob, ref, err))
	pos, err := PositiveRegistrationResponse(0x567B, mustName(t, "ALICE", 0x03), "", 300000, aliceEntry)
	frames = append(frames, ns(bob, alice, pos, err))
	frames = append(frames, ns(bob, alice, WACKResponse(0x567B, mustName(t, "ALICE", 0x03), "", 30, ref.HeaderFlags()), nil))
	frames = append(frames, ns(bob, alice, NegativeNameQueryResponse(0x567C, mustName(t, "NOBODY", 0x03), "", RCodeNameErr), nil))

	dg := func(src, dst netip.Addr, d Datagram) pcapfile.Datagram {
		t.Helper()
		b, err := AppendDatagram(nil, d)
		if err != nil {
			t.Fatal(err)
		}
		return pcapfile.Datagram{Src: netip.AddrPortFrom(src, 138), Dst: netip.AddrPortFrom(dst, 138), Payload: b, BroadcastEthernet: dst == bcast}
	}
	mailslot := func(from, to, text string) []byte {
		t.Helper()
		data, err := smb.AppendMessengerPayload(nil, smb.MessengerPayload{From: []byte(from), To: []byte(to), Text: []byte(text)})
		if err != nil {
			t.Fatal(err)
		}
		b, err := smb.AppendMailslotWrite(nil, smb.Header{}, smb.MailslotWrite{Name: smb.MessengerMailslot, Class: smb.MailslotClassUnreliable, Data: data})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	frames = append(frames,
		dg(alice, bob, Datagram{Type: DirectUniqueDatagram, Flags: DatagramFirst, ID: 0x8001, SourceIP: alice, SourcePort: 138,
			Source: mustName(t, "ALICE", 0x00), Destination: bob03, Data: mailslot("ALICE", "BOB", "Hello")}),
		dg(alice, bcast, Datagram{Type: DirectGroupDatagram, Flags: DatagramFirst, ID: 0x8002, SourceIP: alice, SourcePort: 138,
			Source: mustName(t, "ALICE", 0x00), Destination: mustName(t, "WORKGROUP", 0x00), Data: mailslot("ALICE", "WORKGROUP", "Hello all")}),
		dg(bob, alice, Datagram{Type: DatagramError, Flags: DatagramFirst, ID: 0x8002, SourceIP: bob, SourcePort: 138, ErrorCode: DestinationNameNotPresent}),
	)

	file := filepath.Join(t.TempDir(), "nbt.pcap")
	if err := os.WriteFile(file, pcapfile.Encode(frames), 0o644); err != nil {
		t.Fatal(err)
	}
	fields := []string{
		"_ws.malformed", "_ws.expert.severity", // must stay empty
		"nbns.flags", "nbns.name", "nbns.nb_flags", "nbns.addr", "nbns.number_of_names", "nbns.netbios_name", "nbns.name_flags", "nbns.unit_id",
		"nbdgm.type", "nbdgm.dgram_len", "nbdgm.source_name", "nbdgm.destination_name", "mailslot.name", "data.data", "nbdgm.error_code",
	}
	args := []string{"-r", file, "-T", "fields", "-E", "separator=|"}
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	var stderr strings.Builder
	cmd := exec.Command(tshark, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark: %v\n%s", err, stderr.String())
	}
	// What tshark must show, field by field; names are compared as
	// prefixes because tshark appends the suffix's meaning.
	want := []string{
		"||0x0110|BOB<03>",
		"||0x8500|BOB<03>|0x0000|192.168.1.20",
		"||0x0000|*<00><00><00><00><00><00><00><00><00><00><00><00><00><00><00>",
		"||0x8400|*<00>|||3|BOB,BOB,WORKGROUP|0x0400,0x0400,0x8400|02:00:00:00:00:14",
		"||0x2910|BOB<03>,BOB<03>|0x0000|192.168.1.10",
		"||0xad86|BOB<03>|0x0000|192.168.1.10",
		"||0x3010|BOB<03>,BOB<03>|0x0000|192.168.1.10",
		"||0x2810|ALICE<03>,ALICE<03>|0x0000|192.168.1.10",
		"||0x4100|ALICE<03>,ALICE<03>|0x0000|192.168.1.10",
		"||0xad80|ALICE<03>|0x0000|192.168.1.10",
		"||0xbc00,0x4100|ALICE<03>", // the WACK's RDATA shown as the refresh's flags
		"||0x8583|NOBODY<03>",
		"||||||||||16|172|ALICE<00>|BOB<03>|\\MAILSLOT\\MESSNGR|414c49434500424f420048656c6c6f00|",
		"||||||||||17|182|ALICE<00>|WORKGROUP<00>|\\MAILSLOT\\MESSNGR|414c49434500574f524b47524f55500048656c6c6f20616c6c00|",
		"||||||||||19||||||0x82",
	}
	rows := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(rows) != len(want) {
		t.Fatalf("tshark decoded %d frames, want %d:\n%s", len(rows), len(want), out)
	}
	for i, row := range rows {
		got, exp := strings.Split(row, "|"), strings.Split(want[i], "|")
		for j, e := range exp {
			if j >= len(got) || !strings.HasPrefix(got[j], e) || (e == "" && got[j] != "") {
				t.Errorf("frame %d %s = %q, want %q\n(row %s)", i+1, fields[j], got[min(j, len(got)-1)], e, row)
			}
		}
	}
}
