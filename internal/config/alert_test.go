package config

import (
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

const goodHash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

func TestAlertDefaults(t *testing.T) {
	a := Default().Alert
	if a.DedupWindow.Duration != 5*time.Minute || a.RateLimit != 60 || a.IngestAddr != "" || a.From != "" || len(a.Routes) != 0 {
		t.Errorf("default [alert] = %+v", a)
	}
}

func TestAlertErrorsNameTheLine(t *testing.T) {
	requireLoadErrorsAt(t, []struct{ file, want string }{
		{"[alert]\nrate_limit = -1\n", ":2: alert.rate_limit: -1 is negative"},
		{"[alert]\ndedup_window = \"-1s\"\n", ":2: alert.dedup_window: -1s is negative"},
		{"[alert]\ningest_addr = \"8080\"\n", ":2: alert.ingest_addr: \"8080\" is not HOST:PORT"},
		{"[alert]\ningest_addr = \"127.0.0.1:http\"\n", ":2: alert.ingest_addr: \"127.0.0.1:http\": \"http\" is not a port"},
		{"[alert]\nfrom = \"A-SENDER-NAME-TOO-LONG\"\n", ":2: alert.from: \"A-SENDER-NAME-TOO-LONG\" is longer than 15"},
		{"[alert.groups]\nadmins = [\"ALICE\"]\nops = [\"admins\"]\n", ":3: alert.groups.ops: \"admins\" is a group: groups do not nest"},
		{"[alert.groups]\nadmins = [\"bad*name\"]\n", ":2: alert.groups.admins: \"bad*name\" is not a messenger name"},
		{"[alert.groups]\nempty = []\n", ":2: alert.groups.empty: the group is empty"},
		{"[[alert.route]]\nto = [\"ALICE\"]\n\n[[alert.route]]\nseverity = \"loud\"\nto = [\"ALICE\"]\n", ":5: alert.route[1].severity: severity \"loud\" is not"},
		{"[[alert.route]]\nsources = [\"\"]\nto = [\"ALICE\"]\n", ":2: alert.route[0].sources: invalid message: alert source is empty"},
		{"[[alert.route]]\nseverity = \"critical\"\n", ":1: alert.route[0].to: names no recipient"},
		{"[[alert.route]]\nto = [\"nobody-group-or-name\"]\n", ":2: alert.route[0].to: \"nobody-group-or-name\" is neither a group"},
		{"[[alert.token]]\nname = \"a\"\nsha256 = \"" + goodHash + "\"\n[[alert.token]]\nname = \"a\"\nsha256 = \"" + goodHash + "\"\n",
			":5: alert.token[1] (\"a\").name: the name is already used by token 0"},
		{"[[alert.token]]\nname = \"a\"\nsha256 = \"abc\"\n", ":3: alert.token[0] (\"a\").sha256: must be the token's SHA-256"},
		{"[[alert.token]]\nsha256 = \"" + goodHash + "\"\n", ":1: alert.token[0].name: every token needs a name"},
		{"[[alert.token]]\nname = \"a\"\nsha256 = \"" + goodHash + "\"\nto = []\n", ":4: alert.token[0] (\"a\").to: names no recipient"},
		{"[alert.topics]\n\"bad topic\" = [\"ALICE\"]\n", ":2: alert.topics.bad topic: \"bad topic\" is not an ntfy topic"},
		{"[alert.topics]\nbackups = [\"bad*name\"]\n", ":2: alert.topics.backups: \"bad*name\" is neither a group"},
	})
}

// Every problem is listed at once, the [alert] table's with the others.
func TestAlertValidateListsAll(t *testing.T) {
	cfg := Default()
	cfg.HostName = "HOST"
	cfg.SMBPort = 70000
	cfg.Alert.RateLimit = -5
	cfg.Alert.Routes = []AlertRoute{{Severity: "loud", To: []string{"ALICE"}}}
	cfg.Alert.Tokens = []AlertToken{{Name: "t", SHA256: "xyz"}}
	err := cfg.Validate()
	if err == nil {
		t.Fatal("Validate accepted a bad [alert] table")
	}
	for _, want := range []string{"smb_port: 70000", "alert.rate_limit: -5", "alert.route[0].severity", "alert.token[0] (\"t\").sha256"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate error lacks %q:\n%v", want, err)
		}
	}
}

func TestAlertGoodConfigPrintedAndReread(t *testing.T) {
	src := `[alert]
dedup_window = "10m"
rate_limit = 0
ingest_addr = "127.0.0.1:8140"
from = "UPSMON"

[alert.groups]
admins = ["ALICE", "bob"]

[[alert.route]]
sources = ["nut", "clamav"]
severity = "warning"
to = ["ADMINS", "CAROL"]

[[alert.route]]
to = ["DAVE"]

[[alert.token]]
name = "grafana"
sha256 = "` + goodHash + `"
to = ["admins"]
source = "grafana"

[alert.topics]
backups = ["admins"]
`
	cfg, err := Load(writeConfig(t, src), true)
	if err != nil {
		t.Fatal(err)
	}
	cfg.HostName = "HOST"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	a := cfg.Alert
	if a.DedupWindow.Duration != 10*time.Minute || a.RateLimit != 0 || a.From != "UPSMON" || len(a.Routes) != 2 ||
		a.Routes[0].Severity != "warning" || len(a.Tokens) != 1 || a.Tokens[0].Source != "grafana" || len(a.Topics["backups"]) != 1 {
		t.Errorf("decoded [alert] = %+v", a)
	}
	requirePrintReadsBack(t, &cfg, []string{"[alert]", `dedup_window = "10m0s"`, `[alert.groups]`, `admins = ["ALICE", "bob"]`, "[[alert.route]]", `sources = ["nut", "clamav"]`, "[[alert.token]]", "[alert.topics]"})
}

func TestAlertFlags(t *testing.T) {
	cfg, err := Load(writeConfig(t, "[alert]\nrate_limit = 5\nfrom = \"FILE\"\n"), true)
	if err != nil {
		t.Fatal(err)
	}
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	flags := AddDaemonFlags(fs)
	if err := fs.Parse([]string{"--alert-dedup-window", "30s", "--alert-ingest-addr", "127.0.0.1:8140", "--alert-from", "FLAG"}); err != nil {
		t.Fatal(err)
	}
	flags.Apply(&cfg)
	a := cfg.Alert
	if a.DedupWindow.Duration != 30*time.Second || a.IngestAddr != "127.0.0.1:8140" || a.From != "FLAG" || a.RateLimit != 5 {
		t.Errorf("[alert] after flags = %+v; want the flags over the file, and the file's rate_limit kept", a)
	}
	fs = pflag.NewFlagSet("serve", pflag.ContinueOnError)
	flags = AddDaemonFlags(fs)
	if err := fs.Parse([]string{"--alert-rate-limit", "0"}); err != nil {
		t.Fatal(err)
	}
	flags.Apply(&cfg)
	if cfg.Alert.RateLimit != 0 {
		t.Errorf("--alert-rate-limit 0 left rate_limit = %d", cfg.Alert.RateLimit)
	}
}
