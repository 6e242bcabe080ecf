package interop

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/netsend/messenger/internal/syncbuf"
)

// The real nats-server, built once per test binary from the module go.mod
// already requires, so the cluster the hub tests join is the server a site
// would run, not the copy the daemon embeds.
var (
	natsServerOnce sync.Once
	natsServerPath string
	natsServerErr  error
)

func natsServerBinary(t *testing.T) string {
	t.Helper()
	// Building a second server binary takes a while on a cold cache; only
	// the full run (scripts/test.sh) pays for it.
	if os.Getenv("MESSENGER_INTEROP") == "" {
		t.Skip("the hub's cluster tests run with MESSENGER_INTEROP=1")
	}
	natsServerOnce.Do(func() {
		// Next to the messenger binary, so TestMain's clean-up removes it.
		natsServerPath = filepath.Join(filepath.Dir(binary), "nats-server")
		build := exec.Command("go", "build", "-o", natsServerPath, "github.com/nats-io/nats-server/v2")
		if out, err := build.CombinedOutput(); err != nil {
			natsServerErr = fmt.Errorf("building nats-server: %w\n%s", err, out)
		}
	})
	if natsServerErr != nil {
		t.Fatal(natsServerErr)
	}
	return natsServerPath
}

// natsCluster is nats-server processes on loopback, routed into one
// cluster (or a single server when it has one node), with JetStream on.
type natsCluster struct {
	t     *testing.T
	name  string
	auth  string // the authorization block every node's configuration ends with
	nodes []*natsNode
}

// natsNode is one nats-server process; its ports and store stay the same
// across restarts, as a real node's would.
type natsNode struct {
	t                            *testing.T
	name                         string
	dir                          string
	port, routePort, monitorPort int
	confPath                     string
	cmd                          *exec.Cmd
	log                          *syncbuf.Buffer
	done                         chan struct{}
}

// startNATSCluster starts size nats-servers whose configurations end with
// auth (an authorization block; "" for none) and waits until the cluster
// has formed and JetStream has a meta leader.
func startNATSCluster(t *testing.T, size int, auth string) *natsCluster {
	t.Helper()
	natsServerBinary(t)
	c := &natsCluster{t: t, name: "messenger-test", auth: auth}
	base := t.TempDir()
	for i := range size {
		n := &natsNode{t: t, name: "n" + strconv.Itoa(i+1), dir: filepath.Join(base, "n"+strconv.Itoa(i+1)),
			port: freePort(t), routePort: freePort(t), monitorPort: freePort(t)}
		n.confPath = filepath.Join(n.dir, "nats.conf")
		if err := os.MkdirAll(n.dir, 0o700); err != nil {
			t.Fatal(err)
		}
		c.nodes = append(c.nodes, n)
	}
	c.writeConfigs()
	for _, n := range c.nodes {
		n.start()
		// Cleanups run last-in first-out: the processes end before
		// t.TempDir removes their stores.
		t.Cleanup(n.stop)
	}
	c.waitReady(30 * time.Second)
	return c
}

// urls is the --hub value that reaches every node.
func (c *natsCluster) urls() string {
	var u []string
	for _, n := range c.nodes {
		u = append(u, n.url())
	}
	return strings.Join(u, ",")
}

func (n *natsNode) url() string { return "nats://127.0.0.1:" + strconv.Itoa(n.port) }

func (c *natsCluster) writeConfigs() {
	c.t.Helper()
	for _, n := range c.nodes {
		var b strings.Builder
		fmt.Fprintf(&b, "server_name: %s\nlisten: 127.0.0.1:%d\nhttp: 127.0.0.1:%d\n", n.name, n.port, n.monitorPort)
		fmt.Fprintf(&b, "jetstream {\n  store_dir: %q\n}\n", filepath.Join(n.dir, "jetstream"))
		if len(c.nodes) > 1 {
			fmt.Fprintf(&b, "cluster {\n  name: %s\n  listen: 127.0.0.1:%d\n  routes: [\n", c.name, n.routePort)
			for _, o := range c.nodes {
				if o != n {
					fmt.Fprintf(&b, "    nats-route://127.0.0.1:%d\n", o.routePort)
				}
			}
			b.WriteString("  ]\n}\n")
		}
		b.WriteString(c.auth)
		b.WriteString("\n")
		if err := os.WriteFile(n.confPath, []byte(b.String()), 0o600); err != nil {
			c.t.Fatal(err)
		}
	}
}

func (n *natsNode) start() {
	n.t.Helper()
	n.log = &syncbuf.Buffer{}
	n.cmd = exec.Command(natsServerPath, "-c", n.confPath)
	n.cmd.Stdout, n.cmd.Stderr = n.log, n.log
	if err := n.cmd.Start(); err != nil {
		n.t.Fatalf("starting nats-server %s: %v", n.name, err)
	}
	n.done = make(chan struct{})
	go func() { n.cmd.Wait(); close(n.done) }()
}

// kill ends the node with SIGKILL, as a crash or a power cut would.
func (n *natsNode) kill() {
	n.cmd.Process.Signal(syscall.SIGKILL)
	<-n.done
}

func (n *natsNode) running() bool {
	select {
	case <-n.done:
		return false
	default:
		return true
	}
}

func (n *natsNode) stop() {
	if !n.running() {
		return
	}
	n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.done:
	case <-time.After(10 * time.Second):
		n.kill()
	}
}

