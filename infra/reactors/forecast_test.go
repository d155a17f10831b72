package reactors_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/infra/memstore"
	"github.com/seatflow/seatflow/infra/reactors"
	"github.com/seatflow/seatflow/projections"
)

// TestForecastWarnsOnce: P has 20 seats and two users claim it every day.
// Two reactors (two instances) tick on an injected clock: no warning while
// the run-out date is more than 14 days away, one PoolForecastWarned when
// it comes within, none more on later days nor from a restarted instance;
// a purchase moves it well out and re-arms (PoolForecastCleared), and the
// next approach warns again.
func TestForecastWarnsOnce(t *testing.T) {
	ctx := context.Background()
	day0 := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := day0
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	setDay := func(d int) { mu.Lock(); clock = day0.AddDate(0, 0, d); mu.Unlock() }
	counts, claims, policies, warnings := projections.NewLicenseCounts(), projections.NewClaims(), projections.NewPolicyList(), projections.NewForecastWarnings()
	f := &feed{Store: memstore.New(events.Default()), models: []projections.Projection{counts, claims, policies, warnings}}
	var ids sync.Mutex
	n := 0
	newService := func() *domain.Service {
		svc, err := domain.NewService(f, domain.Config{Now: now, NewID: func() string { ids.Lock(); defer ids.Unlock(); n++; return fmt.Sprintf("id%04d", n) }})
		if err != nil {
			t.Fatal(err)
		}
		f.mu.Lock()
		f.services = append(f.services, svc)
		f.mu.Unlock()
		return svc
	}
	newReactor := func(svc *domain.Service) *reactors.Forecast {
		r, err := reactors.NewForecast(reactors.ForecastConfig{Commands: svc, Products: counts, Claims: claims, Queues: policies, Warnings: warnings,
			Horizon: reactors.DefaultForecastHorizon, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	a, b := newService(), newService()
	meta := func(id string) events.Meta { return events.Meta{Actor: "ada", CommandID: id} }
	if _, _, err := a.Product(ctx, "contoso", "P", meta("p"), domain.AddProduct{Name: "P", Licenses: 20, SelfService: "blocked"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.Policy(ctx, "contoso", "p1", meta("pol"), domain.CreatePolicy{Name: "Teams", App: "teams",
		Products: []events.PolicyProduct{{ProductID: "P"}}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.SetAutoClaim(ctx, "contoso", meta("on"), true); err != nil {
		t.Fatal(err)
	}
	rs := []*reactors.Forecast{newReactor(a), newReactor(b)}
	users := 0
	for _, step := range []struct {
		day     int
		buy     int // licenses bought that day, after the claims
		restart bool
		// events recorded so far
		warned, cleared int
	}{
		{day: 0, warned: 0},                      // 18 free at 2 claims a week: 63 days
		{day: 1, warned: 0},                      // 16 free at 4 a week: 28 days
		{day: 2, warned: 0},                      // 14 free at 6 a week: 16.3 days
		{day: 3, warned: 1},                      // 12 free at 8 a week: 10.5 days
		{day: 4, warned: 1},                      // 10 free: the warning stands
		{day: 5, warned: 1, restart: true},       // 8 free: a restarted instance knows
		{day: 6, buy: 40, warned: 1, cleared: 1}, // 46 free at 14 a week: 23 days
		{day: 7, warned: 1, cleared: 1},          // 44 free at 14 a week: 22 days
		{day: 8, buy: -1, warned: 2, cleared: 1}, // the claims speed up: 10 a day
	} {
		setDay(step.day)
		perDay := 2
		if step.buy < 0 {
			perDay = 10
		}
		for range perDay {
			users++
			u := fmt.Sprintf("u%02d", users)
			if _, _, err := a.Claim(ctx, "contoso", domain.SignIn{ID: "s-" + u, UserID: domain.UserID(u), App: "teams", At: now()}, domain.ClaimOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		if step.buy > 0 {
			if _, _, err := b.Product(ctx, "contoso", "P", meta(fmt.Sprintf("buy-%d", step.day)), domain.PurchaseLicenses{Count: step.buy}); err != nil {
				t.Fatal(err)
			}
		}
		if step.restart {
			rs = append(rs, newReactor(newService()))
		}
		for range 2 {
			for _, r := range rs {
				r.Tick(ctx)
			}
		}
		if got := f.count(events.TypePoolForecastWarned); got != step.warned {
			t.Fatalf("day %d: %d warnings, want %d", step.day, got, step.warned)
		}
		if got := f.count(events.TypePoolForecastCleared); got != step.cleared {
			t.Fatalf("day %d: %d re-arms, want %d", step.day, got, step.cleared)
		}
	}
}

func TestForecastConfigValidate(t *testing.T) {
	if _, err := reactors.NewForecast(reactors.ForecastConfig{}); err == nil {
		t.Fatal("an empty config: no error")
	}
	_, err := reactors.NewForecast(reactors.ForecastConfig{Commands: &domain.Service{}, Products: projections.NewLicenseCounts(), Claims: projections.NewClaims(),
		Queues: projections.NewPolicyList(), Warnings: projections.NewForecastWarnings()})
	if err == nil {
		t.Fatal("no horizon: no error")
	}
}
