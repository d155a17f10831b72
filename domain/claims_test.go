package domain_test

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/events"
)

// claimGiven is the view of a batch decision as plain values: the switch,
// policy p1 for app "teams" listing P (chat off) then B, each product's
// seats and holders, and who waits.
type claimGiven struct {
	off, disabled  bool
	pSeats, bSeats int
	holdsP, holdsB []string
	claimedB       []string // claimed B under p1 once, no longer hold it
	queue          []string
	done           []string // sign-in ids whose events already stand
	// dailyCap and totalCap are p1's caps (0: off); today and total are
	// its counts (today's on the day of now, or on yesterday with stale).
	dailyCap, totalCap int
	today, total       int
	stale              bool
	queueReason        string
	lowAlerted         bool // P's PoolLow was recorded after its holders
}

func (g claimGiven) view() domain.ClaimView {
	product := func(id string, services []string, seats int, holders, claimed []string) *domain.Product {
		evs := []events.Data{events.ProductAdded{ProductID: id, Name: id, Services: services, Licenses: seats, SelfService: events.SelfServiceBlocked}}
		for _, u := range claimed {
			evs = append(evs, events.LicenseClaimed{ProductID: id, UserID: u, PolicyID: "p1", App: "teams", DisabledServices: []string{}, SigninID: "old-" + u, ClaimedAt: now.AddDate(0, 0, -9)},
				events.LicenseUnassigned{ProductID: id, UserID: u})
		}
		for _, u := range holders {
			evs = append(evs, events.LicenseAssigned{ProductID: id, UserID: u, DisabledServices: []string{}, Source: events.Source{Kind: events.SourceManual}})
		}
		return fold(id, evs...)
	}
	b := product("B", []string{"mail"}, g.bSeats, g.holdsB, g.claimedB)
	p1 := &domain.Policy{ID: "p1", Name: "Teams", App: "teams", Enabled: !g.disabled,
		Products: []events.PolicyProduct{pp("P", "chat"), pp("B")}, Listed: []domain.ProductID{"P", "B"}}
	for _, u := range g.queue {
		domain.EvolvePolicy(p1, events.Envelope{Data: events.UserQueued{PolicyID: "p1", UserID: u, SigninID: "q-" + u, Reason: g.queueReason}})
	}
	if g.dailyCap > 0 || g.totalCap > 0 {
		lc := events.PolicyLimitsChanged{PolicyID: "p1"}
		if g.dailyCap > 0 {
			lc.DailyCap = &g.dailyCap
		}
		if g.totalCap > 0 {
			lc.TotalCap = &g.totalCap
		}
		domain.EvolvePolicy(p1, events.Envelope{Data: lc})
		day := domain.Day(now)
		if g.stale {
			day = domain.Day(now.AddDate(0, 0, -1))
		}
		domain.EvolvePolicy(p1, events.Envelope{Data: events.PolicyClaimsCounted{PolicyID: "p1", Day: day, Today: g.today, Total: g.total}})
	}
	P := product("P", []string{"mail", "chat"}, g.pSeats, g.holdsP, nil)
	if g.lowAlerted {
		domain.EvolveProduct(P, events.Envelope{Data: events.PoolLow{PolicyID: "p1", ProductID: "P", Available: P.Available(), Threshold: 1}})
	}
	return domain.ClaimView{
		Org:      &domain.Org{AutoClaim: !g.off, AppPolicies: map[string]domain.PolicyID{"teams": "p1"}},
		Policies: map[domain.PolicyID]*domain.Policy{"p1": p1},
		Products: map[domain.ProductID]*domain.Product{
			"P": P,
			"B": b,
		},
		Done: func(id string) bool {
			for _, d := range g.done {
				if d == id {
					return true
				}
			}
			return false
		},
	}
}

// si is sign-in "id:user" (app teams) or "id:user:app".
func si(spec string) domain.SignIn {
	parts := strings.Split(spec, ":")
	app := "teams"
	if len(parts) > 2 {
		app = parts[2]
	}
	return domain.SignIn{ID: parts[0], UserID: domain.UserID(parts[1]), App: app, At: now.Add(-time.Hour)}
}

// change renders an event as "agg type user" (or "agg type" without a user).
func change(c domain.BatchChange) string {
	s := string(c.Agg.Kind) + "/" + c.Agg.ID + " " + c.Data.EventType()
	switch e := c.Data.(type) {
	case events.LicenseClaimed:
		s += " " + e.UserID
	case events.UserQueued:
		s += " " + e.UserID + " " + e.Reason
	case events.PolicyClaimsCounted:
		s += fmt.Sprintf(" %s %d/%d", e.Day, e.Today, e.Total)
	}
	return s
}

