package projections_test

import (
	"testing"
	"time"

	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/projections"
)

// TestForecastInputs: the claims of a product in a window across policies,
// and the users waiting under the enabled policies listing it.
func TestForecastInputs(t *testing.T) {
	pol := events.KindPolicy
	claim := func(policy, user, product string, ago time.Duration) events.Envelope {
		return env("contoso", events.KindProduct, product, events.LicenseClaimed{ProductID: product, UserID: user, PolicyID: policy,
			App: "a", ClaimedAt: t0.Add(-ago)})
	}
	evs := []events.Envelope{
		env("contoso", pol, "p1", events.PolicyCreated{PolicyID: "p1", Name: "One", App: "a", Products: []events.PolicyProduct{{ProductID: "e5"}}, Enabled: true}),
		env("contoso", pol, "p2", events.PolicyCreated{PolicyID: "p2", Name: "Two", App: "b", Products: []events.PolicyProduct{{ProductID: "e3"}, {ProductID: "e5"}}, Enabled: true}),
		env("contoso", pol, "p3", events.PolicyCreated{PolicyID: "p3", Name: "Off", App: "c", Products: []events.PolicyProduct{{ProductID: "e5"}}}),
		claim("p1", "u1", "e5", time.Hour),
		claim("p2", "u2", "e5", 6*24*time.Hour),
		claim("p2", "u3", "e3", 24*time.Hour),
		claim("p1", "u4", "e5", 8*24*time.Hour),
		claim("p1", "u5", "e5", 31*24*time.Hour),
		env("contoso", pol, "p1", events.UserQueued{PolicyID: "p1", UserID: "q1"}),
		env("contoso", pol, "p2", events.UserQueued{PolicyID: "p2", UserID: "q2"}),
		env("contoso", pol, "p2", events.UserQueued{PolicyID: "p2", UserID: "q3"}),
		env("contoso", pol, "p3", events.UserQueued{PolicyID: "p3", UserID: "q4"}),
		env("contoso", pol, "p2", events.QueuedUserGranted{PolicyID: "p2", UserID: "q2", ProductID: "e3"}),
	}
	c, pl := projections.NewClaims(), projections.NewPolicyList()
	for _, e := range evs {
		c.Apply(e)
		pl.Apply(e)
	}
	day := 24 * time.Hour
	for _, tt := range []struct {
		product string
		days    int
		want    int
	}{{"e5", 7, 2}, {"e5", 30, 3}, {"e5", 90, 4}, {"e3", 7, 1}, {"visio", 30, 0}} {
		if got := c.ProductClaims("contoso", tt.product, t0.Add(-time.Duration(tt.days)*day), t0); got != tt.want {
			t.Errorf("%s claims in %d days: got %d, want %d", tt.product, tt.days, got, tt.want)
		}
	}
	if got := pl.QueuedFor("contoso", "e5"); got != 2 {
		t.Errorf("queued for e5: got %d, want 2 (q1 under p1, q3 under p2; p3 is off)", got)
	}
	if got := pl.QueuedFor("contoso", "e3"); got != 1 {
		t.Errorf("queued for e3: got %d, want 1", got)
	}
}
