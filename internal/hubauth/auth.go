// Package hubauth holds the hub's credentials and provisioning, what the
// messenger CLI and the embedded server use: the hosts' and the admin's
// nkeys and where they are kept, the subject permissions each gets, the
// nats-server configuration for an external cluster, the connection
// options for a key or a TLS server, and Provision, which creates the
// streams, buckets and consumers (package hubwire names them).
package hubauth

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/netsend/messenger/internal/hubwire"
)

// The hub's authorization rests on one rule: whatever a host can make the
// server store under a subject naming host T, only T's own connection can
// have published. Subject permissions give that for plain publishes. The
// JetStream API gives ways around it — a push consumer delivers stored
// messages to any subject its creator names, and a stream created with
// RePublish or Sources copies messages elsewhere — and the server checks
// no permission on those destinations. So hosts get no stream or consumer
// creation at all: an admin provisions everything (Provision), hosts only
// bind, publish under their own token, pull from their own consumers and
// read the registry.

// HostPermissions is what host may do on the hub: publish messages,
// receipts and broadcasts as itself, write its own registry keys, read
// the registry, and pull and ack from its own durable consumers; it
// receives only on its own inbox prefix (hubwire.InboxPrefix) and the
// registry's change feed (hubwire.RegistryUpdates). It is used by the
// embedded server (package hubserver) and printed into nats-server
// configuration by NatsConfig.
func HostPermissions(host string) *server.Permissions {
	t := hubwire.SubjectToken(host)
	pub := []string{
		"messenger.msg.*." + t,
		"messenger.rcpt.*." + t,
		"messenger.bcast.*." + t,
		"$KV." + hubwire.BucketNames + "." + t + ".>",
		"$KV." + hubwire.BucketHosts + "." + t,
		"$JS.API.INFO",
	}
	for _, s := range hubwire.StreamNames() {
		pub = append(pub, "$JS.API.STREAM.INFO."+s)
	}
	for _, c := range []struct{ stream, consumer string }{
		{hubwire.StreamMsg, hubwire.MsgConsumer(host)},
		{hubwire.StreamRcpt, hubwire.RcptConsumer(host)},
		{hubwire.StreamBcast, hubwire.BcastConsumer(host)},
	} {
		pub = append(pub,
			"$JS.API.CONSUMER.INFO."+c.stream+"."+c.consumer,
			"$JS.API.CONSUMER.MSG.NEXT."+c.stream+"."+c.consumer,
			// Acks: the v1 reply form, and the v2 form with domain and
			// account hash that a server feature flag switches on.
			"$JS.ACK."+c.stream+"."+c.consumer+".>",
			"$JS.ACK.*.*."+c.stream+"."+c.consumer+".>",
		)
	}
	for _, b := range []string{hubwire.BucketNames, hubwire.BucketHosts} {
		s := hubwire.KVStream(b)
		pub = append(pub,
			// kv.Get by key, and GetMsg(seq, next_by_subj) for listing.
			"$JS.API.DIRECT.GET."+s,
			"$JS.API.DIRECT.GET."+s+".>",
			// The same reads when a bucket has no direct get.
			"$JS.API.STREAM.MSG.GET."+s,
		)
	}
	return &server.Permissions{
		Publish: &server.SubjectPermission{Allow: pub},
		Subscribe: &server.SubjectPermission{Allow: []string{
			hubwire.InboxPrefix(host) + ".>",
			hubwire.RegistryUpdates(hubwire.BucketNames) + ".>",
			hubwire.RegistryUpdates(hubwire.BucketHosts) + ".>",
		}},
	}
}

// AdminPermissions is what the provisioning user may do: the JetStream
// API (to create streams, buckets and consumers), replies on the shared
// inbox, and nothing under messenger.> — it never speaks for a host.
func AdminPermissions() *server.Permissions {
	return &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: []string{"$JS.API.>"}},
		Subscribe: &server.SubjectPermission{Allow: []string{nats.InboxPrefix + ">"}},
	}
}

// HostKey is one authorized user of the hub: a host, or the admin that
// provisions streams and consumers.
type HostKey struct {
	Host      string // the host name; "" for the admin
	PublicKey string // the user nkey, "U..."
	Admin     bool
}

// Permissions are k's on the hub: AdminPermissions or its host's
// HostPermissions.
func (k HostKey) Permissions() *server.Permissions {
	if k.Admin {
		return AdminPermissions()
	}
	return HostPermissions(k.Host)
}

// The admin's key files. Host key files are named by
// hubwire.SubjectToken, which is upper case or starts with "x", so
// "admin" names no host.
const (
	adminSeedFile   = "admin.nk"
	adminPublicFile = "admin.pub"
)

