package audit

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Program is a process that holds a socket.
type Program struct {
	PID  int    `json:"pid"`
	Name string `json:"name"`
}

// socketOwners maps socket inodes to the processes that hold them, by
// reading every /proc/[pid]/fd link of the form "socket:[inode]". Processes
// that vanish or whose descriptors we may not read (another user's, when
// not root) are skipped: the audit then names fewer programs, not none.
func socketOwners(procRoot string) map[uint64][]Program {
	out := map[uint64][]Program{}
	entries, err := os.ReadDir(procRoot)
	if err != nil {
		return out
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 0 {
			continue
		}
		fdDir := filepath.Join(procRoot, e.Name(), "fd")
		fds, err := os.ReadDir(fdDir)
		if err != nil {
			continue
		}
		var name string
		for _, fd := range fds {
			target, err := os.Readlink(filepath.Join(fdDir, fd.Name()))
			if err != nil {
				continue
			}
			inode, ok := socketInode(target)
			if !ok {
				continue
			}
			if name == "" {
				name = processName(procRoot, e.Name())
			}
			p := Program{PID: pid, Name: name}
			if !slices.Contains(out[inode], p) {
				out[inode] = append(out[inode], p)
			}
		}
	}
	return out
}

// socketInode reads the inode from a descriptor link "socket:[12345]".
func socketInode(link string) (uint64, bool) {
	rest, ok := strings.CutPrefix(link, "socket:[")
	if !ok {
		return 0, false
	}
	num, ok := strings.CutSuffix(rest, "]")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(num, 10, 64)
	return n, err == nil
}

func processName(procRoot, pid string) string {
	b, err := os.ReadFile(filepath.Join(procRoot, pid, "comm"))
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
}
