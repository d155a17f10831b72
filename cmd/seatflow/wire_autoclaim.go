package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/infra/httpapi"
	"github.com/seatflow/seatflow/infra/lastseen"
	"github.com/seatflow/seatflow/infra/natsjs"
	"github.com/seatflow/seatflow/infra/reactors"
	"github.com/seatflow/seatflow/infra/signin"
	"github.com/seatflow/seatflow/projections"
)

// DefaultLowSeats is --pool-low-threshold's default.
const DefaultLowSeats = 5

// autoClaimFlags are serve's auto-claim settings.
type autoClaimFlags struct {
	// LowSeats is the low-seat threshold of the pool.low alert (0: off).
	LowSeats int
	// ForecastHorizon is how far ahead a product's run-out date raises the
	// pool.forecast alert (0: off).
	ForecastHorizon time.Duration
}

// bindAutoClaimFlags adds the auto-claim flags to serve's flag set.
func bindAutoClaimFlags(f *flags, c *autoClaimFlags) {
	f.int(&c.LowSeats, "pool-low-threshold", DefaultLowSeats,
		"free seats at which a policy's product raises the pool.low alert to global admins (0: only when a policy runs out)")
	f.duration(&c.ForecastHorizon, "forecast-horizon", reactors.DefaultForecastHorizon,
		"a product whose forecast run-out date comes this close raises the pool.forecast alert to global admins, once (0: off)")
}

func (c autoClaimFlags) validate() error {
	if c.LowSeats < 0 {
		return fmt.Errorf("--pool-low-threshold %d: must not be negative", c.LowSeats)
	}
	if c.ForecastHorizon < 0 {
		return fmt.Errorf("--forecast-horizon %s: must not be negative", c.ForecastHorizon)
	}
	return nil
}

// rolloverCheck is how often the granter looks for a new UTC day (the
// daily cap's rollover); end-to-end tests shorten it and move clockOffset.
var rolloverCheck = reactors.DefaultRolloverEvery

// reclaimEvery is how often the reclaim reactor looks for idle licenses;
// end-to-end tests shorten it and move clockOffset.
var reclaimEvery = reactors.DefaultReclaimInterval

// forecastEvery is how often the forecast reactor forecasts; end-to-end
// tests shorten it.
var forecastEvery = reactors.DefaultForecastInterval

// reportNow is the clock of the claim report's window; end-to-end tests
// replace it to check the 1/7/30/90-day windows without waiting.
var reportNow = time.Now

// autoClaim is the auto-claim part of serve: its read models, the sign-in
// handler and router, and the granter of queued users.
type autoClaim struct {
	svc      *domain.Service
	policies *projections.PolicyList
	claims   *projections.Claims
	granter  *reactors.Granter
	handler  *signin.Handler
	// candidates feed the reclaim reactor.
	candidates *projections.ReclaimCandidates
	// counts (set by readModels) and warnings feed the forecast reactor.
	counts   *projections.LicenseCounts
	warnings *projections.ForecastWarnings
	horizon  time.Duration
	js       jetstream.JetStream
	url      string
	opts     []nats.Option
	metrics  prometheus.Registerer // the sign-in router's metrics; nil: none
	// fresh returns once the read side has applied every event stored so
	// far (set by serve): a sign-in partition is taken only then.
	fresh    func(ctx context.Context) error
	replicas int // of the sign-in members bucket, as the streams'
	log      *slog.Logger
}

// wireAutoClaim builds the auto-claim components on svc and the NATS
// connection c.
func wireAutoClaim(c *conn, svc *domain.Service, flags autoClaimFlags, log *slog.Logger) (*autoClaim, error) {
	opts := domain.ClaimOptions{LowSeats: flags.LowSeats}
	granter, err := reactors.NewGranter(reactors.GranterConfig{Commands: svc, Options: opts, Now: serviceNow, RolloverEvery: rolloverCheck, Logger: log})
	if err != nil {
		return nil, err
	}
	return &autoClaim{
		svc:        svc,
		policies:   projections.NewPolicyList(),
		claims:     projections.NewClaims(),
		granter:    granter,
		handler:    signin.NewHandler(svc, signin.NewStreamTenants(c.js, natsjs.StreamEvents), opts),
		candidates: projections.NewReclaimCandidates(),
		warnings:   projections.NewForecastWarnings(),
		horizon:    flags.ForecastHorizon,
		js:         c.js,
		url:        c.url,
		opts:       c.opts,
		log:        log,
	}, nil
}

