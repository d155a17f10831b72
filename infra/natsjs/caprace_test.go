package natsjs_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/infra/natstest"
)

// The capped race: a policy over one product with far more seats than
// its daily cap; capRaceUsers users sign in at once through capRaceServices
// services (each its own connection, store and cache), in batches, while
// other goroutines assign licenses of the same product directly, so claim
// appends keep meeting another writer of their product.
const (
	capRaceTenant   = "caprace"
	capRaceCap      = 40
	capRaceUsers    = 120
	capRaceServices = 3
	capRaceAssigns  = 60
)

// TestCappedClaimRace proves that a daily cap holds, and that the policy's
// count ends equal to the claims, under concurrent batched claims from
// several processes racing direct assignments of the same product: on a
// single server, where claims append in parts (the count first, reserving
// the claims' places, given back when the claims meet another writer), and
// on a 3-node cluster (count and claims in one atomic batch). The oracle
// checks invariants 1-3 at every position.
func TestCappedClaimRace(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cluster bool
	}{{"single server", false}, {"cluster R3", true}} {
		t.Run(tc.name, func(t *testing.T) {
			if !tc.cluster {
				runCappedClaimRace(t, natstest.RunJetStream(t).ClientURL(), 1, nil)
				return
			}
			if testing.Short() {
				t.Skip("3-node cluster")
			}
			c := natstest.RunCluster(t, 3)
			runCappedClaimRace(t, c.URLs(), 3, c)
		})
	}
}

func runCappedClaimRace(t *testing.T, urls string, replicas int, c *natstest.Cluster) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	adminJS, svcs, conflicts := raceServicesOn(ctx, t, urls, replicas, c, capRaceServices, domain.Config{AppendInParts: replicas == 1})
	meta := func() events.Meta { return events.Meta{Actor: "admin", CommandID: ulid.Make().String()} }
	capped := capRaceCap
	setup := []func() error{
		func() error {
			_, _, err := svcs[0].Product(ctx, capRaceTenant, "P", meta(), domain.AddProduct{Name: "P", Services: []string{"teams"},
				Licenses: capRaceUsers + capRaceAssigns, SelfService: events.SelfServiceBlocked})
			return err
		},
		func() error {
			_, _, err := svcs[0].Policy(ctx, capRaceTenant, "pol", meta(), domain.CreatePolicy{Name: "Teams", App: "teams",
				Products: []events.PolicyProduct{{ProductID: "P"}}})
			return err
		},
		func() error {
			_, _, err := svcs[0].Policy(ctx, capRaceTenant, "pol", meta(), domain.SetPolicyLimits{DailyCap: domain.OptionalInt{Set: true, Value: &capped}})
			return err
		},
		func() error { _, _, err := svcs[0].SetAutoClaim(ctx, capRaceTenant, meta(), true); return err },
	}
	for i, f := range setup {
		if err := f(); err != nil {
			t.Fatalf("setup step %d: %v", i, err)
		}
	}

	var (
		wg       sync.WaitGroup
		start    = make(chan struct{})
		mu       sync.Mutex
		outcomes = map[string]int{}
	)
	// Sign-ins in batches of 4, each batch on one service, retried whole
	// (as a partition redelivers it) after an error.
	for b := 0; b < capRaceUsers/4; b++ {
		svc := svcs[b%capRaceServices]
		var in []domain.SignIn
		for u := 4 * b; u < 4*b+4; u++ {
			in = append(in, domain.SignIn{ID: fmt.Sprintf("s%03d", u), UserID: domain.UserID(fmt.Sprintf("u%03d", u)), App: "teams", At: time.Now()})
		}
		wg.Go(func() {
			<-start
			for ctx.Err() == nil {
				outs, err := svc.ClaimBatch(ctx, capRaceTenant, in, domain.ClaimOptions{})
				if err != nil {
					time.Sleep(5 * time.Millisecond)
					continue
				}
				mu.Lock()
				for _, o := range outs {
					outcomes[string(o.Status)+"/"+o.Reason]++
				}
				mu.Unlock()
				return
			}
		})
	}
	for a := range capRaceAssigns {
		svc := svcs[a%capRaceServices]
		wg.Go(func() {
			<-start
			m := meta()
			for ctx.Err() == nil {
				if _, _, err := svc.Product(ctx, capRaceTenant, "P", m, domain.AssignLicense{UserID: domain.UserID(fmt.Sprintf("a%03d", a)),
					Source: events.Source{Kind: events.SourceManual}}); err != nil {
					time.Sleep(5 * time.Millisecond)
					continue
				}
				return
			}
		})
	}
	close(start)
	wg.Wait()
	if ctx.Err() != nil {
		t.Fatalf("the race did not finish: %v", ctx.Err())
	}

	msgs, f := foldRace(ctx, t, adminJS, capRaceTenant)
	tn := f.Tenant(capRaceTenant)
	var (
		last     events.PolicyClaimsCounted
		releases int
	)
	for _, m := range msgs {
		if cc, ok := m.Env.Data.(events.PolicyClaimsCounted); ok {
			if cc.Total < last.Total {
				releases++
			}
			last = cc
		}
	}
	t.Logf("%d appends refused by the concurrency check; %d reservations given back; outcomes %v", conflicts.Load(), releases, outcomes)
	if got := tn.ClaimCount(); got != capRaceCap {
		t.Errorf("claims: got %d, want the daily cap, %d", got, capRaceCap)
	}
	if last.Today != tn.ClaimCount() || last.Total != tn.ClaimCount() {
		t.Errorf("the policy's last count: today %d, total %d; want both %d, the claims stored", last.Today, last.Total, tn.ClaimCount())
	}
	if outcomes["claimed/"] != capRaceCap || outcomes["queued/"+events.QueueDailyCap] != capRaceUsers-capRaceCap {
		t.Errorf("outcomes: got %v, want %d claimed and %d queued for %s", outcomes, capRaceCap, capRaceUsers-capRaceCap, events.QueueDailyCap)
	}
	if got := tn.Assigned("P"); got != capRaceCap+capRaceAssigns {
		t.Errorf("licenses of P: got %d, want %d claimed and %d assigned", got, capRaceCap, capRaceAssigns)
	}
	if conflicts.Load() == 0 {
		t.Errorf("conflicts: got 0, want some: the services never raced")
	}
}
