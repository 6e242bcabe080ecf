// Package caps gives up, for good, capabilities the daemon needs only
// while it starts: CAP_BPF to load the kernel filter, CAP_NET_BIND_SERVICE
// to open ports below 1024. Once the sockets are open and the filter is
// attached, the file descriptors are all it uses, and holding the
// capabilities on would only serve someone who took over the process
// (CAP_BPF reaches every BPF object of the host by id).
//
// A capability is taken out of the effective, permitted, inheritable and
// ambient sets of every thread of the process (the Go runtime runs on
// several, and each has its own sets). The bounding set is left alone:
// lowering it needs CAP_SETPCAP, which the daemon does not hold, and what
// it would add is done by NoNewPrivileges in the packaged unit.
package caps
