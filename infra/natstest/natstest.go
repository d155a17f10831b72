package natstest

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/seatflow/seatflow/infra/natsauth"
	"github.com/seatflow/seatflow/infra/natsjs"
)

// identity is the NATS trust chain of every server this package starts:
// one per test binary, so that a test can connect to any of its servers
// with ServiceCreds, as seatflow serve does with its own.
var identity = func() *natsauth.Identity {
	id, err := natsauth.Generate()
	if err != nil {
		panic(fmt.Sprintf("natstest: generate NATS identity: %v", err))
	}
	return id
}()

// Identity is the trust chain of the servers this package starts. Issue
// tenant credentials with it; never change it.
func Identity() *natsauth.Identity { return identity }

// Account is the account every stream lives in (SEATFLOW); pass it to the
// Cluster methods that take an account.
var Account = identity.AccountPublicKey()

// RunJetStream starts a single JetStream server on a random loopback port,
// storing under t.TempDir(), in operator mode under Identity (no anonymous
// client), and shuts it down when the test ends.
func RunJetStream(t testing.TB) *server.Server {
	t.Helper()
	return RunJetStreamWith(t, Identity())
}

// RunJetStreamWith is RunJetStream under another identity, e.g. one with
// small JetStream limits.
func RunJetStreamWith(t testing.TB, id *natsauth.Identity) *server.Server {
	t.Helper()
	opts := &server.Options{
		MaxPayload: natsjs.MaxPayload,
		ServerName: "natstest",
		Host:       "127.0.0.1",
		Port:       server.RANDOM_PORT,
		JetStream:  true,
		StoreDir:   t.TempDir(),
		NoSigs:     true,
	}
	if err := id.ConfigureServer(opts, t.TempDir(), nil); err != nil {
		t.Fatalf("natstest: %v", err)
	}
	s := start(t, opts)
	CheckFor(t, 10*time.Second, 10*time.Millisecond, func() error { return accountReady(id.AccountPublicKey(), s) })
	return s
}

// ServiceCreds is the service user's credentials file under Identity,
// written to a temporary file, for `seatflow serve --nats-creds`.
func ServiceCreds(t testing.TB) string {
	t.Helper()
	b, err := identity.ServiceCreds()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "service.creds")
	if err := natsauth.WriteCreds(path, b); err != nil {
		t.Fatal(err)
	}
	return path
}

func start(t testing.TB, opts *server.Options) *server.Server {
	t.Helper()
	s, err := newServer(opts)
	if err != nil {
		t.Fatalf("start nats server %s: %v", opts.ServerName, err)
	}
	t.Cleanup(func() { shutdown(s) })
	return s
}

// newServer starts a server and waits until it accepts connections.
func newServer(opts *server.Options) (*server.Server, error) {
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, err
	}
	configureLogger(s)
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		shutdown(s)
		return nil, fmt.Errorf("not ready for connections after 10s")
	}
	return s, nil
}

func configureLogger(s *server.Server) {
	if os.Getenv("SEATFLOW_NATS_LOG") != "1" {
		return
	}
	l := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("server", s.Name())
	s.SetLoggerV2(natsjs.NewServerLogger(l), false, false, false)
}

func shutdown(s *server.Server) {
	s.Shutdown()
	s.WaitForShutdown()
}

// Connect connects to url (one URL or several, comma-separated) as the
// service user of Identity, with unlimited fast reconnects, so a client
// rides through a server going down, and closes the connection when the
// test ends.
func Connect(t testing.TB, url string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	opt, err := identity.ServiceOption()
	if err != nil {
		t.Fatal(err)
	}
	return ConnectWith(t, url, opt)
}

// Options are the connection options of Identity's service user, for
// components that open their own connections (Config.Options).
func Options() []nats.Option {
	opt, err := identity.ServiceOption()
	if err != nil {
		panic(fmt.Sprintf("natstest: service credentials: %v", err))
	}
	return []nats.Option{opt}
}

// ConnectWith is Connect with other credentials (or other options).
func ConnectWith(t testing.TB, url string, opts ...nats.Option) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(url, append([]nats.Option{
		nats.Name(t.Name()),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(50 * time.Millisecond),
		nats.ReconnectJitter(50*time.Millisecond, 50*time.Millisecond),
		nats.Timeout(2 * time.Second),
	}, opts...)...)
	if err != nil {
		t.Fatalf("connect to %s: %v", url, err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream on %s: %v", url, err)
	}
	return nc, js
}

// CheckFor calls f every interval until it returns nil, and fails the test
// with f's last error if that does not happen within total.
func CheckFor(t testing.TB, total, interval time.Duration, f func() error) {
	t.Helper()
	if err := Poll(total, interval, f); err != nil {
		t.Fatalf("after %s: %v", total, err)
	}
}

// Poll calls f every interval until it returns nil, and returns f's last
// error if that does not happen within total. It is CheckFor for waits
// whose end is not the test's verdict: in goroutines, where a test must
// not fail, or before a test reports more than the error.
func Poll(total, interval time.Duration, f func() error) error {
	deadline := time.Now().Add(total)
	for {
		err := f()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(interval)
	}
}
