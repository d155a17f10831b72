package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/oklog/ulid/v2"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/infra/auth"
	"github.com/seatflow/seatflow/infra/history"
	"github.com/seatflow/seatflow/infra/httpapi"
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

func serveCmd(ctx context.Context, args []string, stderr io.Writer, getenv func(string) string) error {
	var cfg Config
	f := newFlags("serve", stderr, getenv)
	serveFlags(f, &cfg)
	if err := f.parse(args); err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	return Serve(ctx, cfg, newLogger(stderr, cfg.LogLevel))
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

// Serve runs Seatflow until ctx ends, then drains: the HTTP server stops
// accepting and finishes in-flight requests (every command that answered
// success has been acknowledged by JetStream), projections stop, the NATS
// connection drains and the embedded server shuts down.
func Serve(ctx context.Context, cfg Config, log *slog.Logger) error {
	return serve(ctx, cfg, log, nil)
}

// serving is what an in-process caller (seatflow bench) learns once Serve
// serves: the HTTP address and the projection runner.
type serving struct {
	HTTP   string
	Runner *projector.Runner
}

// serve is Serve with a hook called once the HTTP server listens.
func serve(ctx context.Context, cfg Config, log *slog.Logger, ready func(serving)) error {
	c, err := open(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer c.close()

	reg := events.Default()
	m := metrics.NewWith(metrics.Options{NoTenantLabels: !cfg.MetricsTenantLabels})
	store := natsjs.NewStore(c.js, reg)
	svc, err := domain.NewService(m.Store(store), domain.Config{Now: serviceNow, NewID: newID})
	if err != nil {
		return err
	}
	counts, licenses, ac, rq, models, err := readModels(c, svc, cfg, m, log)
	if err != nil {
		return err
	}
	cps, err := checkpoints(ctx, c, cfg, models, log)
	if err != nil {
		return err
	}
	runner, err := projector.New(projector.Config{JS: c.js, Registry: reg, Logger: log, Projections: models, Checkpoints: cps,
		Observe: svc.Observe})
	if err != nil {
		return err
	}
	m.WatchLicenses(counts)
	m.WatchAutoClaim(ac.policies, ac.claims)
	m.WatchRequests(rq.list)
	m.WatchProjections(c.js, natsjs.StreamEvents, runner)
	probe := &natsjs.Probe{NC: c.nc, JS: c.js}
	m.WatchNATS(c.nc, probe.Check)
	keys, err := cfg.tokenKeys()
	if err != nil {
		return err
	}
	revoked, revocations, err := watchRevocations(ctx, c, cfg, log)
	if err != nil {
		return err
	}
	defer revoked.Stop()
	issuer, err := auth.New(auth.Config{Keys: keys, MaxTTL: cfg.TokenMaxTTL, Revoked: revoked.Check})
	if err != nil {
		return err
	}
	log.Info("bearer tokens", "signing_kid", keys.Current().ID, "kids", keys.IDs(), "max_ttl", cfg.TokenMaxTTL.String(),
		"revocations", revoked.Len())
	rqHTTP, err := rq.http(keys)
	if err != nil {
		return err
	}
	past, err := history.New(history.Config{JS: c.js, Registry: reg, Index: modelOf[*projections.AsOfIndex](models),
		Licenses: modelOf[*projections.LicenseHistory](models), Progress: runner})
	if err != nil {
		return err
	}
	// /metrics is on the API's listener unless --metrics-listen gives it
	// one of its own (e.g. an address only Prometheus reaches).
	idem, err := natsjs.OpenIdempotencyKeys(ctx, c.js, cfg.Replicas)
	if err != nil {
		return err
	}
	apiMetrics := m.Handler()
	if cfg.MetricsListen != "" {
		apiMetrics = nil
	}
	idp, err := identityHooks(c, svc, rq.directory, m.Registry())
	if err != nil {
		return err
	}
	// The listener comes first: the default public URL, to which the
	// identity provider returns, is its address.
	ln, err := net.Listen("tcp", cfg.HTTP)
	if err != nil {
		return &configError{fmt.Errorf("--http %s: %w", cfg.HTTP, err)}
	}
	defer ln.Close() // a no-op once the HTTP server closed it
	var console *httpapi.ConsoleConfig
	if cfg.OIDC.on() {
		console, err = cfg.OIDC.console(ctx, publicBase(cfg.Requests.PublicURL, ln.Addr().String()), rq.directory, revoked, revocations, log)
		if err != nil {
			return err
		}
	}
	api, err := httpapi.New(httpapi.Config{
		Commands: svc, Products: counts, Licenses: licenses, Progress: runner,
		Tokens: issuer, Logger: log, Now: time.Now, NewID: newID, AutoClaim: ac.http(),
		Metrics: apiMetrics, Observe: m.ObserveHTTP, Idempotency: idem, Requests: rqHTTP,
		History: &httpapi.HistoryConfig{Licenses: modelOf[*projections.LicenseHistory](models), AsOf: past, Export: past,
			Foresight: &httpapi.ForesightConfig{Claims: ac.claims, Queues: ac.policies, Simulate: svc,
				Now: func() time.Time { return reportNow() }}},
		SCIM: rq.scim(), Identity: idp, Console: console, Health: func() error {
			if err := probe.Check(context.Background()); err != nil {
				return err
			}
			return store.Health()
		},
	})
	if err != nil {
		return err
	}

	runCtx, stopRunner := context.WithCancel(context.Background())
	runnerDone := make(chan error, 1)
	go func() { runnerDone <- runner.Run(runCtx) }()
	ac.fresh = func(ctx context.Context) error {
		info, err := c.js.Stream(ctx, natsjs.StreamEvents)
		if err != nil {
			return err
		}
		return runner.WaitFor(ctx, info.CachedInfo().State.LastSeq)
	}
	stopAutoClaim, err := ac.start(ctx)
	if err != nil {
		stopRunner()
		return fmt.Errorf("auto-claim: %w", err)
	}
	defer stopAutoClaim()
	stopRequests, err := rq.start(ctx, runner, ln.Addr().String())
	if err != nil {
		stopRunner()
		return fmt.Errorf("requests: %w", err)
	}
	defer stopRequests()

	if cfg.Demo {
		if err := loadDemo(ctx, svc, log); err != nil {
			stopRunner()
			return fmt.Errorf("demo data: %w", err)
		}
		if err := loadRequestDemo(ctx, svc); err != nil {
			stopRunner()
			return fmt.Errorf("demo data: %w", err)
		}
	}

	hs, limited := cfg.HTTPServer.server(api, ln, log)
	httpDone := make(chan error, 1)
	go func() { httpDone <- hs.Serve(limited) }()
	if cfg.MetricsListen != "" {
		mln, err := net.Listen("tcp", cfg.MetricsListen)
		if err != nil {
			_ = hs.Close()
			stopRunner()
			return &configError{fmt.Errorf("--metrics-listen %s: %w", cfg.MetricsListen, err)}
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", m.Handler())
		if cfg.Pprof {
			// Sample a heap allocation every 16 KiB (Go's default is every
			// 512 KiB) so heap profiles resolve a read model's growth.
			runtime.MemProfileRate = 16 << 10
			mux.HandleFunc("/debug/pprof/", pprof.Index)
			mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
			mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
			mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
			mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		}
		ms, mlimited := cfg.HTTPServer.server(mux, mln, log)
		go func() { _ = ms.Serve(mlimited) }()
		defer ms.Close()
		log.Info("serving metrics", "metrics", mln.Addr().String(), "pprof", cfg.Pprof)
	}
	log.Info("serving", "http", ln.Addr().String(), "nats", redactURL(c.url), "data_dir", cfg.DataDir)
	if ready != nil {
		ready(serving{HTTP: ln.Addr().String(), Runner: runner})
	}

	select {
	case <-ctx.Done():
		log.Info("stopping: draining in-flight requests")
	case err := <-httpDone:
		stopRunner()
		return fmt.Errorf("http server: %w", err)
	case err := <-runnerDone:
		_ = hs.Close()
		stopRunner()
		return fmt.Errorf("projections: %w", err)
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTTL)
	defer cancel()
	err = hs.Shutdown(shutCtx)
	stopRunner()
	<-runnerDone
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("drain http: %w", err)
	}
	log.Info("stopped")
	return nil
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
	ac, err := wireAutoClaim(c, svc, cfg.AutoClaim, log)
	if err != nil {
		return nil, nil, nil, nil, nil, err
	}
	ac.replicas, ac.counts = cfg.Replicas, counts
	rq := wireRequests(c, svc, counts, cfg.Requests, log)
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
