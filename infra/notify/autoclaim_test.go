package notify_test

import (
	"strings"
	"testing"
	"time"

	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/infra/notify"
)

// TestAutoClaimAlerts: PoolLow and PolicyExhausted reach the global admins
// only (not license admins or users), as pool.low, with their refs.
func TestAutoClaimAlerts(t *testing.T) {
	l, _ := lookup(t)
	for _, e := range []events.Envelope{
		ev("a1", events.KindProduct, "e5", "u1", events.PoolLow{PolicyID: "p1", ProductID: "e5", Available: 2, Threshold: 2}),
		ev("a2", events.KindProduct, "e5", "u2", events.PolicyExhausted{PolicyID: "p1", ProductID: "e5"}),
	} {
		rule := notify.AutoClaimRules()[e.Type]
		if rule == nil {
			t.Fatalf("no rule for %s", e.Type)
		}
		drafts, err := rule(l, e)
		if err != nil {
			t.Fatal(err)
		}
		ns, skipped := notify.Address(l, e, drafts)
		if len(skipped) > 0 || len(ns) != 1 {
			t.Fatalf("%s: got %+v (skipped %v), want one notification", e.Type, ns, skipped)
		}
		n := ns[0]
		if n.Kind != notify.KindPoolLow || n.To[0] != "ada@x.com" || n.Refs != (notify.Refs{PolicyID: "p1", ProductID: "e5"}) ||
			n.ID != notify.MsgID(e.ID, notify.KindPoolLow, "ada") || n.Subject == "" || n.Text == "" {
			t.Fatalf("%s: %+v", e.Type, n)
		}
	}
	if got := notify.RequestRules().Merge(notify.AutoClaimRules()); got[events.TypePoolLow] == nil || got[events.TypeRequestSubmitted] == nil {
		t.Fatal("merged rules lack a type")
	}
}

// TestReclaimNotifications: a reclaim warning and a reclaim reach the
// license's user, with the dates and the app to sign in to.
func TestReclaimNotifications(t *testing.T) {
	l, _ := lookup(t)
	seen := time.Date(2026, 10, 1, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		e    events.Envelope
		kind string
		want string
	}{
		{ev("w1", events.KindProduct, "e5", "seatflow-reclaim", events.LicenseReclaimWarned{ProductID: "e5", UserID: "u1", PolicyID: "p1",
			App: "teams", LastSeen: seen, ReclaimAt: seen.AddDate(0, 0, 30)}), notify.KindReclaimWarning, "2026-10-31"},
		{ev("r1", events.KindProduct, "e5", "seatflow-reclaim", events.LicenseReclaimed{ProductID: "e5", UserID: "u1", PolicyID: "p1",
			App: "teams", LastSeen: seen}), notify.KindReclaimed, "2026-10-01"},
	} {
		drafts, err := notify.DefaultRules()[tc.e.Type](l, tc.e)
		if err != nil {
			t.Fatal(err)
		}
		ns, skipped := notify.Address(l, tc.e, drafts)
		if len(skipped) > 0 || len(ns) != 1 {
			t.Fatalf("%s: got %+v (skipped %v), want one notification", tc.e.Type, ns, skipped)
		}
		n := ns[0]
		if n.Kind != tc.kind || n.To[0] != "u1@x.com" || n.Refs != (notify.Refs{PolicyID: "p1", ProductID: "e5"}) ||
			!strings.Contains(n.Text, tc.want) || !strings.Contains(n.Text, "teams") {
			t.Fatalf("%s: %+v", tc.e.Type, n)
		}
	}
}

// TestPoolForecastNotification: a forecast warning reaches the global
// admins only, as pool.forecast, with the run-out date and the licenses to
// buy.
func TestPoolForecastNotification(t *testing.T) {
	l, _ := lookup(t)
	runOut := time.Date(2026, 11, 12, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		e       events.PoolForecastWarned
		subject string
		text    []string
	}{
		{events.PoolForecastWarned{ProductID: "e5", RunOutAt: runOut, DaysLeft: 10.5, Available: 12, ClaimsPerDay7: 1.14, ClaimsPerDay30: 0.27,
			BuyToCover30Days: 23, HorizonDays: 14},
			"Office E5 runs out around 2026-11-12 (in 10.5 days)",
			[]string{"1.14 a day over the last 7 days, 0.27 over the last 30", "12 available.", "Buy 23 licenses of Office E5 to cover the next 30 days", "within 14 days"}},
		{events.PoolForecastWarned{ProductID: "e5", RunOutAt: runOut, DaysLeft: 0, Available: 1, Queued: 3, ClaimsPerDay7: 1,
			BuyToCover30Days: 32, HorizonDays: 14},
			"Office E5 has run out (3 waiting)",
			[]string{"no license left for the users waiting for one: 1 available, 3 users waiting", "Buy 32 licenses"}},
		{events.PoolForecastWarned{ProductID: "e5", RunOutAt: runOut, DaysLeft: 40, Available: 40, ClaimsPerDay7: 1, HorizonDays: 60},
			"Office E5 runs out around 2026-11-12 (in 40 days)",
			[]string{"The licenses left cover the next 30 days", "within 60 days"}},
	} {
		e := ev("f1", events.KindProduct, "e5", "seatflow-forecast", tc.e)
		drafts, err := notify.DefaultRules()[e.Type](l, e)
		if err != nil {
			t.Fatal(err)
		}
		ns, skipped := notify.Address(l, e, drafts)
		if len(skipped) > 0 || len(ns) != 1 {
			t.Fatalf("got %+v (skipped %v), want one notification to the global admin", ns, skipped)
		}
		n := ns[0]
		if n.Kind != notify.KindPoolForecast || n.To[0] != "ada@x.com" || n.Refs != (notify.Refs{ProductID: "e5"}) ||
			n.ID != notify.MsgID(e.ID, notify.KindPoolForecast, "ada") || n.Subject != tc.subject {
			t.Fatalf("%+v, want subject %q", n, tc.subject)
		}
		for _, want := range tc.text {
			if !strings.Contains(n.Text, want) {
				t.Errorf("text lacks %q:\n%s", want, n.Text)
			}
		}
	}
}
