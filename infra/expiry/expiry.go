package expiry

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/projections"
)

// Defaults of Config.
const (
	DefaultWarnBefore = 3 * 24 * time.Hour
	DefaultInterval   = time.Minute
)

// Commands runs the expiry command.
type Commands interface {
	ExpireRequest(ctx context.Context, tenant domain.TenantID, id domain.RequestID, meta events.Meta, warnBefore time.Duration) (domain.RequestView, domain.Result, error)
}

// Due lists the pending requests that are due.
type Due interface {
	Pending(now time.Time, warnBefore time.Duration) []projections.PendingRequest
}

// Config configures a Scheduler.
type Config struct {
	Commands Commands
	Due      Due
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// WarnBefore is how long before the deadline users are warned (0:
	// DefaultWarnBefore; negative: never).
	WarnBefore time.Duration
	// Interval is how often Run looks for due requests.
	Interval time.Duration
	Logger   *slog.Logger
}

// Scheduler warns and expires pending requests.
type Scheduler struct {
	cfg Config
	log *slog.Logger
}

// New returns a Scheduler for cfg.
func New(cfg Config) (*Scheduler, error) {
	if cfg.Commands == nil || cfg.Due == nil {
		return nil, errors.New("expiry: Config.Commands and Config.Due are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.WarnBefore == 0 {
		cfg.WarnBefore = DefaultWarnBefore
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Scheduler{cfg: cfg, log: cfg.Logger.With("component", "expiry")}, nil
}

// Tick issues the commands due at the scheduler's now and reports how
// many it ran; errors are logged and retried on the next tick.
func (s *Scheduler) Tick(ctx context.Context) int {
	now := s.cfg.Now()
	warn := max(s.cfg.WarnBefore, 0)
	n := 0
	for _, p := range s.cfg.Due.Pending(now, warn) {
		id := "warn-" + p.RequestID
		if !now.Before(p.ExpiresAt) {
			id = "expire-" + p.RequestID
		}
		_, _, err := s.cfg.Commands.ExpireRequest(ctx, domain.TenantID(p.Tenant), domain.RequestID(p.RequestID),
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
func (s *Scheduler) Run(ctx context.Context) {
	t := time.NewTicker(s.cfg.Interval)
	defer t.Stop()
	for {
		s.Tick(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
