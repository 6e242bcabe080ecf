package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPolicyErrorsNameTheLine(t *testing.T) {
	for _, tc := range []struct{ file, want string }{
		{"[policy]\ntrust = [\"UPS\"]\nblock_senders = [\"ups\"]\n", ":2: policy.trust: UPS is also in block_senders"},
		{"[policy]\nblock_senders = [\"10.0.0.0/33\"]\n", ":2: \"10.0.0.0/33\" is not a network"},
		{"[[policy.rule]]\nname = \"a\"\ntext = \"x\"\naction = \"drop\"\n\n[[policy.rule]]\nname = \"b\"\ntext = \"y\"\naction = \"explode\"\n",
			":9: policy.rule[1] (\"b\").action: \"explode\" is not"},
		{"[[policy.rule]]\nname = \"a\"\ntext = \"(x\"\naction = \"drop\"\n", ":3: bad regular expression"},
		{"[policy.rate]\nglobal = { rate = \"lots\" }\n", ":2: rate \"lots\" is not N/duration"},
		{"\n[policy.transports.rpc]\nallow = [\"0.0.0.0/0\"]\n", ":3: policy.transports.rpc.allow"},
		{"[policy.transports.irc]\nenabled = true\n", ":1: policy.transports.irc: unknown transport"},
	} {
		path := filepath.Join(t.TempDir(), "m.toml")
		if err := os.WriteFile(path, []byte(tc.file), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Load(path, true)
		if err == nil || !strings.Contains(err.Error(), path+tc.want) {
			t.Errorf("%q: %v\nwant %q", tc.file, err, path+tc.want)
		}
	}
}

func TestPolicyPrintedAndReread(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.toml")
	src := "[policy]\ntrust = [\"UPS\", \"10.1.0.0/16\"]\n[policy.rate]\nper_source = { rate = \"10/1m\", burst = 20 }\n" +
		"[[policy.rule]]\nname = \"pills\"\ntext = \"(?i)viagra\"\naction = \"drop\"\n"
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path, true)
	if err != nil {
		t.Fatal(err)
	}
	out, err := cfg.Encode()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`trust = ["UPS", "10.1.0.0/16"]`, `rate = "10/1m"`, `text = "(?i)viagra"`, `[policy.transports.smb]`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("config print lacks %q:\n%s", want, out)
		}
	}
	// What is printed reads back as the same configuration.
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
	again, err := Load(path, true)
	if err != nil {
		t.Fatalf("reading the printed configuration: %v", err)
	}
	if out2, _ := again.Encode(); string(out2) != string(out) {
		t.Errorf("printed twice differs:\n%s\n---\n%s", out, out2)
	}
}
