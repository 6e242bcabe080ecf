package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func writeConfig(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "messenger.toml")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// requireLoadErrorsAt loads each file and wants an error that names the
// file, the line and then says want (want begins with ":LINE: ").
func requireLoadErrorsAt(t *testing.T, cases []struct{ file, want string }) {
	t.Helper()
	for _, tc := range cases {
		path := writeConfig(t, tc.file)
		_, err := Load(path, true)
		if err == nil || !strings.Contains(err.Error(), path+tc.want) {
			t.Errorf("%q: %v\nwant %q", tc.file, err, path+tc.want)
		}
	}
}

// requirePrintReadsBack prints cfg, wants each of wants in the print, and
// wants the print, read back, to print the same again.
func requirePrintReadsBack(t *testing.T, cfg *Config, wants []string) {
	t.Helper()
	out, err := cfg.Encode()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range wants {
		if !strings.Contains(string(out), want) {
			t.Errorf("config print lacks %q:\n%s", want, out)
		}
	}
	again, err := Load(writeConfig(t, string(out)), true)
	if err != nil {
		t.Fatalf("reading the printed configuration: %v", err)
	}
	if out2, _ := again.Encode(); string(out2) != string(out) {
		t.Errorf("printed twice differs:\n%s\n---\n%s", out, out2)
	}
}

func TestDefaultsValidate(t *testing.T) {
	cfg := Default()
	cfg.HostName = "HOST"
	if err := cfg.Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
	if cfg.SMBPort != 139 || cfg.NBNSPort != 137 || cfg.DgramPort != 138 || cfg.RPCPort != 135 {
		t.Errorf("default ports %d/%d/%d/%d, want the real ones", cfg.SMBPort, cfg.NBNSPort, cfg.DgramPort, cfg.RPCPort)
	}
	// Issue 16: one source must not take every session, nor keep one.
	if s := cfg.SMB; s.MaxSessionsPerSource != 16 || s.MaxSessionAge.Duration != 5*time.Minute || s.MaxSessionsPerSource >= s.MaxSessions {
		t.Errorf("smb defaults %+v, want 16 sessions per source of %d and a 5m maximum age", s, s.MaxSessions)
	}
}

func TestPrecedence(t *testing.T) {
	path := writeConfig(t, `
data_dir = "/from/file"
host_name = "filehost"
names = ["one"]
smb_port = 1139

[smb]
idle_timeout = "45s"
max_session_age = "90s"
max_sessions_per_source = 4
`)
	t.Setenv(EnvDataDir, "/from/env")
	cfg, err := Load(path, true)
	if err != nil {
		t.Fatal(err)
	}
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	flags := AddDaemonFlags(fs)
	if err := fs.Parse([]string{"--smb-port", "2139", "--name", "two", "--name", "three", "--smb-max-sessions-per-source", "8"}); err != nil {
		t.Fatal(err)
	}
	flags.Apply(&cfg)
	if cfg.DataDir != "/from/env" {
		t.Errorf("data_dir = %q; the environment beats the file", cfg.DataDir)
	}
	if cfg.HostName != "filehost" {
		t.Errorf("host_name = %q; an unset flag must not reset the file's value", cfg.HostName)
	}
	if cfg.SMBPort != 2139 {
		t.Errorf("smb_port = %d; the flag beats the file", cfg.SMBPort)
	}
	if strings.Join(cfg.Names, ",") != "one,two,three" {
		t.Errorf("names = %q; --name adds to the file's names", cfg.Names)
	}
	if cfg.SMB.IdleTimeout.Duration != 45*time.Second {
		t.Errorf("smb.idle_timeout = %v, want 45s", cfg.SMB.IdleTimeout)
	}
	if cfg.SMB.MaxSessionAge.Duration != 90*time.Second || cfg.SMB.MaxSessionsPerSource != 8 {
		t.Errorf("smb = %+v, want max_session_age 90s from the file, max_sessions_per_source 8 from the flag", cfg.SMB)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	out, err := cfg.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "smb_port = 2139") || !strings.Contains(string(out), `idle_timeout = "45s"`) ||
		!strings.Contains(string(out), `max_session_age = "1m30s"`) || !strings.Contains(string(out), "max_sessions_per_source = 8") {
		t.Errorf("Encode output lacks settings:\n%s", out)
	}
}

func TestLoadErrors(t *testing.T) {
	for _, tc := range []struct {
		name, content, want string
	}{
		{"syntax", "smb_port = 139\nnames = [\"a\"\nbind = 1\n", ":3:"},
		{"unknown key", "smb_prot = 139\n", "unknown setting smb_prot"},
		{"unknown nested key", "[smb]\nidle = \"1s\"\n", "unknown setting smb.idle"},
		{"wrong type", "smb_port = \"139\"\n", "smb_port"},
		{"bad duration", "[smb]\nidle_timeout = \"soon\"\n", "soon"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(writeConfig(t, tc.content), true)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Load error = %v, want one mentioning %q", err, tc.want)
			}
		})
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.toml"), true); err == nil {
		t.Error("an explicit missing file is not an error")
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.toml"), false); err != nil {
		t.Errorf("a missing default file is an error: %v", err)
	}
}

func TestValidateErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"port range", func(c *Config) { c.SMBPort = 70000 }, "smb_port: 70000"},
		{"negative port", func(c *Config) { c.RPCPort = -1 }, "rpc_port: -1"},
		{"same UDP port", func(c *Config) { c.DgramPort = c.NBNSPort }, "nbns_port and dgram_port"},
		{"long alias", func(c *Config) { c.Names = []string{"a-name-far-too-long"} }, "names: \"a-name-far-too-long\""},
		{"bad alias character", func(c *Config) { c.Names = []string{"bad*name"} }, "bad*name"},
		{"bad bind", func(c *Config) { c.Bind = "localhost" }, "bind: \"localhost\" is not an IP address"},
		{"bad http addr", func(c *Config) { c.HTTPAddr = "8139" }, "http_addr"},
		{"bad code page", func(c *Config) { c.CodePage = "EBCDIC" }, "code_page"},
		{"bad level", func(c *Config) { c.Log.Level = "loud" }, "log.level"},
		{"no sessions", func(c *Config) { c.SMB.MaxSessions = 0 }, "smb.max_sessions"},
		{"no sessions per source", func(c *Config) { c.SMB.MaxSessionsPerSource = 0 }, "smb.max_sessions_per_source"},
		{"no session age", func(c *Config) { c.SMB.MaxSessionAge.Duration = 0 }, "smb.max_session_age"},
		{"hook without command", func(c *Config) { c.Sinks.Hook.Enabled = true }, "sinks.hook.command: the hook is enabled"},
		{"hook relative", func(c *Config) { c.Sinks.Hook.Enabled, c.Sinks.Hook.Command = true, []string{"notify"} }, "not an absolute path"},
		{"hook timeout", func(c *Config) {
			c.Sinks.Hook = HookSink{Enabled: true, Command: []string{"/bin/true"}}
		}, "sinks.hook.timeout"},
		{"terminal name", func(c *Config) { c.Sinks.Terminal.Names = []string{"bad*name"} }, "sinks.terminal.names"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Default()
			cfg.HostName = "HOST"
			tc.mutate(&cfg)
			err := cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate = %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
}
