package projections_test

import (
	"testing"

	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/projections"
)

// TestForecastWarnings: a warning stands from PoolForecastWarned until
// PoolForecastCleared, per tenant and product, and survives a snapshot.
func TestForecastWarnings(t *testing.T) {
	fw := projections.NewForecastWarnings()
	on := func(tenant, product string, d events.Data) events.Envelope {
		return events.Envelope{Tenant: tenant, Aggregate: events.Aggregate{Kind: events.KindProduct, ID: product}, Data: d}
	}
	fw.Apply(on("contoso", "e5", events.PoolForecastWarned{ProductID: "e5"}))
	fw.Apply(on("contoso", "e3", events.PoolForecastWarned{ProductID: "e3"}))
	fw.Apply(on("contoso", "e3", events.PoolForecastCleared{ProductID: "e3"}))
	// Not a product's subject: ignored.
	fw.Apply(events.Envelope{Tenant: "contoso", Aggregate: events.Aggregate{Kind: events.KindPolicy, ID: "p1"}, Data: events.PoolForecastWarned{ProductID: "p1"}})
	b, err := fw.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	restored := projections.NewForecastWarnings()
	if err := restored.Restore(b); err != nil {
		t.Fatal(err)
	}
	for _, m := range []*projections.ForecastWarnings{fw, restored} {
		for _, tc := range []struct {
			tenant, product string
			want            bool
		}{{"contoso", "e5", true}, {"contoso", "e3", false}, {"contoso", "p1", false}, {"fabrikam", "e5", false}} {
			if got := m.Warned(tc.tenant, tc.product); got != tc.want {
				t.Errorf("Warned(%s, %s): got %v, want %v", tc.tenant, tc.product, got, tc.want)
			}
		}
	}
}
