package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seatflow/seatflow/infra/natsjs"
	"github.com/seatflow/seatflow/infra/natstest"
	"github.com/seatflow/seatflow/infra/oracle"
)

// TestHTTPSignInsOnTwoInstancesClaimOncePerPolicy: invariant 3 for
// sign-ins posted over HTTP. Two instances share one NATS (a single server,
// then a 3-node cluster); every user signs in through both at the same
// moment, under two sign-in ids, while seats of the policy's primary
// product are bought one at a time through either instance. Deciding on
// two instances at once, one could claim the backup (the primary full in
// what it knows) and the other the primary (a seat just bought): each
// append carries the check of the product it writes, not of the one it
// read. Every sign-in of a tenant is decided by the partition that owns
// it, so each user claims exactly once under the policy, and the folded
// stream shows no violation at any position.
func TestHTTPSignInsOnTwoInstancesClaimOncePerPolicy(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("two instances")
	}
	for _, tc := range []struct {
		name  string
		nodes int
	}{{"single server", 1}, {"3-node cluster", 3}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var url string
			args := []string{}
			if tc.nodes == 1 {
				url = natstest.RunJetStream(t).ClientURL()
			} else {
				c := natstest.RunCluster(t, tc.nodes)
				url = c.URLs()
				args = append(args, "--replicas", "3")
				defer c.WaitOnStreamLeader(natstest.Account, natsjs.StreamEvents)
			}
			args = append(args, "--nats-url", url)
			var insts [2]*service
			for i := range insts {
				insts[i], _ = startServe(t, t.TempDir(), args...)
			}
			for _, s := range insts {
				waitFor(t, 60*time.Second, "readyz", func() bool { return s.do(t, "GET", "/readyz", "", nil).status == 200 })
			}
			const tenant, users = "twice", 60
			admin, ingest := token(t, tenant, "ada", "global-admin"), token(t, tenant, "idp", "ingest")
			a := insts[0]
			for id, seats := range map[string]int{"P": 0, "B": users} {
				a.do(t, "POST", "/v1/products", admin, map[string]any{"product_id": id, "name": "Plan " + id,
					"services": []string{"mail"}, "licenses": seats, "self_service": "blocked"}).want(t, 201, "")
			}
			r := a.do(t, "POST", "/v1/policies", admin, map[string]any{"name": "Teams", "app": "teams",
				"products": []map[string]any{{"product_id": "P"}, {"product_id": "B"}}}).want(t, 201, "")
			policy, _ := r.body["policy_id"].(string)
			a.do(t, "PUT", "/v1/settings/auto-claim", admin, map[string]any{"enabled": true}).want(t, 200, "")

			// Purchases of P, one seat at a time, alternating between the
			// instances, for as long as the sign-ins go on.
			ctx, stop := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			bought := 0
			wg.Go(func() {
				for i := 0; ctx.Err() == nil; i++ {
					r := insts[i%2].do(t, "POST", "/v1/products/P/licenses", admin, map[string]any{"add": 1},
						"Idempotency-Key", fmt.Sprintf("buy-%d", i))
					if r.status != 200 {
						t.Errorf("purchase %d: %d %s", i, r.status, r.raw)
						return
					}
					bought++
					time.Sleep(3 * time.Millisecond)
				}
			})
			at := time.Now().UTC()
			var (
				signins sync.WaitGroup
				retried atomic.Int32
			)
			for u := range users {
				user := fmt.Sprintf("u%02d", u)
				start := make(chan struct{})
				for i, s := range insts {
					signins.Go(func() {
						<-start
						body := map[string]any{"id": fmt.Sprintf("%s-via-%d", user, i), "user_id": user, "app": "teams", "at": at.Format(time.RFC3339Nano)}
						r := s.do(t, "POST", "/v1/signins", ingest, body)
						// As a client should: a sign-in stored whose outcome
						// did not come in time is posted again, same id.
						for try := 0; try < 3 && r.status == 503 && r.body["code"] == "outcome_unknown"; try++ {
							retried.Add(1)
							r = s.do(t, "POST", "/v1/signins", ingest, body)
						}
						if r.status != 200 {
							t.Errorf("sign-in of %s via instance %d: %d %s", user, i, r.status, r.raw)
						}
					})
				}
				close(start)
				time.Sleep(5 * time.Millisecond)
			}
			signins.Wait()
			stop()
			wg.Wait()

			rctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_, js := natstest.Connect(t, url)
			msgs, err := oracle.Read(rctx, js)
			if err != nil {
				t.Fatal(err)
			}
			f := oracle.FoldAll(msgs, true)
			for _, v := range f.Violations() {
				t.Errorf("%s", v)
			}
			ten := f.Tenant(tenant)
			onP := 0
			for u := range users {
				user := fmt.Sprintf("u%02d", u)
				if n := ten.Claims[oracle.PolicyUser{Policy: policy, User: user}]; n != 1 {
					t.Errorf("%s claimed %d times under the policy, want once", user, n)
				}
				if _, ok := ten.Holders["P"][user]; ok {
					onP++
				}
			}
			t.Logf("%d seats of P bought meanwhile; %d users claimed P, %d B; %d sign-ins posted again after outcome_unknown", bought, onP, users-onP, retried.Load())
		})
	}
}
