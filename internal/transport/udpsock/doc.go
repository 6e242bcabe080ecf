// Package udpsock holds the socket options the NetBIOS UDP transports and
// the resolver share, the SO_REUSEPORT groups that spread a port over the
// CPUs, and the skeleton of their serve loops.
package udpsock