// reload rewrites every node's configuration with auth and has each
// running server reload it (SIGHUP), waiting until each says it did.
func (c *natsCluster) reload(auth string) {
	c.t.Helper()
	c.auth = auth
	c.writeConfigs()
	for _, n := range c.nodes {
		if !n.running() {
			continue
		}
		before := strings.Count(n.log.String(), "Reloaded server configuration")
		n.cmd.Process.Signal(syscall.SIGHUP)
		waitFor(c.t, 15*time.Second, func() string {
			if strings.Count(n.log.String(), "Reloaded server configuration") > before {
				return ""
			}
			return "nats-server " + n.name + " has not reloaded its configuration\nlog:\n" + tail(n.log.String(), 3000)
		})
	}
}

// waitReady waits until every running node has its routes to the others,
// knows the JetStream meta leader and reports itself healthy (which
// includes having caught up with every stream and consumer it holds).
func (c *natsCluster) waitReady(timeout time.Duration) {
	c.t.Helper()
	waitFor(c.t, timeout, func() string {
		for _, n := range c.nodes {
			if !n.running() {
				continue
			}
			if why := n.notReady(len(c.nodes)); why != "" {
				return why
			}
		}
		return ""
	})
}

func (n *natsNode) notReady(size int) string {
	if !n.running() {
		return fmt.Sprintf("nats-server %s exited: %v\nlog:\n%s", n.name, n.cmd.ProcessState, tail(n.log.String(), 3000))
	}
	if size > 1 {
		var routez struct {
			NumRoutes int `json:"num_routes"`
		}
		if err := n.monitor("/routez", &routez); err != nil {
			return err.Error()
		}
		// A route per peer at least (nats-server may pool several).
		if routez.NumRoutes < size-1 {
			return fmt.Sprintf("nats-server %s has %d routes, want %d\nlog:\n%s", n.name, routez.NumRoutes, size-1, tail(n.log.String(), 3000))
		}
		var jsz struct {
			Meta *struct {
				Leader      string `json:"leader"`
				ClusterSize int    `json:"cluster_size"`
			} `json:"meta_cluster"`
		}
		if err := n.monitor("/jsz", &jsz); err != nil {
			return err.Error()
		}
		if jsz.Meta == nil || jsz.Meta.Leader == "" {
			return fmt.Sprintf("nats-server %s knows no JetStream meta leader yet\nlog:\n%s", n.name, tail(n.log.String(), 3000))
		}
		// A restarted node has routes and a leader a moment before it
		// counts every peer of the meta group again.
		if jsz.Meta.ClusterSize < size {
			return fmt.Sprintf("nats-server %s counts %d JetStream peers, want %d\nlog:\n%s", n.name, jsz.Meta.ClusterSize, size, tail(n.log.String(), 3000))
		}
	}
	var health struct {
		Status string `json:"status"`
		Error  string `json:"error"`
	}
	if err := n.monitor("/healthz", &health); err != nil || health.Status != "ok" {
		return fmt.Sprintf("nats-server %s not healthy: %v %s %s\nlog:\n%s", n.name, err, health.Status, health.Error, tail(n.log.String(), 3000))
	}
	return ""
}

// monitor reads one JSON document from the node's monitoring port; a
// non-200 status is an error unless the body still decodes (healthz
// answers 503 with its reason).
func (n *natsNode) monitor(path string, into any) error {
	client := http.Client{Timeout: 2 * time.Second}
	resp, err := client.Get("http://127.0.0.1:" + strconv.Itoa(n.monitorPort) + path)
	if err != nil {
		return fmt.Errorf("nats-server %s monitoring %s: %w", n.name, path, err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(into); err != nil {
		return fmt.Errorf("nats-server %s monitoring %s: %s: %w", n.name, path, resp.Status, err)
	}
	return nil
}

// streamLeader is the node that leads the named stream now (the first
// running node when no node says).
func (c *natsCluster) streamLeader(stream string) *natsNode {
	c.t.Helper()
	var first *natsNode
	for _, n := range c.nodes {
		if !n.running() {
			continue
		}
		if first == nil {
			first = n
		}
		var jsz struct {
			Accounts []struct {
				Streams []struct {
					Name    string `json:"name"`
					Cluster *struct {
						Leader string `json:"leader"`
					} `json:"cluster"`
				} `json:"stream_detail"`
			} `json:"account_details"`
		}
		if err := n.monitor("/jsz?accounts=true&streams=true", &jsz); err != nil {
			continue
		}
		for _, a := range jsz.Accounts {
			for _, st := range a.Streams {
				if st.Name != stream || st.Cluster == nil {
					continue
				}
				for _, o := range c.nodes {
					if o.name == st.Cluster.Leader {
						return o
					}
				}
			}
		}
	}
	if first == nil {
		c.t.Fatal("no nats-server is running")
	}
	return first
}

// logs is every node's log, for failure messages.
func (c *natsCluster) logs() string {
	var b strings.Builder
	for _, n := range c.nodes {
		fmt.Fprintf(&b, "--- nats-server %s:\n%s\n", n.name, tail(n.log.String(), 2000))
	}
	return b.String()
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// TestNATSCluster checks the launcher itself: three routed nodes, one
// killed and restarted, the cluster whole again after, and a reload.
func TestNATSCluster(t *testing.T) {
	c := startNATSCluster(t, 3, "")
	c.nodes[1].kill()
	c.nodes[1].start()
	c.waitReady(30 * time.Second)
	var jsz struct {
		Meta struct {
			ClusterSize int `json:"cluster_size"`
		} `json:"meta_cluster"`
	}
	if err := c.nodes[1].monitor("/jsz", &jsz); err != nil {
		t.Fatal(err)
	}
	if jsz.Meta.ClusterSize != 3 {
		t.Fatalf("meta cluster size %d after the restart, want 3\n%s", jsz.Meta.ClusterSize, c.logs())
	}
	c.reload("")
	c.waitReady(30 * time.Second)
}
