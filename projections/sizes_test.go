package projections_test

import (
	"bytes"
	"maps"
	"testing"

	"github.com/seatflow/seatflow/projections"
)

// TestPresizedEqualsGrown: a read model given sizes (its own from the
// same history, sizes far off, or nonsense) and fed the history answers
// every query and snapshots to the same bytes as one that grew its maps
// entry by entry; the sizes it reports count its users, and the caller's
// sizes are left as they were.
func TestPresizedEqualsGrown(t *testing.T) {
	tenants, users := []string{"contoso", "fabrikam", "northwind"}, 120
	evs := snapshotHistory(tenants, users)
	w := newSnapWorld(tenants, users, evs)
	presizers := 0
	for _, tt := range snapModels {
		if _, ok := tt.make().(projections.Presizer); !ok {
			continue
		}
		presizers++
		t.Run(tt.name, func(t *testing.T) {
			grown := tt.make()
			for _, e := range evs {
				grown.Apply(e)
			}
			want, wantSnap := tt.answers(grown, w), snapshotOf(t, grown)
			own := grown.(projections.Presizer).SizeHint()
			total := 0
			for k, n := range own {
				if n < 0 {
					t.Fatalf("size %q is %d", k, n)
				}
				total += n
			}
			if total == 0 || total > len(tenants)*(users+1)*len(w.products) {
				t.Fatalf("sizes %v add up to %d for %d tenants of %d users", own, total, len(tenants), users)
			}
			far := projections.Sizes{}
			for k, n := range own {
				far[k] = 50*n + 1000
			}
			for name, sizes := range map[string]projections.Sizes{
				"own":      own,
				"far off":  far,
				"nonsense": {"nobody": 5, "contoso": -3, "\x00": 1},
				"none":     nil,
			} {
				t.Run(name, func(t *testing.T) {
					before := maps.Clone(sizes)
					m := tt.make()
					m.(projections.Presizer).Presize(sizes)
					for _, e := range evs {
						m.Apply(e)
					}
					if !maps.Equal(sizes, before) {
						t.Fatalf("Presize changed its argument: %v, was %v", sizes, before)
					}
					sameAnswers(t, tt.answers(m, w), want)
					if !bytes.Equal(snapshotOf(t, m), wantSnap) {
						t.Fatal("the presized read model's snapshot differs from the grown one's")
					}
				})
			}
		})
	}
	if presizers != 3 {
		t.Fatalf("%d read models with binary snapshots take sizes, want 3 (user licenses, license history, reclaim candidates)", presizers)
	}
}
