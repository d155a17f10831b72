package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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

	// RolloverEvery, ReclaimEvery and ForecastEvery are how often the
	// granter looks for a new UTC day and the reclaim and forecast
	// reactors tick (0: their defaults). No flag sets them: end-to-end
	// tests that move the clock shorten them.
	RolloverEvery, ReclaimEvery, ForecastEvery time.Duration
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

// autoClaim is the auto-claim part of serve: its read models, the sign-in
// handler and router, and the granter of queued users.
type autoClaim struct {
	svc      *domain.Service
	flags    autoClaimFlags
	now      func() time.Time
	policies *projections.PolicyList
	claims   *projections.Claims
	granter  *reactors.Granter
	handler  *signin.Handler
	// submitter hands HTTP sign-ins to the partition owning their tenant.
	submitter *signin.Submitter
	// candidates feed the reclaim reactor.
	candidates *projections.ReclaimCandidates
	// counts (set by readModels) and warnings feed the forecast reactor.
	counts   *projections.LicenseCounts
	warnings *projections.ForecastWarnings
	js       jetstream.JetStream
	url      string
	opts     []nats.Option
	metrics  prometheus.Registerer // the sign-in router's metrics; nil: none
	replicas int                   // of the sign-in members bucket, as the streams'
	log      *slog.Logger
}

// wireAutoClaim builds the auto-claim read models and the granter on svc
// and the NATS connection c, with now as their clock.
func wireAutoClaim(c *conn, svc *domain.Service, flags autoClaimFlags, now func() time.Time, log *slog.Logger) (*autoClaim, error) {
	opts := domain.ClaimOptions{LowSeats: flags.LowSeats}
	granter, err := reactors.NewGranter(reactors.GranterConfig{Commands: svc, Options: opts, Now: now,
		RolloverEvery: flags.RolloverEvery, Logger: log})
	if err != nil {
		return nil, err
	}
	tenants := signin.NewStreamTenants(c.js, natsjs.StreamEvents)
	submitter, err := signin.NewSubmitter(c.nc, tenants, 0)
	if err != nil {
		return nil, err
	}
	return &autoClaim{
		svc:        svc,
		flags:      flags,
		now:        now,
		policies:   projections.NewPolicyList(),
		claims:     projections.NewClaims(),
		granter:    granter,
		handler:    signin.NewHandler(svc, tenants, opts),
		submitter:  submitter,
		candidates: projections.NewReclaimCandidates(),
		warnings:   projections.NewForecastWarnings(),
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
	return &httpapi.AutoClaimConfig{Commands: a.svc, Policies: a.policies, Claims: a.claims, SignIns: a.submitter, Now: a.now}
}

// components are the auto-claim parts that run beside the read models:
// the sign-in router, which takes a partition only once fresh returns
// (the read side has applied every event stored so far), the granter, the
// reclaim reactor and the forecast reactor (unless its horizon is 0). The
// sign-in handler records the last sign-ins of licensed users in the
// last-seen bucket, which the reclaim reactor reads.
func (a *autoClaim) components(ctx context.Context, fresh func(context.Context) error) ([]component, error) {
	seen, err := lastseen.Open(ctx, a.js, a.replicas)
	if err != nil {
		return nil, err
	}
	a.handler.RecordSeen(seen)
	reclaim, err := reactors.NewReclaim(reactors.ReclaimConfig{Commands: a.svc, Due: a.candidates, LastSeen: seen, Now: a.now,
		Interval: a.flags.ReclaimEvery, Logger: a.log})
	if err != nil {
		return nil, err
	}
	cs := []component{{name: "granter", run: always(a.granter.Run)}, {name: "reclaim", run: always(reclaim.Run)}}
	if a.flags.ForecastHorizon > 0 {
		ahead, err := reactors.NewForecast(reactors.ForecastConfig{Commands: a.svc, Products: a.counts, Claims: a.claims,
			Queues: a.policies, Warnings: a.warnings, Horizon: a.flags.ForecastHorizon, Now: a.now,
			Interval: a.flags.ForecastEvery, Logger: a.log})
		if err != nil {
			return nil, err
		}
		cs = append(cs, component{name: "forecast", run: always(ahead.Run)})
	}
	r, err := signin.New(ctx, signin.Config{URL: a.url, Options: a.opts, Metrics: a.metrics, Handler: a.handler, Logger: a.log,
		Partitions: natsjs.SigninPartitions, Fresh: fresh, Replicas: a.replicas})
	if err != nil {
		return nil, err
	}
	return append(cs, component{name: "sign-in router", run: r.Run, running: r.Running(), close: r.Close}), nil
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
