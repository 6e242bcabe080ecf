// Package utmp decodes the Linux login records (utmp/wtmp), from which the
// daemon learns which users are logged in — their names are messenger
// names — and on which terminals.
package utmp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"time"
)

// RecordLen is the size of one record in glibc's on-disk format on every
// 64-bit Linux (the layout keeps 32-bit times for compatibility).
const RecordLen = 384

// DefaultPath is where glibc keeps the current logins.
const DefaultPath = "/var/run/utmp"

// maxRecords bounds how much of a file is read: far more logins than any
// host has, and a cap on what a corrupt file can make us allocate.
const maxRecords = 65536

// Type is ut_type.
type Type int16

// Record types that matter here.
const (
	Empty        Type = 0
	RunLevel     Type = 1
	BootTime     Type = 2
	InitProcess  Type = 5
	LoginProcess Type = 6
	UserProcess  Type = 7
	DeadProcess  Type = 8
)

// Field offsets in a record.
const (
	offType = 0
	offPID  = 4
	offLine = 8
	lenLine = 32
	offUser = 44
	lenUser = 32
	offHost = 76
	lenHost = 256
	offSec  = 340
	offUsec = 344
)

// ErrTruncated is returned when the data is not a whole number of records.
var ErrTruncated = errors.New("utmp: truncated record")

// Record is one login record.
type Record struct {
	Type Type
	PID  int32
	Line string // terminal, relative to /dev
	User string
	Host string
	Time time.Time
}

// Parse decodes a utmp file's contents.
func Parse(b []byte) ([]Record, error) {
	if len(b)%RecordLen != 0 {
		return nil, fmt.Errorf("%w: %d bytes is not a multiple of %d", ErrTruncated, len(b), RecordLen)
	}
	n := len(b) / RecordLen
	if n > maxRecords {
		return nil, fmt.Errorf("utmp: %d records exceed the limit of %d", n, maxRecords)
	}
	recs := make([]Record, 0, n)
	for i := 0; i < n; i++ {
		recs = append(recs, parseRecord(b[i*RecordLen:(i+1)*RecordLen]))
	}
	return recs, nil
}

func parseRecord(r []byte) Record {
	le := binary.LittleEndian
	return Record{
		Type: Type(int16(le.Uint16(r[offType:]))),
		PID:  int32(le.Uint32(r[offPID:])),
		Line: cString(r[offLine : offLine+lenLine]),
		User: cString(r[offUser : offUser+lenUser]),
		Host: cString(r[offHost : offHost+lenHost]),
		Time: time.Unix(int64(int32(le.Uint32(r[offSec:]))), int64(int32(le.Uint32(r[offUsec:])))*1000),
	}
}

func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// ReadFile reads and decodes a utmp file. A missing file means nobody is
// logged in (containers often have none).
func ReadFile(path string) ([]Record, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("utmp: %w", err)
	}
	return Parse(b)
}

// Users returns the distinct names of users with a live login session.
func Users(recs []Record) []string {
	seen := make(map[string]bool)
	var users []string
	for _, r := range recs {
		if r.Type != UserProcess || r.User == "" || seen[r.User] {
			continue
		}
		seen[r.User] = true
		users = append(users, r.User)
	}
	return users
}

// Append encodes r in the on-disk format, for tests and tools that write
// login records.
func Append(b []byte, r Record) []byte {
	var rec [RecordLen]byte
	le := binary.LittleEndian
	le.PutUint16(rec[offType:], uint16(r.Type))
	le.PutUint32(rec[offPID:], uint32(r.PID))
	copy(rec[offLine:offLine+lenLine-1], r.Line)
	copy(rec[offUser:offUser+lenUser-1], r.User)
	copy(rec[offHost:offHost+lenHost-1], r.Host)
	le.PutUint32(rec[offSec:], uint32(int32(r.Time.Unix())))
	le.PutUint32(rec[offUsec:], uint32(int32(r.Time.Nanosecond()/1000)))
	return append(b, rec[:]...)
}
