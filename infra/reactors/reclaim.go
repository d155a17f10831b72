package reactors

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"log/slog"
	"time"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/projections"
)

// DefaultReclaimInterval is how often Reclaim looks for due licenses.
const DefaultReclaimInterval = time.Minute

// ReclaimCommands runs the reclaim commands.
type ReclaimCommands interface {
	Reclaim(ctx context.Context, tenant domain.TenantID, product domain.ProductID, meta events.Meta, cmd domain.ReclaimCommand) (domain.Result, error)
}

var _ ReclaimCommands = (*domain.Service)(nil)

// DueLicenses lists the licenses that may be due (the reclaim candidates
// read model).
type DueLicenses interface {
	Due(now time.Time) []projections.ReclaimCandidate
}

var _ DueLicenses = (*projections.ReclaimCandidates)(nil)

// LastSeen reads the last sign-in of a user to an app (package lastseen).
type LastSeen interface {
	LastSeen(ctx context.Context, tenant, app, user string) (time.Time, bool, error)
}

// ReclaimConfig configures a Reclaim.
type ReclaimConfig struct {
	Commands ReclaimCommands
	Due      DueLicenses
	LastSeen LastSeen
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Interval is how often Run ticks. Default DefaultReclaimInterval.
	Interval time.Duration
	Logger   *slog.Logger
}

func (c *ReclaimConfig) setDefaults() {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Interval <= 0 {
		c.Interval = DefaultReclaimInterval
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate reports what is missing.
func (c ReclaimConfig) Validate() error {
	var errs []error
	if c.Commands == nil {
		errs = append(errs, errors.New("reclaim: ReclaimConfig.Commands is required"))
	}
	if c.Due == nil {
		errs = append(errs, errors.New("reclaim: ReclaimConfig.Due is required"))
	}
	if c.LastSeen == nil {
		errs = append(errs, errors.New("reclaim: ReclaimConfig.LastSeen is required"))
	}
	return errors.Join(errs...)
}

// Reclaim warns and reclaims idle licenses.
type Reclaim struct {
	cfg ReclaimConfig
	log *slog.Logger
}

// NewReclaim returns a Reclaim for cfg.
func NewReclaim(cfg ReclaimConfig) (*Reclaim, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Reclaim{cfg: cfg, log: cfg.Logger.With("component", "reclaim")}, nil
}

// Tick issues the commands due at the reactor's now and reports how many
// events they stored; errors are logged and retried on the next tick.
func (r *Reclaim) Tick(ctx context.Context) int {
	now := r.cfg.Now()
	n := 0
	for _, c := range r.cfg.Due.Due(now) {
		stored, err := r.one(ctx, c, now)
		if err != nil {
			if ctx.Err() != nil {
				return n
			}
			r.log.Warn("reclaim", "tenant", c.Tenant, "product", c.ProductID, "user", c.UserID, "err", err)
			continue
		}
		n += stored
	}
	return n
}

// one decides what one candidate needs: nothing (signed in lately), a
// warning, or the reclaim of a warned license that is due.
func (r *Reclaim) one(ctx context.Context, c projections.ReclaimCandidate, now time.Time) (int, error) {
	last := c.ClaimedAt
	seen, ok, err := r.cfg.LastSeen.LastSeen(ctx, c.Tenant, c.App, c.UserID)
	if err != nil {
		return 0, err
	}
	if ok && seen.After(last) {
		last = seen
	}
	var cmd domain.ReclaimCommand
	switch {
	case c.Warned && !last.After(c.WarnedLastSeen):
		if now.Before(c.ReclaimAt) {
			return 0, nil
		}
		cmd = domain.ReclaimLicense{UserID: domain.UserID(c.UserID), PolicyID: domain.PolicyID(c.PolicyID), App: c.App, LastSeen: last}
	case !now.Before(last.AddDate(0, 0, c.AfterDays-c.WarnDays)):
		// The user gets the warning's whole lead even when reclaiming
		// was turned on after the license had been idle for long.
		at := last.AddDate(0, 0, c.AfterDays)
		if lead := now.AddDate(0, 0, c.WarnDays); at.Before(lead) {
			at = lead
		}
		cmd = domain.WarnReclaim{UserID: domain.UserID(c.UserID), PolicyID: domain.PolicyID(c.PolicyID), App: c.App, LastSeen: last, ReclaimAt: at}
	default:
		return 0, nil // signed in lately
	}
	res, err := r.cfg.Commands.Reclaim(ctx, domain.TenantID(c.Tenant), domain.ProductID(c.ProductID),
		events.Meta{Actor: "seatflow-reclaim", CommandID: ReclaimCommandID(cmd, c.Tenant, c.ProductID, c.UserID, last)}, cmd)
	if err != nil {
		return 0, err
	}
	return len(res.Events), nil
}

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// ReclaimCommandID is the deterministic command id of a reclaim command:
// the kind of command, the license and the last sign-in it is based on.
func ReclaimCommandID(cmd domain.ReclaimCommand, tenant, product, user string, last time.Time) string {
	kind := "reclaim-warn-"
	if _, ok := cmd.(domain.ReclaimLicense); ok {
		kind = "reclaim-"
	}
	sum := sha256.Sum256([]byte(tenant + "\x00" + product + "\x00" + user + "\x00" + last.UTC().Format(time.RFC3339Nano)))
	return kind + b32.EncodeToString(sum[:15])
}

// Run ticks every Interval until ctx ends.
func (r *Reclaim) Run(ctx context.Context) {
	tickEvery(ctx, r.cfg.Interval, func(ctx context.Context) { r.Tick(ctx) })
}
