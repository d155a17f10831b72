package main

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/infra/natsjs"
	"github.com/seatflow/seatflow/infra/natstest"
)

// TestCapsHoldOnTwoInstances: a policy with a daily cap of 5 and a total
// cap of 8 serves 14 users signing in at once through two instances, on a
// single server (where claims append in parts, the policy's count ahead of
// its claims) and on a 3-node cluster (one all-or-nothing append), over
// HTTP on both and over NATS. Exactly 5 claim on the first day and the
// rest queue with reason daily_cap; when the UTC day rolls over (the
// injected clock moves) the granters serve the queue up to the total cap,
// 8; another day serves nobody more.
func TestCapsHoldOnTwoInstances(t *testing.T) {
	if testing.Short() {
		t.Skip("two instances")
	}
	for _, tc := range []struct {
		name  string
		nodes int
	}{{"single server", 1}, {"3-node cluster", 3}} {
		t.Run(tc.name, func(t *testing.T) { capsHoldOnTwoInstances(t, tc.nodes) })
	}
}

func capsHoldOnTwoInstances(t *testing.T, nodes int) {
	day1 := time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC)
	clock := newTestClock(day1)
	var args []string
	if nodes == 1 {
		args = []string{"--nats-url", natstest.RunJetStream(t).ClientURL()}
	} else {
		c := natstest.RunCluster(t, nodes)
		args = []string{"--nats-url", c.URLs(), "--replicas", "3"}
		defer c.WaitOnStreamLeader(natstest.Account, natsjs.StreamEvents)
	}
	var insts [2]*service
	for i := range insts {
		insts[i], _ = startServeWith(t, clock.tune, t.TempDir(), args...)
	}
	for _, s := range insts {
		waitFor(t, 60*time.Second, "readyz", func() bool { return s.do(t, "GET", "/readyz", "", nil).status == 200 })
	}
	a, b := insts[0], insts[1]
	admin, ingest := a.token(t, "contoso", "gina", "global-admin"), a.token(t, "contoso", "idp", "ingest")
	for id, seats := range map[string]int{"P": 4, "B": 20} {
		a.do(t, "POST", "/v1/products", admin, map[string]any{"product_id": id, "name": "Plan " + id,
			"services": []string{"mail"}, "licenses": seats, "self_service": "blocked"}).want(t, 201, "")
	}
	r := a.do(t, "POST", "/v1/policies", admin, map[string]any{"name": "Teams", "app": "teams",
		"products": []map[string]any{{"product_id": "P"}, {"product_id": "B"}}, "daily_cap": 5}).want(t, 201, "")
	policy := r.body["policy_id"].(string)
	if r.body["daily_cap"] != float64(5) || r.body["total_cap"] != nil {
		t.Fatalf("created policy: got caps %v/%v, want 5/null: %s", r.body["daily_cap"], r.body["total_cap"], r.raw)
	}
	r = b.do(t, "PATCH", "/v1/policies/"+policy, admin, map[string]any{"total_cap": 8}).want(t, 200, "")
	if r.body["daily_cap"] != float64(5) || r.body["total_cap"] != float64(8) {
		t.Fatalf("patched policy: got caps %v/%v, want 5/8: %s", r.body["daily_cap"], r.body["total_cap"], r.raw)
	}
	a.do(t, "PUT", "/v1/settings/auto-claim", admin, map[string]any{"enabled": true}).want(t, 200, "")
	_, js := a.connect(t)
	w := &acWorld{svc: a, admin: admin, ingest: ingest, policy: policy, created: r.header.Get("Seatflow-Position"), js: js}

	// 14 users at once: 5 over HTTP on each instance, 4 over NATS.
	at := day1.Add(-time.Minute)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		outcomes = map[string]int{}
	)
	for i := range 14 {
		user := fmt.Sprintf("u%02d", i)
		wg.Go(func() {
			if i >= 10 {
				w.signIn(t, "s-"+user, user, at)
				return
			}
			r := insts[i%2].do(t, "POST", "/v1/signins", ingest, map[string]any{"id": "s-" + user, "user_id": user, "app": "teams",
				"at": at.Format(time.RFC3339Nano)})
			mu.Lock()
			defer mu.Unlock()
			if r.status != 200 {
				outcomes[fmt.Sprintf("http %d", r.status)]++
				return
			}
			outcomes[fmt.Sprint(r.body["status"], "/", r.body["reason"])]++
		})
	}
	wg.Wait()
	var v policyView
	waitFor(t, 60*time.Second, "14 sign-ins decided", func() bool {
		v = w.policyView(t)
		return w.countClaims(t)+len(v.Queue) == 14
	})
	if n := w.countClaims(t); n != 5 {
		t.Fatalf("claims on day 1: got %d, want 5 (the daily cap); queue %v", n, v.Queue)
	}
	if outcomes["claimed/<nil>"]+outcomes["queued/daily_cap"] != 10 || outcomes["queued/daily_cap"] < 5 {
		t.Fatalf("HTTP outcomes: got %v, want claimed or queued/daily_cap, at least 5 queued", outcomes)
	}
	checkQueueReasons(t, a, admin, policy, events.QueueDailyCap, 9)

	// The next UTC day: the granters serve the queue up to the total cap.
	clock.Set(day1.AddDate(0, 0, 1))
	waitFor(t, 60*time.Second, "3 grants on day 2", func() bool { return w.countClaims(t) == 8 })
	if q := w.policyView(t).Queue; len(q) != 6 || q[0] != v.Queue[3] {
		t.Fatalf("queue on day 2: got %v, want the last 6 of %v", q, v.Queue)
	}
	// Another day: the total cap keeps the rest waiting.
	clock.Set(day1.AddDate(0, 0, 2))
	b.do(t, "POST", "/v1/signins", ingest, map[string]any{"id": "s-late", "user_id": "late", "app": "teams",
		"at": day1.AddDate(0, 0, 2).Format(time.RFC3339Nano)}).want(t, 200, "")
	waitFor(t, 30*time.Second, "the late user queued", func() bool { return len(w.policyView(t).Queue) == 7 })
	checkCapsOnStream(t, w, 5, 8)

	// Lifting the total cap lets the queue move on (daily cap 5 today).
	a.do(t, "PATCH", "/v1/policies/"+policy, admin, map[string]any{"total_cap": nil}).want(t, 200, "")
	waitFor(t, 60*time.Second, "5 more grants", func() bool { return w.countClaims(t) == 13 })
	checkCapsOnStream(t, w, 5, 13)
}

