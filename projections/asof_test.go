package projections_test

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/projections"
)

// GenHistory makes n events of tenants "contoso" and "fabrikam": products
// bought, assigned, claimed (singly and in batches), unassigned; policies
// created, renamed, reordered, queueing and granting; at positions 1..n.
func genHistory(seed uint64, n int) []events.Envelope {
	r := rand.New(rand.NewPCG(seed, 1))
	tenants := []string{"contoso", "fabrikam"}
	products := []string{"e3", "e5", "visio"}
	held := map[string]bool{}
	out := make([]events.Envelope, 0, n)
	emit := func(tenant string, kind events.Kind, id string, d events.Data) {
		e := events.New(fmt.Sprintf("ev%d", len(out)+1), tenant, events.Aggregate{Kind: kind, ID: id}, t0, events.Meta{Actor: "a", CommandID: "c"}, d)
		e.Position = uint64(len(out) + 1)
		out = append(out, e)
	}
	for _, tn := range tenants {
		for _, p := range products {
			emit(tn, events.KindProduct, p, events.ProductAdded{ProductID: p, Name: p, Services: []string{"mail"}, Licenses: 5, SelfService: "blocked"})
		}
		emit(tn, events.KindPolicy, "pol", events.PolicyCreated{PolicyID: "pol", Name: "P", App: "chat",
			Products: []events.PolicyProduct{{ProductID: "e5"}, {ProductID: "e3"}}, Enabled: true})
	}
	for len(out) < n {
		tn := tenants[r.IntN(2)]
		p := products[r.IntN(3)]
		u := fmt.Sprintf("u%d", r.IntN(40))
		k := tn + "/" + u + "/" + p
		switch r.IntN(9) {
		case 0:
			emit(tn, events.KindProduct, p, events.LicensesPurchased{ProductID: p, Count: 1 + r.IntN(3)})
		case 1:
			emit(tn, events.KindProduct, p, events.LicensesRemoved{ProductID: p, Count: 1})
		case 2:
			if held[k] {
				emit(tn, events.KindProduct, p, events.LicenseUnassigned{ProductID: p, UserID: u})
				held[k] = false
			}
		case 3:
			if !held[k] {
				emit(tn, events.KindProduct, p, events.LicenseAssigned{ProductID: p, UserID: u, DisabledServices: []string{"mail"},
					Source: events.Source{Kind: events.SourceManual}})
				held[k] = true
			}
		case 4:
			if !held[k] {
				emit(tn, events.KindProduct, p, events.LicensesClaimed{ProductID: p, PolicyID: "pol", App: "chat",
					Claims: []events.Claim{{UserID: u, SigninID: "s", ClaimedAt: t0}}})
				held[k] = true
			}
		case 5:
			emit(tn, events.KindPolicy, "pol", events.UserQueued{PolicyID: "pol", UserID: u})
		case 6:
			emit(tn, events.KindPolicy, "pol", events.QueuedUserGranted{PolicyID: "pol", UserID: u, ProductID: p})
		case 7:
			ps := []events.PolicyProduct{{ProductID: products[r.IntN(3)]}, {ProductID: products[r.IntN(3)], DisabledServices: []string{"mail"}}}
			emit(tn, events.KindPolicy, "pol", events.PolicyProductsChanged{PolicyID: "pol", Products: ps})
		case 8:
			emit(tn, events.KindPolicy, "pol", events.PolicyRenamed{PolicyID: "pol", Name: fmt.Sprintf("P%d", r.IntN(9))})
		}
	}
	return out
}

// TestAsOfIndexBase: at every position, the last mark brought forward by
// the events after it equals a fold of the events up to that position.
func TestAsOfIndexBase(t *testing.T) {
	evs := genHistory(7, 600)
	x := projections.NewAsOfIndex(16)
	for _, e := range evs {
		x.Apply(e)
	}
	if x.Marks("contoso") < 3 {
		t.Fatalf("got %d marks, want some", x.Marks("contoso"))
	}
	// The index restored from a snapshot answers the same.
	b, err := x.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	y := projections.NewAsOfIndex(16)
	if err := y.Restore(b); err != nil {
		t.Fatal(err)
	}
	h := projections.NewLicenseHistory()
	for _, e := range evs {
		h.Apply(e)
	}
	// The history restored from a snapshot answers the same.
	hb, err := h.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	h2 := projections.NewLicenseHistory()
	if err := h2.Restore(hb); err != nil {
		t.Fatal(err)
	}
	counts, pols, ul := projections.NewLicenseCounts(), projections.NewPolicyList(), projections.NewUserLicenses()
	for p := 0; p <= len(evs); p++ {
		if p > 0 {
			counts.Apply(evs[p-1])
			pols.Apply(evs[p-1])
			ul.Apply(evs[p-1])
		}
		for u := range 40 {
			user := fmt.Sprintf("u%d", u)
			want := ul.Licenses("contoso", user)
			if got := h.LicensesAt("contoso", user, uint64(p)); !reflect.DeepEqual(got, want) {
				t.Fatalf("%s's licenses at %d: got %+v, want %+v", user, p, got, want)
			}
			if got := h2.LicensesAt("contoso", user, uint64(p)); !reflect.DeepEqual(got, want) {
				t.Fatalf("%s's licenses at %d after a restore: got %+v, want %+v", user, p, got, want)
			}
		}
		for _, idx := range []*projections.AsOfIndex{x, y} {
			for _, tn := range []string{"contoso", "fabrikam"} {
				s, err := idx.Base(tn, uint64(p))
				if err != nil {
					t.Fatal(err)
				}
				if s.Position > uint64(p) {
					t.Fatalf("base of %d at %d", p, s.Position)
				}
				for _, e := range evs[s.Position:p] {
					s.Apply(e)
				}
				if got, want := s.Counts.Products(tn), counts.Products(tn); !reflect.DeepEqual(got, want) {
					t.Fatalf("%s products at %d: got %+v, want %+v", tn, p, got, want)
				}
				if got, want := s.Policies.Policies(tn), pols.Policies(tn); !reflect.DeepEqual(got, want) {
					t.Fatalf("%s policies at %d: got %+v, want %+v", tn, p, got, want)
				}
			}
		}
	}
}