func TestDecideClaims(t *testing.T) {
	for _, tc := range []struct {
		name    string
		given   claimGiven
		when    []string
		then    []string // events, in order
		outcome []string // status[/product] per sign-in, or "error"
	}{
		{"fills the primary, then the backup, then queues in arrival order",
			claimGiven{pSeats: 2, bSeats: 1}, []string{"s1:u1", "s2:u2", "s3:u3", "s4:u4", "s5:u5"},
			[]string{"product/P LicenseClaimed u1", "product/P PoolLow", "product/P LicenseClaimed u2",
				"product/B LicenseClaimed u3", "product/B PolicyExhausted", "policy/p1 UserQueued u4 no_seats", "policy/p1 UserQueued u5 no_seats"},
			[]string{"claimed/P", "claimed/P", "claimed/B", "queued(no_seats)", "queued(no_seats)"}},
		{"a licensed user signs in again: nothing",
			claimGiven{pSeats: 2, bSeats: 1, holdsB: []string{"u1"}}, []string{"s1:u1"},
			nil, []string{"already_licensed/B"}},
		{"the same user twice in one batch claims once",
			claimGiven{pSeats: 5, bSeats: 1}, []string{"s1:u1", "s2:u1"},
			[]string{"product/P LicenseClaimed u1"}, []string{"claimed/P", "already_licensed/P"}},
		{"the same sign-in twice in one batch is one sign-in",
			claimGiven{pSeats: 5, bSeats: 1}, []string{"s1:u1", "s1:u1"},
			[]string{"product/P LicenseClaimed u1"}, []string{"claimed/P", "claimed/P"}},
		{"a redelivered sign-in whose claim stands answers claimed",
			claimGiven{pSeats: 5, bSeats: 1, holdsP: []string{"u1"}, done: []string{"s1"}}, []string{"s1:u1"},
			nil, []string{"claimed/P"}},
		{"switch off", claimGiven{off: true, pSeats: 5}, []string{"s1:u1"}, nil, []string{"off"}},
		{"policy off", claimGiven{disabled: true, pSeats: 5}, []string{"s1:u1"}, nil, []string{"off"}},
		{"no policy for the app", claimGiven{pSeats: 5}, []string{"s1:u1:word"}, nil, []string{"no_policy"}},
		{"a user claims at most once under a policy",
			claimGiven{pSeats: 5, bSeats: 5, claimedB: []string{"u1"}}, []string{"s1:u1", "s2:u2"},
			[]string{"product/P LicenseClaimed u2"}, []string{"already_claimed", "claimed/P"}},
		{"newcomers queue behind those already waiting",
			claimGiven{pSeats: 5, bSeats: 5, queue: []string{"w1"}}, []string{"s1:u1", "s2:w1"},
			[]string{"policy/p1 UserQueued u1 no_seats"}, []string{"queued(no_seats)", "queued"}},
		{"a daily cap: claims up to it, each counted on the policy, then queues with the reason",
			claimGiven{pSeats: 5, bSeats: 5, dailyCap: 3, today: 1, total: 7}, []string{"s1:u1", "s2:u2", "s3:u3", "s4:u4"},
			[]string{"product/P LicenseClaimed u1", "policy/p1 PolicyClaimsCounted 2026-11-23 2/8", "product/P LicenseClaimed u2",
				"policy/p1 PolicyClaimsCounted 2026-11-23 3/9", "policy/p1 UserQueued u3 daily_cap", "policy/p1 UserQueued u4 daily_cap"},
			[]string{"claimed/P", "claimed/P", "queued(daily_cap)", "queued(daily_cap)"}},
		{"a daily cap counts the UTC day of now: yesterday's claims do not count",
			claimGiven{pSeats: 5, bSeats: 5, dailyCap: 1, today: 1, total: 1, stale: true}, []string{"s1:u1", "s2:u2"},
			[]string{"product/P LicenseClaimed u1", "policy/p1 PolicyClaimsCounted 2026-11-23 1/2", "policy/p1 UserQueued u2 daily_cap"},
			[]string{"claimed/P", "queued(daily_cap)"}},
		{"a total cap reached queues everyone with its reason",
			claimGiven{pSeats: 5, bSeats: 5, totalCap: 4, dailyCap: 10, total: 4}, []string{"s1:u1"},
			[]string{"policy/p1 UserQueued u1 total_cap"}, []string{"queued(total_cap)"}},
		{"the total cap wins over the daily cap when both are reached",
			claimGiven{pSeats: 5, bSeats: 5, totalCap: 2, dailyCap: 2, today: 1, total: 1}, []string{"s1:u1", "s2:u2"},
			[]string{"product/P LicenseClaimed u1", "policy/p1 PolicyClaimsCounted 2026-11-23 2/2", "policy/p1 UserQueued u2 total_cap"},
			[]string{"claimed/P", "queued(total_cap)"}},
		{"under the cap but out of seats: no_seats",
			claimGiven{pSeats: 0, bSeats: 0, dailyCap: 5}, []string{"s1:u1"},
			[]string{"policy/p1 UserQueued u1 no_seats"}, []string{"queued(no_seats)"}},
		{"a waiting user signs in again: queued, with the reason they wait",
			claimGiven{pSeats: 5, bSeats: 5, dailyCap: 1, today: 1, queue: []string{"w1"}, queueReason: "daily_cap"}, []string{"s1:w1"},
			nil, []string{"queued(daily_cap)"}},
		{"licensed users pass a reached cap untouched",
			claimGiven{pSeats: 5, bSeats: 5, dailyCap: 1, today: 1, holdsP: []string{"u1"}}, []string{"s1:u1"},
			nil, []string{"already_licensed/P"}},
		{"seats taken below the threshold by assignments: the next claim records the PoolLow owed",
			claimGiven{pSeats: 3, bSeats: 5, holdsP: []string{"h1", "h2"}}, []string{"s1:u1", "s2:u2"},
			[]string{"product/P LicenseClaimed u1", "product/P PoolLow", "product/B LicenseClaimed u2"},
			[]string{"claimed/P", "claimed/B"}},
		{"a full product owing its PoolLow records it when a claim passes it over",
			claimGiven{pSeats: 2, bSeats: 5, holdsP: []string{"h1", "h2"}}, []string{"s1:u1", "s2:u2"},
			[]string{"product/P PoolLow", "product/B LicenseClaimed u1", "product/B LicenseClaimed u2"},
			[]string{"claimed/B", "claimed/B"}},
		{"every product full: the PoolLow owed is recorded with the queueing",
			claimGiven{pSeats: 2, bSeats: 0, holdsP: []string{"h1", "h2"}}, []string{"s1:u1"},
			[]string{"product/P PoolLow", "policy/p1 UserQueued u1 no_seats"},
			[]string{"queued(no_seats)"}},
		{"a PoolLow standing is not recorded again",
			claimGiven{pSeats: 3, bSeats: 5, holdsP: []string{"h1", "h2"}, lowAlerted: true}, []string{"s1:u1"},
			[]string{"product/P LicenseClaimed u1"}, []string{"claimed/P"}},
		{"a product never above the threshold owes no PoolLow",
			claimGiven{pSeats: 1, bSeats: 5}, []string{"s1:u1"},
			[]string{"product/P LicenseClaimed u1"}, []string{"claimed/P"}},
		{"a bad sign-in is refused alone",
			claimGiven{pSeats: 5}, []string{"s1:u1", "s2:bad user", "s3:u3"},
			[]string{"product/P LicenseClaimed u1", "product/P LicenseClaimed u3"}, []string{"claimed/P", "error", "claimed/P"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var in []domain.SignIn
			for _, s := range tc.when {
				in = append(in, si(s))
			}
			view := tc.given.view()
			before := view.Products["P"].Assigned()
			changes, decisions := domain.DecideClaims(view, in, domain.ClaimOptions{LowSeats: 1}, now)
			var got []string
			for _, c := range changes {
				got = append(got, change(c))
			}
			if !reflect.DeepEqual(got, tc.then) {
				t.Errorf("events: got %q, want %q", got, tc.then)
			}
			var outs []string
			for _, d := range decisions {
				o := string(d.Outcome.Status)
				if d.Outcome.ProductID != "" {
					o += "/" + string(d.Outcome.ProductID)
				}
				if d.Outcome.Reason != "" {
					o += "(" + d.Outcome.Reason + ")"
				}
				if d.Err != nil {
					o = "error"
				}
				outs = append(outs, o)
			}
			if !reflect.DeepEqual(outs, tc.outcome) {
				t.Errorf("outcomes: got %q, want %q", outs, tc.outcome)
			}
			if view.Products["P"].Assigned() != before {
				t.Errorf("the decider changed the view")
			}
		})
	}
}

