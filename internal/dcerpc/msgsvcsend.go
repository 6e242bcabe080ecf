package dcerpc

import (
	"fmt"
	"strconv"
)

// MsgSvcSendInterface is the msgsvcsend interface of [MS-MSRP],
// 5a7b91f8-ff00-11d0-a9b2-00c04fb6e6fc, the one the Messenger service
// registers on UDP.
var MsgSvcSendInterface = UUID{0x5a, 0x7b, 0x91, 0xf8, 0xff, 0x00, 0x11, 0xd0, 0xa9, 0xb2, 0x00, 0xc0, 0x4f, 0xb6, 0xe6, 0xfc}

// MsgSvcSendVersion is if_vers for msgsvcsend 1.0: the major version in the
// low 16 bits, the minor (0) in the high 16.
const MsgSvcSendVersion uint32 = 1

// OpNetrSendMessage is the opnum of NetrSendMessage, msgsvcsend's only
// method.
const OpNetrSendMessage uint16 = 0

// Default limits for the strings of a NetrSendMessage request. [MS-MSRP]
// sets none on this path; 255 matches package smb's name limit and 4095 is
// what the Windows pop-up shows at most.
const (
	DefaultMaxName = 255
	DefaultMaxText = 4095
)

// Limits bounds the strings of a NetrSendMessage request, in bytes without
// the NUL. A field ≤ 0 means the default.
type Limits struct {
	MaxName int // From and To
	MaxText int // Text
}

func (l Limits) withDefaults() Limits {
	if l.MaxName <= 0 {
		l.MaxName = DefaultMaxName
	}
	if l.MaxText <= 0 {
		l.MaxText = DefaultMaxText
	}
	return l
}

// SendMessageRequest is the [in] part of NetrSendMessage ([MS-MSRP]
// 3.2.4.1): three [string] char* in the sender's OEM code page, without
// their NULs. Wireshark labels them Server, Client and Message, in that
// order, whatever the IDL calls them.
type SendMessageRequest struct {
	From, To, Text []byte
}

// String summarises the request without its text, which does not belong in
// logs.
func (r SendMessageRequest) String() string {
	return fmt.Sprintf("NetrSendMessage from %s to %s, %d bytes", strconv.QuoteToASCII(string(r.From)), strconv.QuoteToASCII(string(r.To)), len(r.Text))
}

func sendMessageError(field string, err error) error {
	return fmt.Errorf("dcerpc: parsing NetrSendMessage request: %s: %w", field, err)
}

// ParseSendMessageRequest parses the stub of a NetrSendMessage request:
// three top-level [ref] strings, so no referent IDs, each a conformant
// varying byte string checked as NDRReader.ConformantVaryingString
// describes, From and To against limits.MaxName and Text against
// limits.MaxText. drep must be ASCII (see the package comment on EBCDIC).
// Padding contents are ignored and bytes after Text are tolerated. The
// strings alias body.
func ParseSendMessageRequest(body []byte, drep DataRep, limits Limits) (SendMessageRequest, error) {
	if err := drep.checkChars(); err != nil {
		return SendMessageRequest{}, sendMessageError("drep", err)
	}
	limits = limits.withDefaults()
	r := NewNDRReader(body, drep)
	var m SendMessageRequest
	var err error
	if m.From, err = r.ConformantVaryingString(limits.MaxName); err != nil {
		return SendMessageRequest{}, sendMessageError("From", err)
	}
	if m.To, err = r.ConformantVaryingString(limits.MaxName); err != nil {
		return SendMessageRequest{}, sendMessageError("To", err)
	}
	if m.Text, err = r.ConformantVaryingString(limits.MaxText); err != nil {
		return SendMessageRequest{}, sendMessageError("Text", err)
	}
	return m, nil
}

// AppendSendMessageRequest appends the stub of a NetrSendMessage request in
// drep's byte order, with zero padding. It enforces no length limit (the
// receiver's policy is not the sender's), only what NDR needs: no NUL inside
// a string and an ASCII drep. On error b is returned unchanged.
func AppendSendMessageRequest(b []byte, drep DataRep, r SendMessageRequest) ([]byte, error) {
	if err := drep.checkChars(); err != nil {
		return b, fmt.Errorf("dcerpc: building NetrSendMessage request: drep: %w", err)
	}
	w := NewNDRWriter(b, drep)
	for _, f := range [...]struct {
		name string
		s    []byte
	}{{"From", r.From}, {"To", r.To}, {"Text", r.Text}} {
		if err := w.ConformantVaryingString(f.s); err != nil {
			return b, fmt.Errorf("dcerpc: building NetrSendMessage request: %s: %w", f.name, err)
		}
	}
	return w.Bytes(), nil
}

// AppendSendMessageResponse appends the stub of a NetrSendMessage response:
// the error_status_t return value, four bytes in drep's order.
func AppendSendMessageResponse(b []byte, drep DataRep, status Status) []byte {
	return drep.order().AppendUint32(b, uint32(status))
}

// ParseSendMessageResponse parses the stub of a NetrSendMessage response.
// Bytes after the status are ignored.
func ParseSendMessageResponse(body []byte, drep DataRep) (Status, error) {
	if err := drep.checkIntegers(); err != nil {
		return 0, fmt.Errorf("dcerpc: parsing NetrSendMessage response: drep: %w", err)
	}
	v, _, err := unpackUint32(body, 0, drep.order())
	if err != nil {
		return 0, fmt.Errorf("dcerpc: parsing NetrSendMessage response: error_status_t: %w", err)
	}
	return Status(v), nil
}

// SendMessageHeader returns the header of a one-packet NetrSendMessage
// request on the given activity: little-endian drep, nil object, no hints,
// server boot 0 as on a first call, and flags1 idempotent|nofack (0x28),
// as Impacket-based senders and the classic net-send captures use.
// Idempotent spares the server a conv callback to a client that may not be
// listening. AppendPacket fills in BodyLen.
func SendMessageHeader(activity UUID, seqNum uint32) Header {
	return Header{
		Version:          RPCVersion,
		Type:             TypeRequest,
		Flags1:           Flags1Idempotent | Flags1NoFack,
		DataRep:          NativeDataRep,
		Interface:        MsgSvcSendInterface,
		Activity:         activity,
		InterfaceVersion: MsgSvcSendVersion,
		SeqNum:           seqNum,
		OpNum:            OpNetrSendMessage,
		InterfaceHint:    NoHint,
		ActivityHint:     NoHint,
	}
}

// MatchSendMessage reports whether the request header h calls msgsvcsend
// NetrSendMessage. When it does not, reject is the status C706 has a server
// reject the call with: nca_s_unk_if for another interface or an
// incompatible version (major other than 1, or a minor above our 0), and
// nca_s_op_rng_error for another opnum. The packet type is not examined.
func MatchSendMessage(h Header) (reject Status, ok bool) {
	if h.Interface != MsgSvcSendInterface || h.InterfaceVersion != MsgSvcSendVersion {
		return NCAUnknownInterface, false
	}
	if h.OpNum != OpNetrSendMessage {
		return NCAOpRangeError, false
	}
	return 0, true
}
