package domain_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/events"
)

func TestDecideForecastWarning(t *testing.T) {
	const horizon = 14 * 24 * time.Hour
	at := func(days float64) time.Time { return now.Add(time.Duration(days * float64(24*time.Hour))) }
	ptr := func(x float64) *float64 { return &x }
	tptr := func(x time.Time) *time.Time { return &x }
	// forecast is P's forecast with free seats at one claim a day (7 in
	// the last week, 7 in the last 30 days) and queued users waiting.
	forecast := func(free, queued int) domain.Forecast {
		return domain.ForecastRunOut(domain.ForecastInput{ProductID: "P", Available: free, Queued: queued, Claims7: 7, Claims30: 7}, now)
	}
	idle := func(free int) domain.Forecast {
		return domain.ForecastRunOut(domain.ForecastInput{ProductID: "P", Available: free}, now)
	}
	warned := func(free, queued int, days float64, buy int) events.Data {
		return events.PoolForecastWarned{ProductID: "P", RunOutAt: at(days), DaysLeft: days, Available: free, Queued: queued,
			ClaimsPerDay7: 1, ClaimsPerDay30: 0.23, BuyToCover30Days: buy, HorizonDays: 14}
	}
	for _, tc := range []struct {
		name    string
		given   domain.Forecast
		warned  bool
		horizon time.Duration
		then    []events.Data
	}{
		{"run-out within the horizon: warned", forecast(10, 0), false, horizon, []events.Data{warned(10, 0, 10, 20)}},
		{"run-out on the horizon's last day: warned", forecast(14, 0), false, horizon, []events.Data{warned(14, 0, 14, 16)}},
		{"the queue counts: 20 free, 8 waiting", forecast(20, 8), false, horizon, []events.Data{warned(20, 8, 12, 18)}},
		{"the queue takes every seat: out now", forecast(3, 5), false, horizon, []events.Data{warned(3, 5, 0, 32)}},
		{"run-out beyond the horizon: nothing", forecast(15, 0), false, horizon, nil},
		{"warned once: nothing while it stands", forecast(5, 0), true, horizon, nil},
		{"warned, run-out just out of the horizon: still stands", forecast(20, 0), true, horizon, nil},
		{"warned, run-out beyond 1.5 horizons: re-armed", forecast(22, 0), true, horizon,
			[]events.Data{events.PoolForecastCleared{ProductID: "P", RunOutAt: tptr(at(22)), DaysLeft: ptr(22), Available: 22}}},
		{"warned, nobody claims or waits any more: re-armed", idle(3), true, horizon,
			[]events.Data{events.PoolForecastCleared{ProductID: "P", Available: 3}}},
		{"warned, no seats but nobody wants one: re-armed", idle(0), true, horizon,
			[]events.Data{events.PoolForecastCleared{ProductID: "P", RunOutAt: tptr(now), DaysLeft: ptr(0), Available: 0}}},
		{"no seats and nobody wants one: never warned", idle(0), false, horizon, nil},
		{"nobody claims: never warned", idle(5), false, horizon, nil},
		{"horizon 0: off", forecast(1, 0), false, 0, nil},
		{"horizon 0 with a warning standing: left alone", idle(100), true, 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := domain.DecideForecastWarning(domain.ForecastWarningView{Forecast: tc.given, Warned: tc.warned, Horizon: tc.horizon}, now)
			if !reflect.DeepEqual(got, tc.then) {
				t.Fatalf("got %#v\nwant %#v", got, tc.then)
			}
		})
	}
}

// TestWarnForecastOnce: the warning stands on the product aggregate, so a
// second service over the same store (another instance) records nothing
// more; a purchase that moves the run-out date out re-arms
// it, and the next approach warns again (seen by a restarted instance).
func TestWarnForecastOnce(t *testing.T) {
	store := &faultyStore{}
	a, b := newService(t, store), newService(t, store)
	mustAdd(t, a, 10)                                   // e5 with 10 seats
	in := domain.ForecastInput{Claims7: 7, Claims30: 7} // a claim a day
	warn := func(svc *domain.Service) []events.Envelope {
		t.Helper()
		res, err := svc.WarnForecast(ctx, "contoso", "e5", events.Meta{Actor: "seatflow-forecast"}, in, 14*24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return res.Events
	}
	if got := warn(a); len(got) != 1 || got[0].Type != events.TypePoolForecastWarned {
		t.Fatalf("first: got %v, want PoolForecastWarned", got)
	}
	if got := warn(b); len(got) != 0 {
		t.Fatalf("another instance: got %v, want nothing", got)
	}
	if got := warn(a); len(got) != 0 {
		t.Fatalf("again: got %v, want nothing", got)
	}
	if _, _, err := product(t, a, "buy", domain.PurchaseLicenses{Count: 20}); err != nil {
		t.Fatal(err)
	}
	if got := warn(a); len(got) != 1 || got[0].Type != events.TypePoolForecastCleared {
		t.Fatalf("after buying 20: got %v, want PoolForecastCleared", got)
	}
	in.Claims7 = 21 // three a day: 30 seats last 10 days
	if got := warn(newService(t, store)); len(got) != 1 || got[0].Type != events.TypePoolForecastWarned {
		t.Fatalf("claims speed up: got %v, want PoolForecastWarned", got)
	}
	if _, err := a.WarnForecast(ctx, "contoso", "nope", events.Meta{}, in, time.Hour); err == nil {
		t.Fatalf("an unknown product: no error")
	}
}

// TestDecideWarnForecast: the warning is decided on the product's own free
// seats and standing warning, whatever the input says of them; an unknown
// product is not found.
func TestDecideWarnForecast(t *testing.T) {
	const horizon = 14 * 24 * time.Hour
	in := domain.ForecastInput{ProductID: "other", Available: 1000, Claims7: 7, Claims30: 7} // a claim a day
	p := given(added)                                                                        // e5, 2 seats: out in 2 days
	got, err := domain.DecideWarnForecast(p, in, horizon, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("got %v, want PoolForecastWarned", got)
	}
	if w, ok := got[0].(events.PoolForecastWarned); !ok || w.ProductID != "e5" || w.Available != 2 || w.DaysLeft != 2 {
		t.Fatalf("got %+v, want e5 warned with 2 seats, 2 days left", got[0])
	}
	domain.EvolveProduct(p, events.Envelope{Data: got[0]})
	if got, err := domain.DecideWarnForecast(p, in, horizon, now); err != nil || got != nil {
		t.Fatalf("warned already: got %v, %v; want nothing", got, err)
	}
	if _, err := domain.DecideWarnForecast(&domain.Product{ID: "nope"}, in, horizon, now); !matches(err, &domain.NotFoundError{}) {
		t.Fatalf("unknown product: got %v, want not found", err)
	}
}
