package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/netsend/messenger/internal/policy"
)

func TestHostNameFrom(t *testing.T) {
	for _, tc := range []struct{ os, name, long string }{
		{"vm", "VM", ""},
		{"web-server-prod-01", "WEB-SERVER-PROD", "WEB-SERVER-PROD-01"},
		{"web-server-prod-01.example.com", "WEB-SERVER-PROD", "WEB-SERVER-PROD-01"},
		{"exactly15chars1.lan", "EXACTLY15CHARS1", ""},
		{"", "", ""},
	} {
		name, long := HostNameFrom(tc.os)
		if name != tc.name || long != tc.long {
			t.Errorf("HostNameFrom(%q) = %q, %q; want %q, %q", tc.os, name, long, tc.name, tc.long)
		}
	}
}

// An explicit host name is not cut: too long, it is an error naming the flag.
func TestExplicitLongHostNameIsAnError(t *testing.T) {
	c := Default()
	c.HostName = "WEB-SERVER-PROD-01"
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), "--host-name") {
		t.Fatalf("Validate = %v, want an error naming --host-name", err)
	}
}

func TestUnknownSettingNamesItsLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.toml")
	data := "host_name = \"A\"\n\n[smb]\nidle_timeout = \"1m\"\nidle = \"1s\"\n\n[bogus]\nx = 1\ny = 2\n"
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path, true)
	if err == nil {
		t.Fatal("Load accepted unknown settings")
	}
	for _, want := range []string{path + ":5: unknown setting smb.idle", path + ":7: unknown setting bogus"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "bogus.x") {
		t.Errorf("error %q repeats the unknown table's keys", err)
	}
}

func TestInForceFillsDefaults(t *testing.T) {
	c := Default()
	c.HostName = "HOST"
	c.Policy.Rate.PerSource = &policy.Limit{Rate: policy.Rate{N: 10}}
	got := c.InForce()
	if got.Alert.From != "HOST" {
		t.Errorf("alert.from = %q, want the host name", got.Alert.From)
	}
	if got.Policy.Rate.PerSource.Burst != 10 {
		t.Errorf("burst = %d, want the rate's count", got.Policy.Rate.PerSource.Burst)
	}
	if c.Policy.Rate.PerSource.Burst != 0 {
		t.Error("InForce changed the configuration it was called on")
	}
	if got.Hub.AuthorizedDir != c.HubAuthorizedDir() {
		t.Errorf("hub.authorized_dir = %q", got.Hub.AuthorizedDir)
	}
	out, err := got.Encode()
	if err != nil || strings.Contains(string(out), `from = ""`) {
		t.Errorf("encoded: %v\n%s", err, out)
	}
}

func TestUserPorts(t *testing.T) {
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	f := AddDaemonFlags(fs)
	if err := fs.Parse([]string{"--user-ports", "--smb-port", "2139"}); err != nil {
		t.Fatal(err)
	}
	c := Default()
	c.RPC.ExtraPorts = []int{1026}
	f.Apply(&c)
	if c.SMBPort != 2139 || c.NBNSPort != UserNBNSPort || c.DgramPort != UserDgramPort || c.RPCPort != UserRPCPort ||
		c.HTTPAddr != UserHTTPAddr || c.Hub.Listen != UserHubListen || len(c.RPC.ExtraPorts) != 0 {
		t.Errorf("after --user-ports --smb-port 2139: %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Error(err)
	}
}
