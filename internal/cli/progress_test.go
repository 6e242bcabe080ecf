package cli

import (
	"bytes"
	"os"
	"testing"
	"time"
)

// Progress is for a person at a terminal: a pipe, a file or a buffer get
// nothing, so that scripts' stderr stays clean.
func TestProgressSilentOffTerminal(t *testing.T) {
	var buf bytes.Buffer
	stop := progress(&buf, "waiting")
	time.Sleep(10 * time.Millisecond)
	stop()
	f, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	progress(f, "waiting")()
	if st, _ := f.Stat(); buf.Len() != 0 || st.Size() != 0 {
		t.Errorf("progress wrote %q to a buffer and %d bytes to a file", buf.String(), st.Size())
	}
}
