package hubserver

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/netsend/messenger/internal/hubauth"
	"github.com/netsend/messenger/internal/hubwire"
)

// testCA is a throwaway certificate authority, made afresh by each test
// so that no key ever sits in the repository.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	file string // the CA certificate, PEM
	dir  string
}

// certTemplate is an hour's certificate for name, with a new key.
func certTemplate(t *testing.T, name string) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &x509.Certificate{
		SerialNumber: serial(t),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}, key
}

func newTestCA(t *testing.T, name string) testCA {
	t.Helper()
	tmpl, key := certTemplate(t, name)
	tmpl.KeyUsage |= x509.KeyUsageCertSign
	tmpl.BasicConstraintsValid, tmpl.IsCA = true, true
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	ca := testCA{cert: cert, key: key, dir: t.TempDir()}
	ca.file = writePEM(t, ca.dir, name+"-ca.pem", "CERTIFICATE", der)
	return ca
}

// issue signs a certificate for name: a server certificate for
// 127.0.0.1, or a client certificate. It returns the PEM files.
func (ca testCA) issue(t *testing.T, name string, server bool) (certFile, keyFile string) {
	t.Helper()
	tmpl, key := certTemplate(t, name)
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return writePEM(t, ca.dir, name+".pem", "CERTIFICATE", der), writePEM(t, ca.dir, name+".key", "PRIVATE KEY", keyDER)
}

func serial(t *testing.T) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func writePEM(t *testing.T, dir, name, blockType string, der []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: blockType, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// connectTLS connects to h as host with its seed and the given TLS
// options, returning the error rather than failing.
func connectTLS(t *testing.T, h testHub, host string, tlsOpts []nats.Option) (*nats.Conn, error) {
	t.Helper()
	creds, err := hubauth.ConnectOptions(hubauth.SeedPath(h.dir, host))
	if err != nil {
		t.Fatal(err)
	}
	opts := append(creds, nats.CustomInboxPrefix(hubwire.InboxPrefix(host)), nats.Timeout(waitTimeout))
	nc, err := nats.Connect(h.url, append(opts, tlsOpts...)...)
	if err == nil {
		t.Cleanup(nc.Close)
	}
	return nc, err
}

func mustTLSOptions(t *testing.T, ca, cert, key string) []nats.Option {
	t.Helper()
	opts, err := hubauth.TLSOptions(ca, cert, key)
	if err != nil {
		t.Fatal(err)
	}
	return opts
}

// checkTLSConn proves nc runs over TLS 1.2 or later.
func checkTLSConn(t *testing.T, nc *nats.Conn) {
	t.Helper()
	cs, err := nc.TLSConnectionState()
	if err != nil {
		t.Fatalf("connection state: %v (not a TLS connection)", err)
	}
	if !cs.HandshakeComplete || cs.Version < tls.VersionTLS12 {
		t.Fatalf("TLS handshake complete %v, version %s; want complete, 1.2 or later", cs.HandshakeComplete, tls.VersionName(cs.Version))
	}
}

// exchange sends a message from one host to another through the hub and
// takes it from the recipient's consumer.
func exchange(t *testing.T, from *nats.Conn, fromHost string, to *nats.Conn, toHost, id string) {
	t.Helper()
	ctx := ctxT(t)
	fromJS, err := jetstream.New(from)
	if err != nil {
		t.Fatal(err)
	}
	toJS, err := jetstream.New(to)
	if err != nil {
		t.Fatal(err)
	}
	subject := "messenger.msg." + toHost + "." + fromHost
	if _, err := fromJS.Publish(ctx, subject, []byte(`{"id":"`+id+`"}`)); err != nil {
		t.Fatalf("%s publishing to %s: %v", fromHost, toHost, err)
	}
	m := fetchOne(t, toJS, hubwire.StreamMsg, hubwire.MsgConsumer(toHost))
	if m.Subject() != subject || !bytes.Contains(m.Data(), []byte(id)) {
		t.Fatalf("%s got %q %s, want %q with id %s", toHost, m.Subject(), m.Data(), subject, id)
	}
}

// plaintextRefused speaks NATS without TLS to the listener at hubURL,
// as an old client or a misconfigured host would: the server must say
// TLS is required and close the connection without ever answering.
func plaintextRefused(t *testing.T, hubURL string) {
	t.Helper()
	u, err := url.Parse(hubURL)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.DialTimeout("tcp", u.Host, waitTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(waitTimeout)); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(conn)
	info, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("reading the server's INFO: %v", err)
	}
	if !strings.HasPrefix(info, "INFO ") || !strings.Contains(info, `"tls_required":true`) {
		t.Fatalf("INFO %q does not require TLS", info)
	}
	if _, err := io.WriteString(conn, "CONNECT {\"verbose\":false,\"pedantic\":false}\r\nPING\r\n"); err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(r)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the server kept a plaintext connection open (read %q)", rest)
	}
	// A reset instead of an orderly close is a refusal too: the server
	// leaves the rest of our plaintext unread.
	if bytes.Contains(rest, []byte("PONG")) || bytes.Contains(rest, []byte("+OK")) {
		t.Fatalf("the server answered a plaintext client: %q", rest)
	}
}

