package hubauth

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"
)

func TestAuthorizeHostsKeepsSeeds(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "authorized")
	odd := "Bob's PC"
	first, err := AuthorizeHosts(dir, []string{"ha", odd})
	if err != nil {
		t.Fatal(err)
	}
	if first[0].Host != "HA" || first[1].Host != strings.ToUpper(odd) {
		t.Fatalf("hosts %+v", first)
	}
	for _, k := range first {
		seedFile := SeedPath(dir, k.Host)
		fi, err := os.Stat(seedFile)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s has mode %v", seedFile, fi.Mode().Perm())
		}
		kp, err := readUserSeed(seedFile)
		if err != nil {
			t.Fatal(err)
		}
		if pub, _ := kp.PublicKey(); pub != k.PublicKey {
			t.Fatalf("%s: seed's key %s, reported %s", k.Host, pub, k.PublicKey)
		}
	}
	seedBefore, err := os.ReadFile(SeedPath(dir, "HA"))
	if err != nil {
		t.Fatal(err)
	}

	// Authorizing again, and after a revocation, keeps the seed.
	if err := os.Remove(filepath.Join(dir, "HA.pub")); err != nil {
		t.Fatal(err)
	}
	again, err := AuthorizeHosts(dir, []string{"HA", odd})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(again, first) {
		t.Fatalf("re-authorized %+v, first %+v", again, first)
	}
	if seedAfter, _ := os.ReadFile(SeedPath(dir, "HA")); string(seedAfter) != string(seedBefore) {
		t.Fatal("the seed was overwritten")
	}

	admin, err := AuthorizeAdmin(dir)
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := LoadAuthorized(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := append([]HostKey{admin}, first...)
	slices.SortFunc(want, func(a, b HostKey) int { return strings.Compare(a.PublicKey, b.PublicKey) })
	slices.SortFunc(loaded, func(a, b HostKey) int { return strings.Compare(a.PublicKey, b.PublicKey) })
	if !slices.Equal(loaded, want) {
		t.Fatalf("loaded %+v, want %+v", loaded, want)
	}

	if _, err := AuthorizeHosts(dir, []string{" "}); err == nil {
		t.Fatal("an empty host name was authorized")
	}
}

func TestLoadAuthorizedErrors(t *testing.T) {
	if keys, err := LoadAuthorized(filepath.Join(t.TempDir(), "none")); err != nil || keys != nil {
		t.Fatalf("a missing directory: %v, %v", keys, err)
	}
	user, _ := nkeys.CreateUser()
	userPub, _ := user.PublicKey()
	account, _ := nkeys.CreateAccount()
	accountPub, _ := account.PublicKey()
	for _, c := range []struct{ file, content string }{
		{"HA.pub", "not a key\n"},
		{"HA.pub", accountPub + "\n"},
		{"HA.pub", ""},
		{"lowercase.pub", userPub}, // no host's token is lower case
		{"x4.pub", userPub},        // odd hex
	} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, c.file), []byte(c.content), 0o644); err != nil {
			t.Fatal(err)
		}
		if keys, err := LoadAuthorized(dir); err == nil || !strings.Contains(err.Error(), c.file) {
			t.Errorf("%s holding %q: %+v, %v; want an error naming the file", c.file, c.content, keys, err)
		}
	}
}

func TestLoadOrCreateSelfKey(t *testing.T) {
	data := t.TempDir()
	kp, err := LoadOrCreateSelfKey(data)
	if err != nil {
		t.Fatal(err)
	}
	again, err := LoadOrCreateSelfKey(data)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := kp.PublicKey()
	b, _ := again.PublicKey()
	if a != b || !nkeys.IsValidPublicUserKey(a) {
		t.Fatalf("keys %s then %s", a, b)
	}
	path := filepath.Join(data, "hub", "self.nk")
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("%s: %v %v", path, fi, err)
	}
	if err := os.WriteFile(path, []byte("SUgarbage\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateSelfKey(data); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("a garbled own key: %v", err)
	}
}