// checkQueueReasons checks that the policy's command answer lists n waiting
// users, each with reason.
func checkQueueReasons(t *testing.T, s *service, admin, policy, reason string, n int) {
	t.Helper()
	r := s.do(t, "PATCH", "/v1/policies/"+policy, admin, map[string]any{"daily_cap": 5}).want(t, 200, "")
	q, _ := r.body["queue"].([]any)
	if len(q) != n {
		t.Fatalf("queue: got %d, want %d: %s", len(q), n, r.raw)
	}
	for _, e := range q {
		if got := e.(map[string]any)["reason"]; got != reason {
			t.Fatalf("queue entry %v: got reason %v, want %s", e, got, reason)
		}
	}
}

// checkCapsOnStream folds the stream: no UTC day has more claims under the
// policy than daily, none more than total in all, and the policy's last
// count agrees with the claims.
func checkCapsOnStream(t *testing.T, w *acWorld, daily, total int) {
	t.Helper()
	reg := events.Default()
	byDay := map[string]int{}
	n := 0
	var last events.PolicyClaimsCounted
	for _, m := range w.streamData(t, "SEATFLOW_EVENTS", "sf.evt.contoso.>", "") {
		env, err := reg.Decode(m.Data)
		if err != nil {
			t.Fatal(err)
		}
		if c, ok := env.Data.(events.PolicyClaimsCounted); ok {
			last = c
		}
		for range events.Claims(env.Data) {
			byDay[env.OccurredAt.UTC().Format(time.DateOnly)]++
			n++
		}
	}
	for d, k := range byDay {
		if k > daily {
			t.Fatalf("day %s: %d claims, daily cap %d (%v)", d, k, daily, byDay)
		}
	}
	if n != total || last.Total != total {
		t.Fatalf("claims: got %d (policy counted %d), want %d", n, last.Total, total)
	}
}
