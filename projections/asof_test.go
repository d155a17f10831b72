package projections_test

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/events/eventstest"
	"github.com/seatflow/seatflow/projections"
)

// genHistory is the shared generated history (eventstest.History).
func genHistory(seed uint64, n int) []events.Envelope { return eventstest.History(seed, n) }

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
