package events_test

import "github.com/seatflow/seatflow/events"

// The forecast warning's samples join the golden and round-trip tests.
func init() {
	runOut, left := at.AddDate(0, 0, 40), 40.0
	samples = append(samples,
		events.PoolForecastWarned{ProductID: "e5", RunOutAt: at.AddDate(0, 0, 12), DaysLeft: 12, Available: 14, Queued: 2,
			ClaimsPerDay7: 1, ClaimsPerDay30: 0.5, BuyToCover30Days: 18, HorizonDays: 14},
		events.PoolForecastCleared{ProductID: "e5", RunOutAt: &runOut, DaysLeft: &left, Available: 40},
	)
}
