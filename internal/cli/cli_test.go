package cli

import (
	"bytes"
	"strings"
	"testing"
)

// TestMainExitStatus runs the command as cmd/messenger does: its output
// goes to the writers given, and its exit status is returned.
func TestMainExitStatus(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := Main([]string{"messenger", "version"}, strings.NewReader(""), &out, &errOut); code != 0 {
		t.Fatalf("version: exit %d, stderr %q", code, errOut.String())
	}
	if !strings.HasPrefix(out.String(), "messenger ") {
		t.Errorf("version printed %q", out.String())
	}
	out.Reset()
	if code := Main([]string{"messenger", "no-such-verb"}, strings.NewReader(""), &out, &errOut); code != 1 {
		t.Errorf("unknown verb: exit %d, want 1", code)
	}
	if !strings.HasPrefix(errOut.String(), "messenger: ") {
		t.Errorf("unknown verb: stderr %q, want the error after \"messenger: \"", errOut.String())
	}
}
