package natsjs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/seatflow/seatflow/infra/natsauth"
)

// ServerConfig configures the embedded nats-server that `seatflow serve`
// runs when no external NATS is given.
type ServerConfig struct {
	// StoreDir is where JetStream keeps its files. Required.
	StoreDir string
	// Listen is the host:port for client connections. Port 0 picks a free
	// port. Default "127.0.0.1:4222".
	Listen string
	// ServerName names the server in logs and cluster metadata. Default
	// "seatflow".
	ServerName string
	// SyncAlways fsyncs every write before acknowledging it, trading
	// throughput for durability against power loss.
	SyncAlways bool
	// SyncInterval is how often stored data is fsynced when SyncAlways is
	// off. Zero keeps the nats-server default (2 minutes).
	SyncInterval time.Duration
	// Logger receives the server's logs, through a ServerLogger. Default:
	// discarded.
	Logger *slog.Logger
	// ReadyTimeout bounds how long StartServer waits for the server to
	// accept connections. Default 10s.
	ReadyTimeout time.Duration
	// Identity is the NATS trust chain the server runs under: only users it
	// issued may connect (no anonymous client). Required.
	Identity *natsauth.Identity
	// Revocations are revoked users (from the credential registry), merged
	// with those already in the account resolver.
	Revocations map[string]time.Time
	// AccountsDir is where the account resolver keeps account JWTs.
	// Default: "accounts" beside StoreDir.
	AccountsDir string
}