// AuthorizeHosts gives each host a user key in dir: HOST.nk, the seed the
// host connects with (0600), and HOST.pub, its public key, which the hub
// loads (LoadAuthorized). An existing seed is never overwritten, so
// authorizing a host again restores a deleted HOST.pub from it; to issue
// a new key, delete HOST.nk too.
func AuthorizeHosts(dir string, hosts []string) ([]HostKey, error) {
	keys := make([]HostKey, 0, len(hosts))
	for _, h := range hosts {
		h = strings.ToUpper(strings.TrimSpace(h))
		if h == "" {
			return keys, errors.New("hub: authorize: empty host name")
		}
		tok := hubwire.SubjectToken(h)
		pub, err := writeKeyPair(dir, tok+".nk", tok+".pub")
		if err != nil {
			return keys, fmt.Errorf("hub: authorize %s: %w", h, err)
		}
		keys = append(keys, HostKey{Host: h, PublicKey: pub})
	}
	return keys, nil
}

// AuthorizeAdmin makes (or keeps) the admin key in dir: admin.nk, the
// seed `messenger hub provision` connects with, and admin.pub.
func AuthorizeAdmin(dir string) (HostKey, error) {
	pub, err := writeKeyPair(dir, adminSeedFile, adminPublicFile)
	if err != nil {
		return HostKey{}, fmt.Errorf("hub: authorize admin: %w", err)
	}
	return HostKey{PublicKey: pub, Admin: true}, nil
}

// SeedPath is where AuthorizeHosts puts host's seed in dir.
func SeedPath(dir, host string) string {
	return filepath.Join(dir, hubwire.SubjectToken(strings.ToUpper(host))+".nk")
}

// AdminSeedPath is where AuthorizeAdmin puts the admin's seed in dir.
func AdminSeedPath(dir string) string { return filepath.Join(dir, adminSeedFile) }

// writeKeyPair creates the seed file unless it exists, and writes the
// public key file from whichever seed is there.
func writeKeyPair(dir, seedName, pubName string) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("creating %s: %w", dir, err)
	}
	seedPath := filepath.Join(dir, seedName)
	kp, err := readUserSeed(seedPath)
	if errors.Is(err, fs.ErrNotExist) {
		kp, err = createUserSeed(seedPath)
	}
	if err != nil {
		return "", err
	}
	pub, err := kp.PublicKey()
	if err != nil {
		return "", fmt.Errorf("%s: %w", seedPath, err)
	}
	if err := writeFileAtomic(filepath.Join(dir, pubName), []byte(pub+"\n"), 0o644); err != nil {
		return "", err
	}
	return pub, nil
}

// createUserSeed writes a new user seed with O_EXCL: two authorizers
// racing on one host must not each hand out a different key.
func createUserSeed(path string) (nkeys.KeyPair, error) {
	kp, err := nkeys.CreateUser()
	if err != nil {
		return nil, fmt.Errorf("creating a user key: %w", err)
	}
	seed, err := kp.Seed()
	if err != nil {
		return nil, fmt.Errorf("creating a user key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return readUserSeed(path)
	}
	if err != nil {
		return nil, fmt.Errorf("writing the seed: %w", err)
	}
	_, err = f.Write(append(seed, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("writing the seed %s: %w", path, err)
	}
	return kp, nil
}

// readUserSeed reads an nkey user seed file, plain or in the decorated
// form nsc writes.
func readUserSeed(path string) (nkeys.KeyPair, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	kp, err := nkeys.ParseDecoratedUserNKey(b)
	if err != nil {
		return nil, fmt.Errorf("%s is not an nkey user seed: %w", path, err)
	}
	return kp, nil
}

func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(perm)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// LoadAuthorized reads every *.pub in dir: the hosts (named by their
// file, see hubwire.SubjectToken) and the admin. A missing dir authorizes
// no one. A file that is not a user public key is an error naming it, so
// that a typo cannot silently lock a host out or let a wrong key in.
func LoadAuthorized(dir string) ([]HostKey, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.pub"))
	if err != nil {
		return nil, fmt.Errorf("hub: reading %s: %w", dir, err)
	}
	slices.Sort(paths)
	var keys []HostKey
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("hub: reading authorized keys: %w", err)
		}
		pub := string(bytes.TrimSpace(b))
		if !nkeys.IsValidPublicUserKey(pub) {
			return nil, fmt.Errorf("hub: %s does not hold a user public key (U...)", p)
		}
		base := strings.TrimSuffix(filepath.Base(p), ".pub")
		if base+".pub" == adminPublicFile {
			keys = append(keys, HostKey{PublicKey: pub, Admin: true})
			continue
		}
		host, err := hubwire.NameFromToken(base)
		if err != nil {
			return nil, fmt.Errorf("hub: %s: the file name is not a host: %w", p, err)
		}
		keys = append(keys, HostKey{Host: host, PublicKey: pub})
	}
	return keys, nil
}

