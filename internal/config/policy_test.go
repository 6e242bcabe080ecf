package config

import "testing"

func TestPolicyErrorsNameTheLine(t *testing.T) {
	requireLoadErrorsAt(t, []struct{ file, want string }{
		{"[policy]\ntrust = [\"UPS\"]\nblock_senders = [\"ups\"]\n", ":2: policy.trust: UPS is also in block_senders"},
		{"[policy]\nblock_senders = [\"10.0.0.0/33\"]\n", ":2: \"10.0.0.0/33\" is not a network"},
		{"[[policy.rule]]\nname = \"a\"\ntext = \"x\"\naction = \"drop\"\n\n[[policy.rule]]\nname = \"b\"\ntext = \"y\"\naction = \"explode\"\n",
			":9: policy.rule[1] (\"b\").action: \"explode\" is not"},
		{"[[policy.rule]]\nname = \"a\"\ntext = \"(x\"\naction = \"drop\"\n", ":3: bad regular expression"},
		{"[policy.rate]\nglobal = { rate = \"lots\" }\n", ":2: rate \"lots\" is not N/duration"},
		{"\n[policy.transports.rpc]\nallow = [\"0.0.0.0/0\"]\n", ":3: policy.transports.rpc.allow"},
		{"[policy.transports.irc]\nenabled = true\n", ":1: policy.transports.irc: unknown transport"},
	})
}

func TestPolicyPrintedAndReread(t *testing.T) {
	src := "[policy]\ntrust = [\"UPS\", \"10.1.0.0/16\"]\n[policy.rate]\nper_source = { rate = \"10/1m\", burst = 20 }\n" +
		"[[policy.rule]]\nname = \"pills\"\ntext = \"(?i)viagra\"\naction = \"drop\"\n"
	cfg, err := Load(writeConfig(t, src), true)
	if err != nil {
		t.Fatal(err)
	}
	requirePrintReadsBack(t, &cfg, []string{`trust = ["UPS", "10.1.0.0/16"]`, `rate = "10/1m"`, `text = "(?i)viagra"`, `[policy.transports.smb]`})
}
