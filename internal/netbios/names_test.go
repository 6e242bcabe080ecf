package netbios

import "testing"

// TestEnumNames checks that every constant still maps to its name, and
// that a value without one falls back as before.
func TestEnumNames(t *testing.T) {
	for _, c := range []struct {
		got, want string
	}{
		{DirectUniqueDatagram.String(), "DIRECT_UNIQUE DATAGRAM"},
		{DirectGroupDatagram.String(), "DIRECT_GROUP DATAGRAM"},
		{BroadcastDatagram.String(), "BROADCAST DATAGRAM"},
		{DatagramError.String(), "DATAGRAM ERROR"},
		{DatagramQueryRequest.String(), "DATAGRAM QUERY REQUEST"},
		{DatagramPositiveQueryResponse.String(), "DATAGRAM POSITIVE QUERY RESPONSE"},
		{DatagramNegativeQueryResponse.String(), "DATAGRAM NEGATIVE QUERY RESPONSE"},
		{DatagramType(0x0F).String(), "DatagramType(0x0F)"},
		{DatagramType(0x17).String(), "DatagramType(0x17)"},
		{DatagramType(0).String(), "DatagramType(0x00)"},

		{OpcodeQuery.String(), "Name query"},
		{OpcodeRegistration.String(), "Registration"},
		{OpcodeRelease.String(), "Release"},
		{OpcodeWACK.String(), "Wait for acknowledgment"},
		{OpcodeRefresh.String(), "Refresh"},
		{OpcodeRefreshAlt.String(), "Refresh (alternate opcode)"},
		{OpcodeMultihomedRegistration.String(), "Multi-homed registration"},
		{Opcode(1).String(), "Opcode(1)"},
		{Opcode(14).String(), "Opcode(14)"},
		{Opcode(16).String(), "Opcode(16)"},

		{RCodeOK.String(), "OK"},
		{RCodeFormErr.String(), "FMT_ERR"},
		{RCodeServFail.String(), "SRV_ERR"},
		{RCodeNameErr.String(), "NAM_ERR"},
		{RCodeNotImp.String(), "IMP_ERR"},
		{RCodeRefused.String(), "RFS_ERR"},
		{RCodeActive.String(), "ACT_ERR"},
		{RCodeConflict.String(), "CFT_ERR"},
		{RCode(8).String(), "RCode(8)"},

		{SessionMessage.String(), "SESSION MESSAGE"},
		{SessionRequest.String(), "SESSION REQUEST"},
		{PositiveSessionResponse.String(), "POSITIVE SESSION RESPONSE"},
		{NegativeSessionResponse.String(), "NEGATIVE SESSION RESPONSE"},
		{RetargetSessionResponse.String(), "RETARGET SESSION RESPONSE"},
		{SessionKeepAlive.String(), "SESSION KEEP ALIVE"},
		{PacketType(0x01).String(), "PacketType(0x01)"},
		{PacketType(0x86).String(), "PacketType(0x86)"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

// TestEnumNamesNoAlloc checks that naming a known value does not allocate.
func TestEnumNamesNoAlloc(t *testing.T) {
	var sink string
	if n := testing.AllocsPerRun(100, func() {
		sink = BroadcastDatagram.String()
		sink = OpcodeMultihomedRegistration.String()
		sink = RCodeConflict.String()
		sink = SessionKeepAlive.String()
	}); n != 0 {
		t.Errorf("%v allocations, want 0", n)
	}
	_ = sink
}