// NatsConfig renders the authorization block of a nats-server
// configuration for keys, each host with HostPermissions and the admin
// with AdminPermissions, for an external cluster's servers to include.
func NatsConfig(keys []HostKey) string {
	var b strings.Builder
	b.WriteString("# Messenger hub users, written by `messenger hub nats-config`.\n")
	b.WriteString("authorization {\n  users = [\n")
	for _, k := range keys {
		perms := k.Permissions()
		// Only the token goes into the comment: a host name may hold any
		// byte, a newline too.
		comment := "admin (provisions streams and consumers)"
		if !k.Admin {
			comment = "host " + hubwire.SubjectToken(k.Host)
		}
		fmt.Fprintf(&b, "    # %s\n    {\n      nkey: %s\n      permissions: {\n", comment, confString(k.PublicKey))
		writeConfPerm(&b, "publish", perms.Publish)
		writeConfPerm(&b, "subscribe", perms.Subscribe)
		b.WriteString("      }\n    }\n")
	}
	b.WriteString("  ]\n}\n")
	return b.String()
}

func writeConfPerm(b *strings.Builder, name string, p *server.SubjectPermission) {
	if p == nil {
		return
	}
	fmt.Fprintf(b, "        %s: {\n", name)
	for _, list := range []struct {
		name     string
		subjects []string
	}{{"allow", p.Allow}, {"deny", p.Deny}} {
		if len(list.subjects) == 0 {
			continue
		}
		fmt.Fprintf(b, "          %s: [\n", list.name)
		for _, s := range list.subjects {
			fmt.Fprintf(b, "            %s\n", confString(s))
		}
		b.WriteString("          ]\n")
	}
	b.WriteString("        }\n")
}

// confString quotes s for the nats-server configuration language, where
// an unquoted $NAME would be a variable reference. Subjects and keys are
// built from tokens and never hold a quote or a backslash; escape them
// anyway so that the output cannot be broken out of.
func confString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

// LoadOrCreateSelfKey returns the daemon's own user key for its embedded
// hub, DATA_DIR/hub/self.nk, creating it on first start.
func LoadOrCreateSelfKey(dataDir string) (nkeys.KeyPair, error) {
	dir := filepath.Join(dataDir, "hub")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("hub: creating %s: %w", dir, err)
	}
	path := filepath.Join(dir, "self.nk")
	kp, err := readUserSeed(path)
	if errors.Is(err, fs.ErrNotExist) {
		kp, err = createUserSeed(path)
	}
	if err != nil {
		return nil, fmt.Errorf("hub: own key: %w", err)
	}
	return kp, nil
}

// ConnectOptions are the credentials in credsFile: a NATS .creds file
// (user JWT and seed, for operator-mode clusters) or an nkey user seed
// file as `messenger hub authorize` writes. The file is checked here so
// that a wrong one is a clear error at start, not a refused connection.
func ConnectOptions(credsFile string) ([]nats.Option, error) {
	b, err := os.ReadFile(credsFile)
	if err != nil {
		return nil, fmt.Errorf("hub: credentials: %w", err)
	}
	if bytes.Contains(b, []byte("BEGIN NATS USER JWT")) {
		tok, err := nkeys.ParseDecoratedJWT(b)
		if err == nil {
			_, err = jwt.DecodeUserClaims(tok)
		}
		if err != nil {
			return nil, fmt.Errorf("hub: credentials %s: no readable user JWT: %w", credsFile, err)
		}
		if _, err := nkeys.ParseDecoratedUserNKey(b); err != nil {
			return nil, fmt.Errorf("hub: credentials %s: no readable user seed: %w", credsFile, err)
		}
		return []nats.Option{nats.UserCredentials(credsFile)}, nil
	}
	if _, err := nkeys.ParseDecoratedUserNKey(b); err != nil {
		return nil, fmt.Errorf("hub: credentials %s: neither a .creds file nor an nkey user seed: %w", credsFile, err)
	}
	opt, err := nats.NkeyOptionFromSeed(credsFile)
	if err != nil {
		return nil, fmt.Errorf("hub: credentials %s: %w", credsFile, err)
	}
	return []nats.Option{opt}, nil
}

// TLSOptions are the options for a TLS connection to the hub: caFile, the
// CA that signs the servers' certificates ("" = the system's), and a
// client certificate and key when the servers ask for one (both or
// neither).
func TLSOptions(caFile, certFile, keyFile string) ([]nats.Option, error) {
	if (certFile == "") != (keyFile == "") {
		return nil, errors.New("hub: TLS: a client certificate needs its key, and a key its certificate")
	}
	var opts []nats.Option
	for _, f := range []string{caFile, certFile, keyFile} {
		if f == "" {
			continue
		}
		if _, err := os.Stat(f); err != nil {
			return nil, fmt.Errorf("hub: TLS: %w", err)
		}
	}
	if caFile != "" {
		opts = append(opts, nats.RootCAs(caFile))
	}
	if certFile != "" {
		opts = append(opts, nats.ClientCert(certFile, keyFile))
	}
	return opts, nil
}
