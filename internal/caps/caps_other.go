//go:build !linux

package caps

// Drop does nothing: capabilities are a Linux feature.
func Drop(func() error, ...string) ([]string, error) { return nil, nil }