func TestEmbeddedTLS(t *testing.T) {
	ca := newTestCA(t, "hub")
	certFile, keyFile := ca.issue(t, "hub-server", true)
	e, h := startTestEmbeddedWith(t, func(o *Options) {
		o.TLSCert, o.TLSKey = certFile, keyFile
	}, "HA", "HB")
	if !strings.HasPrefix(h.url, "tls://127.0.0.1:") {
		t.Fatalf("ClientURL %q, want tls://127.0.0.1:PORT", h.url)
	}
	trusting := mustTLSOptions(t, ca.file, "", "")

	t.Run("a host trusting the CA, with its key", func(t *testing.T) {
		a, err := connectTLS(t, h, "HA", trusting)
		if err != nil {
			t.Fatalf("HA over TLS: %v", err)
		}
		b, err := connectTLS(t, h, "HB", trusting)
		if err != nil {
			t.Fatalf("HB over TLS: %v", err)
		}
		checkTLSConn(t, a)
		checkTLSConn(t, b)
		exchange(t, a, "HA", b, "HB", "tls-1")
		exchange(t, b, "HB", a, "HA", "tls-2")
	})

	t.Run("the daemon itself, in process", func(t *testing.T) {
		self, err := nats.Connect("", e.SelfOptions()...)
		if err != nil {
			t.Fatalf("in-process connection with TLS on the listener: %v", err)
		}
		defer self.Close()
		a, err := connectTLS(t, h, "HA", trusting)
		if err != nil {
			t.Fatal(err)
		}
		exchange(t, self, "SELF", a, "HA", "self-1")
	})

	t.Run("a plaintext client", func(t *testing.T) { plaintextRefused(t, h.url) })

	t.Run("a host not trusting the CA", func(t *testing.T) {
		// No CA given: the system's roots, which never signed the test CA.
		_, err := connectTLS(t, h, "HA", nil)
		var unknown x509.UnknownAuthorityError
		if !errors.As(err, &unknown) {
			t.Fatalf("HA with the system's roots: %v, want an unknown authority", err)
		}
		other := newTestCA(t, "other")
		_, err = connectTLS(t, h, "HA", mustTLSOptions(t, other.file, "", ""))
		if !errors.As(err, &unknown) {
			t.Fatalf("HA trusting another CA: %v, want an unknown authority", err)
		}
	})

	t.Run("kept across a reload", func(t *testing.T) {
		reloadKeys(t, e, h.dir)
		plaintextRefused(t, h.url)
		a, err := connectTLS(t, h, "HA", trusting)
		if err != nil {
			t.Fatalf("HA over TLS after the reload: %v", err)
		}
		checkTLSConn(t, a)
		if e.ClientURL() != h.url {
			t.Errorf("ClientURL %q after the reload, was %q", e.ClientURL(), h.url)
		}
	})
}

// handshakeRefused checks that a host with its good NKey was turned away
// in the TLS handshake. Under TLS 1.3 the client may hear of it as the
// server's alert or as a broken connection, whichever comes first, so
// only the absence of an authorization error says where it failed.
func handshakeRefused(t *testing.T, who string, err error) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s connected, want a refused handshake", who)
	}
	if errors.Is(err, nats.ErrAuthorization) {
		t.Fatalf("%s: %v, want a refused handshake before authorization", who, err)
	}
}

