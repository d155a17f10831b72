package projections_test

import (
	"runtime"
	"testing"

	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/events/eventstest"
	"github.com/seatflow/seatflow/projections"
)

// heapUsers is how many users claim in BenchmarkClaimedUserHeap.
const heapUsers = 20_000

// BenchmarkClaimedUserHeap reports the live heap each claimed user costs
// in the read models (B/user): heapUsers users each claim a license once
// (eventstest.ManyClaims: batches of 50 over three products, two policies
// and 30 days, every string its own allocation as decoded). Each read
// model is measured on its own, so strings it shares with the event (user
// ids) count for it, and all of them together ("all").
//
//	go test ./projections -run '^$' -bench ClaimedUserHeap -benchtime 1x
func BenchmarkClaimedUserHeap(b *testing.B) {
	models := []struct {
		name string
		make func() []projections.Projection
	}{
		{"claims", func() []projections.Projection { return []projections.Projection{projections.NewClaims()} }},
		{"reclaim_candidates", func() []projections.Projection { return []projections.Projection{projections.NewReclaimCandidates()} }},
		{"user_licenses", func() []projections.Projection { return []projections.Projection{projections.NewUserLicenses()} }},
		{"license_history", func() []projections.Projection { return []projections.Projection{projections.NewLicenseHistory()} }},
		{"license_counts", func() []projections.Projection { return []projections.Projection{projections.NewLicenseCounts()} }},
		{"policy_list", func() []projections.Projection { return []projections.Projection{projections.NewPolicyList()} }},
		{"as_of_index", func() []projections.Projection {
			return []projections.Projection{projections.NewAsOfIndex(projections.DefaultAsOfEvery)}
		}},
		{"all", func() []projections.Projection {
			return []projections.Projection{projections.NewClaims(), projections.NewReclaimCandidates(), projections.NewUserLicenses(),
				projections.NewLicenseHistory(), projections.NewLicenseCounts(), projections.NewPolicyList(),
				projections.NewAsOfIndex(projections.DefaultAsOfEvery), projections.NewForecastWarnings(),
				projections.NewRequests(), projections.NewDirectory()}
		}},
	}
	for _, m := range models {
		b.Run(m.name, func(b *testing.B) {
			var perUser float64
			for range b.N {
				perUser = claimedUserHeap(m.make(), heapUsers)
			}
			b.ReportMetric(perUser, "B/user")
		})
	}
}

// claimedUserHeap applies eventstest.ClaimSetup and then users claims to
// ps and returns the live heap the claims added, per user.
func claimedUserHeap(ps []projections.Projection, users int) float64 {
	apply := func(evs []events.Envelope) {
		for _, e := range evs {
			for _, p := range ps {
				p.Apply(e)
			}
		}
	}
	apply(eventstest.ClaimSetup())
	before := liveHeap()
	apply(eventstest.ManyClaims(users))
	after := liveHeap()
	runtime.KeepAlive(ps)
	return float64(after-before) / float64(users)
}

// liveHeap is the heap in use after a full collection.
func liveHeap() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}
