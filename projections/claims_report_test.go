package projections_test

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/projections"
)

// TestClaimReportEqualsCountingEveryClaim: the report, built from per-day
// counts and the claims of the two partial days at the window's ends, equals
// counting every claim one by one, for random histories, windows and
// instants (claims also arrive out of time order).
func TestClaimReportEqualsCountingEveryClaim(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	start := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	for round := range 20 {
		c := projections.NewClaims()
		apply := func(d events.Data) {
			c.Apply(events.Envelope{Tenant: "t", Data: d})
		}
		apply(events.PolicyCreated{PolicyID: "p1", Name: "One", App: "a"})
		apply(events.PolicyCreated{PolicyID: "p2", Name: "Two", App: "b"})
		type cl struct {
			policy, product string
			at              time.Time
		}
		var all []cl
		for i := range 2000 {
			x := cl{policy: fmt.Sprint("p", 1+rng.IntN(2)), product: fmt.Sprint("prod", rng.IntN(3)),
				at: start.Add(time.Duration(rng.Int64N(int64(150 * 24 * time.Hour))))}
			all = append(all, x)
			apply(events.LicenseClaimed{ProductID: x.product, UserID: fmt.Sprint("u", i), PolicyID: x.policy, ClaimedAt: x.at})
		}
		for range 10 {
			now := start.Add(time.Duration(rng.Int64N(int64(160 * 24 * time.Hour))))
			for _, days := range projections.ReportDays {
				got := c.Report("t", days, now)
				from := now.Add(-time.Duration(days) * 24 * time.Hour)
				want := map[string]map[string]int{} // policy -> "day product" -> n
				for _, x := range all {
					if x.at.After(from) && !x.at.After(now) {
						if want[x.policy] == nil {
							want[x.policy] = map[string]int{}
						}
						want[x.policy][x.at.Format(time.DateOnly)+" "+x.product]++
					}
				}
				for _, p := range got.Policies {
					cells := map[string]int{}
					total := 0
					for _, cell := range p.Cells {
						cells[cell.Date+" "+cell.ProductID] = cell.Count
						total += cell.Count
					}
					w := want[p.PolicyID]
					if w == nil {
						w = map[string]int{}
					}
					if !reflect.DeepEqual(cells, w) || total != p.Total {
						t.Fatalf("round %d, %d days to %s, policy %s: report %v (total %d), counted %v", round, days, now, p.PolicyID, cells, p.Total, w)
					}
				}
			}
		}
	}
}
