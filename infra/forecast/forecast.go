package forecast

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/projections"
)

// DefaultHorizon is how far ahead a run-out date is warned of by default.
const DefaultHorizon = 14 * 24 * time.Hour

// DefaultInterval is how often Run forecasts.
const DefaultInterval = time.Minute

// Actor is the actor of the reactor's commands.
const Actor = "seatflow-forecast"

// Commands runs the warning command.
type Commands interface {
	WarnForecast(ctx context.Context, tenant domain.TenantID, product domain.ProductID, meta events.Meta,
		in domain.ForecastInput, horizon time.Duration) (domain.Result, error)
}

var _ Commands = (*domain.Service)(nil)

// Products lists the products and their free seats (the license counts
// read model).
type Products interface {
	Tenants() []string
	Products(tenant string) []projections.ProductCount
}

// Claims counts claims (the claims read model).
type Claims interface {
	// ProductClaims counts the licenses of product claimed after from and
	// not after to.
	ProductClaims(tenant, product string, from, to time.Time) int
}

// Queues counts the users waiting for a seat (the policy list read model).
type Queues interface {
	QueuedFor(tenant, product string) int
}

// Warnings says whether a product's warning stands (the forecast warnings
// read model).
type Warnings interface {
	Warned(tenant, product string) bool
}

var (
	_ Products = (*projections.LicenseCounts)(nil)
	_ Claims   = (*projections.Claims)(nil)
	_ Queues   = (*projections.PolicyList)(nil)
	_ Warnings = (*projections.ForecastWarnings)(nil)
)

// Config configures a Reactor.
type Config struct {
	Commands Commands
	Products Products
	Claims   Claims
	Queues   Queues
	Warnings Warnings
	// Horizon is how far ahead a run-out date is warned of. Required.
	Horizon time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Interval is how often Run ticks. Default DefaultInterval.
	Interval time.Duration
	Logger   *slog.Logger
}

func (c *Config) setDefaults() {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Interval <= 0 {
		c.Interval = DefaultInterval
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate reports what is missing.
func (c Config) Validate() error {
	var errs []error
	for _, m := range []struct {
		ok   bool
		name string
	}{{c.Commands != nil, "Commands"}, {c.Products != nil, "Products"}, {c.Claims != nil, "Claims"},
		{c.Queues != nil, "Queues"}, {c.Warnings != nil, "Warnings"}} {
		if !m.ok {
			errs = append(errs, errors.New("forecast: Config."+m.name+" is required"))
		}
	}
	if c.Horizon <= 0 {
		errs = append(errs, errors.New("forecast: Config.Horizon must be positive"))
	}
	return errors.Join(errs...)
}

// Reactor warns of products about to run out.
type Reactor struct {
	cfg Config
	log *slog.Logger
}

// New returns a Reactor for cfg.
func New(cfg Config) (*Reactor, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Reactor{cfg: cfg, log: cfg.Logger.With("component", "forecast")}, nil
}

// Input is the forecast input of a product at now, as GET
// /v1/products/{id}/forecast makes it: the claims of the 7 and 30 days up
// to now and the users queued for it.
func Input(claims Claims, queues Queues, tenant string, p projections.ProductCount, now time.Time) domain.ForecastInput {
	day := 24 * time.Hour
	return domain.ForecastInput{ProductID: domain.ProductID(p.ProductID), Available: p.Available, Queued: queues.QueuedFor(tenant, p.ProductID),
		Claims7:  claims.ProductClaims(tenant, p.ProductID, now.Add(-7*day), now),
		Claims30: claims.ProductClaims(tenant, p.ProductID, now.Add(-30*day), now)}
}

// Tick forecasts every product at the reactor's now, runs the command for
// each whose warning the read models say changes, and reports how many
// events those stored; errors are logged and retried on the next tick.
func (r *Reactor) Tick(ctx context.Context) int {
	now := r.cfg.Now()
	n := 0
	for _, tenant := range r.cfg.Products.Tenants() {
		for _, p := range r.cfg.Products.Products(tenant) {
			if ctx.Err() != nil {
				return n
			}
			in := Input(r.cfg.Claims, r.cfg.Queues, tenant, p, now)
			view := domain.ForecastWarningView{Forecast: domain.ForecastRunOut(in, now),
				Warned: r.cfg.Warnings.Warned(tenant, p.ProductID), Horizon: r.cfg.Horizon}
			if len(domain.DecideForecastWarning(view, now)) == 0 {
				continue
			}
			res, err := r.cfg.Commands.WarnForecast(ctx, domain.TenantID(tenant), domain.ProductID(p.ProductID),
				events.Meta{Actor: Actor}, in, r.cfg.Horizon)
			if err != nil {
				if ctx.Err() == nil {
					r.log.Warn("forecast warning", "tenant", tenant, "product", p.ProductID, "err", err)
				}
				continue
			}
			for _, e := range res.Events {
				r.log.Info("forecast warning", "tenant", tenant, "product", p.ProductID, "event", e.Type)
			}
			n += len(res.Events)
		}
	}
	return n
}

// Run ticks every Interval until ctx ends.
func (r *Reactor) Run(ctx context.Context) {
	t := time.NewTicker(r.cfg.Interval)
	defer t.Stop()
	for {
		r.Tick(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
