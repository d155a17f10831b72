package domain_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/events"
)

// memStore is the least a Store can be: each aggregate's events in a slice
// and its check against the last one's position. Benchmarks use it so
// that what they measure is the service's own work.
type memStore struct {
	mu   sync.Mutex
	pos  uint64
	aggs map[string][]events.Envelope
}

func newMemStore() *memStore { return &memStore{aggs: map[string][]events.Envelope{}} }

func memKey(tenant string, agg events.Aggregate) string {
	return tenant + "/" + string(agg.Kind) + "/" + agg.ID
}

func (s *memStore) Load(_ context.Context, tenant string, agg events.Aggregate, after uint64) ([]events.Envelope, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []events.Envelope
	for _, e := range s.aggs[memKey(tenant, agg)] {
		if e.Position > after {
			out = append(out, e)
		}
	}
	return out, nil
}

func (s *memStore) Append(_ context.Context, writes ...domain.Write) ([]uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, w := range writes {
		evs := s.aggs[memKey(w.Events[0].Tenant, w.Events[0].Aggregate)]
		var last uint64
		if len(evs) > 0 {
			last = evs[len(evs)-1].Position
		}
		if last != w.Expected {
			return nil, fmt.Errorf("expected %d, last is %d: %w", w.Expected, last, domain.ErrConcurrency)
		}
	}
	var out []uint64
	for _, w := range writes {
		k := memKey(w.Events[0].Tenant, w.Events[0].Aggregate)
		for _, e := range w.Events {
			s.pos++
			e.Position = s.pos
			s.aggs[k] = append(s.aggs[k], e)
			out = append(out, s.pos)
		}
	}
	return out, nil
}

// BenchmarkClaimBatch measures the command service deciding and storing
// one partition's batch of 250 first sign-ins of one tenant on one
// product (the one-tenant bench's common batch), in parts as on a single
// server and in one append as on a cluster, with and without a cap on the
// policy: time and garbage per claim (B/claim, allocs/claim), which the
// latency scenario's p99 is made of. The store is in memory.
//
//	go test ./domain -run '^$' -bench ClaimBatch -benchmem
func BenchmarkClaimBatch(b *testing.B) {
	const batch = 250
	for _, mode := range []struct {
		name    string
		inParts bool
		capped  bool
	}{{"in parts", true, false}, {"in parts capped", true, true}, {"one append", false, false}} {
		b.Run(mode.name, func(b *testing.B) {
			ctx := context.Background()
			store := newMemStore()
			n := 0
			svc, err := domain.NewService(store, domain.Config{Now: time.Now, AppendInParts: mode.inParts,
				NewID: func() string { n++; return "id-" + strconv.Itoa(n) }})
			if err != nil {
				b.Fatal(err)
			}
			meta := func() events.Meta { n++; return events.Meta{Actor: "ada", CommandID: "admin-" + strconv.Itoa(n)} }
			if _, _, err := svc.Product(ctx, "contoso", "P", meta(), domain.AddProduct{Name: "P", Services: []string{"mail"},
				Licenses: 10_000_000, SelfService: "blocked"}); err != nil {
				b.Fatal(err)
			}
			if _, _, err := svc.Policy(ctx, "contoso", "p1", meta(), domain.CreatePolicy{Name: "Teams", App: "teams",
				Products: []events.PolicyProduct{{ProductID: "P"}}}); err != nil {
				b.Fatal(err)
			}
			if mode.capped {
				limit := 10_000_000
				if _, _, err := svc.Policy(ctx, "contoso", "p1", meta(), domain.SetPolicyLimits{DailyCap: domain.OptionalInt{Set: true, Value: &limit}}); err != nil {
					b.Fatal(err)
				}
			}
			if _, _, err := svc.SetAutoClaim(ctx, "contoso", meta(), true); err != nil {
				b.Fatal(err)
			}
			at := time.Now()
			users := 0
			in := make([]domain.SignIn, batch)
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				for i := range in {
					users++
					id := strconv.Itoa(users)
					in[i] = domain.SignIn{ID: "s" + id, UserID: domain.UserID("u" + id), App: "teams", At: at}
				}
				b.StartTimer()
				outs, err := svc.ClaimBatch(ctx, "contoso", in, domain.ClaimOptions{})
				if err != nil {
					b.Fatal(err)
				}
				if outs[batch-1].Status != domain.ClaimClaimed {
					b.Fatalf("last sign-in: %s %s", outs[batch-1].Status, outs[batch-1].Reason)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/claim")
		})
	}
}
