package interop

import (
	"net"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/netsend/messenger/internal/message"
	"github.com/netsend/messenger/internal/netbios"
	"github.com/netsend/messenger/internal/smb"
)

// A MESSNGR datagram to one of our unique names is ours whether it came
// as DIRECT_UNIQUE or DIRECT_GROUP: RFC 1002 receivers deliver by
// destination name, and senders use either type.
func TestMailslotDirectGroupToOurUniqueName(t *testing.T) {
	dgramPort := freeUDPPort(t)
	d := startDaemon(t, "", "--dgram-port", strconv.Itoa(dgramPort), "--name", "BOB")
	c, err := net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: dgramPort})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, tc := range []struct {
		typ  netbios.DatagramType
		text string
	}{
		{netbios.DirectGroupDatagram, "sent as DIRECT_GROUP"},
		{netbios.DirectUniqueDatagram, "sent as DIRECT_UNIQUE"},
	} {
		if _, err := c.Write(directDatagram(t, tc.typ, "CAROL", "BOB", tc.text)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 10*time.Second, func() string {
		got := map[string]bool{}
		for _, m := range d.inbox() {
			if m.To == "BOB" && m.From == "CAROL" && m.Transport == message.TransportMailslot {
				got[m.Text] = true
			}
		}
		if !got["sent as DIRECT_GROUP"] || !got["sent as DIRECT_UNIQUE"] {
			return "stored: " + strconv.Itoa(len(got)) + " of the 2 datagrams to BOB<03>"
		}
		return ""
	})
}

// directDatagram is a MESSNGR mailslot write to to<03> as a datagram of
// type typ.
func directDatagram(t *testing.T, typ netbios.DatagramType, from, to, text string) []byte {
	t.Helper()
	data, err := smb.AppendMessengerPayload(nil, smb.MessengerPayload{From: []byte(from), To: []byte(to), Text: []byte(text)})
	if err != nil {
		t.Fatal(err)
	}
	w, err := smb.AppendMailslotWrite(nil, smb.Header{}, smb.MailslotWrite{Name: smb.MessengerMailslot, Priority: 1, Class: 2, Data: data})
	if err != nil {
		t.Fatal(err)
	}
	src, dst := mustName(t, from, 0), mustName(t, to, 3)
	b, err := netbios.AppendDatagram(nil, netbios.Datagram{Type: typ, Flags: netbios.DatagramFirst, ID: 9,
		SourceIP: netip.MustParseAddr("127.0.0.1"), SourcePort: 138, Source: src, Destination: dst, Data: w})
	if err != nil {
		t.Fatal(err)
	}
	return b
}