func TestEmbeddedMutualTLS(t *testing.T) {
	serverCA := newTestCA(t, "hub")
	clientCA := newTestCA(t, "hosts")
	otherCA := newTestCA(t, "other")
	certFile, keyFile := serverCA.issue(t, "hub-server", true)
	e, h := startTestEmbeddedWith(t, func(o *Options) {
		o.TLSCert, o.TLSKey, o.TLSClientCA = certFile, keyFile, clientCA.file
	}, "HA", "HB")
	aCert, aKey := clientCA.issue(t, "ha-client", false)
	bCert, bKey := clientCA.issue(t, "hb-client", false)
	strangerCert, strangerKey := otherCA.issue(t, "stranger", false)

	t.Run("a host without a certificate", func(t *testing.T) {
		_, err := connectTLS(t, h, "HA", mustTLSOptions(t, serverCA.file, "", ""))
		handshakeRefused(t, "HA without a client certificate", err)
	})

	t.Run("a host with a certificate of another CA", func(t *testing.T) {
		_, err := connectTLS(t, h, "HA", mustTLSOptions(t, serverCA.file, strangerCert, strangerKey))
		handshakeRefused(t, "HA with a certificate the client CA did not sign", err)
	})

	t.Run("hosts with certificates of the client CA", func(t *testing.T) {
		a, err := connectTLS(t, h, "HA", mustTLSOptions(t, serverCA.file, aCert, aKey))
		if err != nil {
			t.Fatalf("HA with its client certificate: %v", err)
		}
		b, err := connectTLS(t, h, "HB", mustTLSOptions(t, serverCA.file, bCert, bKey))
		if err != nil {
			t.Fatalf("HB with its client certificate: %v", err)
		}
		checkTLSConn(t, a)
		if cs, _ := a.TLSConnectionState(); len(cs.PeerCertificates) == 0 {
			t.Fatal("no server certificate in the connection state")
		}
		exchange(t, a, "HA", b, "HB", "mtls-1")
	})

	t.Run("a good certificate does not replace the NKey", func(t *testing.T) {
		stranger, err := nkeys.CreateUser()
		if err != nil {
			t.Fatal(err)
		}
		pub, _ := stranger.PublicKey()
		_, err = nats.Connect(h.url, append(mustTLSOptions(t, serverCA.file, aCert, aKey),
			nats.Nkey(pub, stranger.Sign), nats.Timeout(waitTimeout))...)
		if !errors.Is(err, nats.ErrAuthorization) {
			t.Fatalf("an unauthorized key with a good certificate: %v, want an authorization violation", err)
		}
	})

	t.Run("the daemon itself, in process", func(t *testing.T) {
		self, err := nats.Connect("", e.SelfOptions()...)
		if err != nil {
			t.Fatalf("in-process connection with client certificates required: %v", err)
		}
		defer self.Close()
		a, err := connectTLS(t, h, "HA", mustTLSOptions(t, serverCA.file, aCert, aKey))
		if err != nil {
			t.Fatal(err)
		}
		exchange(t, self, "SELF", a, "HA", "self-mtls")
	})

	t.Run("kept across a reload", func(t *testing.T) {
		reloadKeys(t, e, h.dir)
		_, err := connectTLS(t, h, "HA", mustTLSOptions(t, serverCA.file, "", ""))
		handshakeRefused(t, "HA without a client certificate, after the reload", err)
		if _, err := connectTLS(t, h, "HA", mustTLSOptions(t, serverCA.file, aCert, aKey)); err != nil {
			t.Fatalf("HA with its client certificate after the reload: %v", err)
		}
	})
}

// A certificate or key that cannot be used stops the start with an error
// naming the file, instead of failing every host's handshake later.
func TestEmbeddedTLSBadFiles(t *testing.T) {
	ca := newTestCA(t, "hub")
	certFile, keyFile := ca.issue(t, "hub-server", true)
	_, otherKey := ca.issue(t, "other-server", true)
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not a PEM file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.pem")
	self, err := hubauth.LoadOrCreateSelfKey(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name                string
		listen              string
		cert, key, clientCA string
		want                string
	}{
		{"missing certificate", "127.0.0.1:0", missing, keyFile, "", missing},
		{"missing key", "127.0.0.1:0", certFile, missing, "", missing},
		{"unparseable certificate", "127.0.0.1:0", garbage, keyFile, "", garbage},
		{"key of another certificate", "127.0.0.1:0", certFile, otherKey, "", "private key does not match public key"},
		{"certificate without key", "127.0.0.1:0", certFile, "", "", "both a certificate and its key"},
		{"missing client CA", "127.0.0.1:0", certFile, keyFile, missing, missing},
		{"unparseable client CA", "127.0.0.1:0", certFile, keyFile, garbage, garbage + ": no PEM certificate"},
		{"client CA alone", "127.0.0.1:0", "", "", ca.file, "both a certificate and its key"},
		{"no listener", "", certFile, keyFile, "", "no listen address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := Start(Options{StoreDir: t.TempDir(), Listen: tc.listen, Self: self, SelfHost: "SELF",
				TLSCert: tc.cert, TLSKey: tc.key, TLSClientCA: tc.clientCA})
			if err == nil {
				e.Shutdown()
				t.Fatalf("started; want an error mentioning %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not mention %q", err, tc.want)
			}
		})
	}
	// The good pair starts, so the cases above failed for their file.
	e, err := Start(Options{StoreDir: t.TempDir(), Listen: "127.0.0.1:0", Self: self, SelfHost: "SELF",
		TLSCert: certFile, TLSKey: keyFile, TLSClientCA: ca.file})
	if err != nil {
		t.Fatalf("the good certificate, key and client CA: %v", err)
	}
	e.Shutdown()
}
