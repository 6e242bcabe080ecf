package audit

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The samples under testdata are written as a little-endian kernel prints
// them; on a big-endian machine the kernel prints other text.
func requireLittleEndian(t testing.TB) {
	t.Helper()
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		t.Skip("testdata holds little-endian /proc/net text")
	}
}

func describeSockets(socks []Socket) string {
	var b strings.Builder
	for _, s := range socks {
		fmt.Fprintf(&b, "%s %s -> %s state=%02X uid=%d inode=%d listening=%v\n",
			s.Proto, s.Local, s.Remote, s.State, s.UID, s.Inode, s.Listening())
	}
	return b.String()
}

func TestParseProcNetGolden(t *testing.T) {
	requireLittleEndian(t)
	for _, file := range []string{"tcp", "tcp6", "udp", "udp6"} {
		t.Run(file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", file))
			if err != nil {
				t.Fatal(err)
			}
			socks, err := ParseProcNet(data, strings.TrimSuffix(file, "6"))
			if err != nil {
				t.Fatal(err)
			}
			got := describeSockets(socks)
			golden := filepath.Join("testdata", file+".golden")
			if os.Getenv("UPDATE_GOLDEN") != "" {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("got\n%s\nwant\n%s", got, want)
			}
		})
	}
}

func TestParseProcNetErrors(t *testing.T) {
	const good = "   0: 00000000:008B 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4101 1 0 100 0 0 10 0"
	tests := []struct {
		name, line, wantIn string
	}{
		{"too few fields", "   0: 00000000:008B 00000000:0000 0A", "fields"},
		{"no port", strings.Replace(good, "00000000:008B", "00000000", 1), "has no port"},
		{"short port", strings.Replace(good, ":008B", ":8B", 1), "port"},
		{"odd address", strings.Replace(good, "00000000:008B", "0000000:008B", 1), "neither 8 nor 32"},
		{"not hex", strings.Replace(good, "00000000:008B", "0000000G:008B", 1), "address"},
		{"mixed families", strings.Replace(good, "00000000:0000", "00000000000000000000000000000000:0000", 1), "different families"},
		{"bad state", strings.Replace(good, " 0A ", " XYZ ", 1), "state"},
		{"bad uid", strings.Replace(good, "     0        0 4101", "     x        0 4101", 1), "uid"},
		{"bad inode", strings.Replace(good, " 4101 ", " -1 ", 1), "inode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseProcNet([]byte("  sl  local_address\n"+tt.line+"\n"), "tcp")
			if err == nil {
				t.Fatalf("no error for %q", tt.line)
			}
			if !errors.Is(err, errProcNet) || !strings.Contains(err.Error(), tt.wantIn) || !strings.Contains(err.Error(), "line 2") {
				t.Errorf("error %q: want errProcNet mentioning %q and line 2", err, tt.wantIn)
			}
		})
	}
	if _, err := ParseProcNet([]byte(good), "sctp"); err == nil {
		t.Error("protocol sctp accepted")
	}
	if socks, err := ParseProcNet(nil, "udp"); err != nil || len(socks) != 0 {
		t.Errorf("empty file: %v, %v", socks, err)
	}
}

// formatProcNetLine writes s the way the kernel does, for the round trip.
func formatProcNetLine(s Socket) string {
	hexAddr := func(b []byte) string {
		var out strings.Builder
		for w := 0; w < len(b); w += 4 {
			fmt.Fprintf(&out, "%08X", binary.NativeEndian.Uint32(b[w:]))
		}
		return out.String()
	}
	return fmt.Sprintf("%4d: %s:%04X %s:%04X %02X 00000000:00000000 00:00000000 00000000 %5d        0 %d 1 0000000000000000 100 0 0 10 0",
		0, hexAddr(s.Local.Addr().AsSlice()), s.Local.Port(), hexAddr(s.Remote.Addr().AsSlice()), s.Remote.Port(), s.State, s.UID, s.Inode)
}

func FuzzParseProcNet(f *testing.F) {
	for _, file := range []string{"tcp", "tcp6", "udp", "udp6"} {
		if data, err := os.ReadFile(filepath.Join("testdata", file)); err == nil {
			f.Add(data, strings.HasPrefix(file, "tcp"))
		}
	}
	f.Add([]byte("0: 0:0 0:0 0 0 0 0 0 0 0"), true)
	f.Fuzz(func(t *testing.T, data []byte, tcp bool) {
		proto := "udp"
		if tcp {
			proto = "tcp"
		}
		socks, err := ParseProcNet(data, proto)
		if err != nil {
			return
		}
		var text strings.Builder
		for _, s := range socks {
			if s.Proto != proto {
				t.Fatalf("socket %+v from a %s table", s, proto)
			}
			if !s.Local.IsValid() || !s.Remote.IsValid() || s.Local.Addr().BitLen() != s.Remote.Addr().BitLen() {
				t.Fatalf("socket %+v has invalid or mixed addresses", s)
			}
			text.WriteString(formatProcNetLine(s) + "\n")
		}
		again, err := ParseProcNet([]byte(text.String()), proto)
		if err != nil {
			t.Fatalf("re-parsing our own rendering: %v\n%s", err, text.String())
		}
		if describeSockets(again) != describeSockets(socks) {
			t.Fatalf("round trip changed sockets:\n%s\nvs\n%s", describeSockets(socks), describeSockets(again))
		}
	})
}
