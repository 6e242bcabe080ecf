package smb

import (
	"errors"
	"fmt"
)

// Status is a 32-bit NT status code ([MS-ERREF] 2.3), as carried in the
// header when Flags2NTStatus is set.
type Status uint32

// NT status codes a messenger sends or is likely to receive.
const (
	StatusSuccess               Status = 0x00000000
	StatusNotImplemented        Status = 0xC0000002
	StatusInvalidParameter      Status = 0xC000000D
	StatusInsufficientResources Status = 0xC000009A
	StatusNotSupported          Status = 0xC00000BB
	StatusTooManyNames          Status = 0xC00000CD
	StatusSharingPaused         Status = 0xC00000CF
	StatusRequestNotAccepted    Status = 0xC00000D0

	// The CIFS-specific codes of [MS-CIFS] 2.2.2.4 are wire-identical to a
	// DOS class/code pair: ErrorClass in the low byte, ErrorCode in the
	// high 16 bits.
	StatusInvalidSMB    Status = 0x00010002 // ERRSRV/ERRerror
	StatusSMBBadCommand Status = 0x00160002 // ERRSRV/22
)

// statusNames holds the [MS-ERREF] name of each status.
var statusNames = map[Status]string{
	StatusSuccess:               "STATUS_SUCCESS",
	StatusNotImplemented:        "STATUS_NOT_IMPLEMENTED",
	StatusInvalidParameter:      "STATUS_INVALID_PARAMETER",
	StatusInsufficientResources: "STATUS_INSUFFICIENT_RESOURCES",
	StatusNotSupported:          "STATUS_NOT_SUPPORTED",
	StatusTooManyNames:          "STATUS_TOO_MANY_NAMES",
	StatusSharingPaused:         "STATUS_SHARING_PAUSED",
	StatusRequestNotAccepted:    "STATUS_REQUEST_NOT_ACCEPTED",
	StatusInvalidSMB:            "STATUS_INVALID_SMB",
	StatusSMBBadCommand:         "STATUS_SMB_BAD_COMMAND",
}

// String returns the [MS-ERREF] name of the status, or its hex value.
func (s Status) String() string {
	if name, ok := statusNames[s]; ok {
		return name
	}
	return fmt.Sprintf("0x%08X", uint32(s))
}

// dosForm returns the DOS class/code an NT status is wire-identical to, for
// the CIFS-specific codes whose severity and reserved byte are zero.
func (s Status) dosForm() (DOSError, bool) {
	d := DOSError{Class: uint8(s), Code: uint16(s >> 16)}
	if s&0xC000FF00 != 0 {
		return DOSError{}, false
	}
	switch d.Class {
	case ERRDOS, ERRSRV, ERRHRD, ERRCMD:
		return d, true
	}
	return DOSError{}, false
}

// DOS error classes ([MS-CIFS] 2.2.2.4).
const (
	ERRDOS uint8 = 0x01
	ERRSRV uint8 = 0x02
	ERRHRD uint8 = 0x03
	ERRCMD uint8 = 0xFF
)

// DOS error codes of class ERRSRV used by the message commands
// ([MS-CIFS] 2.2.2.4, [MS-MSRP] 3.2.4.5).
const (
	ERRerror  uint16 = 1  // non-specific error
	ERRsmbcmd uint16 = 64 // command not recognised
	ERRpaused uint16 = 81 // message server paused
	ERRmsgoff uint16 = 82 // not receiving messages
	ERRnoroom uint16 = 83 // no room to buffer the message
	ERRrmuns  uint16 = 87 // too many remote user names
)

// DOS error codes of class ERRDOS that may appear in replies from older
// servers.
const (
	ERRbadfunc uint16 = 1 // invalid function
	ERRnomem   uint16 = 8 // insufficient server memory
)

// DOSError is the pre-NT form of an SMB error, ErrorClass and ErrorCode
// (the SMBSTATUS of [MS-CIFS] 2.2.1.4).
type DOSError struct {
	Class uint8
	Code  uint16
}

// IsZero reports whether d is SUCCESS.
func (d DOSError) IsZero() bool { return d == DOSError{} }

