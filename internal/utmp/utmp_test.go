package utmp

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestRoundTrip(t *testing.T) {
	want := []Record{
		{Type: BootTime, Line: "~", User: "reboot", Time: time.Unix(1700000000, 0)},
		{Type: UserProcess, PID: 4242, Line: "pts/3", User: "alice", Host: "10.0.0.5", Time: time.Unix(1700000100, 123000)},
		{Type: UserProcess, PID: 4243, Line: "tty1", User: "bob", Time: time.Unix(1700000200, 0)},
		{Type: UserProcess, PID: 4244, Line: "pts/4", User: "alice", Time: time.Unix(1700000300, 0)},
		{Type: DeadProcess, PID: 4000, Line: "pts/1", User: "carol", Time: time.Unix(1700000050, 0)},
	}
	var b []byte
	for _, r := range want {
		b = Append(b, r)
	}
	got, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Parse = %+v\nwant %+v", got, want)
	}
	if u := Users(got); !reflect.DeepEqual(u, []string{"alice", "bob"}) {
		t.Fatalf("Users = %q, want alice, bob (dead and duplicate sessions left out)", u)
	}
}

func TestParseErrors(t *testing.T) {
	for _, n := range []int{1, RecordLen - 1, RecordLen + 7} {
		if _, err := Parse(make([]byte, n)); !errors.Is(err, ErrTruncated) {
			t.Errorf("Parse(%d bytes) error = %v, want ErrTruncated", n, err)
		}
	}
	if _, err := Parse(make([]byte, RecordLen*(maxRecords+1))); err == nil {
		t.Error("Parse accepted more records than the limit")
	}
}

func TestReadFileMissing(t *testing.T) {
	recs, err := ReadFile(t.TempDir() + "/nope")
	if err != nil || recs != nil {
		t.Fatalf("ReadFile(missing) = %v, %v; want nothing, no error", recs, err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(Append(nil, Record{Type: UserProcess, PID: 1, Line: "pts/0", User: "root", Time: time.Unix(1, 0)}))
	f.Add(make([]byte, RecordLen*2))
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, err := Parse(b)
		if err != nil {
			return
		}
		if len(recs) != len(b)/RecordLen {
			t.Fatalf("%d records from %d bytes", len(recs), len(b))
		}
		_ = Users(recs)
	})
}