func TestDecideClaimsRefusesTimesOutsideTheWindow(t *testing.T) {
	g := claimGiven{pSeats: 5}
	for _, at := range []time.Time{{}, time.Date(1999, 12, 31, 0, 0, 0, 0, time.UTC), now.Add(25 * time.Hour),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)} {
		_, d := domain.DecideClaims(g.view(), []domain.SignIn{{ID: "s1", UserID: "u1", App: "teams", At: at}}, domain.ClaimOptions{}, now)
		var verr *domain.ValidationError
		if !errors.As(d[0].Err, &verr) || verr.Field != "at" {
			t.Errorf("at %s: got %v, want a validation error of at", at, d[0].Err)
		}
	}
}

// batch runs sign-ins "id:user" through ClaimBatch and returns each
// outcome's status[/product].
func (w *claimWorld) batch(svc *domain.Service, specs ...string) []string {
	w.t.Helper()
	var in []domain.SignIn
	for _, s := range specs {
		in = append(in, si(s))
	}
	outs, err := svc.ClaimBatch(ctx, "contoso", in, domain.ClaimOptions{})
	if err != nil {
		w.t.Fatalf("batch %v: %v", specs, err)
	}
	var got []string
	for _, o := range outs {
		s := string(o.Status)
		if o.ProductID != "" {
			s += "/" + string(o.ProductID)
		}
		if o.Err != nil {
			s = "error"
		}
		got = append(got, s)
	}
	return got
}

