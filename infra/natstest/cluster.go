package natstest

import (
	"errors"
	"fmt"
	"github.com/seatflow/seatflow/infra/natsjs"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Cluster is an in-process JetStream cluster of servers routed to each
// other on loopback.
type Cluster struct {
	t    testing.TB
	name string

	mu      sync.Mutex
	servers []*server.Server
	down    map[*server.Server]bool
}

// clusterAttempts bounds how often RunCluster starts over when a port it
// picked was taken by someone else before the server could bind it.
const clusterAttempts = 3

// RunCluster starts an n-server JetStream cluster and waits until it has a
// meta leader, all n peers are known and every server is current. Each
// server stores under its own t.TempDir(). The cluster is shut down when
// the test ends.
func RunCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	if n < 2 {
		t.Fatalf("RunCluster: need at least 2 servers, got %d", n)
	}
	var errs []error
	for attempt := 1; attempt <= clusterAttempts; attempt++ {
		c, err := startCluster(t, n, attempt)
		if err == nil {
			t.Cleanup(c.shutdownAll)
			return c
		}
		errs = append(errs, fmt.Errorf("attempt %d: %w", attempt, err))
	}
	t.Fatalf("start %d-server cluster: %v", n, errors.Join(errs...))
	return nil
}

func startCluster(t testing.TB, n, attempt int) (*Cluster, error) {
	ports, err := freePorts(n)
	if err != nil {
		return nil, err
	}
	routes := make([]*url.URL, n)
	for i, p := range ports {
		routes[i] = &url.URL{Scheme: "nats-route", Host: fmt.Sprintf("127.0.0.1:%d", p)}
	}
	c := &Cluster{t: t, name: fmt.Sprintf("SEATFLOW-TEST-%d", attempt), down: map[*server.Server]bool{}}
	for i := range n {
		opts := &server.Options{
			MaxPayload: natsjs.MaxPayload,
			ServerName: fmt.Sprintf("S-%d", i+1),
			Host:       "127.0.0.1",
			Port:       server.RANDOM_PORT,
			JetStream:  true,
			StoreDir:   t.TempDir(),
			NoSigs:     true,
			Cluster: server.ClusterOpts{
				Name: c.name,
				Host: "127.0.0.1",
				Port: ports[i],
			},
			// Every server lists every route, itself included: the number
			// of routes is how JetStream learns the cluster's size.
			Routes: routes,
		}
		if err := identity.ConfigureServer(opts, t.TempDir(), nil); err != nil {
			c.shutdownAll()
			return nil, err
		}
		s, err := newServer(opts)
		if err != nil {
			c.shutdownAll()
			return nil, fmt.Errorf("server %s (route port %d): %w", opts.ServerName, ports[i], err)
		}
		c.servers = append(c.servers, s)
	}
	if err := Poll(30*time.Second, 20*time.Millisecond, c.ready); err != nil {
		c.shutdownAll()
		return nil, err
	}
	return c, nil
}

// freePorts asks the kernel for n free loopback ports. They are free when
// returned; a server binds them a moment later.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("pick a free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// ready reports why the cluster is not ready yet: routes not formed, no
// meta leader, a peer missing, or a server not current.
func (c *Cluster) ready() error {
	running := c.running()
	for _, s := range running {
		if got, want := s.NumRoutes(), len(running)-1; got < want {
			return fmt.Errorf("server %s has %d routes, want %d", s.Name(), got, want)
		}
	}
	var leader *server.Server
	for _, s := range running {
		if s.JetStreamIsLeader() {
			leader = s
		}
	}
	if leader == nil {
		return errors.New("no JetStream meta leader")
	}
	if got, want := len(leader.JetStreamClusterPeers()), len(c.Servers()); got != want {
		return fmt.Errorf("meta leader %s knows %d peers, want %d", leader.Name(), got, want)
	}
	for _, s := range running {
		if !s.JetStreamIsCurrent() {
			return fmt.Errorf("server %s is not current with the meta leader", s.Name())
		}
	}
	return accountReady(Account, running...)
}

// accountReady reports why the SEATFLOW account is not usable yet on a
// server: in operator mode a server resolves an account, and enables its
// JetStream, on first use, which a client racing the start would see as
// "JetStream not enabled for account".
func accountReady(account string, servers ...*server.Server) error {
	for _, s := range servers {
		acc, err := s.LookupAccount(account)
		if err != nil {
			return fmt.Errorf("server %s: account %s: %w", s.Name(), account, err)
		}
		if !acc.JetStreamEnabled() {
			return fmt.Errorf("server %s: JetStream not yet enabled for account %s", s.Name(), account)
		}
	}
	return nil
}

// WaitReady waits until the running servers have a meta leader and are all
// current, e.g. after Shutdown.
func (c *Cluster) WaitReady() {
	c.t.Helper()
	CheckFor(c.t, 30*time.Second, 20*time.Millisecond, func() error {
		running := c.running()
		for _, s := range running {
			if s.JetStreamIsLeader() {
				for _, s := range running {
					if !s.JetStreamIsCurrent() {
						return fmt.Errorf("server %s is not current with the meta leader", s.Name())
					}
				}
				return nil
			}
		}
		return errors.New("no JetStream meta leader")
	})
}

// Servers returns every server of the cluster, including shut down ones.
func (c *Cluster) Servers() []*server.Server {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*server.Server(nil), c.servers...)
}

func (c *Cluster) running() []*server.Server {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*server.Server
	for _, s := range c.servers {
		if !c.down[s] {
			out = append(out, s)
		}
	}
	return out
}

// URLs returns the client URLs of every server, comma-separated, for
// nats.Connect: a client given all of them reconnects to another server
// when its own goes down.
func (c *Cluster) URLs() string {
	var urls []string
	for _, s := range c.Servers() {
		urls = append(urls, s.ClientURL())
	}
	return strings.Join(urls, ",")
}

// StreamLeader returns the running server leading stream in account, or
// nil if there is none right now.
func (c *Cluster) StreamLeader(account, stream string) *server.Server {
	for _, s := range c.running() {
		if s.JetStreamIsStreamLeader(account, stream) {
			return s
		}
	}
	return nil
}

// WaitOnStreamLeader waits until stream in account has a leader and every
// other running server is current with it.
func (c *Cluster) WaitOnStreamLeader(account, stream string) {
	c.t.Helper()
	CheckFor(c.t, 30*time.Second, 20*time.Millisecond, func() error {
		leader := c.StreamLeader(account, stream)
		if leader == nil {
			return fmt.Errorf("no leader for stream %s > %s", account, stream)
		}
		for _, s := range c.running() {
			if s != leader && !s.JetStreamIsStreamCurrent(account, stream) {
				return fmt.Errorf("server %s is not current on stream %s > %s", s.Name(), account, stream)
			}
		}
		return nil
	})
}

// Shutdown stops one server of the cluster and waits until it has stopped.
// The others keep running; Servers still lists it.
func (c *Cluster) Shutdown(s *server.Server) {
	c.t.Helper()
	c.mu.Lock()
	already := c.down[s]
	c.down[s] = true
	c.mu.Unlock()
	if !already {
		shutdown(s)
	}
}

func (c *Cluster) shutdownAll() {
	for _, s := range c.running() {
		c.mu.Lock()
		c.down[s] = true
		c.mu.Unlock()
		shutdown(s)
	}
}