// String formats d as Wireshark does, class/code, e.g. ERRSRV/ERRnoroom.
func (d DOSError) String() string {
	var class string
	switch d.Class {
	case 0:
		class = "SUCCESS"
	case ERRDOS:
		class = "ERRDOS"
	case ERRSRV:
		class = "ERRSRV"
	case ERRHRD:
		class = "ERRHRD"
	case ERRCMD:
		class = "ERRCMD"
	default:
		class = fmt.Sprintf("0x%02X", d.Class)
	}
	var code string
	switch {
	case d.Class == ERRSRV && d.Code == ERRerror:
		code = "ERRerror"
	case d.Class == ERRSRV && d.Code == ERRsmbcmd:
		code = "ERRsmbcmd"
	case d.Class == ERRSRV && d.Code == ERRpaused:
		code = "ERRpaused"
	case d.Class == ERRSRV && d.Code == ERRmsgoff:
		code = "ERRmsgoff"
	case d.Class == ERRSRV && d.Code == ERRnoroom:
		code = "ERRnoroom"
	case d.Class == ERRSRV && d.Code == ERRrmuns:
		code = "ERRrmuns"
	case d.Class == ERRDOS && d.Code == ERRbadfunc:
		code = "ERRbadfunc"
	case d.Class == ERRDOS && d.Code == ERRnomem:
		code = "ERRnomem"
	default:
		code = fmt.Sprintf("%d", d.Code)
	}
	return class + "/" + code
}

// status packs d into the header's Status field: ErrorClass, a reserved
// byte, then ErrorCode little-endian.
func (d DOSError) status() uint32 {
	return uint32(d.Class) | uint32(d.Code)<<16
}

// ReplyError is an error an SMB reply carries. A server needs both forms,
// because it answers in the form the request asked for (Flags2NTStatus); a
// client receives one of them. Values compare with errors.Is by either
// form, so errors.Is(p.Err(), ErrCodeNoRoom) holds whether the peer sent
// STATUS_INSUFFICIENT_RESOURCES or ERRSRV/ERRnoroom.
type ReplyError struct {
	NT  Status   // zero if unknown
	DOS DOSError // zero if unknown
}

// Errors the messenger server replies with. The DOS forms are the ones
// [MS-MSRP] and [MS-CIFS] list for the message commands; the NT forms are
// the statuses Samba's smbd sends in the same situations, or the closest
// [MS-ERREF] code where smbd has none.
var (
	// ErrCodeInvalidParameter answers a malformed message command or a
	// 0xD7/0xD6 without a 0xD5, as smbd does.
	ErrCodeInvalidParameter = ReplyError{NT: StatusInvalidParameter, DOS: DOSError{ERRSRV, ERRerror}}
	// ErrCodeUnknownCommand answers a command the messenger does not
	// implement.
	ErrCodeUnknownCommand = ReplyError{NT: StatusNotImplemented, DOS: DOSError{ERRSRV, ERRsmbcmd}}
	// ErrCodeNoRoom says the message could not be stored.
	ErrCodeNoRoom = ReplyError{NT: StatusInsufficientResources, DOS: DOSError{ERRSRV, ERRnoroom}}
	// ErrCodeMessagesOff says the recipient does not receive messages.
	ErrCodeMessagesOff = ReplyError{NT: StatusRequestNotAccepted, DOS: DOSError{ERRSRV, ERRmsgoff}}
	// ErrCodePaused says the message server is paused.
	ErrCodePaused = ReplyError{NT: StatusSharingPaused, DOS: DOSError{ERRSRV, ERRpaused}}
	// ErrCodeTooManyNames says there are too many message aliases.
	ErrCodeTooManyNames = ReplyError{NT: StatusTooManyNames, DOS: DOSError{ERRSRV, ERRrmuns}}
)

// knownReplyErrors gives received errors a description; it is only read.
var knownReplyErrors = [...]struct {
	e    *ReplyError
	desc string
}{
	{&ErrCodeInvalidParameter, "invalid parameter"},
	{&ErrCodeUnknownCommand, "command not implemented"},
	{&ErrCodeNoRoom, "no room to buffer the message"},
	{&ErrCodeMessagesOff, "the recipient is not receiving messages"},
	{&ErrCodePaused, "the message server is paused"},
	{&ErrCodeTooManyNames, "too many message names"},
}

