package dcerpc

import (
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/netsend/messenger/internal/pcapfile"
)

// udpFrame is one datagram for the capture file: source, destination,
// payload.
func udpFrame(src, dst netip.AddrPort, payload []byte) pcapfile.Datagram {
	return pcapfile.Datagram{Src: src, Dst: dst, Payload: payload}
}

func writeCapture(t *testing.T, path string, frames []pcapfile.Datagram) {
	t.Helper()
	if err := os.WriteFile(path, pcapfile.Encode(frames), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestTsharkDecodes writes what a messenger client and server send — a
// request in each byte order, a fragmented request, a response, a fault, a
// reject and an ack — and checks that Wireshark's DCE/RPC and Messenger
// dissectors read them as intended, with no malformed packet and no expert
// info. It runs only where tshark is installed.
func TestTsharkDecodes(t *testing.T) {
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark not installed")
	}
	client := netip.MustParseAddrPort("192.168.1.10:1030")
	server := netip.MustParseAddrPort("192.168.1.20:135")
	const boot = 0x65000000
	must := func(b []byte, err error) []byte {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	request := func(h Header, m SendMessageRequest) []byte {
		t.Helper()
		return must(AppendPacket(nil, h, must(AppendSendMessageRequest(nil, h.DataRep, m))))
	}
	actA, errA := ParseUUID("6b8e2c1a-0c4f-4d2e-9a61-3f0e5d7c9b12")
	actB, errB := ParseUUID("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0")
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}

	// 1, 2: a request and the server's response, then the client's ack.
	reqA := SendMessageHeader(actA, 0)
	frames := []pcapfile.Datagram{
		udpFrame(client, server, request(reqA, SendMessageRequest{From: []byte("ALICE"), To: []byte("BOB"), Text: []byte("Hello")})),
		udpFrame(server, client, must(AppendResponse(nil, reqA, boot, AppendSendMessageResponse(nil, NativeDataRep, StatusSuccess)))),
	}
	respA := mustParse(t, frames[1].Payload)
	frames = append(frames, udpFrame(client, server, must(AppendPacket(nil, AckHeader(respA.Header), nil))))

	// 4, 5: a big-endian request, answered with a fault.
	reqB := SendMessageHeader(actA, 1)
	reqB.DataRep = BigEndianDataRep
	frames = append(frames,
		udpFrame(client, server, request(reqB, SendMessageRequest{From: []byte("CAROL"), To: []byte("DAVE"), Text: []byte("big-endian")})),
		udpFrame(server, client, must(AppendFault(nil, reqB, boot, StatusBadStubData))),
	)

	// 6, 7: a request for an opnum msgsvcsend lacks, rejected.
	reqC := SendMessageHeader(actA, 2)
	reqC.OpNum = 1
	frames = append(frames,
		udpFrame(client, server, request(reqC, SendMessageRequest{From: []byte("EVE"), To: []byte("BOB"), Text: []byte("x")})),
		udpFrame(server, client, must(AppendReject(nil, reqC, boot, NCAOpRangeError))),
	)

	// 8, 9: one request in two fragments, then its response.
	long := SendMessageRequest{From: []byte("MALLORY"), To: []byte("BOB"), Text: []byte(strings.Repeat("fragmented ", 20) + "end")}
	stub := must(AppendSendMessageRequest(nil, NativeDataRep, long))
	reqD := SendMessageHeader(actB, 0)
	for i, part := range [][]byte{stub[:100], stub[100:]} {
		h := reqD
		h.Flags1 |= Flags1Frag
		if i == 1 {
			h.Flags1 |= Flags1LastFrag
		}
		h.FragNum = uint16(i)
		h.Serial = uint16(i)
		frames = append(frames, udpFrame(client, server, must(AppendPacket(nil, h, part))))
	}
	frames = append(frames, udpFrame(server, client, must(AppendResponse(nil, reqD, boot, AppendSendMessageResponse(nil, NativeDataRep, StatusNameNotFound)))))

	file := filepath.Join(t.TempDir(), "dcerpc.pcap")
	writeCapture(t, file, frames)
	fields := []string{
		"_ws.malformed", "_ws.expert.severity", // must stay empty
		"dcerpc.pkt_type", "dcerpc.dg_flags1", "dcerpc.drep.byteorder", "dcerpc.dg_seqnum", "dcerpc.dg_frag_num",
		"dcerpc.dg_if_id", "dcerpc.dg_act_id", "dcerpc.dg_server_boot", "dcerpc.dg_status",
		"messenger.opnum", "messenger.server", "messenger.client", "messenger.message", "messenger.rc",
	}
	args := []string{"-r", file, "-T", "fields", "-E", "separator=|", "-E", "occurrence=f"}
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
	if testing.Verbose() {
		v, _ := exec.Command(tshark, "-r", file, "-V").Output()
		t.Logf("tshark -V:\n%s", v)
	}
	ifid := MsgSvcSendInterface.String()
	// Wireshark prints server_boot as a date.
	const tsFormat = "Jan _2, 2006 15:04:05.000000000 UTC"
	bootTime, zeroTime := time.Unix(boot, 0).UTC().Format(tsFormat), time.Unix(0, 0).UTC().Format(tsFormat)
	a, b := actA.String(), actB.String()
	want := []string{
		"||0|0x28|1|0|0|" + ifid + "|" + a + "|" + zeroTime + "||0|ALICE|BOB|Hello|",
		"||2|0x02|1|0|0|" + ifid + "|" + a + "|" + bootTime + "||0||||0x00000000",
		"||7|0x00|1|0|0|" + ifid + "|" + a + "|" + bootTime + "|",
		"||0|0x28|0|1|0|" + ifid + "|" + a + "|" + zeroTime + "||0|CAROL|DAVE|big-endian|",
		"||3|0x00|1|1|0|" + ifid + "|" + a + "|" + bootTime + "|0x000006f7|",
		"||0|0x28|1|2|0|" + ifid + "|" + a + "|" + zeroTime + "||1||||", // Wireshark knows no opnum 1
		"||6|0x00|1|2|0|" + ifid + "|" + a + "|" + bootTime + "|0x1c010002|",
		"||0|0x2c|1|0|0|" + ifid + "|" + b + "|" + zeroTime + "||",
		"||0|0x2e|1|0|1|" + ifid + "|" + b + "|" + zeroTime + "||0|MALLORY|BOB|" + string(long.Text) + "|",
		"||2|0x02|1|0|0|" + ifid + "|" + b + "|" + bootTime + "||0||||0x000008e1",
	}
	rows := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(rows) != len(want) {
		t.Fatalf("tshark decoded %d frames, want %d:\n%s", len(rows), len(want), out)
	}
	for i, row := range rows {
		got, exp := strings.Split(row, "|"), strings.Split(want[i], "|")
		for j, e := range exp {
			if j >= len(got) || got[j] != e {
				t.Errorf("frame %d %s = %q, want %q\n(row %s)", i+1, fields[min(j, len(fields)-1)], got[min(j, len(got)-1)], e, row)
			}
		}
	}
}
