package domain_test

import (
	"testing"
	"time"

	"github.com/seatflow/seatflow/domain"
)

func TestForecastRunOut(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	days := func(d float64) *float64 { return &d }
	at := func(d float64) *time.Time { x := now.Add(time.Duration(d * float64(24*time.Hour))); return &x }
	tests := []struct {
		name     string
		in       domain.ForecastInput
		rate7    float64
		rate30   float64
		runOut   *time.Time
		daysLeft *float64
		buy      int
	}{
		{"nobody claims: never runs out", domain.ForecastInput{Available: 10}, 0, 0, nil, nil, 0},
		{"7-day pace: 14 free at 2 a day", domain.ForecastInput{Available: 14, Claims7: 14, Claims30: 30}, 2, 1, at(7), days(7), 46},
		{"30-day pace when it is faster", domain.ForecastInput{Available: 30, Claims7: 0, Claims30: 90}, 0, 3, at(10), days(10), 60},
		{"the queue takes seats first", domain.ForecastInput{Available: 10, Queued: 4, Claims7: 7}, 1, 0, at(6), days(6), 24},
		{"the queue takes every seat: out now", domain.ForecastInput{Available: 3, Queued: 5, Claims7: 7}, 1, 0, at(0), days(0), 32},
		{"no seats, nobody waiting, nobody claiming: out now", domain.ForecastInput{Available: 0}, 0, 0, at(0), days(0), 0},
		{"beyond a year: null", domain.ForecastInput{Available: 1000, Claims30: 30}, 0, 1, nil, nil, 0},
		{"just within a year", domain.ForecastInput{Available: 365, Claims30: 30}, 0, 1, at(365), days(365), 0},
		{"fractional days and a rounded-up purchase", domain.ForecastInput{Available: 5, Claims7: 3}, 0.43, 0, at(35.0 / 3), days(11.7), 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.in.ProductID = "e5"
			f := domain.ForecastRunOut(tt.in, now)
			if f.ProductID != "e5" || f.Available != tt.in.Available || f.Queued != tt.in.Queued {
				t.Fatalf("echo: %+v", f)
			}
			if f.ClaimsPerDay7 != tt.rate7 || f.ClaimsPerDay30 != tt.rate30 {
				t.Errorf("rates: got %v, %v; want %v, %v", f.ClaimsPerDay7, f.ClaimsPerDay30, tt.rate7, tt.rate30)
			}
			if (f.RunOutAt == nil) != (tt.runOut == nil) || f.RunOutAt != nil && f.RunOutAt.Sub(*tt.runOut).Abs() > time.Second {
				t.Errorf("run out: got %v, want %v", f.RunOutAt, tt.runOut)
			}
			if (f.DaysLeft == nil) != (tt.daysLeft == nil) || f.DaysLeft != nil && *f.DaysLeft != *tt.daysLeft {
				t.Errorf("days left: got %v, want %v", deref(f.DaysLeft), deref(tt.daysLeft))
			}
			if f.BuyToCover30Days != tt.buy {
				t.Errorf("buy: got %d, want %d", f.BuyToCover30Days, tt.buy)
			}
		})
	}
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}