// Error describes the error with both forms where known.
func (e ReplyError) Error() string {
	var s string
	switch {
	case e.NT != 0 && !e.DOS.IsZero():
		s = "smb: " + e.DOS.String() + " (" + e.NT.String() + ")"
	case e.NT != 0:
		s = "smb: " + e.NT.String()
	default:
		s = "smb: " + e.DOS.String()
	}
	for _, k := range knownReplyErrors {
		if e.Is(*k.e) {
			return s + ": " + k.desc
		}
	}
	return s
}

// Is reports whether e and target (a ReplyError or *ReplyError) agree on
// the NT status or on the DOS error, ignoring forms either side lacks.
func (e ReplyError) Is(target error) bool {
	var t ReplyError
	switch v := target.(type) {
	case ReplyError:
		t = v
	case *ReplyError:
		if v == nil {
			return false
		}
		t = *v
	default:
		return false
	}
	return (e.NT != 0 && e.NT == t.NT) || (!e.DOS.IsZero() && e.DOS == t.DOS)
}

// ntStatus is the NT form to send. An error known only in DOS form is sent
// as its wire-identical CIFS-specific status.
func (e ReplyError) ntStatus() uint32 {
	if e.NT != 0 {
		return uint32(e.NT)
	}
	if e.DOS.IsZero() {
		return uint32(ErrCodeInvalidParameter.NT)
	}
	return e.DOS.status()
}

// dosStatus is the DOS form to send. An NT status without a DOS equivalent
// becomes ERRSRV/ERRerror, the generic server error.
func (e ReplyError) dosStatus() uint32 {
	if !e.DOS.IsZero() {
		return e.DOS.status()
	}
	if d, ok := e.NT.dosForm(); ok {
		return d.status()
	}
	return DOSError{ERRSRV, ERRerror}.status()
}

// Err returns the error the header's Status field reports, as a
// *ReplyError, or nil for success. The field is read as an NT status when
// Flags2NTStatus is set and as a DOS class/code otherwise.
func (h Header) Err() error {
	if h.Status == 0 {
		return nil
	}
	if h.Flags2&Flags2NTStatus != 0 {
		e := &ReplyError{NT: Status(h.Status)}
		if d, ok := e.NT.dosForm(); ok {
			e.DOS = d
		}
		return e
	}
	// The reserved byte is ignored, as [MS-CIFS] requires.
	return &ReplyError{DOS: DOSError{Class: uint8(h.Status), Code: uint16(h.Status >> 16)}}
}

// Err returns the error the packet's header reports; see Header.Err.
func (p Packet) Err() error { return p.Header.Err() }

func (h Header) statusString() string {
	if h.Status == 0 {
		return StatusSuccess.String()
	}
	var e *ReplyError
	if errors.As(h.Err(), &e) {
		if e.NT != 0 {
			return e.NT.String()
		}
		return e.DOS.String()
	}
	return fmt.Sprintf("0x%08X", h.Status)
}

// AppendResponse appends the reply to the request req. It copies the fields
// [MS-CIFS] says a reply echoes (Command, TID, PID, UID, MID) and sets
// FlagsReply. e == nil means success. The error goes out as an NT status
// if the request set Flags2NTStatus and as a DOS class/code otherwise:
// Windows senders set no Flags2 bits and expect DOS errors. Error replies
// normally carry no words and no data.
func AppendResponse(b []byte, req Header, e *ReplyError, words []uint16, data []byte) ([]byte, error) {
	h := Header{
		Command: req.Command,
		Flags:   FlagsReply,
		PIDHigh: req.PIDHigh,
		TID:     req.TID,
		PIDLow:  req.PIDLow,
		UID:     req.UID,
		MID:     req.MID,
	}
	if req.Flags2&Flags2NTStatus != 0 {
		h.Flags2 = Flags2NTStatus | Flags2LongNames
		if e != nil {
			h.Status = e.ntStatus()
		}
	} else if e != nil {
		h.Status = e.dosStatus()
	}
	return AppendPacket(b, h, words, data)
}
