package domain

import (
	"context"
	"time"

	"github.com/seatflow/seatflow/events"
)

// ForecastRearmFactor says how far a warned product's run-out date must
// move back out before the warning re-arms: beyond this many horizons from
// now. Without the margin, a run-out date hovering at the horizon's edge (as
// claims enter and leave the 7-day window) would warn every other day.
const ForecastRearmFactor = 1.5

// ForecastWarningView is what DecideForecastWarning needs: the product's
// forecast now, whether a warning stands, and the warning horizon.
type ForecastWarningView struct {
	Forecast Forecast
	// Warned: PoolForecastWarned stands with no PoolForecastCleared since.
	Warned bool
	// Horizon is how far ahead a run-out date is warned of (0: never).
	Horizon time.Duration
}

// DecideForecastWarning warns of a product whose forecast run-out date came
// within the horizon, once: a warning stands until the run-out date moves
// back beyond ForecastRearmFactor horizons (or nobody claims or waits any
// more), which re-arms it. A product nobody claims or waits for is never
// warned of, even with no seats left: it runs out of nothing anyone wants.
func DecideForecastWarning(v ForecastWarningView, now time.Time) []events.Data {
	if v.Horizon <= 0 {
		return nil
	}
	f := v.Forecast
	demand := f.Queued > 0 || f.ClaimsPerDay7 > 0 || f.ClaimsPerDay30 > 0
	switch {
	case !v.Warned && demand && f.RunOutAt != nil && !f.RunOutAt.After(now.Add(v.Horizon)):
		return one(events.PoolForecastWarned{ProductID: string(f.ProductID), RunOutAt: f.RunOutAt.UTC(), DaysLeft: *f.DaysLeft,
			Available: f.Available, Queued: f.Queued, ClaimsPerDay7: f.ClaimsPerDay7, ClaimsPerDay30: f.ClaimsPerDay30,
			BuyToCover30Days: f.BuyToCover30Days, HorizonDays: round2(v.Horizon.Hours() / 24)})
	case v.Warned && (!demand || f.RunOutAt == nil || f.RunOutAt.After(now.Add(time.Duration(float64(v.Horizon)*ForecastRearmFactor)))):
		c := events.PoolForecastCleared{ProductID: string(f.ProductID), Available: f.Available, DaysLeft: f.DaysLeft}
		if f.RunOutAt != nil {
			at := f.RunOutAt.UTC()
			c.RunOutAt = &at
		}
		return one(c)
	}
	return nil
}

// WarnForecast decides the run-out forecast warning of product (see
// DecideForecastWarning) on the product's own free seats and in's queue and
// claim counts (in.Available and in.ProductID are ignored), and stores what
// it decides: nothing, PoolForecastWarned or PoolForecastCleared. The
// product's concurrency check orders it with every other change of the
// product, so several reactors (instances, restarts) warn once.
func (s *Service) WarnForecast(ctx context.Context, tenant TenantID, product ProductID, meta events.Meta, in ForecastInput, horizon time.Duration) (Result, error) {
	if err := checkID("product_id", string(product)); err != nil {
		return Result{}, err
	}
	agg := productAgg(product)
	return s.Transact(ctx, tenant, meta, []events.Aggregate{agg}, func(tx *Tx) error {
		evs, err := DecideWarnForecast(tx.State(agg).(*Product), in, horizon, tx.Now)
		if err != nil {
			return err
		}
		tx.Emit(agg, evs...)
		return nil
	}, nil)
}

// DecideWarnForecast decides the run-out forecast warning of product p
// (see DecideForecastWarning) on p's own free seats and whether it stands
// warned, with in's queue and claim counts (in.Available and in.ProductID
// are ignored). Errors: *NotFoundError when p does not exist.
func DecideWarnForecast(p *Product, in ForecastInput, horizon time.Duration, now time.Time) ([]events.Data, error) {
	if !p.Exists() {
		return nil, &NotFoundError{Kind: "product", ID: string(p.ID)}
	}
	in.ProductID, in.Available = p.ID, p.Available()
	return DecideForecastWarning(ForecastWarningView{Forecast: ForecastRunOut(in, now), Warned: p.ForecastWarned, Horizon: horizon}, now), nil
}
