//go:build linux

package caps

import (
	"fmt"

	"kernel.org/pub/linux/libs/security/libcap/cap"
)

// Drop takes the capabilities named (as "cap_bpf") out of every set of
// every thread and returns those the process held in any set.
//
// When check is not nil, they are first lowered from the effective set
// alone, where the kernel looks, and check is run: if it fails, they
// are raised again and Drop returns its error, having dropped nothing.
// That is how a caller finds out that something it still needs requires
// one of them, without losing it.
func Drop(check func() error, names ...string) (dropped []string, err error) {
	var vals []cap.Value
	for _, n := range names {
		v, err := cap.FromName(n)
		if err != nil {
			return nil, fmt.Errorf("capability %q: %w", n, err)
		}
		vals = append(vals, v)
	}
	set := cap.GetProc()
	var held []cap.Value
	for _, v := range vals {
		if inAnySet(set, v) {
			held = append(held, v)
			dropped = append(dropped, v.String())
		}
	}
	if len(held) == 0 {
		return nil, nil
	}
	if check != nil {
		lowered, err := set.Dup()
		if err != nil {
			return nil, err
		}
		if err := lowered.SetFlag(cap.Effective, false, held...); err != nil {
			return nil, err
		}
		if err := lowered.SetProc(); err != nil {
			return nil, fmt.Errorf("lowering %v: %w", dropped, err)
		}
		if cerr := check(); cerr != nil {
			// Raising back what is still permitted needs no privilege.
			if err := set.SetProc(); err != nil {
				return nil, fmt.Errorf("%w; and raising %v again failed: %w", cerr, dropped, err)
			}
			return nil, cerr
		}
	}
	// The ambient set first: the kernel would clear an ambient
	// capability that is no longer permitted anyway, but the drop should
	// not depend on that rule.
	if err := cap.SetAmbient(false, held...); err != nil {
		return nil, fmt.Errorf("dropping %v from the ambient set: %w", dropped, err)
	}
	set = cap.GetProc()
	for _, f := range []cap.Flag{cap.Effective, cap.Permitted, cap.Inheritable} {
		if err := set.SetFlag(f, false, held...); err != nil {
			return nil, err
		}
	}
	if err := set.SetProc(); err != nil {
		return nil, fmt.Errorf("dropping %v: %w", dropped, err)
	}
	return dropped, nil
}

// inAnySet reports whether v is in the effective, permitted or inheritable
// set, or in the ambient one.
func inAnySet(set *cap.Set, v cap.Value) bool {
	for _, f := range []cap.Flag{cap.Effective, cap.Permitted, cap.Inheritable} {
		if on, _ := set.GetFlag(f, v); on {
			return true
		}
	}
	on, _ := cap.GetAmbient(v)
	return on
}
