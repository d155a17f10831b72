package natsjs_test

import (
	"bytes"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seatflow/seatflow/infra/natsjs"
	"github.com/seatflow/seatflow/infra/natstest"
)

func TestServerConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cfg     natsjs.ServerConfig
		wantErr []string
	}{
		{"valid", natsjs.ServerConfig{StoreDir: "/tmp/x", Listen: "127.0.0.1:0", Identity: natstest.Identity()}, nil},
		{"anonymous", natsjs.ServerConfig{StoreDir: "/tmp/x", Listen: "127.0.0.1:0"}, []string{"Identity is required", "no anonymous client"}},
		{"no store dir", natsjs.ServerConfig{Listen: "127.0.0.1:4222"}, []string{"StoreDir is required"}},
		{"listen without port", natsjs.ServerConfig{StoreDir: "d", Listen: "localhost"}, []string{"Listen", "not host:port"}},
		{"port out of range", natsjs.ServerConfig{StoreDir: "d", Listen: ":70000"}, []string{"port must be a number"}},
		{"negative sync interval", natsjs.ServerConfig{StoreDir: "d", Listen: ":1", SyncInterval: -time.Second}, []string{"SyncInterval"}},
		{"several at once", natsjs.ServerConfig{Listen: "x", SyncInterval: -1}, []string{"StoreDir", "Listen", "SyncInterval"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("got %v, want no error", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("got no error, want one mentioning %q", tc.wantErr)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("got %q, want it to mention %q", err, w)
				}
			}
		})
	}
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestStartServer(t *testing.T) {
	var logs syncBuffer
	s, err := natsjs.StartServer(natsjs.ServerConfig{
		StoreDir: t.TempDir(),
		Listen:   "127.0.0.1:0",
		Logger:   slog.New(slog.NewJSONHandler(&logs, nil)),
		Identity: natstest.Identity(),
	})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	if port := s.Addr().(*net.TCPAddr).Port; port == 0 || port == 4222 {
		t.Errorf("port: got %d, want a random one", port)
	}
	_, js := natstest.Connect(t, s.ClientURL())
	if err := natsjs.EnsureStreams(testCtx(t), js, 1); err != nil {
		t.Fatalf("ensure streams on the embedded server: %v", err)
	}
	if got := logs.String(); !strings.Contains(got, `"msg":"Server is ready"`) {
		t.Errorf("logs: got %q, want the server's notices as JSON records", got)
	}
}

func TestStartServerPortInUse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	start := time.Now()
	s, err := natsjs.StartServer(natsjs.ServerConfig{StoreDir: t.TempDir(), Listen: l.Addr().String(), Identity: natstest.Identity()})
	if err == nil {
		s.Shutdown()
		t.Fatal("start on a port in use: got no error")
	}
	if !strings.Contains(err.Error(), "address already in use") || !strings.Contains(err.Error(), l.Addr().String()) {
		t.Errorf("error: got %q, want it to name %s and say the address is in use", err, l.Addr())
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("failing took %s, want it to fail fast", d)
	}
}

func TestStartServerInvalidConfig(t *testing.T) {
	if _, err := natsjs.StartServer(natsjs.ServerConfig{}); err == nil || !strings.Contains(err.Error(), "StoreDir") {
		t.Fatalf("got %v, want a validation error naming StoreDir", err)
	}
}

func TestStartServerJetStreamFails(t *testing.T) {
	// A store directory that is a file: the listener comes up, JetStream
	// does not.
	file := t.TempDir() + "/file"
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := natsjs.StartServer(natsjs.ServerConfig{StoreDir: file, Listen: "127.0.0.1:0", Identity: natstest.Identity(), AccountsDir: t.TempDir()})
	if err == nil {
		s.Shutdown()
		t.Fatal("start with a file as store dir: got no error")
	}
	if !strings.Contains(err.Error(), "JetStream") {
		t.Errorf("error: got %q, want it to say JetStream could not start", err)
	}
}
