package domain

import (
	"math"
	"time"
)

// ForecastHorizonDays is how far ahead a forecast names a run-out date:
// beyond it, RunOutAt and DaysLeft are null.
const ForecastHorizonDays = 365

// ForecastInput is what a product's run-out forecast is made from: its
// free seats, the users waiting for a seat under the policies listing it,
// and the licenses of it claimed in the last 7 and 30 days.
type ForecastInput struct {
	ProductID ProductID
	Available int
	Queued    int
	Claims7   int
	Claims30  int
}

// Forecast is when a product's free seats run out at its claim velocity.
type Forecast struct {
	ProductID      ProductID `json:"product_id"`
	Available      int       `json:"available"`
	Queued         int       `json:"queued"`
	ClaimsPerDay7  float64   `json:"claims_per_day_7"`
	ClaimsPerDay30 float64   `json:"claims_per_day_30"`
	// RunOutAt and DaysLeft are null when the seats last beyond
	// ForecastHorizonDays (or nobody claims); RunOutAt is now and DaysLeft
	// 0 when the queue already takes every free seat.
	RunOutAt *time.Time `json:"run_out_at"`
	DaysLeft *float64   `json:"days_left"`
	// BuyToCover30Days is how many licenses to buy so that the queue and
	// 30 more days of claims at the forecast velocity are served.
	BuyToCover30Days int `json:"buy_to_cover_30_days"`
}

// ForecastRunOut forecasts when in's free seats run out. The velocity is
// the higher of the 7-day and 30-day claim rates (a cost-conscious admin
// would rather buy a little early than see the primary product run dry);
// the queued users take the next free seats before any new claimer.
func ForecastRunOut(in ForecastInput, now time.Time) Forecast {
	f := Forecast{ProductID: in.ProductID, Available: in.Available, Queued: in.Queued,
		ClaimsPerDay7: round2(float64(in.Claims7) / 7), ClaimsPerDay30: round2(float64(in.Claims30) / 30)}
	rate := max(float64(in.Claims7)/7, float64(in.Claims30)/30)
	free := float64(in.Available - in.Queued)
	if need := rate*30 - free; need > 0 {
		f.BuyToCover30Days = int(math.Ceil(need - 1e-9))
	}
	switch {
	case free <= 0:
		at, zero := now.UTC(), 0.0
		f.RunOutAt, f.DaysLeft = &at, &zero
	case rate == 0:
	default:
		days := free / rate
		if days > ForecastHorizonDays {
			return f
		}
		at := now.UTC().Add(time.Duration(days * float64(24*time.Hour)))
		left := math.Round(days*10) / 10
		f.RunOutAt, f.DaysLeft = &at, &left
	}
	return f
}

func round2(x float64) float64 { return math.Round(x*100) / 100 }
