package events

import "time"

// Wire names of the run-out forecast warning's event types (issue 13).
const (
	TypePoolForecastWarned  = "PoolForecastWarned"
	TypePoolForecastCleared = "PoolForecastCleared"
)

// PoolForecastWarned records, on the product aggregate, that the product's
// forecast run-out date came within the warning horizon: at its claim
// velocity (the higher of ClaimsPerDay7 and ClaimsPerDay30) the Available
// free seats, less the Queued users waiting for one, run out at RunOutAt,
// DaysLeft days away; BuyToCover30Days licenses serve the queue and 30
// more days of claims. The warning goes to the tenant's global admins
// (pool.forecast) once: no other is recorded until PoolForecastCleared.
type PoolForecastWarned struct {
	ProductID        string    `json:"product_id"`
	RunOutAt         time.Time `json:"run_out_at"`
	DaysLeft         float64   `json:"days_left"`
	Available        int       `json:"available"`
	Queued           int       `json:"queued"`
	ClaimsPerDay7    float64   `json:"claims_per_day_7"`
	ClaimsPerDay30   float64   `json:"claims_per_day_30"`
	BuyToCover30Days int       `json:"buy_to_cover_30_days"`
	HorizonDays      float64   `json:"horizon_days"`
}

// PoolForecastCleared records, on the product aggregate, that the run-out
// date of a product warned of (PoolForecastWarned) moved well back out of
// the warning horizon, e.g. after a purchase, or that nobody claims it any
// more (RunOutAt and DaysLeft null): the next approach warns again.
type PoolForecastCleared struct {
	ProductID string     `json:"product_id"`
	RunOutAt  *time.Time `json:"run_out_at"`
	DaysLeft  *float64   `json:"days_left"`
	Available int        `json:"available"`
}

func (PoolForecastWarned) EventType() string  { return TypePoolForecastWarned }
func (PoolForecastCleared) EventType() string { return TypePoolForecastCleared }

func (PoolForecastWarned) EventVersion() int  { return 1 }
func (PoolForecastCleared) EventVersion() int { return 1 }

// registerForesight adds the forecast warning's event types to r.
func registerForesight(r *Registry) {
	Register[PoolForecastWarned](r)
	Register[PoolForecastCleared](r)
}
