package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/seatflow/seatflow/infra/natsauth"
	"github.com/seatflow/seatflow/infra/natsjs"
)

// soakCluster is the soak's in-process JetStream cluster: n servers on
// loopback routed to each other, in operator mode under one identity, each
// with its own store and resolver directory and fixed ports, so a server
// shut down can be started again as the same node (same name, store,
// client and route ports).
type soakCluster struct {
	id    *natsauth.Identity
	dir   string
	log   *slog.Logger
	name  string
	nodes []*soakNode
}

type soakNode struct {
	name       string
	clientPort int
	routePort  int
	storeDir   string
	accDir     string

	mu  sync.Mutex
	srv *server.Server // nil while down
}

// startSoakCluster starts n servers under dir and waits until the cluster
// is ready (routes, meta leader, every server current, the SEATFLOW
// account's JetStream enabled on every server).
func startSoakCluster(id *natsauth.Identity, dir string, n int, log *slog.Logger) (*soakCluster, error) {
	ports, err := soakFreePorts(2 * n)
	if err != nil {
		return nil, err
	}
	c := &soakCluster{id: id, dir: dir, log: log, name: "SEATFLOW-SOAK"}
	for i := range n {
		c.nodes = append(c.nodes, &soakNode{name: fmt.Sprintf("soak-%d", i+1), clientPort: ports[2*i], routePort: ports[2*i+1],
			storeDir: filepath.Join(dir, fmt.Sprintf("node-%d", i+1), "jetstream"),
			accDir:   filepath.Join(dir, fmt.Sprintf("node-%d", i+1), "accounts")})
	}
	for i := range c.nodes {
		if err := c.Start(i); err != nil {
			c.Shutdown()
			return nil, err
		}
	}
	if err := c.WaitReady(60 * time.Second); err != nil {
		c.Shutdown()
		return nil, err
	}
	return c, nil
}

// soakFreePorts asks the kernel for n free loopback ports.
func soakFreePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
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

// Start starts node i (again), with its store and ports.
func (c *soakCluster) Start(i int) error {
	nd := c.nodes[i]
	var routes []*url.URL
	for _, o := range c.nodes {
		// Every server lists every route, itself included: the number of
		// routes is how JetStream learns the cluster's size.
		routes = append(routes, &url.URL{Scheme: "nats-route", Host: fmt.Sprintf("127.0.0.1:%d", o.routePort)})
	}
	opts := &server.Options{
		MaxPayload: natsjs.MaxPayload,
		ServerName: nd.name,
		Host:       "127.0.0.1",
		Port:       nd.clientPort,
		JetStream:  true,
		StoreDir:   nd.storeDir,
		NoSigs:     true,
		Cluster:    server.ClusterOpts{Name: c.name, Host: "127.0.0.1", Port: nd.routePort},
		Routes:     routes,
	}
	if err := c.id.ConfigureServer(opts, nd.accDir, nil); err != nil {
		return err
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return fmt.Errorf("nats server %s: %w", nd.name, err)
	}
	s.SetLoggerV2(natsjs.NewServerLogger(c.log.With("server", nd.name)), false, false, false)
	s.Start()
	if !s.ReadyForConnections(15 * time.Second) {
		s.Shutdown()
		s.WaitForShutdown()
		return fmt.Errorf("nats server %s: not ready for connections after 15s", nd.name)
	}
	nd.mu.Lock()
	nd.srv = s
	nd.mu.Unlock()
	return nil
}

// Stop shuts node i down and waits until it has stopped.
func (c *soakCluster) Stop(i int) {
	nd := c.nodes[i]
	nd.mu.Lock()
	s := nd.srv
	nd.srv = nil
	nd.mu.Unlock()
	if s != nil {
		s.Shutdown()
		s.WaitForShutdown()
	}
}

// Shutdown stops every node.
func (c *soakCluster) Shutdown() {
	for i := range c.nodes {
		c.Stop(i)
	}
}

func (c *soakCluster) running() []*server.Server {
	var out []*server.Server
	for _, nd := range c.nodes {
		nd.mu.Lock()
		if nd.srv != nil {
			out = append(out, nd.srv)
		}
		nd.mu.Unlock()
	}
	return out
}

// URLs are the client URLs of every node, comma-separated.
func (c *soakCluster) URLs() string {
	var urls []string
	for _, nd := range c.nodes {
		urls = append(urls, fmt.Sprintf("nats://127.0.0.1:%d", nd.clientPort))
	}
	return strings.Join(urls, ",")
}

// StreamLeader returns the index of the node leading stream, or -1.
func (c *soakCluster) StreamLeader(stream string) int {
	for i, nd := range c.nodes {
		nd.mu.Lock()
		s := nd.srv
		nd.mu.Unlock()
		if s != nil && s.JetStreamIsStreamLeader(c.id.AccountPublicKey(), stream) {
			return i
		}
	}
	return -1
}

// ready says why the running servers are not a ready cluster yet.
func (c *soakCluster) ready() error {
	running := c.running()
	if len(running) != len(c.nodes) {
		return fmt.Errorf("%d of %d servers running", len(running), len(c.nodes))
	}
	var leader *server.Server
	for _, s := range running {
		if got, want := s.NumRoutes(), len(running)-1; got < want {
			return fmt.Errorf("server %s has %d routes, want %d", s.Name(), got, want)
		}
		if s.JetStreamIsLeader() {
			leader = s
		}
	}
	if leader == nil {
		return errors.New("no JetStream meta leader")
	}
	if got, want := len(leader.JetStreamClusterPeers()), len(c.nodes); got != want {
		return fmt.Errorf("meta leader %s knows %d peers, want %d", leader.Name(), got, want)
	}
	for _, s := range running {
		if !s.JetStreamIsCurrent() {
			return fmt.Errorf("server %s is not current with the meta leader", s.Name())
		}
		// In operator mode an account's JetStream is enabled on first use.
		acc, err := s.LookupAccount(c.id.AccountPublicKey())
		if err != nil {
			return fmt.Errorf("server %s: account: %w", s.Name(), err)
		}
		if !acc.JetStreamEnabled() {
			return fmt.Errorf("server %s: JetStream not yet enabled for the account", s.Name())
		}
	}
	return nil
}

// WaitReady polls until the cluster is ready or d has passed.
func (c *soakCluster) WaitReady(d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		err := c.ready()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cluster not ready after %s: %w", d, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// WaitStreamCurrent polls until stream has a leader and every running
// server is current with it.
func (c *soakCluster) WaitStreamCurrent(stream string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		err := func() error {
			l := c.StreamLeader(stream)
			if l < 0 {
				return fmt.Errorf("no leader for %s", stream)
			}
			for i, s := range c.running() {
				if !s.JetStreamIsStreamLeader(c.id.AccountPublicKey(), stream) && !s.JetStreamIsStreamCurrent(c.id.AccountPublicKey(), stream) {
					return fmt.Errorf("server %d not current on %s", i, stream)
				}
			}
			return nil
		}()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %s: %w", d, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
