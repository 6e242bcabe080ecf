//go:build !linux

package kfilter

import "net"

// Filter is not available on this system: New always fails.
type Filter struct{ *table }

// New fails: eBPF socket filters are a Linux feature.
func New(int) (*Filter, error) { return nil, ErrUnsupported }

// Attach does nothing.
func (f *Filter) Attach([]*net.UDPConn) error { return ErrUnsupported }

// Check fails: there is no map.
func (f *Filter) Check() error { return ErrUnsupported }

// Close does nothing.
func (f *Filter) Close() error { return nil }