func (c *ServerConfig) setDefaults() {
	if c.Listen == "" {
		c.Listen = "127.0.0.1:4222"
	}
	if c.ServerName == "" {
		c.ServerName = "seatflow"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.ReadyTimeout == 0 {
		c.ReadyTimeout = 10 * time.Second
	}
	if c.AccountsDir == "" && c.StoreDir != "" {
		c.AccountsDir = filepath.Join(filepath.Dir(filepath.Clean(c.StoreDir)), "accounts")
	}
}

// Validate reports every missing or invalid setting.
func (c ServerConfig) Validate() error {
	var errs []error
	if c.StoreDir == "" {
		errs = append(errs, errors.New("natsjs: ServerConfig.StoreDir is required"))
	}
	if _, _, err := splitListen(c.Listen); err != nil {
		errs = append(errs, fmt.Errorf("natsjs: ServerConfig.Listen: %w", err))
	}
	if c.SyncInterval < 0 {
		errs = append(errs, errors.New("natsjs: ServerConfig.SyncInterval must not be negative"))
	}
	if c.Identity == nil {
		errs = append(errs, errors.New("natsjs: ServerConfig.Identity is required: the server accepts no anonymous client"))
	}
	if c.ReadyTimeout < 0 {
		errs = append(errs, errors.New("natsjs: ServerConfig.ReadyTimeout must not be negative"))
	}
	return errors.Join(errs...)
}

func splitListen(listen string) (string, int, error) {
	host, p, err := net.SplitHostPort(listen)
	if err != nil {
		return "", 0, fmt.Errorf("%q is not host:port: %w", listen, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("%q: port must be a number from 0 to 65535", listen)
	}
	return host, port, nil
}

// MaxPayload is the largest message the embedded server (and the cluster
// configs in infra/deploy) accept: 8 MiB, well above the 1 MiB Seatflow
// accepts as a sign-in, so an oversized sign-in reaches the router and is
// dead-lettered with a reason instead of being refused at publish.
const MaxPayload = 8 << 20

// StartServer starts an embedded nats-server with JetStream storing under
// cfg.StoreDir and waits until it accepts connections. Its logs go to
// cfg.Logger. The caller shuts it down with Shutdown (and WaitForShutdown).
// A port already in use, an unusable store directory or any other start-up
// failure is returned as an error, never a process exit.
func StartServer(cfg ServerConfig) (*server.Server, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	host, port, _ := splitListen(cfg.Listen)
	if port == 0 {
		port = server.RANDOM_PORT // for nats-server, 0 means its default port
	}
	opts := &server.Options{
		MaxPayload:   MaxPayload,
		ServerName:   cfg.ServerName,
		Host:         host,
		Port:         port,
		JetStream:    true,
		StoreDir:     cfg.StoreDir,
		SyncAlways:   cfg.SyncAlways,
		SyncInterval: cfg.SyncInterval,
		NoSigs:       true,
	}
	if err := cfg.Identity.ConfigureServer(opts, cfg.AccountsDir, cfg.Revocations); err != nil {
		return nil, fmt.Errorf("nats server: %w", err)
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("nats server: %w", err)
	}
	log := NewServerLogger(cfg.Logger)
	s.SetLoggerV2(log, cfg.Logger.Enabled(context.Background(), slog.LevelDebug), false, false)
	s.Start()

	deadline := time.Now().Add(cfg.ReadyTimeout)
	for !s.ReadyForConnections(50 * time.Millisecond) {
		if msg := log.fatal(); msg != "" {
			s.Shutdown()
			s.WaitForShutdown()
			return nil, fmt.Errorf("nats server on %s: %s", cfg.Listen, msg)
		}
		if time.Now().After(deadline) {
			s.Shutdown()
			s.WaitForShutdown()
			return nil, fmt.Errorf("nats server on %s: not ready after %s", cfg.Listen, cfg.ReadyTimeout)
		}
	}
	if msg := log.fatal(); msg != "" { // e.g. JetStream failed after the listener came up
		s.Shutdown()
		s.WaitForShutdown()
		return nil, fmt.Errorf("nats server on %s: %s", cfg.Listen, msg)
	}
	if !s.JetStreamEnabled() {
		s.Shutdown()
		s.WaitForShutdown()
		return nil, fmt.Errorf("nats server on %s: jetstream is not enabled", cfg.Listen)
	}
	// In operator mode the account, and its JetStream, are set up on first
	// use: do it now, so the first client does not race it.
	for {
		acc, err := s.LookupAccount(cfg.Identity.AccountPublicKey())
		if err == nil && acc.JetStreamEnabled() {
			return s, nil
		}
		if time.Now().After(deadline) {
			s.Shutdown()
			s.WaitForShutdown()
			return nil, fmt.Errorf("nats server on %s: JetStream not enabled for the %s account (%v)", cfg.Listen, natsauth.AccountName, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ServerLogger routes nats-server logs to slog: notices are Info, traces
// Debug, and fatal errors Error (recorded, not exiting the process, so
// StartServer can report them).
type ServerLogger struct {
	l *slog.Logger

	mu        sync.Mutex
	fatalText string
}

var _ server.Logger = (*ServerLogger)(nil)

// NewServerLogger returns a server.Logger writing to l. The caller adds
// its own attributes (e.g. component=nats-server).
func NewServerLogger(l *slog.Logger) *ServerLogger {
	return &ServerLogger{l: l}
}

func (a *ServerLogger) log(level slog.Level, format string, v []any) {
	ctx := context.Background()
	if !a.l.Enabled(ctx, level) {
		return
	}
	a.l.Log(ctx, level, fmt.Sprintf(format, v...))
}

// Noticef logs at Info.
func (a *ServerLogger) Noticef(format string, v ...any) { a.log(slog.LevelInfo, format, v) }

// Warnf logs at Warn.
func (a *ServerLogger) Warnf(format string, v ...any) { a.log(slog.LevelWarn, format, v) }

// Errorf logs at Error.
func (a *ServerLogger) Errorf(format string, v ...any) { a.log(slog.LevelError, format, v) }

// Fatalf logs at Error and records the message; it does not exit.
func (a *ServerLogger) Fatalf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	a.mu.Lock()
	if a.fatalText == "" {
		a.fatalText = msg
	}
	a.mu.Unlock()
	a.l.Error(msg, "fatal", true)
}

// Debugf logs at Debug.
func (a *ServerLogger) Debugf(format string, v ...any) { a.log(slog.LevelDebug, format, v) }

// Tracef logs at Debug-4.
func (a *ServerLogger) Tracef(format string, v ...any) { a.log(slog.LevelDebug-4, format, v) }

// fatal returns the first fatal message logged, if any.
func (a *ServerLogger) fatal() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.fatalText
}
