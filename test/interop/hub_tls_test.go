package interop

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/netsend/messenger/internal/api"
	"github.com/netsend/messenger/internal/hubauth"
	"github.com/netsend/messenger/internal/hubwire"
	"github.com/netsend/messenger/internal/message"
)

// hubTLSPKI is what the openssl commands of docs/hub.md make: a CA, the hub's
// certificate for the address the other hosts dial, and for mutual TLS a
// second CA for the hosts and HOSTB's client certificate.
type hubTLSPKI struct {
	dir                   string
	ca, cert, key         string
	hostsCA               string
	clientCert, clientKey string
}

// openssl runs the openssl command line in dir.
func openssl(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("openssl", args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// The commands are docs/hub.md's, with the names it uses, so that the
// recipe documented there is the one proven to work with the hub.
func newHubTLSPKI(t *testing.T) hubTLSPKI {
	t.Helper()
	requirePeer(t, "openssl")
	p := hubTLSPKI{dir: t.TempDir()}
	newCA := func(key, cert, cn string) {
		openssl(t, p.dir, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "3650",
			"-subj", "/CN="+cn, "-keyout", key, "-out", cert)
	}
	issue := func(caCert, caKey, key, cert, cn string, ext ...string) {
		args := []string{"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "825",
			"-subj", "/CN=" + cn, "-addext", "basicConstraints=critical,CA:FALSE"}
		for _, e := range ext {
			args = append(args, "-addext", e)
		}
		openssl(t, p.dir, append(args, "-CA", caCert, "-CAkey", caKey, "-keyout", key, "-out", cert)...)
	}
	newCA("hub-ca.key", "hub-ca.pem", "Messenger hub CA")
	issue("hub-ca.pem", "hub-ca.key", "hub.key", "hub.pem", "hosta.example", "subjectAltName=DNS:hosta.example,IP:127.0.0.1")
	newCA("hosts-ca.key", "hosts-ca.pem", "Messenger hosts CA")
	issue("hosts-ca.pem", "hosts-ca.key", "HOSTB.key", "HOSTB.pem", "HOSTB")
	in := func(name string) string { return filepath.Join(p.dir, name) }
	p.ca, p.cert, p.key = in("hub-ca.pem"), in("hub.pem"), in("hub.key")
	p.hostsCA, p.clientCert, p.clientKey = in("hosts-ca.pem"), in("HOSTB.pem"), in("HOSTB.key")
	return p
}

// TestHubEmbeddedTLS runs two daemons: A with the embedded hub's
// listener on TLS, B joined to it with --hub, its seed from A's
// `messenger hub authorize` and A's CA; with mutual TLS, B also presents
// a certificate of the hosts' CA. Messages go both ways, verified, and
// the listener refuses plaintext before and after a SIGHUP reload.
func TestHubEmbeddedTLS(t *testing.T) {
	pki := newHubTLSPKI(t)
	for _, tc := range []struct {
		name   string
		mutual bool
	}{{"server certificate", false}, {"mutual TLS", true}} {
		t.Run(tc.name, func(t *testing.T) {
			aDir := t.TempDir()
			if out, err := exec.Command(binary, "--data-dir", aDir, "hub", "authorize", "HOSTB").CombinedOutput(); err != nil {
				t.Fatalf("messenger hub authorize HOSTB: %v\n%s", err, out)
			}
			seed := filepath.Join(aDir, "hub", "authorized", "HOSTB.nk")
			port := freePort(t)
			listen := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
			aArgs := []string{"--host-name", "HOSTA", "--name", "ALICE", "--hub-listen", listen,
				"--hub-listen-tls-cert", pki.cert, "--hub-listen-tls-key", pki.key}
			bArgs := []string{"--host-name", "HOSTB", "--name", "BOB", "--hub", "nats://" + listen,
				"--hub-creds", seed, "--hub-tls-ca", pki.ca}
			if tc.mutual {
				aArgs = append(aArgs, "--hub-listen-tls-client-ca", pki.hostsCA)
				bArgs = append(bArgs, "--hub-tls-cert", pki.clientCert, "--hub-tls-key", pki.clientKey)
			}
			var a, b *daemon
			logs := func() string {
				var s strings.Builder
				for _, d := range []struct {
					name string
					d    *daemon
				}{{"A", a}, {"B", b}} {
					if d.d != nil && d.d.stderr != nil {
						fmt.Fprintf(&s, "--- daemon %s stderr:\n%s\n", d.name, tail(d.d.stderr.String(), 3000))
					}
				}
				return s.String()
			}
			a = startDaemon(t, aDir, aArgs...)
			b = startDaemon(t, "", bArgs...)

			t.Run("the listener is shown as TLS", func(t *testing.T) {
				st, err := api.NewClient(filepath.Join(a.dataDir, "messenger.sock")).Status(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				var addrs []string
				for _, l := range st.Listeners {
					if l.Transport == "hub" {
						addrs = append(addrs, l.Addr)
					}
				}
				if want := "tls://" + listen; len(addrs) != 1 || addrs[0] != want {
					t.Errorf("A's hub listeners %q, want %s", addrs, want)
				}
				out, err := a.cli("hub", "status")
				if err != nil {
					t.Fatal(err)
				}
				if want := "Listening:  tls://" + listen + " (TLS only)"; !strings.Contains(out, want) {
					t.Errorf("A's hub status lacks %q:\n%s", want, out)
				}
				out, err = a.cli("config", "print", "--hub-listen-tls-cert", pki.cert, "--hub-listen-tls-key", pki.key)
				if err != nil {
					t.Fatal(err)
				}
				if want := fmt.Sprintf("listen_tls_cert = %q", pki.cert); !strings.Contains(out, want) {
					t.Errorf("config print lacks %s:\n%s", want, out)
				}
			})

			t.Run("plaintext refused", func(t *testing.T) { hubPlaintextRefused(t, listen) })

			// B's lookup of ALICE needs A's registration first; reading
			// the registry as HOSTB over TLS also proves a raw client
			// with the CA gets in.
			tlsOpts, err := hubauth.TLSOptions(pki.ca, "", "")
			if tc.mutual {
				tlsOpts, err = hubauth.TLSOptions(pki.ca, pki.clientCert, pki.clientKey)
			}
			if err != nil {
				t.Fatal(err)
			}
			waitHubName(t, "nats://"+listen, "HOSTB", seed, tlsOpts, "HOSTA", "ALICE", logs)
			waitHubName(t, "nats://"+listen, "HOSTB", seed, tlsOpts, "HOSTB", "BOB", logs)

			sendVerified := func(t *testing.T, from, to *daemon, fromHost, toName, text string) {
				t.Helper()
				out, errOut, code := from.send("", toName, "--from", "sender", text)
				if code != 0 {
					t.Fatalf("send to %s: exit %d\nstdout: %s\nstderr: %s\n%s", toName, code, out, errOut, logs())
				}
				m := waitInbox(t, to, text, logs)
				if m.Transport != message.TransportHub || m.Verified != fromHost || m.From != "sender" || !strings.EqualFold(m.To, toName) {
					t.Errorf("%s's copy: transport %q verified %q from %q to %q; want hub, %s, sender, %s",
						toName, m.Transport, m.Verified, m.From, m.To, fromHost, toName)
				}
			}
			t.Run("B to ALICE on A", func(t *testing.T) { sendVerified(t, b, a, "HOSTB", "ALICE", "over TLS, from B "+tc.name) })
			t.Run("A to BOB on B", func(t *testing.T) { sendVerified(t, a, b, "HOSTA", "BOB", "over TLS, from A "+tc.name) })

			t.Run("after a reload", func(t *testing.T) {
				if err := a.cmd.Process.Signal(syscall.SIGHUP); err != nil {
					t.Fatal(err)
				}
				waitFor(t, 20*time.Second, func() string {
					if strings.Contains(a.stderr.String(), "hub: authorized hosts reloaded") {
						return ""
					}
					return "A has not reloaded its authorized hosts\n" + logs()
				})
				hubPlaintextRefused(t, listen)
				sendVerified(t, b, a, "HOSTB", "ALICE", "over TLS after the reload, "+tc.name)
			})
		})
	}
}

// hubPlaintextRefused speaks NATS in clear to the hub listener at addr:
// the server must ask for TLS and close the connection unanswered.
func hubPlaintextRefused(t *testing.T, addr string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(20 * time.Second)); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(conn)
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("reading INFO: %v", err)
	}
	var info struct {
		TLSRequired bool `json:"tls_required"`
	}
	if js, ok := strings.CutPrefix(strings.TrimSpace(line), "INFO "); !ok || json.Unmarshal([]byte(js), &info) != nil || !info.TLSRequired {
		t.Fatalf("the hub listener's INFO %q does not require TLS", line)
	}
	if _, err := conn.Write([]byte("CONNECT {\"verbose\":false}\r\nPING\r\n")); err != nil {
		t.Fatal(err)
	}
	for {
		line, err := r.ReadString('\n')
		if strings.HasPrefix(line, "PONG") || strings.HasPrefix(line, "+OK") {
			t.Fatalf("the hub answered a plaintext client: %q", line)
		}
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatal("the hub kept a plaintext connection open")
			}
			return // closed or reset: refused
		}
	}
}

// waitHubName waits until the registry, read over url as reader with its
// seed, has name on host.
func waitHubName(t *testing.T, url, reader, seed string, tlsOpts []nats.Option, host, name string, logs func() string) {
	t.Helper()
	creds, err := hubauth.ConnectOptions(seed)
	if err != nil {
		t.Fatal(err)
	}
	opts := append(append(creds, tlsOpts...), nats.CustomInboxPrefix(hubwire.InboxPrefix(reader)), nats.Name("interop-tls-reader"))
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		t.Fatalf("connecting to the hub over TLS as %s: %v\n%s", reader, err, logs())
	}
	defer nc.Close()
	if cs, err := nc.TLSConnectionState(); err != nil || !cs.HandshakeComplete {
		t.Fatalf("the connection to the hub is not TLS: %v", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, func() string {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		kv, err := js.KeyValue(ctx, hubwire.BucketNames)
		if err != nil {
			return "the names bucket: " + err.Error() + "\n" + logs()
		}
		if _, err := kv.Get(ctx, hubwire.SubjectToken(host)+"."+hubwire.SubjectToken(name)); err != nil {
			return fmt.Sprintf("the registry has no %s on %s: %v\n%s", name, host, err, logs())
		}
		return ""
	})
}