// projections are the read models the runner feeds for auto-claim.
func (a *autoClaim) projections() []projections.Projection {
	return []projections.Projection{a.policies, a.claims, a.granter, a.candidates, a.warnings}
}

// http is the HTTP API's auto-claim configuration.
func (a *autoClaim) http() *httpapi.AutoClaimConfig {
	return &httpapi.AutoClaimConfig{Commands: a.svc, Policies: a.policies, Claims: a.claims, SignIns: a.handler,
		Now: func() time.Time { return reportNow() }}
}

// start runs the sign-in router, the granter, the reclaim reactor and the
// forecast reactor (unless its horizon is 0) until the returned stop is
// called; stop waits for them (the router finishes the
// message in hand). The sign-in handler records the last sign-ins of
// licensed users in the last-seen bucket, which the reactor reads.
func (a *autoClaim) start(ctx context.Context) (stop func(), err error) {
	seen, err := lastseen.Open(ctx, a.js, a.replicas)
	if err != nil {
		return nil, err
	}
	a.handler.RecordSeen(seen)
	reactor, err := reactors.NewReclaim(reactors.ReclaimConfig{Commands: a.svc, Due: a.candidates, LastSeen: seen, Now: serviceNow,
		Interval: reclaimEvery, Logger: a.log})
	if err != nil {
		return nil, err
	}
	var ahead *reactors.Forecast
	if a.horizon > 0 {
		ahead, err = reactors.NewForecast(reactors.ForecastConfig{Commands: a.svc, Products: a.counts, Claims: a.claims, Queues: a.policies,
			Warnings: a.warnings, Horizon: a.horizon, Now: serviceNow, Interval: forecastEvery, Logger: a.log})
		if err != nil {
			return nil, err
		}
	}
	r, err := signin.New(ctx, signin.Config{URL: a.url, Options: a.opts, Metrics: a.metrics, Handler: a.handler, Logger: a.log,
		Partitions: natsjs.SigninPartitions, Fresh: a.fresh, Replicas: a.replicas})
	if err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(3)
	go func() {
		defer wg.Done()
		reactor.Run(runCtx)
	}()
	if ahead != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ahead.Run(runCtx)
		}()
	}
	go func() {
		defer wg.Done()
		if err := r.Run(runCtx); err != nil {
			a.log.Error("sign-in router stopped", "err", err)
		}
	}()
	go func() {
		defer wg.Done()
		a.granter.Run(runCtx)
	}()
	select {
	case <-r.Running():
	case <-time.After(30 * time.Second):
		cancel()
		wg.Wait()
		return nil, fmt.Errorf("sign-in router did not start within 30s")
	}
	return func() { cancel(); wg.Wait() }, nil
}

// loadAutoClaimDemo gives the demo tenant an enabled auto-claim policy for
// app "teams" (E3 first, E5 as backup, SharePoint off in E3) and turns the
// org switch on. Fixed policy and command IDs make it idempotent. It needs
// the demo products, so it runs after loadDemo's product steps.
func loadAutoClaimDemo(ctx context.Context, svc *domain.Service) error {
	meta := func(id string) events.Meta { return events.Meta{Actor: "seatflow-demo", CommandID: id} }
	_, _, err := svc.Policy(ctx, demoTenant, "demo-teams", meta("demo-policy-teams"), domain.CreatePolicy{Name: "Teams users", App: "teams",
		Products: []events.PolicyProduct{{ProductID: "e3", DisabledServices: []string{"sharepoint"}}, {ProductID: "e5", DisabledServices: []string{}}}})
	if err != nil && !errors.Is(err, domain.ErrAlreadyExists) {
		return fmt.Errorf("demo policy: %w", err)
	}
	if _, _, err := svc.SetAutoClaim(ctx, demoTenant, meta("demo-auto-claim-on"), true); err != nil {
		return fmt.Errorf("demo auto-claim switch: %w", err)
	}
	return nil
}
