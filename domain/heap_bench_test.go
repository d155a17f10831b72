package domain_test

import (
	"runtime"
	"testing"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/events/eventstest"
)

// BenchmarkClaimedUserHeap reports the live heap each claimed user costs
// in the state of the products they claimed (B/user), as the command
// service caches it: 20,000 users each claim a license once
// (eventstest.ManyClaims: batches of 50 over three products and two
// policies, every string its own allocation as decoded), folded into the
// products with EvolveProduct.
//
//	go test ./domain -run '^$' -bench ClaimedUserHeap -benchtime 1x
func BenchmarkClaimedUserHeap(b *testing.B) {
	const users = 20_000
	var perUser float64
	for range b.N {
		products := map[string]*domain.Product{}
		apply := func(evs []events.Envelope) {
			for _, e := range evs {
				if e.Aggregate.Kind != events.KindProduct {
					continue
				}
				p := products[e.Aggregate.ID]
				if p == nil {
					p = &domain.Product{ID: domain.ProductID(e.Aggregate.ID)}
					products[e.Aggregate.ID] = p
				}
				domain.EvolveProduct(p, e)
			}
		}
		apply(eventstest.ClaimSetup())
		before := liveHeap()
		apply(eventstest.ManyClaims(users))
		after := liveHeap()
		runtime.KeepAlive(products)
		perUser = float64(after-before) / users
	}
	b.ReportMetric(perUser, "B/user")
}

// liveHeap is the heap in use after a full collection.
func liveHeap() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}
