// Package ipp decodes and encodes Internet Printing Protocol messages as
// RFC 8010 section 3 lays them out: a version, an operation-id or
// status-code, a request-id, then attribute groups, each opened by a
// delimiter tag, and an end-of-attributes tag. CUPS speaks it to its
// clients and writes it to notifiers: every event a subscription asks for
// reaches the notifier's standard input as one IPP message, one after
// another on the same pipe.
//
// The codec is pure, in the manner of golang.org/x/net/dns/dnsmessage:
// bytes in, a Message out, and back. Every length is checked against the
// bytes present, the number of attributes and values and the depth of
// collections are capped, and a malformed message gets an error that
// names the field that was wrong. Reader splits a stream of consecutive
// messages; it owns no socket, only an io.Reader.
package ipp