func TestConnectOptions(t *testing.T) {
	dir := t.TempDir()
	user, _ := nkeys.CreateUser()
	userSeed, _ := user.Seed()
	userPub, _ := user.PublicKey()
	account, _ := nkeys.CreateAccount()
	accountSeed, _ := account.Seed()
	claims := jwt.NewUserClaims(userPub)
	token, err := claims.Encode(account)
	if err != nil {
		t.Fatal(err)
	}
	creds, err := jwt.FormatUserConfig(token, userSeed)
	if err != nil {
		t.Fatal(err)
	}
	garbledJWT := strings.Replace(string(creds), token, "eyJnot.a.jwt", 1)
	decoratedSeed := "-----BEGIN USER NKEY SEED-----\n" + string(userSeed) + "\n------END USER NKEY SEED------\n"

	for _, c := range []struct {
		name, content string
		ok            bool
	}{
		{"seed", string(userSeed) + "\n", true},
		{"decorated seed", decoratedSeed, true},
		{"creds", string(creds), true},
		{"creds with a garbled JWT", garbledJWT, false},
		{"account seed", string(accountSeed), false},
		{"empty", "", false},
		{"text", "password123\n", false},
	} {
		path := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_"))
		if err := os.WriteFile(path, []byte(c.content), 0o600); err != nil {
			t.Fatal(err)
		}
		opts, err := ConnectOptions(path)
		if c.ok && (err != nil || len(opts) == 0) {
			t.Errorf("%s: %v", c.name, err)
		}
		if !c.ok && (err == nil || !strings.Contains(err.Error(), path)) {
			t.Errorf("%s: %v, want an error naming the file", c.name, err)
		}
	}
	if _, err := ConnectOptions(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing file: %v", err)
	}
}

func TestTLSOptions(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{}
	for _, n := range []string{"ca.pem", "cert.pem", "key.pem"} {
		files[n] = filepath.Join(dir, n)
		if err := os.WriteFile(files[n], []byte("pem"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if opts, err := TLSOptions(files["ca.pem"], files["cert.pem"], files["key.pem"]); err != nil || len(opts) != 2 {
		t.Fatalf("CA, cert and key: %d options, %v", len(opts), err)
	}
	if opts, err := TLSOptions("", "", ""); err != nil || len(opts) != 0 {
		t.Fatalf("no TLS: %d options, %v", len(opts), err)
	}
	if _, err := TLSOptions("", files["cert.pem"], ""); err == nil {
		t.Fatal("a certificate without its key was accepted")
	}
	if _, err := TLSOptions(filepath.Join(dir, "missing.pem"), "", ""); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a missing CA file: %v", err)
	}
}

// TestNatsConfigParses reads NatsConfig's output back with nats-server's
// own parser: every user gets exactly the permissions the embedded
// server gives it, whatever bytes a host name holds.
func TestNatsConfigParses(t *testing.T) {
	dir := t.TempDir()
	hosts := []string{"HA", "EVIL\n}\nauthorization {", `"$QUOTE\`}
	keys := authorizeWithAdmin(t, dir, hosts...)
	conf := filepath.Join(t.TempDir(), "nats.conf")
	if err := os.WriteFile(conf, []byte(NatsConfig(keys)), 0o600); err != nil {
		t.Fatal(err)
	}
	opts, err := server.ProcessConfigFile(conf)
	if err != nil {
		t.Fatalf("%v\n%s", err, NatsConfig(keys))
	}
	if len(opts.Nkeys) != len(keys) {
		t.Fatalf("%d users parsed, %d keys", len(opts.Nkeys), len(keys))
	}
	for i, k := range keys {
		u := opts.Nkeys[i]
		want := AdminPermissions()
		if !k.Admin {
			want = HostPermissions(k.Host)
		}
		if u.Nkey != k.PublicKey ||
			!slices.Equal(u.Permissions.Publish.Allow, want.Publish.Allow) ||
			!slices.Equal(u.Permissions.Subscribe.Allow, want.Subscribe.Allow) ||
			u.Permissions.Response != nil {
			t.Errorf("user %d (%+v): parsed %+v %+v", i, k, u.Permissions.Publish, u.Permissions.Subscribe)
		}
	}
}

// authorizeWithAdmin gives hosts and the admin their keys in dir, as
// `messenger hub authorize --admin` does, and returns the keys dir holds.
func authorizeWithAdmin(t *testing.T, dir string, hosts ...string) []HostKey {
	t.Helper()
	if _, err := AuthorizeHosts(dir, hosts); err != nil {
		t.Fatal(err)
	}
	if _, err := AuthorizeAdmin(dir); err != nil {
		t.Fatal(err)
	}
	keys, err := LoadAuthorized(dir)
	if err != nil {
		t.Fatal(err)
	}
	return keys
}
