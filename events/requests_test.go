package events_test

import "github.com/seatflow/seatflow/events"

// The license-request types of requests.go join the golden and round-trip
// tests.
func init() {
	samples = append(samples,
		events.RequestExpiryWarned{RequestID: "r1", ExpiresAt: at.AddDate(0, 0, 30)},
	)
}
