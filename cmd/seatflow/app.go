package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/infra/auth"
	"github.com/seatflow/seatflow/infra/encode"
	"github.com/seatflow/seatflow/infra/history"
	"github.com/seatflow/seatflow/infra/httpapi"
	"github.com/seatflow/seatflow/infra/metrics"
	"github.com/seatflow/seatflow/infra/natsjs"
	"github.com/seatflow/seatflow/infra/projector"
	"github.com/seatflow/seatflow/projections"
)

// startTimeout bounds how long Run waits for the edges to consume before
// it serves.
const startTimeout = 30 * time.Second

// App is one Seatflow service, what `seatflow serve` runs: NewApp opens
// it (NATS and the streams, the event store, the read models, the
// reactors and edges, the listeners), Run runs it until its context ends,
// and Close releases what NewApp opened.
type App struct {
	cfg  Config
	log  *slog.Logger
	conn *conn

	runner *projector.Runner
	// components run beside the HTTP servers under Run's errgroup, the
	// projection runner first.
	components []component

	api, metrics     *http.Server // metrics: nil unless Config.MetricsListen
	apiLn, metricsLn net.Listener // as the servers accept: at most --http-max-conns connections

	svc *domain.Service // for the demo data

	ready   chan struct{}
	ran     atomic.Bool
	closers []func() // what NewApp opened, in order
}

// component is a part of the App that runs until its context ends.
type component struct {
	name string
	// run returns nil once its context ends; an error ends the App.
	run func(context.Context) error
	// running, if set, is closed once the component works (an edge
	// consumes): the App serves HTTP only then.
	running <-chan struct{}
	// close, if set, releases what the component's constructor opened
	// when it does not run; it does nothing once run has returned.
	close func()
}

// always adapts a run loop that cannot fail to component.run.
func always(run func(context.Context)) func(context.Context) error {
	return func(ctx context.Context) error {
		run(ctx)
		return nil
	}
}

