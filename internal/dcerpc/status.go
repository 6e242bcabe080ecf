package dcerpc

import "fmt"

// Status is a 32-bit status: the body of a fault or reject (an NCA status,
// C706 appendix E, or a Win32 code where Windows puts one), or the
// error_status_t NetrSendMessage returns (a Win32 or LAN Manager code,
// [MS-MSRP] 3.2.4.1). The ranges do not overlap, so one type names both.
type Status uint32

// Return values of NetrSendMessage ([MS-MSRP] 3.2.4.1, lmerr.h, winerror.h).
const (
	StatusSuccess            Status = 0x00000000 // NERR_Success
	StatusAccessDenied       Status = 0x00000005 // ERROR_ACCESS_DENIED
	StatusNotSupported       Status = 0x00000032 // ERROR_NOT_SUPPORTED: Vista and later
	StatusInvalidParameter   Status = 0x00000057 // ERROR_INVALID_PARAMETER
	StatusNetworkError       Status = 0x00000858 // NERR_NetworkError (2136)
	StatusNameNotFound       Status = 0x000008E1 // NERR_NameNotFound: no such alias here (2273)
	StatusGrpMsgProcessor    Status = 0x000008E8 // NERR_GrpMsgProcessor
	StatusPausedRemote       Status = 0x000008E9 // NERR_PausedRemote: the messenger is paused
	StatusBadReceive         Status = 0x000008EA // NERR_BadReceive
	StatusNameInUse          Status = 0x000008EB // NERR_NameInUse
	StatusNotLocalName       Status = 0x000008ED // NERR_NotLocalName
	StatusTruncatedBroadcast Status = 0x000008F1 // NERR_TruncatedBroadcast
	StatusDuplicateName      Status = 0x000008F9 // NERR_DuplicateName
)

// StatusBadStubData is RPC_X_BAD_STUB_DATA (1783), what Windows puts in a
// fault when it cannot unmarshal a request's stub; Wireshark calls it
// nca_s_fault_ndr. It is the fault to send for a NetrSendMessage body that
// ParseSendMessageRequest rejects.
const StatusBadStubData Status = 0x000006F7

// NCA status codes for rejects and faults (C706 appendix E).
const (
	NCACommFailure           Status = 0x1C010001 // nca_s_comm_failure
	NCAOpRangeError          Status = 0x1C010002 // nca_s_op_rng_error: opnum not in the interface
	NCAUnknownInterface      Status = 0x1C010003 // nca_s_unk_if: interface (or version) not registered
	NCAWrongBootTime         Status = 0x1C010006 // nca_s_wrong_boot_time
	NCAYouCrashed            Status = 0x1C010009 // nca_s_you_crashed
	NCAProtoError            Status = 0x1C01000B // nca_s_proto_error
	NCAOutArgsTooBig         Status = 0x1C010013 // nca_s_out_args_too_big
	NCAServerTooBusy         Status = 0x1C010014 // nca_s_server_too_busy
	NCAStringTooLong         Status = 0x1C010015 // nca_s_fault_string_too_long
	NCAUnsupportedType       Status = 0x1C010017 // nca_s_unsupported_type
	NCAInvalidBound          Status = 0x1C000007 // nca_s_fault_invalid_bound
	NCAVersionMismatch       Status = 0x1C000008 // nca_s_rpc_version_mismatch
	NCAUnspecReject          Status = 0x1C000009 // nca_s_unspec_reject
	NCAWhoAreYouFailed       Status = 0x1C00000B // nca_s_who_are_you_failed
	NCAManagerNotEntered     Status = 0x1C00000C // nca_s_manager_not_entered
	NCAFaultUnspec           Status = 0x1C000012 // nca_s_fault_unspec
	NCAUnsupportedAuthnLevel Status = 0x1C00001D // nca_s_unsupported_authn_level
)

// statusNames holds the symbol C706, lmerr.h or winerror.h gives each
// status.
var statusNames = map[Status]string{
	StatusSuccess:            "NERR_Success",
	StatusAccessDenied:       "ERROR_ACCESS_DENIED",
	StatusNotSupported:       "ERROR_NOT_SUPPORTED",
	StatusInvalidParameter:   "ERROR_INVALID_PARAMETER",
	StatusNetworkError:       "NERR_NetworkError",
	StatusNameNotFound:       "NERR_NameNotFound",
	StatusGrpMsgProcessor:    "NERR_GrpMsgProcessor",
	StatusPausedRemote:       "NERR_PausedRemote",
	StatusBadReceive:         "NERR_BadReceive",
	StatusNameInUse:          "NERR_NameInUse",
	StatusNotLocalName:       "NERR_NotLocalName",
	StatusTruncatedBroadcast: "NERR_TruncatedBroadcast",
	StatusDuplicateName:      "NERR_DuplicateName",
	StatusBadStubData:        "RPC_X_BAD_STUB_DATA",
	NCACommFailure:           "nca_s_comm_failure",
	NCAOpRangeError:          "nca_s_op_rng_error",
	NCAUnknownInterface:      "nca_s_unk_if",
	NCAWrongBootTime:         "nca_s_wrong_boot_time",
	NCAYouCrashed:            "nca_s_you_crashed",
	NCAProtoError:            "nca_s_proto_error",
	NCAOutArgsTooBig:         "nca_s_out_args_too_big",
	NCAServerTooBusy:         "nca_s_server_too_busy",
	NCAStringTooLong:         "nca_s_fault_string_too_long",
	NCAUnsupportedType:       "nca_s_unsupported_type",
	NCAInvalidBound:          "nca_s_fault_invalid_bound",
	NCAVersionMismatch:       "nca_s_rpc_version_mismatch",
	NCAUnspecReject:          "nca_s_unspec_reject",
	NCAWhoAreYouFailed:       "nca_s_who_are_you_failed",
	NCAManagerNotEntered:     "nca_s_manager_not_entered",
	NCAFaultUnspec:           "nca_s_fault_unspec",
	NCAUnsupportedAuthnLevel: "nca_s_unsupported_authn_level",
}

// name returns the symbol C706, lmerr.h or winerror.h gives the status,
// or "" for a status without one.
func (s Status) name() string { return statusNames[s] }

// String returns the symbolic name and the value, e.g. "nca_s_unk_if
// (0x1c010003)", or the value alone.
func (s Status) String() string {
	if name := s.name(); name != "" {
		return fmt.Sprintf("%s (0x%08x)", name, uint32(s))
	}
	return fmt.Sprintf("0x%08x", uint32(s))
}
