package dcerpc

// ReplyHeader returns the header of a server's reply of type t (response,
// fault, reject, working, nocall) to the request req. The reply keeps the
// call's identity — object, interface and version, activity, sequence
// number, opnum — so the client can match it, and carries the server's own
// boot time, which the client then sends back on later calls. It is a
// separate packet stream, so fragment and serial numbers start at 0, and
// it offers no hints (0xFFFF).
//
// Replies use NativeDataRep whatever the request used (C706 lets each PDU
// carry its sender's drep). A response is one packet, so it gets
// Flags1LastFrag and not Flags1Frag: a client that tests either "not a
// fragment" or "last fragment" sees it as complete.
func ReplyHeader(req Header, t PacketType, serverBoot uint32) Header {
	h := Header{
		Version:          RPCVersion,
		Type:             t,
		DataRep:          NativeDataRep,
		Object:           req.Object,
		Interface:        req.Interface,
		Activity:         req.Activity,
		ServerBoot:       serverBoot,
		InterfaceVersion: req.InterfaceVersion,
		SeqNum:           req.SeqNum,
		OpNum:            req.OpNum,
		InterfaceHint:    NoHint,
		ActivityHint:     NoHint,
	}
	if t == TypeResponse {
		h.Flags1 = Flags1LastFrag
	}
	return h
}

// AckHeader returns the header of the ack a client sends after receiving
// the response resp, which lets the server discard the call's state (C706
// 12.5.3.1). It echoes the server boot time and the call's identity.
func AckHeader(resp Header) Header {
	return Header{
		Version:          RPCVersion,
		Type:             TypeAck,
		DataRep:          NativeDataRep,
		Object:           resp.Object,
		Interface:        resp.Interface,
		Activity:         resp.Activity,
		ServerBoot:       resp.ServerBoot,
		InterfaceVersion: resp.InterfaceVersion,
		SeqNum:           resp.SeqNum,
		OpNum:            resp.OpNum,
		InterfaceHint:    NoHint,
		ActivityHint:     NoHint,
	}
}

// AppendResponse appends a one-packet response to req carrying stub, e.g.
// the output of AppendSendMessageResponse in NativeDataRep. On error b is
// returned unchanged.
func AppendResponse(b []byte, req Header, serverBoot uint32, stub []byte) ([]byte, error) {
	return AppendPacket(b, ReplyHeader(req, TypeResponse, serverBoot), stub)
}

// AppendFault appends a fault answering req: the call reached the server
// but failed there, e.g. StatusBadStubData for a body that does not parse.
func AppendFault(b []byte, req Header, serverBoot uint32, status Status) ([]byte, error) {
	return appendStatusPacket(b, ReplyHeader(req, TypeFault, serverBoot), status)
}

// AppendReject appends a reject answering req: the call was refused before
// it ran, e.g. NCAUnknownInterface or NCAOpRangeError from MatchSendMessage.
func AppendReject(b []byte, req Header, serverBoot uint32, status Status) ([]byte, error) {
	return appendStatusPacket(b, ReplyHeader(req, TypeReject, serverBoot), status)
}

// appendStatusPacket appends h and a body of one status, without a
// separate buffer for the body.
func appendStatusPacket(b []byte, h Header, status Status) ([]byte, error) {
	var body [4]byte
	h.DataRep.order().PutUint32(body[:], uint32(status))
	return AppendPacket(b, h, body[:])
}