// NewApp opens the service cfg describes; ctx bounds the opening. On an
// error, whatever it opened is released.
func NewApp(ctx context.Context, cfg Config, log *slog.Logger) (_ *App, err error) {
	a := &App{cfg: cfg, log: log, ready: make(chan struct{})}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	now := cfg.clock()
	c, err := open(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	a.conn = c
	a.closers = append(a.closers, c.close)

	reg := encode.Registry()
	m := metrics.NewWith(metrics.Options{NoTenantLabels: !cfg.MetricsTenantLabels})
	store := natsjs.NewStore(c.js, reg)
	// A single-replica event stream is a file store that stages each
	// atomic batch on disk: claims go in plain appends there.
	svc, err := domain.NewService(m.Store(store), domain.Config{Now: now, NewID: newID, AppendInParts: cfg.Replicas == 1})
	if err != nil {
		return nil, err
	}
	a.svc = svc
	counts, licenses, ac, rq, models, err := readModels(c, svc, cfg, m, log)
	if err != nil {
		return nil, err
	}
	cps, err := checkpoints(ctx, c, cfg, models, log)
	if err != nil {
		return nil, err
	}
	runner, err := projector.New(projector.Config{JS: c.js, Registry: reg, Logger: log, Projections: models, Checkpoints: cps,
		Observe: svc.Observe})
	if err != nil {
		return nil, err
	}
	a.runner = runner
	a.components = append(a.components, component{name: "projections", run: runner.Run})
	m.WatchLicenses(counts)
	m.WatchAutoClaim(ac.policies, ac.claims)
	m.WatchRequests(rq.list)
	m.WatchProjections(c.js, natsjs.StreamEvents, runner)
	probe := &natsjs.Probe{NC: c.nc, JS: c.js}
	m.WatchNATS(c.nc, probe.Check)

	keys, err := cfg.tokenKeys()
	if err != nil {
		return nil, err
	}
	revoked, revocations, err := watchRevocations(ctx, c, cfg, log)
	if err != nil {
		return nil, err
	}
	a.closers = append(a.closers, revoked.Stop)
	issuer, err := auth.New(auth.Config{Keys: keys, MaxTTL: cfg.TokenMaxTTL, Revoked: revoked.Check})
	if err != nil {
		return nil, err
	}
	log.Info("bearer tokens", "signing_kid", keys.Current().ID, "kids", keys.IDs(), "max_ttl", cfg.TokenMaxTTL.String(),
		"revocations", revoked.Len())
	rqHTTP, err := rq.http(keys)
	if err != nil {
		return nil, err
	}
	past, err := history.New(history.Config{JS: c.js, Registry: reg, Index: modelOf[*projections.AsOfIndex](models),
		Licenses: modelOf[*projections.LicenseHistory](models), Progress: runner})
	if err != nil {
		return nil, err
	}
	idem, err := natsjs.OpenIdempotencyKeys(ctx, c.js, cfg.Replicas)
	if err != nil {
		return nil, err
	}
	idp, err := identityHooks(c, svc, rq.directory, m.Registry(), now)
	if err != nil {
		return nil, err
	}

	// The listener comes first: the default public URL, to which the
	// identity provider returns and share links point, is its address.
	ln, err := net.Listen("tcp", cfg.HTTP)
	if err != nil {
		return nil, &configError{fmt.Errorf("--http %s: %w", cfg.HTTP, err)}
	}
	a.closers = append(a.closers, func() { _ = ln.Close() }) // a no-op once the HTTP server closed it
	base := publicBase(cfg.Requests.PublicURL, ln.Addr().String())
	var console *httpapi.ConsoleConfig
	if cfg.OIDC.on() {
		if console, err = cfg.OIDC.console(ctx, base, rq.directory, revoked, revocations, now, log); err != nil {
			return nil, err
		}
	}
	// /metrics is on the API's listener unless --metrics-listen gives it
	// one of its own (e.g. an address only Prometheus reaches).
	apiMetrics := m.Handler()
	if cfg.MetricsListen != "" {
		apiMetrics = nil
	}
	api, err := httpapi.New(httpapi.Config{
		Commands: svc, Products: counts, Licenses: licenses, Progress: runner,
		Tokens: issuer, Logger: log, Now: now, NewID: newID, AutoClaim: ac.http(),
		Metrics: apiMetrics, Observe: m.ObserveHTTP, Idempotency: idem, Requests: rqHTTP,
		History: &httpapi.HistoryConfig{Licenses: modelOf[*projections.LicenseHistory](models), AsOf: past, Export: past,
			Foresight: &httpapi.ForesightConfig{Claims: ac.claims, Queues: ac.policies, Simulate: svc, Now: now}},
		SCIM: rq.scim(), Identity: idp, Console: console, Health: func() error {
			if err := probe.Check(context.Background()); err != nil {
				return err
			}
			return store.Health()
		},
	})
	if err != nil {
		return nil, err
	}
	a.api, a.apiLn = cfg.HTTPServer.server(api, ln, log)
	if cfg.MetricsListen != "" {
		if err := a.listenMetrics(m); err != nil {
			return nil, err
		}
	}

	// The edges and reactors come last: the sign-in router and the
	// notifier connect on their own.
	fresh := func(ctx context.Context) error {
		info, err := c.js.Stream(ctx, natsjs.StreamEvents)
		if err != nil {
			return err
		}
		return runner.WaitFor(ctx, info.CachedInfo().State.LastSeq)
	}
	acs, err := ac.components(ctx, fresh)
	a.add(acs...)
	if err != nil {
		return nil, fmt.Errorf("auto-claim: %w", err)
	}
	rqs, err := rq.components(ctx, runner, base)
	a.add(rqs...)
	if err != nil {
		return nil, fmt.Errorf("requests: %w", err)
	}
	return a, nil
}

// add adds components, and their close to what Close releases.
func (a *App) add(cs ...component) {
	for _, c := range cs {
		a.components = append(a.components, c)
		if c.close != nil {
			a.closers = append(a.closers, c.close)
		}
	}
}

// listenMetrics opens the --metrics-listen listener and its server:
// /metrics, and Go's profiles with --pprof.
func (a *App) listenMetrics(m *metrics.Metrics) error {
	ln, err := net.Listen("tcp", a.cfg.MetricsListen)
	if err != nil {
		return &configError{fmt.Errorf("--metrics-listen %s: %w", a.cfg.MetricsListen, err)}
	}
	a.closers = append(a.closers, func() { _ = ln.Close() })
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	if a.cfg.Pprof {
		// Sample a heap allocation every 16 KiB (Go's default is every
		// 512 KiB) so heap profiles resolve a read model's growth.
		finerHeapProfiles()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	a.metrics, a.metricsLn = a.cfg.HTTPServer.server(mux, ln, a.log)
	return nil
}

// Addr is the address the HTTP API listens on.
func (a *App) Addr() string { return a.apiLn.Addr().String() }

// MetricsAddr is the address /metrics listens on: its own listener's
// (--metrics-listen), or else the API's.
func (a *App) MetricsAddr() string {
	if a.metricsLn == nil {
		return a.Addr()
	}
	return a.metricsLn.Addr().String()
}

// NATSURL is the NATS the service uses: the embedded server's client URL,
// or --nats-url.
func (a *App) NATSURL() string { return a.conn.url }

// Ready is closed once the App serves: the projection runner and the
// reactors run, the edges consume and the HTTP servers accept.
func (a *App) Ready() <-chan struct{} { return a.ready }

// Run runs the service until ctx ends or a component fails, then drains:
// the HTTP servers stop accepting and finish their in-flight requests
// within --shutdown-timeout (every command that answered success has been
// acknowledged by JetStream), and only then do the projection runner,
// the reactors and the edges stop (a request in flight still gets its
// read-your-writes and its group commit). It returns nil after a stop,
// or the first failure. Run once; Close afterwards.
func (a *App) Run(ctx context.Context) error {
	if a.ran.Swap(true) {
		return errors.New("app: Run called twice")
	}
	g, failed := errgroup.WithContext(context.Background())
	// The components stop when stop is called: once the HTTP servers have
	// drained, or when one of them fails (failed ends).
	compCtx, stop := context.WithCancel(failed)
	defer stop()
	for _, c := range a.components {
		g.Go(func() error {
			if err := c.run(compCtx); err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			return nil
		})
	}
	err := a.start(ctx, failed)
	if ctx.Err() != nil {
		err = nil // stopped while starting: not a failure
	}
	if err != nil || ctx.Err() != nil || failed.Err() != nil {
		stop()
		return errors.Join(g.Wait(), err)
	}
	g.Go(func() error {
		defer stop()
		return a.serveHTTP(ctx, failed)
	})
	if a.metricsLn != nil {
		a.log.Info("serving metrics", "metrics", a.metricsLn.Addr().String(), "pprof", a.cfg.Pprof)
	}
	a.log.Info("serving", "http", a.Addr(), "nats", redactURL(a.conn.url), "data_dir", a.cfg.DataDir)
	close(a.ready)
	if err := g.Wait(); err != nil {
		return err
	}
	a.log.Info("stopped")
	return nil
}

// start waits until every component that says so works, then loads the
// demo data when asked. It returns early once ctx ends or a component
// fails (the errgroup has its error).
func (a *App) start(ctx, failed context.Context) error {
	timeout := time.NewTimer(startTimeout)
	defer timeout.Stop()
	for _, c := range a.components {
		if c.running == nil {
			continue
		}
		select {
		case <-c.running:
		case <-ctx.Done():
			return nil
		case <-failed.Done():
			return nil
		case <-timeout.C:
			return fmt.Errorf("%s did not start within %s", c.name, startTimeout)
		}
	}
	if a.cfg.Demo {
		if err := loadDemo(ctx, a.svc, a.log); err != nil {
			return fmt.Errorf("demo data: %w", err)
		}
		if err := loadRequestDemo(ctx, a.svc); err != nil {
			return fmt.Errorf("demo data: %w", err)
		}
	}
	return nil
}

// serveHTTP serves the API (and the metrics listener) until ctx ends, a
// component fails or a server fails, then shuts them down, waiting for
// in-flight requests up to --shutdown-timeout.
func (a *App) serveHTTP(ctx, failed context.Context) error {
	servers := []*http.Server{a.api}
	served := make(chan error, 2)
	go func() { served <- a.api.Serve(a.apiLn) }()
	if a.metrics != nil {
		servers = append(servers, a.metrics)
		go func() { served <- a.metrics.Serve(a.metricsLn) }()
	}
	var err error
	select {
	case <-ctx.Done():
		a.log.Info("stopping: draining in-flight requests")
	case <-failed.Done():
	case err = <-served:
		err = fmt.Errorf("http server: %w", err)
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTTL)
	defer cancel()
	for _, s := range servers {
		if serr := s.Shutdown(shutCtx); serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
			err = fmt.Errorf("drain http: %w", serr)
		}
	}
	return err
}

// Close releases what NewApp opened, last first: the edges that did not
// run, the listeners, the revocation watcher, and the NATS connection
// (drained, so every acknowledged publish is flushed) with the embedded
// server. Call it once Run has returned, or instead of Run.
func (a *App) Close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
	a.closers = nil
}

// finerHeapProfiles samples a heap allocation every 16 KiB (Go's default is
// every 512 KiB) so heap profiles resolve a read model's growth; the rate is
// process-wide, so it is set once.
var finerHeapProfiles = sync.OnceFunc(func() { runtime.MemProfileRate = 16 << 10 })
