// Package kfilter drops the datagrams of a source the spam policy has
// judged flooding or blocked in the kernel, before they take any space in
// a socket's receive buffer: an eBPF socket filter attached to each UDP
// socket of a transport looks the source address up in a hash map that the
// daemon fills, and counts, per source, what it dropped.
//
// The map holds IPv4 sources as IPv4-mapped IPv6 addresses and IPv6 ones
// as they are, so one 16-byte key serves both. The kernel never forgets an
// entry by itself: Sweep, run by the daemon, removes a source once the
// hold it was installed with has run out, so that the policy judges it
// again, and reports how much was dropped. Where eBPF is not allowed (not
// root and no CAP_BPF, an old kernel, another OS) New fails and the policy
// keeps judging every datagram in user space, as before.
//
// CAP_BPF is needed to load, not to use: once New and Attach are done the
// Filter works through the descriptors it holds, and the daemon drops the
// capability (package caps), after Check has shown that this kernel lets
// it.
package kfilter
