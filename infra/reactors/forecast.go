package reactors

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/projections"
)

// Defaults of ForecastConfig.
const (
	// DefaultForecastHorizon is how far ahead a run-out date is warned of
	// by default (serve's --forecast-horizon).
	DefaultForecastHorizon = 14 * 24 * time.Hour
	// DefaultForecastInterval is how often Run forecasts.
	DefaultForecastInterval = time.Minute
)

// ForecastActor is the actor of the forecast warning's commands.
const ForecastActor = "seatflow-forecast"

// ForecastCommands runs the warning command.
type ForecastCommands interface {
	WarnForecast(ctx context.Context, tenant domain.TenantID, product domain.ProductID, meta events.Meta,
		in domain.ForecastInput, horizon time.Duration) (domain.Result, error)
}

var _ ForecastCommands = (*domain.Service)(nil)

// Products lists the products and their free seats (the license counts
// read model).
type Products interface {
	Tenants() []string
	Products(tenant string) []projections.ProductCount
}

// Warnings says whether a product's warning stands (the forecast warnings
// read model).
type Warnings interface {
	Warned(tenant, product string) bool
}

var (
	_ Products            = (*projections.LicenseCounts)(nil)
	_ domain.ClaimCounter = (*projections.Claims)(nil)
	_ domain.QueueCounter = (*projections.PolicyList)(nil)
	_ Warnings            = (*projections.ForecastWarnings)(nil)
)

// ForecastConfig configures a Forecast.
type ForecastConfig struct {
	Commands ForecastCommands
	Products Products
	Claims   domain.ClaimCounter
	Queues   domain.QueueCounter
	Warnings Warnings
	// Horizon is how far ahead a run-out date is warned of. Required.
	Horizon time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Interval is how often Run ticks. Default DefaultForecastInterval.
	Interval time.Duration
	Logger   *slog.Logger
}

func (c *ForecastConfig) setDefaults() {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Interval <= 0 {
		c.Interval = DefaultForecastInterval
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate reports what is missing.
func (c ForecastConfig) Validate() error {
	var errs []error
	for _, m := range []struct {
		ok   bool
		name string
	}{{c.Commands != nil, "Commands"}, {c.Products != nil, "Products"}, {c.Claims != nil, "Claims"},
		{c.Queues != nil, "Queues"}, {c.Warnings != nil, "Warnings"}} {
		if !m.ok {
			errs = append(errs, errors.New("forecast: ForecastConfig."+m.name+" is required"))
		}
	}
	if c.Horizon <= 0 {
		errs = append(errs, errors.New("forecast: ForecastConfig.Horizon must be positive"))
	}
	return errors.Join(errs...)
}

// Forecast warns of products about to run out.
type Forecast struct {
	cfg ForecastConfig
	log *slog.Logger
}

// NewForecast returns a Forecast for cfg.
func NewForecast(cfg ForecastConfig) (*Forecast, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Forecast{cfg: cfg, log: cfg.Logger.With("component", "forecast")}, nil
}

// Tick forecasts every product at the reactor's now, runs the command for
// each whose warning the read models say changes, and reports how many
// events those stored; errors are logged and retried on the next tick.
func (r *Forecast) Tick(ctx context.Context) int {
	now := r.cfg.Now()
	n := 0
	for _, tenant := range r.cfg.Products.Tenants() {
		for _, p := range r.cfg.Products.Products(tenant) {
			if ctx.Err() != nil {
				return n
			}
			in := domain.NewForecastInput(r.cfg.Claims, r.cfg.Queues, tenant, domain.ProductID(p.ProductID), p.Available, now)
			view := domain.ForecastWarningView{Forecast: domain.ForecastRunOut(in, now),
				Warned: r.cfg.Warnings.Warned(tenant, p.ProductID), Horizon: r.cfg.Horizon}
			if len(domain.DecideForecastWarning(view, now)) == 0 {
				continue
			}
			res, err := r.cfg.Commands.WarnForecast(ctx, domain.TenantID(tenant), domain.ProductID(p.ProductID),
				events.Meta{Actor: ForecastActor}, in, r.cfg.Horizon)
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
func (r *Forecast) Run(ctx context.Context) {
	tickEvery(ctx, r.cfg.Interval, func(ctx context.Context) { r.Tick(ctx) })
}
