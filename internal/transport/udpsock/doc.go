// Package udpsock holds the socket options the NetBIOS UDP transports and
// the resolver share.
package udpsock