func TestClaimBatchAppendsOnceAndRetriesOnConflict(t *testing.T) {
	for _, tc := range []struct {
		name    string
		inParts bool
		stored  []string   // after the rival's claim
		written [][]string // the batch's appends
	}{
		{"one atomic append", false,
			[]string{"UserQueued s3", "LicenseClaimed s2", "PolicyExhausted s2", "LicenseClaimed s1"},
			[][]string{{"policy/p1", "product/B", "product/P"}}},
		// One plain append per aggregate: s1's claim of P; s2's claim of
		// B with the policy's exhaustion (recorded on its last product);
		// s3's queueing on the policy.
		{"in parts", true,
			[]string{"LicenseClaimed s1", "LicenseClaimed s2", "PolicyExhausted s2", "UserQueued s3"},
			[][]string{{"product/P"}, {"product/B"}, {"policy/p1"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newClaimWorld(t, 2, 1, true)
			if tc.inParts {
				w.svc = newService(t, w.store, inParts)
			}
			appended := len(w.store.log)
			// Another instance takes P's last seat but one while the batch
			// is being decided: the append conflicts, the batch reloads and
			// decides again.
			w.store.before = func(*faultyStore) {
				other := newService(t, w.store)
				if _, _, err := other.Claim(ctx, "contoso", domain.SignIn{ID: "x1", UserID: "rival", App: "teams", At: now}, domain.ClaimOptions{}); err != nil {
					t.Error(err)
				}
			}
			got := w.batch(w.svc, "s1:u1", "s2:u2", "s3:u3")
			if want := []string{"claimed/P", "claimed/B", "queued"}; !reflect.DeepEqual(got, want) {
				t.Fatalf("got %v, want %v", got, want)
			}
			var types []string
			for _, e := range w.store.log[appended:] {
				types = append(types, e.Type+" "+e.CommandID)
			}
			if want := append([]string{"LicenseClaimed x1"}, tc.stored...); !reflect.DeepEqual(types, want) {
				t.Errorf("stored %q, want %q", types, want)
			}
			if got := w.store.written[len(w.store.written)-len(tc.written):]; !reflect.DeepEqual(got, tc.written) {
				t.Errorf("appends wrote %q, want %q", got, tc.written)
			}
			// Delivered again: nothing new, the same answers.
			n := len(w.store.log)
			if got := w.batch(w.svc, "s1:u1", "s2:u2", "s3:u3"); !reflect.DeepEqual(got, []string{"claimed/P", "claimed/B", "queued"}) {
				t.Errorf("redelivered: got %v", got)
			}
			if len(w.store.log) != n {
				t.Errorf("a redelivered batch appended %d events", len(w.store.log)-n)
			}
		})
	}
}

// TestClaimBatchObservesOtherWriters: a policy turned off by another
// instance is seen through Observe (the stream): claims read nothing; a
// refusal is confirmed against the store's head before it is given.
func TestClaimBatchObservesOtherWriters(t *testing.T) {
	w := newClaimWorld(t, 5, 5, true)
	if got := w.batch(w.svc, "s1:u1"); got[0] != "claimed/P" {
		t.Fatalf("got %v", got)
	}
	other := newService(t, w.store)
	from := len(w.store.log)
	if _, _, err := other.Policy(ctx, "contoso", "p1", w.meta(), domain.SetPolicyEnabled{Enabled: false}); err != nil {
		t.Fatal(err)
	}
	loads := w.store.loads
	if got := w.batch(w.svc, "s2:u2"); got[0] != "claimed/P" {
		t.Fatalf("before the stream delivered the change: got %v (the cache is not read again)", got)
	}
	if w.store.loads != loads {
		t.Errorf("a claim read the store %d times, want none", w.store.loads-loads)
	}
	for _, e := range w.store.log[from:] {
		w.svc.Observe(e)
	}
	// Turning the policy off unbinds it from its app.
	if got := w.batch(w.svc, "s3:u3"); got[0] != "no_policy" {
		t.Errorf("after the stream delivered the change: got %v, want no_policy", got)
	}
}

// TestClaimBatchConfirmsARefusal: auto-claim turned on, and a policy
// created, through another instance a moment ago and not yet delivered by
// the stream: a sign-in's "off" or "no_policy" on the cached state is
// confirmed against the store and the sign-in claims.
func TestClaimBatchConfirmsARefusal(t *testing.T) {
	w := newClaimWorld(t, 5, 5, true)
	if _, _, err := w.svc.Policy(ctx, "contoso", "p1", w.meta(), domain.SetPolicyEnabled{Enabled: false}); err != nil {
		t.Fatal(err)
	}
	other := newService(t, w.store)
	if got := w.batch(w.svc, "s1:u1"); got[0] != "no_policy" {
		t.Fatalf("policy off: got %v", got)
	}
	// Turned on again elsewhere; this instance has not observed it.
	if _, _, err := other.Policy(ctx, "contoso", "p1", w.meta(), domain.SetPolicyEnabled{Enabled: true}); err != nil {
		t.Fatal(err)
	}
	if got := w.batch(w.svc, "s2:u2"); got[0] != "claimed/P" {
		t.Fatalf("policy on again, not yet observed: got %v, want the refusal confirmed away", got)
	}
}

// TestClaimBatchOneEventPerProduct: claims on one product decided together
// are stored as one LicensesClaimed; each sign-in is still recognised when
// delivered again, by this instance and by one that loads the product.
func TestClaimBatchOneEventPerProduct(t *testing.T) {
	w := newClaimWorld(t, 5, 5, true)
	from := len(w.store.log)
	if got := w.batch(w.svc, "s1:u1", "s2:u2", "s3:u3"); !reflect.DeepEqual(got, []string{"claimed/P", "claimed/P", "claimed/P"}) {
		t.Fatalf("got %v", got)
	}
	stored := w.store.log[from:]
	if len(stored) != 1 || stored[0].Type != events.TypeLicensesClaimed || len(stored[0].Data.(events.LicensesClaimed).Claims) != 3 {
		t.Fatalf("stored %+v, want one LicensesClaimed of 3", stored)
	}
	for _, svc := range []*domain.Service{w.svc, newService(t, w.store)} {
		if got := w.batch(svc, "s2:u2", "s4:u1"); !reflect.DeepEqual(got, []string{"claimed/P", "already_licensed/P"}) {
			t.Errorf("again: got %v, want claimed/P already_licensed/P", got)
		}
	}
	if len(w.store.log) != from+1 {
		t.Errorf("redelivered sign-ins appended %d events", len(w.store.log)-from-1)
	}
	p, _, err := w.svc.Product(ctx, "contoso", "P", w.meta(), domain.SetSelfService{SelfService: "blocked"})
	if err != nil || p.Assigned != 3 {
		t.Errorf("P: %+v %v, want 3 assigned", p, err)
	}
}

// TestConcurrentAssignmentsGroupCommit: concurrent direct assignments of
// one product each get their own answer (assigned, no seat left, already
// assigned), never more than the seats, and a retried command is replayed.
func TestConcurrentAssignmentsGroupCommit(t *testing.T) {
	w := newClaimWorld(t, 1, 1, false)
	if _, _, err := w.svc.Product(ctx, "contoso", "A", w.meta(), domain.AddProduct{Name: "A", Licenses: 30, SelfService: "blocked"}); err != nil {
		t.Fatal(err)
	}
	from := len(w.store.log)
	var (
		mu    sync.Mutex
		codes = map[string]int{}
		wg    sync.WaitGroup
	)
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			user := domain.UserID(fmt.Sprintf("u%d", i%45)) // five users asked for twice
			_, _, err := w.svc.Product(ctx, "contoso", "A", events.Meta{Actor: "ada", CommandID: fmt.Sprintf("as-%d", i)},
				domain.AssignLicense{UserID: user, Source: events.Source{Kind: events.SourceManual}})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				codes["ok"]++
			case errors.Is(err, domain.ErrNoLicensesAvailable):
				codes["full"]++
			case errors.Is(err, domain.ErrAlreadyAssigned):
				codes["twice"]++
			default:
				t.Errorf("assignment %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	if codes["ok"] != 30 || codes["full"]+codes["twice"] != 20 {
		t.Fatalf("outcomes %v, want 30 assigned and 20 refused", codes)
	}
	holders := map[string]bool{}
	for _, e := range w.store.log[from:] {
		for _, a := range events.Assignments(e.Data) {
			if holders[a.UserID] {
				t.Fatalf("%s assigned twice", a.UserID)
			}
			holders[a.UserID] = true
		}
	}
	if len(holders) != 30 {
		t.Fatalf("%d stored assignments, want 30", len(holders))
	}
	// A retried command (same id) is answered from what stands.
	n := len(w.store.log)
	var anyOK string
	for _, e := range w.store.log[from:] {
		switch d := e.Data.(type) {
		case events.LicensesAssigned:
			anyOK = d.Assignments[0].CommandID
		case events.LicenseAssigned:
			anyOK = e.CommandID
		}
	}
	_, res, err := w.svc.Product(ctx, "contoso", "A", events.Meta{Actor: "ada", CommandID: anyOK},
		domain.AssignLicense{UserID: "someone", Source: events.Source{Kind: events.SourceManual}})
	if err != nil || !res.Replayed || len(w.store.log) != n {
		t.Fatalf("retried %s: %+v %v, want replayed and nothing stored", anyOK, res, err)
	}
}

// TestCheckSignInTimeWindow: a sign-in from before 2000 or more than a day
// ahead is invalid at once (dead-lettered, never retried), so it cannot skew
// reports; one within the window is fine.
func TestCheckSignInTimeWindow(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		at    time.Time
		valid bool
	}{
		{time.Time{}, false},
		{time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), false},
		{time.Date(1999, 12, 31, 23, 59, 59, 0, time.UTC), false},
		{time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC), false},
		{now.Add(domain.MaxSignInSkew + time.Second), false},
		{now.Add(-90 * 24 * time.Hour), true},
		{now.Add(time.Hour), true},
	} {
		err := domain.CheckSignIn(domain.SignIn{ID: "s1", UserID: "u1", App: "teams", At: tc.at}, now)
		if (err == nil) != tc.valid || (err != nil && !matches(err, &domain.ValidationError{})) {
			t.Errorf("at %s: got %v, want valid=%v", tc.at, err, tc.valid)
		}
	}
}

