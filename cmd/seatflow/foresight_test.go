package main

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

type forecastView struct {
	ProductID      string     `json:"product_id"`
	Available      int        `json:"available"`
	Queued         int        `json:"queued"`
	ClaimsPerDay7  float64    `json:"claims_per_day_7"`
	ClaimsPerDay30 float64    `json:"claims_per_day_30"`
	RunOutAt       *time.Time `json:"run_out_at"`
	DaysLeft       *float64   `json:"days_left"`
	Buy            int        `json:"buy_to_cover_30_days"`
}

func (w *acWorld) forecast(t *testing.T, product string) forecastView {
	t.Helper()
	r := w.svc.do(t, "GET", "/v1/products/"+product+"/forecast", w.admin, nil).want(t, 200, "")
	var f forecastView
	if err := json.Unmarshal([]byte(r.raw), &f); err != nil {
		t.Fatalf("forecast: %v in %s", err, r.raw)
	}
	return f
}

func (w *acWorld) simulate(t *testing.T, body map[string]any) string {
	t.Helper()
	return w.svc.do(t, "POST", "/v1/policies/"+w.policy+"/simulate", w.admin, body).want(t, 200, "").raw
}

// TestForecastAndSimulationAgreeWithWhatHappens: the forecast follows the
// claims of the last days; a simulation appends nothing and says where the
// next sign-ins land, which is where they then land.
func TestForecastAndSimulationAgreeWithWhatHappens(t *testing.T) {
	t.Parallel()
	w := newACWorld(t, 10, 2)
	now := time.Now()
	for d := 1; d <= 4; d++ {
		w.signIn(t, fmt.Sprintf("early%d", d), fmt.Sprintf("early%d", d), now.Add(-time.Duration(d)*24*time.Hour))
	}
	waitFor(t, 30*time.Second, "4 claims", func() bool { return len(w.claims(t, "?days=30")) == 4 })

	// 6 seats left at 4 claims a week: 10.5 days; 30 days need 17.1.
	f := w.forecast(t, "P")
	if f.Available != 6 || f.Queued != 0 || f.ClaimsPerDay7 != 0.57 || f.ClaimsPerDay30 != 0.13 || f.DaysLeft == nil || *f.DaysLeft != 10.5 ||
		f.RunOutAt == nil || f.RunOutAt.Sub(now.Add(252*time.Hour)).Abs() > time.Minute || f.Buy != 12 {
		t.Fatalf("forecast of P: %+v", f)
	}
	if b := w.forecast(t, "B"); b.RunOutAt != nil || b.DaysLeft != nil || b.Buy != 0 {
		t.Fatalf("forecast of B (nobody claims it): %+v", b)
	}
	w.svc.do(t, "GET", "/v1/products/nope/forecast", w.admin, nil).want(t, 404, "not_found")

	events := w.countEvents(t, "")
	sim := w.simulate(t, map[string]any{"signins": 9})
	if want := `{"served":[{"product_id":"P","count":6},{"product_id":"B","count":2}],"queued":1}` + "\n"; sim != want {
		t.Fatalf("simulation: got %s, want %s", sim, want)
	}
	proposed := w.simulate(t, map[string]any{"signins": 9, "products": []map[string]any{{"product_id": "B"}, {"product_id": "P"}}})
	if want := `{"served":[{"product_id":"B","count":2},{"product_id":"P","count":6}],"queued":1}` + "\n"; proposed != want {
		t.Fatalf("simulation with B first: got %s, want %s", proposed, want)
	}
	w.svc.do(t, "POST", "/v1/policies/"+w.policy+"/simulate", w.admin, map[string]any{"signins": 0}).want(t, 400, "validation_failed")
	w.svc.do(t, "POST", "/v1/policies/"+w.policy+"/simulate", w.admin, map[string]any{"signins": 1, "products": []any{}}).want(t, 400, "validation_failed")
	w.svc.do(t, "POST", "/v1/policies/nope/simulate", w.admin, map[string]any{"signins": 1}).want(t, 404, "not_found")
	w.svc.do(t, "POST", "/v1/policies/"+w.policy+"/simulate", token(t, "contoso", "lisa", "license-admin"), map[string]any{"signins": 1}).want(t, 403, "forbidden")
	if after := w.countEvents(t, ""); after != events {
		t.Fatalf("simulating appended %d events", after-events)
	}

	// Now the nine sign in: six claim P, two B, one waits.
	for i := range 9 {
		w.signIn(t, fmt.Sprintf("late%d", i), fmt.Sprintf("late%d", i), time.Now())
	}
	waitFor(t, 30*time.Second, "8 more claims and 1 queued", func() bool {
		return len(w.claims(t, "?days=30")) == 12 && len(w.policyView(t).Queue) == 1
	})
	got := map[string]int{}
	for _, c := range w.claims(t, "?days=30") {
		if c.UserID[:4] == "late" {
			got[c.ProductID]++
		}
	}
	if got["P"] != 6 || got["B"] != 2 {
		t.Fatalf("the nine landed %v, simulated P 6, B 2", got)
	}
	if f := w.forecast(t, "P"); f.Available != 0 || f.Queued != 1 || f.DaysLeft == nil || *f.DaysLeft != 0 {
		t.Fatalf("forecast of P once full: %+v", f)
	}
}
