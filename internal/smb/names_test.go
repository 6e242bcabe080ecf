package smb

import "testing"

// TestEnumNames checks that every constant still maps to its name, and
// that a value without one falls back as before.
func TestEnumNames(t *testing.T) {
	for _, c := range []struct {
		got, want string
	}{
		{CommandTransaction.String(), "SMB_COM_TRANSACTION"},
		{CommandNegotiate.String(), "SMB_COM_NEGOTIATE"},
		{CommandSendMessage.String(), "SMB_COM_SEND_MESSAGE"},
		{CommandSendBroadcastMessage.String(), "SMB_COM_SEND_BROADCAST_MESSAGE"},
		{CommandForwardUserName.String(), "SMB_COM_FORWARD_USER_NAME"},
		{CommandCancelForward.String(), "SMB_COM_CANCEL_FORWARD"},
		{CommandGetMachineName.String(), "SMB_COM_GET_MACHINE_NAME"},
		{CommandSendStartMBMessage.String(), "SMB_COM_SEND_START_MB_MESSAGE"},
		{CommandSendEndMBMessage.String(), "SMB_COM_SEND_END_MB_MESSAGE"},
		{CommandSendTextMBMessage.String(), "SMB_COM_SEND_TEXT_MB_MESSAGE"},
		{Command(0x00).String(), "Command(0x00)"},
		{Command(0xD8).String(), "Command(0xD8)"},

		{StatusSuccess.String(), "STATUS_SUCCESS"},
		{StatusNotImplemented.String(), "STATUS_NOT_IMPLEMENTED"},
		{StatusInvalidParameter.String(), "STATUS_INVALID_PARAMETER"},
		{StatusInsufficientResources.String(), "STATUS_INSUFFICIENT_RESOURCES"},
		{StatusNotSupported.String(), "STATUS_NOT_SUPPORTED"},
		{StatusTooManyNames.String(), "STATUS_TOO_MANY_NAMES"},
		{StatusSharingPaused.String(), "STATUS_SHARING_PAUSED"},
		{StatusRequestNotAccepted.String(), "STATUS_REQUEST_NOT_ACCEPTED"},
		{StatusInvalidSMB.String(), "STATUS_INVALID_SMB"},
		{StatusSMBBadCommand.String(), "STATUS_SMB_BAD_COMMAND"},
		{Status(0xC0000001).String(), "0xC0000001"},
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
		sink = CommandSendMessage.String()
		sink = StatusSMBBadCommand.String()
	}); n != 0 {
		t.Errorf("%v allocations, want 0", n)
	}
	_ = sink
}