// TestCapHoldsAcrossServices: two services on one store (two instances,
// each with its own cache) claim under a policy with a daily cap of 7 at
// once; the policy's count is written under its check with every claim
// (in one all-or-nothing append, or ahead of the claims when appending in
// parts), so exactly 7 claim and the others queue with reason daily_cap,
// and the count ends at 7.
func TestCapHoldsAcrossServices(t *testing.T) {
	for _, mode := range []struct {
		name string
		opts []func(*domain.Config)
	}{{"one append", nil}, {"in parts", []func(*domain.Config){inParts}}} {
		t.Run(mode.name, func(t *testing.T) {
			w := newClaimWorld(t, 50, 0, true)
			seven := 7
			if _, _, err := w.svc.Policy(ctx, "contoso", "p1", w.meta(), domain.SetPolicyLimits{DailyCap: domain.OptionalInt{Set: true, Value: &seven}}); err != nil {
				t.Fatal(err)
			}
			svcs := []*domain.Service{newService(t, w.store, mode.opts...), newService(t, w.store, mode.opts...)}
			var (
				wg      sync.WaitGroup
				mu      sync.Mutex
				reasons = map[string]int{}
			)
			for i, svc := range svcs {
				wg.Go(func() {
					for j := range 10 {
						u := fmt.Sprintf("u%d-%d", i, j)
						outs, err := svc.ClaimBatch(ctx, "contoso", []domain.SignIn{{ID: "s-" + u, UserID: domain.UserID(u), App: "teams", At: now}}, domain.ClaimOptions{})
						if err != nil {
							t.Errorf("%s: %v", u, err)
							return
						}
						mu.Lock()
						reasons[string(outs[0].Status)+"/"+outs[0].Reason]++
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			claims, counted := 0, -1
			w.store.mu.Lock()
			for _, e := range w.store.log {
				claims += len(events.Claims(e.Data))
				if c, ok := e.Data.(events.PolicyClaimsCounted); ok {
					counted = c.Today
				}
			}
			w.store.mu.Unlock()
			if claims != 7 || counted != 7 || reasons["claimed/"] != 7 || reasons["queued/daily_cap"] != 13 {
				t.Fatalf("got %d claims stored, counted %d, outcomes %v; want 7 claimed and counted, 13 queued for daily_cap", claims, counted, reasons)
			}
		})
	}
}

// TestClaimBatchReservesCapsFirst: appending in parts (a single server),
// claims under a capped policy store the policy's count first, alone and
// under the policy's check, then the claims, so no append writes two
// aggregates. Claims that then meet another writer of their product give
// their places back before deciding again; claims whose append has an
// unknown outcome keep them (a count too high holds claims back, one too
// low would let them past the cap).
func TestClaimBatchReservesCapsFirst(t *testing.T) {
	capped := func(t *testing.T, opts ...func(*domain.Config)) *claimWorld {
		t.Helper()
		w := newClaimWorld(t, 10, 10, true)
		hundred := 100
		if _, _, err := w.svc.Policy(ctx, "contoso", "p1", w.meta(), domain.SetPolicyLimits{TotalCap: domain.OptionalInt{Set: true, Value: &hundred}}); err != nil {
			t.Fatal(err)
		}
		w.svc = newService(t, w.store, opts...)
		return w
	}
	stored := func(w *claimWorld, from int) []string {
		var out []string
		for _, e := range w.store.log[from:] {
			s := e.Type + " " + e.Aggregate.ID
			if c, ok := e.Data.(events.PolicyClaimsCounted); ok {
				s += fmt.Sprintf(" %d/%d", c.Today, c.Total)
			}
			out = append(out, s)
		}
		return out
	}
	claimAll := func(t *testing.T, w *claimWorld, specs ...string) {
		t.Helper()
		var in []domain.SignIn
		for _, s := range specs {
			in = append(in, si(s))
		}
		outs, err := w.svc.ClaimBatch(ctx, "contoso", in, domain.ClaimOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for i, o := range outs {
			if o.Status != "claimed" {
				t.Fatalf("%s: %s %s, want claimed", specs[i], o.Status, o.Reason)
			}
		}
	}

	t.Run("count, then claims", func(t *testing.T) {
		w := capped(t, inParts)
		from, appends := len(w.store.log), len(w.store.written)
		claimAll(t, w, "s1:u1", "s2:u2", "s3:u3")
		if got, want := stored(w, from), []string{"PolicyClaimsCounted p1 3/3", "LicensesClaimed P"}; !reflect.DeepEqual(got, want) {
			t.Errorf("stored %q, want %q", got, want)
		}
		if got, want := w.store.written[appends:], [][]string{{"policy/p1"}, {"product/P"}}; !reflect.DeepEqual(got, want) {
			t.Errorf("appends wrote %q, want %q", got, want)
		}
	})

	t.Run("on a cluster, one append", func(t *testing.T) {
		w := capped(t)
		appends := len(w.store.written)
		claimAll(t, w, "s1:u1", "s2:u2", "s3:u3")
		if got, want := w.store.written[appends:], [][]string{{"policy/p1", "product/P"}}; !reflect.DeepEqual(got, want) {
			t.Errorf("appends wrote %q, want %q", got, want)
		}
	})

	t.Run("claims meeting another writer give their places back", func(t *testing.T) {
		w := capped(t, inParts)
		from := len(w.store.log)
		rivalled := false
		w.store.refuse = func(writes []domain.Write) error {
			// Runs inside Append, holding the store: another instance
			// buys a license of P just before the claims are stored.
			if agg := writes[0].Events[0].Aggregate; agg.ID == "P" && !rivalled {
				rivalled = true
				e := events.New("rival", "contoso", agg, now, events.Meta{CommandID: "rival"}, events.LicensesPurchased{ProductID: "P", Count: 1})
				e.Position = uint64(len(w.store.log) + 1)
				w.store.log = append(w.store.log, e)
			}
			return nil
		}
		claimAll(t, w, "s1:u1", "s2:u2")
		want := []string{"PolicyClaimsCounted p1 2/2", "LicensesPurchased P", "PolicyClaimsCounted p1 0/0",
			"PolicyClaimsCounted p1 2/2", "LicensesClaimed P"}
		if got := stored(w, from); !reflect.DeepEqual(got, want) {
			t.Errorf("stored %q, want %q", got, want)
		}
		// A redelivered batch finds both claimed and stores nothing.
		w.store.refuse = nil
		n := len(w.store.log)
		claimAll(t, w, "s1:u1", "s2:u2")
		if got := stored(w, n); len(got) != 0 {
			t.Errorf("a redelivered batch stored %q", got)
		}
	})

	t.Run("claims of unknown outcome keep their places", func(t *testing.T) {
		w := capped(t, inParts)
		from := len(w.store.log)
		w.store.refuse = func(writes []domain.Write) error {
			if writes[0].Events[0].Aggregate.ID == "P" {
				w.store.lose, w.store.refuse = true, nil // stored, then reported lost
			}
			return nil
		}
		var in []domain.SignIn
		for _, s := range []string{"s1:u1", "s2:u2"} {
			in = append(in, si(s))
		}
		if _, err := w.svc.ClaimBatch(ctx, "contoso", in, domain.ClaimOptions{}); err == nil {
			t.Fatal("a lost append: no error")
		}
		// Redelivered, the batch finds the claims stored and the count right.
		claimAll(t, w, "s1:u1", "s2:u2")
		if got, want := stored(w, from), []string{"PolicyClaimsCounted p1 2/2", "LicensesClaimed P"}; !reflect.DeepEqual(got, want) {
			t.Errorf("stored %q, want %q", got, want)
		}
	})
}

func TestReleasedCounts(t *testing.T) {
	for _, tc := range []struct {
		name   string
		counts domain.ClaimCounts
		day    string
		n      int
		want   events.PolicyClaimsCounted
	}{
		{"the same day", domain.ClaimCounts{Day: "2026-11-02", Today: 5, Total: 9}, "2026-11-02", 3,
			events.PolicyClaimsCounted{PolicyID: "p1", Day: "2026-11-02", Today: 2, Total: 6}},
		{"a new day counted since", domain.ClaimCounts{Day: "2026-11-03", Today: 1, Total: 9}, "2026-11-02", 3,
			events.PolicyClaimsCounted{PolicyID: "p1", Day: "2026-11-03", Today: 1, Total: 6}},
		{"never below zero", domain.ClaimCounts{Day: "2026-11-02", Today: 1, Total: 2}, "2026-11-02", 3,
			events.PolicyClaimsCounted{PolicyID: "p1", Day: "2026-11-02", Today: 0, Total: 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := domain.ReleasedCounts(tc.counts, "p1", tc.day, tc.n); got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestClaimBatchCatchesUpWhatObserveDropped: an aggregate another instance
// writes more often than an idle entry keeps observed events for is caught
// up from the store from its own position (not reloaded whole) before a
// batch reads it, and the batch decides on the latest state.
func TestClaimBatchCatchesUpWhatObserveDropped(t *testing.T) {
	w := newClaimWorld(t, 5, 5, true)
	if got := w.batch(w.svc, "s1:u1"); got[0] != "claimed/P" {
		t.Fatalf("got %v", got)
	}
	other := newService(t, w.store)
	from := len(w.store.log)
	// Another instance renames the policy 100 times, then makes B its only
	// product: more events than the idle entry keeps.
	for i := range 100 {
		if _, _, err := other.Policy(ctx, "contoso", "p1", w.meta(), domain.RenamePolicy{Name: fmt.Sprintf("Teams %d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := other.Policy(ctx, "contoso", "p1", w.meta(),
		domain.SetPolicyProducts{Products: []events.PolicyProduct{{ProductID: "B", DisabledServices: []string{}}}}); err != nil {
		t.Fatal(err)
	}
	for _, e := range w.store.log[from:] {
		w.svc.Observe(e)
	}
	w.store.mu.Lock()
	w.store.loadLog = nil
	w.store.mu.Unlock()
	if got := w.batch(w.svc, "s2:u2"); got[0] != "claimed/B" {
		t.Fatalf("got %v, want claimed/B (B is the policy's only product now)", got)
	}
	w.store.mu.Lock()
	defer w.store.mu.Unlock()
	if !slices.ContainsFunc(w.store.loadLog, func(l string) bool { return strings.HasPrefix(l, "policy/p1@") }) {
		t.Fatalf("the policy was not caught up (loads %v)", w.store.loadLog)
	}
	if slices.Contains(w.store.loadLog, "policy/p1@0") {
		t.Fatalf("the policy was reloaded whole (loads %v); want a catch-up from its cached position", w.store.loadLog)
	}
}

// TestDecideClaimsHeldSince: a re-sign-in of a licensed user says since
// when the license is held (the sign-in edge records no last sign-in so
// soon after a claim): its claim time, the batch's now for a claim earlier
// in the same batch, and nothing when a reclaim warning is pending (that
// sign-in is what keeps the license).
func TestDecideClaimsHeldSince(t *testing.T) {
	claimedAt := now.Add(-3 * time.Hour)
	claim := func(u string) events.LicenseClaimed {
		return events.LicenseClaimed{ProductID: "P", UserID: u, PolicyID: "p1", App: "teams", DisabledServices: []string{}, SigninID: "old-" + u, ClaimedAt: claimedAt}
	}
	for _, tc := range []struct {
		name  string
		given []events.Data // of product P, after it is added with 5 seats
		when  []string
		then  []time.Time // HeldSince per sign-in
	}{
		{"claimed before: its claim time", []events.Data{claim("u1")}, []string{"s1:u1"}, []time.Time{claimedAt}},
		{"claimed earlier in the batch: now", nil, []string{"s1:u1", "s2:u1"}, []time.Time{{}, now}},
		{"a reclaim warning pending: nothing", []events.Data{claim("u1"),
			events.LicenseReclaimWarned{ProductID: "P", UserID: "u1", PolicyID: "p1", App: "teams", LastSeen: claimedAt, ReclaimAt: now.Add(time.Hour)}},
			[]string{"s1:u1"}, []time.Time{{}}},
		{"not licensed: nothing", nil, []string{"s1:u1"}, []time.Time{{}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			view := claimGiven{pSeats: 5, bSeats: 5}.view()
			view.Products["P"] = fold("P", append([]events.Data{events.ProductAdded{ProductID: "P", Name: "P", Services: []string{"mail", "chat"},
				Licenses: 5, SelfService: events.SelfServiceBlocked}}, tc.given...)...)
			var in []domain.SignIn
			for _, s := range tc.when {
				in = append(in, si(s))
			}
			_, decisions := domain.DecideClaims(view, in, domain.ClaimOptions{}, now)
			for i, d := range decisions {
				if d.Err != nil || !d.HeldSince.Equal(tc.then[i]) {
					t.Errorf("sign-in %d: %s, held since %s, err %v; want held since %s", i, d.Outcome.Status, d.HeldSince, d.Err, tc.then[i])
				}
			}
		})
	}
}

func TestSingleWritePrefix(t *testing.T) {
	P := events.Aggregate{Kind: events.KindProduct, ID: "P"}
	B := events.Aggregate{Kind: events.KindProduct, ID: "B"}
	pol := events.Aggregate{Kind: events.KindPolicy, ID: "p1"}
	on := func(signIn int, agg events.Aggregate) domain.BatchChange {
		return domain.BatchChange{SignIn: signIn, Change: domain.Change{Agg: agg}}
	}
	for _, tc := range []struct {
		name    string
		changes []domain.BatchChange // given DecideClaims's changes of n sign-ins
		n       int
		want    int // then this many sign-ins are appended together
	}{
		{"no changes: every sign-in", nil, 4, 4},
		{"one aggregate: every sign-in", []domain.BatchChange{on(0, P), on(1, P), on(3, P)}, 4, 4},
		{"a second aggregate cuts before its sign-in", []domain.BatchChange{on(0, P), on(1, P), on(2, B), on(3, B)}, 4, 2},
		{"sign-ins without changes before the first stay in", []domain.BatchChange{on(2, B), on(3, P)}, 5, 3},
		{"the first sign-in's aggregates, however many, stay together", []domain.BatchChange{on(1, B), on(1, pol), on(2, pol), on(3, B), on(4, P)}, 5, 4},
		{"a later sign-in spanning a new aggregate cuts", []domain.BatchChange{on(0, P), on(1, P), on(1, pol)}, 2, 1},
		{"the last sign-in cut alone", []domain.BatchChange{on(0, P), on(1, B)}, 2, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := domain.SingleWritePrefix(tc.changes, tc.n); got != tc.want {
				t.Errorf("got %d, want %d", got, tc.want)
			}
		})
	}
}

// TestClaimBatchAppendsAlertsAfterTheirClaims: appending in parts, a
// batch crossing the low-seat threshold stores its claims, then the
// PoolLow in an append of its own (two messages to one subject would be
// an atomic batch). When
// the alert's append fails the claims stand, and the next sign-in's
// decision records the PoolLow the product still owes.
func TestClaimBatchAppendsAlertsAfterTheirClaims(t *testing.T) {
	opts := domain.ClaimOptions{LowSeats: 2}
	batch := func(w *claimWorld, specs ...string) []string {
		t.Helper()
		var in []domain.SignIn
		for _, s := range specs {
			in = append(in, si(s))
		}
		outs, err := w.svc.ClaimBatch(ctx, "contoso", in, opts)
		if err != nil {
			t.Fatalf("batch %v: %v", specs, err)
		}
		var got []string
		for _, o := range outs {
			got = append(got, string(o.Status)+"/"+string(o.ProductID))
		}
		return got
	}
	stored := func(w *claimWorld, from int) []string {
		var types []string
		for _, e := range w.store.log[from:] {
			types = append(types, e.Type+" "+e.Aggregate.ID)
		}
		return types
	}

	t.Run("claims, then their alert", func(t *testing.T) {
		w := newClaimWorld(t, 4, 5, true)
		w.svc = newService(t, w.store, inParts)
		from, appends := len(w.store.log), len(w.store.written)
		if got := batch(w, "s1:u1", "s2:u2", "s3:u3"); !reflect.DeepEqual(got, []string{"claimed/P", "claimed/P", "claimed/P"}) {
			t.Fatalf("got %v", got)
		}
		if got, want := stored(w, from), []string{"LicensesClaimed P", "PoolLow P"}; !reflect.DeepEqual(got, want) {
			t.Errorf("stored %q, want %q", got, want)
		}
		if got, want := w.store.written[appends:], [][]string{{"product/P"}, {"product/P"}}; !reflect.DeepEqual(got, want) {
			t.Errorf("appends wrote %q, want %q (one message each)", got, want)
		}
	})

	t.Run("an alert not stored is recorded by the next decision", func(t *testing.T) {
		w := newClaimWorld(t, 4, 5, true)
		w.svc = newService(t, w.store, inParts)
		w.store.refuse = func(writes []domain.Write) error {
			if _, ok := writes[0].Events[0].Data.(events.PoolLow); ok {
				return fmt.Errorf("nats: timeout: %w", domain.ErrUnavailable)
			}
			return nil
		}
		from := len(w.store.log)
		if got := batch(w, "s1:u1", "s2:u2", "s3:u3"); !reflect.DeepEqual(got, []string{"claimed/P", "claimed/P", "claimed/P"}) {
			t.Fatalf("got %v", got)
		}
		if got, want := stored(w, from), []string{"LicensesClaimed P"}; !reflect.DeepEqual(got, want) {
			t.Fatalf("stored %q, want %q", got, want)
		}
		w.store.refuse = nil
		// Redelivered, the batch is done: nothing new.
		if got := batch(w, "s1:u1", "s2:u2", "s3:u3"); !reflect.DeepEqual(got, []string{"claimed/P", "claimed/P", "claimed/P"}) {
			t.Fatalf("redelivered: got %v", got)
		}
		if got := stored(w, from); len(got) != 1 {
			t.Fatalf("a redelivered batch stored %q", got[1:])
		}
		// The next sign-in takes P's last seat and records the PoolLow owed.
		if got := batch(w, "s4:u4"); !reflect.DeepEqual(got, []string{"claimed/P"}) {
			t.Fatalf("got %v", got)
		}
		if got, want := stored(w, from), []string{"LicensesClaimed P", "LicenseClaimed P", "PoolLow P"}; !reflect.DeepEqual(got, want) {
			t.Errorf("stored %q, want %q", got, want)
		}
	})

	t.Run("a full product's owed alert follows a claim on the next product", func(t *testing.T) {
		w := newClaimWorld(t, 4, 5, true)
		w.svc = newService(t, w.store, inParts)
		w.store.refuse = func(writes []domain.Write) error {
			if _, ok := writes[0].Events[0].Data.(events.PoolLow); ok {
				return fmt.Errorf("nats: timeout: %w", domain.ErrUnavailable)
			}
			return nil
		}
		from := len(w.store.log)
		if got := batch(w, "s1:u1", "s2:u2", "s3:u3", "s4:u4"); !reflect.DeepEqual(got, []string{"claimed/P", "claimed/P", "claimed/P", "claimed/P"}) {
			t.Fatalf("got %v", got)
		}
		w.store.refuse = nil
		appends := len(w.store.written)
		if got := batch(w, "s5:u5"); !reflect.DeepEqual(got, []string{"claimed/B"}) {
			t.Fatalf("got %v", got)
		}
		if got, want := stored(w, from), []string{"LicensesClaimed P", "LicenseClaimed B", "PoolLow P"}; !reflect.DeepEqual(got, want) {
			t.Errorf("stored %q, want %q", got, want)
		}
		if got, want := w.store.written[appends:], [][]string{{"product/B"}, {"product/P"}}; !reflect.DeepEqual(got, want) {
			t.Errorf("appends wrote %q, want %q (one aggregate each)", got, want)
		}
	})
}

// TestClaimBatchInPartsGroupsPolicies: appending in parts, the sign-ins of
// apps whose policies share no product are appended group by group, one
// append each however they interleave; policies sharing a product are one
// group, cut where its claims move to another aggregate.
func TestClaimBatchInPartsGroupsPolicies(t *testing.T) {
	for _, tc := range []struct {
		name     string
		wordOnB  bool // p2 (app word) lists B, which p1 lists too
		outcomes []string
		written  [][]string
	}{
		{"separate products: one append per policy", false,
			[]string{"claimed/P", "claimed/W", "claimed/P", "claimed/W", "claimed/P", "claimed/W"},
			[][]string{{"product/P"}, {"product/W"}}},
		{"a shared product: one group, cut per aggregate", true,
			[]string{"claimed/P", "claimed/W", "claimed/P", "claimed/W", "claimed/P", "claimed/W"},
			[][]string{{"product/P"}, {"product/W"}, {"product/P"}, {"product/W"}, {"product/P"}, {"product/W"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newClaimWorld(t, 10, 10, true)
			if _, _, err := w.svc.Product(ctx, "contoso", "W", w.meta(), domain.AddProduct{Name: "W", Services: []string{"mail"},
				Licenses: 10, SelfService: "blocked"}); err != nil {
				t.Fatal(err)
			}
			products := []events.PolicyProduct{pp("W")}
			if tc.wordOnB {
				products = append(products, pp("B"))
			}
			if _, _, err := w.svc.Policy(ctx, "contoso", "p2", w.meta(), domain.CreatePolicy{Name: "Word", App: "word", Products: products}); err != nil {
				t.Fatal(err)
			}
			w.svc = newService(t, w.store, inParts)
			appends := len(w.store.written)
			got := w.batch(w.svc, "s1:u1", "s2:u2:word", "s3:u3", "s4:u4:word", "s5:u5", "s6:u6:word")
			if !reflect.DeepEqual(got, tc.outcomes) {
				t.Errorf("got %v, want %v", got, tc.outcomes)
			}
			if got := w.store.written[appends:]; !reflect.DeepEqual(got, tc.written) {
				t.Errorf("appends wrote %q, want %q", got, tc.written)
			}
		})
	}
}
