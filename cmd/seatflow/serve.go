package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/oklog/ulid/v2"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/infra/metrics"
	"github.com/seatflow/seatflow/infra/natsauth"
	"github.com/seatflow/seatflow/infra/natsjs"
	"github.com/seatflow/seatflow/infra/projector"
	"github.com/seatflow/seatflow/infra/revocation"
	"github.com/seatflow/seatflow/projections"
)

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("--log-level %q: want debug, info, warn or error", s)
	}
	return l, nil
}

func newLogger(w io.Writer, level string) *slog.Logger {
	l, _ := parseLevel(level)
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}

// serveCmd runs `seatflow serve`: the App its flags configure, until ctx
// ends.
func serveCmd(ctx context.Context, args []string, stderr io.Writer, getenv func(string) string) error {
	cfg, err := parseServe(args, stderr, getenv)
	if err != nil {
		return err
	}
	app, err := NewApp(ctx, cfg, newLogger(stderr, cfg.LogLevel))
	if err != nil {
		return err
	}
	defer app.Close()
	return app.Run(ctx)
}

// parseServe reads serve's flags (and SEATFLOW_* variables) into a valid
// Config; usage and flag errors go to stderr.
func parseServe(args []string, stderr io.Writer, getenv func(string) string) (Config, error) {
	var cfg Config
	f := newFlags("serve", stderr, getenv)
	serveFlags(f, &cfg)
	if err := f.parse(args); err != nil {
		return Config{}, err
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

func newID() string { return ulid.Make().String() }

// conn is an open connection to NATS, with the embedded server when there
// is one.
type conn struct {
	// opts are the connection options every connection to NATS uses.
	opts []nats.Option
	srv  *server.Server
	nc   *nats.Conn
	js   jetstream.JetStream
	url  string
}

// open starts the embedded server (unless --nats-url names one), connects,
// and makes sure every stream exists.
func open(ctx context.Context, cfg Config, log *slog.Logger) (*conn, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	c := &conn{url: cfg.NATSURL, opts: cfg.NATS.options()}
	if c.url == "" {
		// The embedded server trusts only the identity in the data dir: the
		// service connects as its own user, upstream and downstream systems
		// with `seatflow creds` files.
		id, err := natsauth.LoadOrCreate(cfg.DataDir)
		if err != nil {
			return nil, fmt.Errorf("NATS identity: %w", err)
		}
		revoked, err := natsauth.OpenRegistry(cfg.DataDir).Revocations()
		if err != nil {
			return nil, fmt.Errorf("NATS credentials: %w", err)
		}
		svc, err := id.ServiceOption()
		if err != nil {
			return nil, fmt.Errorf("NATS identity: %w", err)
		}
		always, interval, _ := cfg.syncPolicy()
		srv, err := natsjs.StartServer(natsjs.ServerConfig{
			StoreDir:     filepath.Join(cfg.DataDir, "jetstream"),
			AccountsDir:  filepath.Join(cfg.DataDir, "accounts"),
			Listen:       cfg.NATSListen,
			ServerName:   "seatflow",
			SyncAlways:   always,
			SyncInterval: interval,
			Logger:       log.With("component", "nats-server"),
			Identity:     id,
			Revocations:  revoked,
		})
		if err != nil {
			return nil, fmt.Errorf("embedded NATS: %w", err)
		}
		c.srv, c.url, c.opts = srv, srv.ClientURL(), append(c.opts, svc)
	}
	nc, err := nats.Connect(c.url, append([]nats.Option{nats.Name("seatflow"), nats.MaxReconnects(-1),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("NATS disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { log.Info("NATS reconnected", "url", nc.ConnectedUrl()) })}, c.opts...)...)
	if err != nil {
		c.close()
		return nil, fmt.Errorf("connect to NATS at %s: %w", redactURL(c.url), err)
	}
	c.nc = nc
	if c.js, err = jetstream.New(nc); err != nil {
		c.close()
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	if err := natsjs.EnsureStreamsWith(ctx, c.js, cfg.Replicas, cfg.Streams); err != nil {
		c.close()
		return nil, fmt.Errorf("create streams: %w", err)
	}
	return c, nil
}

// close drains the connection (so every acknowledged publish is flushed)
// and stops the embedded server.
func (c *conn) close() {
	if c.nc != nil {
		_ = c.nc.Drain()
		for c.nc.IsDraining() {
			time.Sleep(10 * time.Millisecond)
		}
	}
	if c.srv != nil {
		c.srv.Shutdown()
		c.srv.WaitForShutdown()
	}
}

// watchRevocations opens the token revocation bucket and loads it; it
// returns once every revocation made so far is held, so no instance starts
// serving a token revoked before it started.
func watchRevocations(ctx context.Context, c *conn, cfg Config, log *slog.Logger) (*revocation.Set, jetstream.KeyValue, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	kv, err := revocation.Open(ctx, c.js, cfg.Replicas)
	if err != nil {
		return nil, nil, err
	}
	set, err := revocation.Watch(ctx, kv, log)
	return set, kv, err
}

// readModels builds every read model serve feeds, in the order the runner
// feeds them; rebuild replays the same list.
func readModels(c *conn, svc *domain.Service, cfg Config, m *metrics.Metrics, log *slog.Logger) (*projections.LicenseCounts, *projections.UserLicenses, *autoClaim, *requests, []projections.Projection, error) {
	counts, licenses := projections.NewLicenseCounts(), projections.NewUserLicenses()
	ac, err := wireAutoClaim(c, svc, cfg.AutoClaim, cfg.clock(), log)
	if err != nil {
		return nil, nil, nil, nil, nil, err
	}
	ac.replicas, ac.counts = cfg.Replicas, counts
	rq := wireRequests(c, svc, counts, cfg.Requests, cfg.clock(), log)
	ac.metrics, rq.metrics = m.Registry(), m.Registry()
	models := append(append([]projections.Projection{counts, licenses}, ac.projections()...), rq.projections()...)
	models = append(models, projections.NewLicenseHistory(), projections.NewAsOfIndex(projections.DefaultAsOfEvery))
	return counts, licenses, ac, rq, models, nil
}

// modelOf finds the read model of type T among models.
func modelOf[T projections.Projection](models []projections.Projection) T {
	for _, m := range models {
		if t, ok := m.(T); ok {
			return t
		}
	}
	panic(fmt.Sprintf("no read model of type %T", *new(T)))
}

// checkpoints opens the checkpoint store when every read model can be
// snapshot; otherwise the read models are rebuilt from the stream on every
// start, and the log says which one prevents checkpoints.
func checkpoints(ctx context.Context, c *conn, cfg Config, models []projections.Projection, log *slog.Logger) (projector.Checkpoints, error) {
	for _, m := range models {
		if _, ok := m.(projections.Snapshotter); !ok {
			log.Warn("read-model checkpoints are off: a read model cannot be snapshot", "model", m.Name())
			return nil, nil
		}
	}
	cps, err := projector.OpenObjectStore(ctx, c.js, cfg.Replicas)
	if err != nil {
		return nil, err
	}
	return cps, nil
}

// splitRoles accepts --role a,b or repeated values joined by commas.
func splitRoles(s string) []string {
	var out []string
	for _, r := range strings.Split(s, ",") {
		if r = strings.TrimSpace(r); r != "" {
			out = append(out, r)
		}
	}
	return out
}
