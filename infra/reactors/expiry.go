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

// Defaults of ExpiryConfig.
const (
	DefaultWarnBefore     = 3 * 24 * time.Hour
	DefaultExpiryInterval = time.Minute
)

// ExpiryCommands runs the expiry command.
type ExpiryCommands interface {
	ExpireRequest(ctx context.Context, tenant domain.TenantID, id domain.RequestID, meta events.Meta, warnBefore time.Duration) (domain.Result, error)
}

var _ ExpiryCommands = (*domain.Service)(nil)

// DueRequests lists the pending requests that are due (the request list
// read model).
type DueRequests interface {
	Pending(now time.Time, warnBefore time.Duration) []projections.PendingRequest
}

var _ DueRequests = (*projections.Requests)(nil)

// ExpiryConfig configures an Expiry.
type ExpiryConfig struct {
	Commands ExpiryCommands
	Due      DueRequests
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// WarnBefore is how long before the deadline users are warned (0:
	// DefaultWarnBefore; negative: never).
	WarnBefore time.Duration
	// Interval is how often Run looks for due requests. Default
	// DefaultExpiryInterval.
	Interval time.Duration
	Logger   *slog.Logger
}

func (c *ExpiryConfig) setDefaults() {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.WarnBefore == 0 {
		c.WarnBefore = DefaultWarnBefore
	}
	if c.Interval <= 0 {
		c.Interval = DefaultExpiryInterval
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate reports what is missing.
func (c ExpiryConfig) Validate() error {
	if c.Commands == nil || c.Due == nil {
		return errors.New("expiry: ExpiryConfig.Commands and ExpiryConfig.Due are required")
	}
	return nil
}

// Expiry warns and expires pending requests.
type Expiry struct {
	cfg ExpiryConfig
	log *slog.Logger
}

// NewExpiry returns an Expiry for cfg.
func NewExpiry(cfg ExpiryConfig) (*Expiry, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Expiry{cfg: cfg, log: cfg.Logger.With("component", "expiry")}, nil
}

// Tick issues the commands due at the reactor's now and reports how many
// it ran; errors are logged and retried on the next tick.
func (s *Expiry) Tick(ctx context.Context) int {
	now := s.cfg.Now()
	warn := max(s.cfg.WarnBefore, 0)
	n := 0
	for _, p := range s.cfg.Due.Pending(now, warn) {
		id := "warn-" + p.RequestID
		if !now.Before(p.ExpiresAt) {
			id = "expire-" + p.RequestID
		}
		_, err := s.cfg.Commands.ExpireRequest(ctx, domain.TenantID(p.Tenant), domain.RequestID(p.RequestID),
			events.Meta{Actor: "seatflow-expiry", CommandID: id}, warn)
		if err != nil {
			if ctx.Err() != nil {
				return n
			}
			s.log.Warn("request expiry", "tenant", p.Tenant, "request", p.RequestID, "err", err)
			continue
		}
		n++
	}
	return n
}

// Run ticks every Interval until ctx ends.
func (s *Expiry) Run(ctx context.Context) {
	tickEvery(ctx, s.cfg.Interval, func(ctx context.Context) { s.Tick(ctx) })
}
