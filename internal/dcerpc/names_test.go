package dcerpc

import "testing"

// TestEnumNames checks that every constant still maps to its name, and
// that a value without one falls back as before.
func TestEnumNames(t *testing.T) {
	for _, c := range []struct {
		got, want string
	}{
		{TypeRequest.String(), "Request"},
		{TypePing.String(), "Ping"},
		{TypeResponse.String(), "Response"},
		{TypeFault.String(), "Fault"},
		{TypeWorking.String(), "Working"},
		{TypeNocall.String(), "Nocall"},
		{TypeReject.String(), "Reject"},
		{TypeAck.String(), "Ack"},
		{TypeClCancel.String(), "Cl_cancel"},
		{TypeFack.String(), "Fack"},
		{TypeCancelAck.String(), "Cancel_ack"},
		{(maxPacketType + 1).String(), "PacketType(11)"},
		{PacketType(255).String(), "PacketType(255)"},

		{StatusSuccess.String(), "NERR_Success (0x00000000)"},
		{StatusAccessDenied.String(), "ERROR_ACCESS_DENIED (0x00000005)"},
		{StatusNotSupported.String(), "ERROR_NOT_SUPPORTED (0x00000032)"},
		{StatusInvalidParameter.String(), "ERROR_INVALID_PARAMETER (0x00000057)"},
		{StatusNetworkError.String(), "NERR_NetworkError (0x00000858)"},
		{StatusNameNotFound.String(), "NERR_NameNotFound (0x000008e1)"},
		{StatusGrpMsgProcessor.String(), "NERR_GrpMsgProcessor (0x000008e8)"},
		{StatusPausedRemote.String(), "NERR_PausedRemote (0x000008e9)"},
		{StatusBadReceive.String(), "NERR_BadReceive (0x000008ea)"},
		{StatusNameInUse.String(), "NERR_NameInUse (0x000008eb)"},
		{StatusNotLocalName.String(), "NERR_NotLocalName (0x000008ed)"},
		{StatusTruncatedBroadcast.String(), "NERR_TruncatedBroadcast (0x000008f1)"},
		{StatusDuplicateName.String(), "NERR_DuplicateName (0x000008f9)"},
		{StatusBadStubData.String(), "RPC_X_BAD_STUB_DATA (0x000006f7)"},
		{NCACommFailure.String(), "nca_s_comm_failure (0x1c010001)"},
		{NCAOpRangeError.String(), "nca_s_op_rng_error (0x1c010002)"},
		{NCAUnknownInterface.String(), "nca_s_unk_if (0x1c010003)"},
		{NCAWrongBootTime.String(), "nca_s_wrong_boot_time (0x1c010006)"},
		{NCAYouCrashed.String(), "nca_s_you_crashed (0x1c010009)"},
		{NCAProtoError.String(), "nca_s_proto_error (0x1c01000b)"},
		{NCAOutArgsTooBig.String(), "nca_s_out_args_too_big (0x1c010013)"},
		{NCAServerTooBusy.String(), "nca_s_server_too_busy (0x1c010014)"},
		{NCAStringTooLong.String(), "nca_s_fault_string_too_long (0x1c010015)"},
		{NCAUnsupportedType.String(), "nca_s_unsupported_type (0x1c010017)"},
		{NCAInvalidBound.String(), "nca_s_fault_invalid_bound (0x1c000007)"},
		{NCAVersionMismatch.String(), "nca_s_rpc_version_mismatch (0x1c000008)"},
		{NCAUnspecReject.String(), "nca_s_unspec_reject (0x1c000009)"},
		{NCAWhoAreYouFailed.String(), "nca_s_who_are_you_failed (0x1c00000b)"},
		{NCAManagerNotEntered.String(), "nca_s_manager_not_entered (0x1c00000c)"},
		{NCAFaultUnspec.String(), "nca_s_fault_unspec (0x1c000012)"},
		{NCAUnsupportedAuthnLevel.String(), "nca_s_unsupported_authn_level (0x1c00001d)"},
		{Status(0x1C010004).String(), "0x1c010004"},
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
		sink = TypeCancelAck.String()
		sink = NCAUnknownInterface.name()
	}); n != 0 {
		t.Errorf("%v allocations, want 0", n)
	}
	_ = sink
}
