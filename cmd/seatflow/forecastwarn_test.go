package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/infra/notify"
)

// TestPoolForecastEndToEnd: P has 20 seats. A claim of the last days brings
// its forecast run-out date within the 14-day horizon: exactly one
// pool.forecast mail reaches the global admin (not the license admin),
// naming the run-out date and the licenses to buy as the forecast route
// answers them; further claims send none; a purchase moves the run-out date
// out and re-arms the warning, and a faster pace brings a second mail. The
// service clock is injected; nothing sleeps.
func TestPoolForecastEndToEnd(t *testing.T) {
	day0 := time.Date(2026, 11, 16, 9, 0, 0, 0, time.UTC)
	clock := newTestClock(day0)
	w := newACWorldWith(t, func(c *Config) { clock.tune(c); c.AutoClaim.ForecastEvery = 20 * time.Millisecond }, 20, 0)
	w.svc.do(t, "PUT", "/v1/users/gina", w.admin, map[string]any{"email": "gina@example.com", "display_name": "Gina",
		"roles": []string{"global-admin"}}).want(t, 200, "")
	w.svc.do(t, "PUT", "/v1/users/lisa", w.admin, map[string]any{"email": "lisa@example.com", "display_name": "Lisa",
		"roles": []string{"license-admin"}}).want(t, 200, "")
	// W, a product of another app's policy, witnesses a tick of the
	// reactor: its warning shows a tick ran after what came before it.
	w.svc.do(t, "POST", "/v1/products", w.admin, map[string]any{"product_id": "W", "name": "Plan W", "services": []string{},
		"licenses": 1, "self_service": "blocked"}).want(t, 201, "")
	w.svc.do(t, "POST", "/v1/policies", w.admin, map[string]any{"name": "Zoom", "app": "zoom",
		"products": []map[string]any{{"product_id": "W"}}}).want(t, 201, "")
	pMails := func() []notify.Notification {
		var out []notify.Notification
		for _, m := range mails(t, w, notify.KindPoolForecast) {
			if m.Refs.ProductID == "P" {
				out = append(out, m)
			}
		}
		return out
	}
	users, others := 0, 0 // claims of P, and of W
	claim := func(n int, at time.Time) {
		t.Helper()
		for range n {
			users++
			w.signIn(t, fmt.Sprintf("s-%d", users), fmt.Sprintf("u%d", users), at)
		}
		waitFor(t, 30*time.Second, fmt.Sprintf("%d claims", users), func() bool { return w.countClaims(t) == users+others })
	}
	forecastOf := func(free int) forecastView {
		t.Helper()
		var f forecastView
		waitFor(t, 30*time.Second, "the forecast of P", func() bool { f = w.forecast(t, "P"); return f.Available == free })
		return f
	}

	// A claim a day for six days: 14 free at 6 a week last 16.3 days.
	for d := 6; d >= 1; d-- {
		claim(1, day0.AddDate(0, 0, -d))
	}
	if f := forecastOf(14); f.DaysLeft == nil || *f.DaysLeft != 16.3 {
		t.Fatalf("forecast with 14 free: %+v, want 16.3 days left", f)
	}
	// One more: 13 free at 7 a week, 13 days: within the horizon.
	claim(1, day0.Add(-time.Hour))
	f := forecastOf(13)
	if f.DaysLeft == nil || *f.DaysLeft != 13 || f.Buy != 17 {
		t.Fatalf("forecast with 13 free: %+v, want 13 days left and 17 to buy", f)
	}
	waitFor(t, 30*time.Second, "the pool.forecast mail", func() bool { return len(pMails()) == 1 })
	m := pMails()[0]
	date := f.RunOutAt.UTC().Format(time.DateOnly)
	if m.To[0] != "gina@example.com" || m.Subject != "Plan P runs out around "+date+" (in 13 days)" ||
		!strings.Contains(m.Text, "Buy 17 licenses of Plan P to cover the next 30 days") {
		t.Fatalf("pool.forecast: %+v, want to gina, run-out %s, buy 17", m, date)
	}

	// Two more claims: the warning stands, nothing more is sent, though
	// the reactor ticked since (W's last seat claimed: W warned).
	claim(2, day0.Add(-time.Minute))
	forecastOf(11)
	b, _ := json.Marshal(signInMsg{ID: "s-zoom", UserID: "z1", App: "zoom", At: day0.Add(-time.Minute)})
	w.publish(t, "contoso", "s-zoom", b)
	others++
	waitFor(t, 30*time.Second, "W's warning", func() bool { return w.countEvents(t, events.TypePoolForecastWarned) == 2 })
	waitFor(t, 30*time.Second, "W's mail", func() bool { return len(mails(t, w, notify.KindPoolForecast)) == 2 })
	if n := len(pMails()); n != 1 {
		t.Fatalf("pool.forecast mails of P after more claims: %d, want 1", n)
	}
	// Buying 40 moves the run-out date to 39.7 days: re-armed.
	w.svc.do(t, "POST", "/v1/products/P/licenses", w.admin, map[string]any{"add": 40}).want(t, 200, "")
	waitFor(t, 30*time.Second, "the re-arm", func() bool { return w.countEvents(t, events.TypePoolForecastCleared) == 1 })
	if n := w.countEvents(t, events.TypePoolForecastWarned); n != 2 {
		t.Fatalf("PoolForecastWarned events before the re-arm: %d, want 2 (P and W)", n)
	}
	if f := forecastOf(51); f.DaysLeft == nil || *f.DaysLeft != 39.7 || f.Buy != 0 {
		t.Fatalf("forecast after buying 40: %+v, want 39.7 days left, nothing to buy", f)
	}
	// Twenty claims today: 31 free at 29 a week, 7.5 days: warned again
	// (from the eleventh on, 14 days or less).
	claim(20, day0.Add(-time.Minute))
	waitFor(t, 30*time.Second, "the second pool.forecast mail of P", func() bool { return len(pMails()) == 2 })
	if m := pMails()[1]; !strings.HasPrefix(m.Subject, "Plan P runs out around ") {
		t.Fatalf("second pool.forecast: %+v", m)
	}
	for _, m := range mails(t, w, notify.KindPoolForecast) {
		if m.To[0] != "gina@example.com" {
			t.Fatalf("pool.forecast to %v: only the global admin is told", m.To)
		}
	}
}
