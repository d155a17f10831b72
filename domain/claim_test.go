package domain_test

import (
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/events"
)

// claimWorld is a service on a store double with products P (mail, chat)
// and B, and policy p1 for app "teams" listing P (chat off) then B.
type claimWorld struct {
	t     *testing.T
	store *faultyStore
	svc   *domain.Service
	n     int
}

func newClaimWorld(t *testing.T, pSeats, bSeats int, switchOn bool) *claimWorld {
	t.Helper()
	w := &claimWorld{t: t, store: &faultyStore{}}
	w.svc = newService(t, w.store)
	for id, seats := range map[domain.ProductID]int{"P": pSeats, "B": bSeats} {
		if _, _, err := w.svc.Product(ctx, "contoso", id, w.meta(), domain.AddProduct{Name: string(id), Services: []string{"mail", "chat"},
			Licenses: seats, SelfService: "blocked"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := w.svc.Policy(ctx, "contoso", "p1", w.meta(), domain.CreatePolicy{Name: "Teams", App: "teams",
		Products: []events.PolicyProduct{pp("P", "chat"), pp("B")}}); err != nil {
		t.Fatal(err)
	}
	w.setSwitch(switchOn)
	return w
}

func (w *claimWorld) meta() events.Meta {
	w.n++
	return events.Meta{Actor: "ada", CommandID: fmt.Sprintf("admin-%d", w.n)}
}

func (w *claimWorld) setSwitch(on bool) {
	w.t.Helper()
	if _, _, err := w.svc.SetAutoClaim(ctx, "contoso", w.meta(), on); err != nil {
		w.t.Fatal(err)
	}
}

// signIn runs a sign-in and returns its outcome and the types of the events
// it appended.
func (w *claimWorld) signIn(id, user string) (domain.ClaimOutcome, []string) {
	w.t.Helper()
	out, res, err := w.svc.Claim(ctx, "contoso", domain.SignIn{ID: id, UserID: domain.UserID(user), App: "teams", At: now.AddDate(0, 0, -3)},
		domain.ClaimOptions{LowSeats: 1})
	if err != nil {
		w.t.Fatalf("sign-in %s of %s: %v", id, user, err)
	}
	var types []string
	for _, e := range res.Events {
		types = append(types, e.Type)
	}
	return out, types
}

func (w *claimWorld) expect(id, user string, status domain.ClaimStatus, product domain.ProductID, types ...string) {
	w.t.Helper()
	out, got := w.signIn(id, user)
	if out.Status != status || out.ProductID != product || !reflect.DeepEqual(got, types) {
		w.t.Fatalf("sign-in %s of %s: got %s %s %v, want %s %s %v", id, user, out.Status, out.ProductID, got, status, product, types)
	}
}

func TestClaimOnSignIn(t *testing.T) {
	w := newClaimWorld(t, 2, 1, true)
	// Low-seat threshold 1: P falls to it, then runs out; B's last seat
	// exhausts the policy.
	w.expect("s1", "u1", domain.ClaimClaimed, "P", events.TypeLicenseClaimed, events.TypePoolLow)
	w.expect("s0", "u0", domain.ClaimClaimed, "P", events.TypeLicenseClaimed)
	w.expect("s2", "u2", domain.ClaimClaimed, "B", events.TypeLicenseClaimed, events.TypePolicyExhausted)
	w.expect("s3", "u3", domain.ClaimQueued, "", events.TypeUserQueued)
	// Signing in again changes nothing, and a redelivered sign-in claims once.
	w.expect("s4", "u3", domain.ClaimQueued, "")
	w.expect("s5", "u1", domain.ClaimAlreadyLicensed, "P")
	w.expect("s1", "u1", domain.ClaimClaimed, "P")
	w.expect("s3", "u3", domain.ClaimQueued, "")

	// The claim carries the policy, the app, the primary's services off and
	// the sign-in time.
	var claim events.LicenseClaimed
	for _, e := range w.store.log {
		if c, ok := e.Data.(events.LicenseClaimed); ok && c.UserID == "u1" {
			claim = c
		}
	}
	want := events.LicenseClaimed{ProductID: "P", UserID: "u1", PolicyID: "p1", App: "teams", DisabledServices: []string{"chat"},
		SigninID: "s1", ClaimedAt: now.AddDate(0, 0, -3)}
	if !reflect.DeepEqual(claim, want) {
		t.Fatalf("claim: got %+v, want %+v", claim, want)
	}

	// A seat appears: the queue head is granted, once.
	if _, _, err := w.svc.Product(ctx, "contoso", "P", w.meta(), domain.PurchaseLicenses{Count: 1}); err != nil {
		t.Fatal(err)
	}
	if moved, err := w.svc.GrantNext(ctx, "contoso", "p1", domain.ClaimOptions{}); err != nil || !moved {
		t.Fatalf("grant: got %v %v, want a move", moved, err)
	}
	if moved, err := w.svc.GrantNext(ctx, "contoso", "p1", domain.ClaimOptions{}); err != nil || moved {
		t.Fatalf("second grant: got %v %v, want nothing", moved, err)
	}
	w.expect("s6", "u3", domain.ClaimAlreadyLicensed, "P")
	granted := 0
	for _, e := range w.store.log {
		if g, ok := e.Data.(events.QueuedUserGranted); ok {
			granted++
			if g != (events.QueuedUserGranted{PolicyID: "p1", UserID: "u3", ProductID: "P"}) {
				t.Fatalf("granted: %+v", g)
			}
		}
	}
	if granted != 1 {
		t.Fatalf("grants: got %d, want 1", granted)
	}
}

func TestClaimStopsWhenTurnedOff(t *testing.T) {
	w := newClaimWorld(t, 5, 5, false)
	w.expect("s1", "u1", domain.ClaimOff, "")
	w.setSwitch(true)
	w.expect("s2", "u1", domain.ClaimClaimed, "P", events.TypeLicenseClaimed)

	// Policy off: no new claims, the old one stays.
	if _, _, err := w.svc.Policy(ctx, "contoso", "p1", w.meta(), domain.SetPolicyEnabled{Enabled: false}); err != nil {
		t.Fatal(err)
	}
	w.expect("s3", "u2", domain.ClaimNoPolicy, "")
	if _, _, err := w.svc.Policy(ctx, "contoso", "p1", w.meta(), domain.SetPolicyEnabled{Enabled: true}); err != nil {
		t.Fatal(err)
	}
	// Removing P: new claims come from B; u1 keeps P and is not given B.
	if _, _, err := w.svc.Policy(ctx, "contoso", "p1", w.meta(), domain.SetPolicyProducts{Products: []events.PolicyProduct{pp("B")}}); err != nil {
		t.Fatal(err)
	}
	w.expect("s4", "u2", domain.ClaimClaimed, "B", events.TypeLicenseClaimed)
	w.expect("s5", "u1", domain.ClaimAlreadyLicensed, "P")
	w.setSwitch(false)
	w.expect("s6", "u3", domain.ClaimOff, "")
	held := 0
	for _, e := range w.store.log {
		if _, ok := e.Data.(events.LicenseClaimed); ok {
			held++
		}
		if _, ok := e.Data.(events.LicenseUnassigned); ok {
			t.Fatalf("a license was taken back: %+v", e)
		}
	}
	if held != 2 {
		t.Fatalf("claims: got %d, want 2", held)
	}
}

func TestClaimRejectsBadSignIns(t *testing.T) {
	w := newClaimWorld(t, 1, 1, true)
	for _, in := range []domain.SignIn{
		{ID: "", UserID: "u1", App: "teams", At: now},
		{ID: "s1", UserID: "bad id", App: "teams", At: now},
		{ID: "s1", UserID: "u1", App: "", At: now},
		{ID: "s1", UserID: "u1", App: "teams"},
	} {
		if _, _, err := w.svc.Claim(ctx, "contoso", in, domain.ClaimOptions{}); !matches(err, &domain.ValidationError{}) {
			t.Errorf("%+v: got %v, want a validation error", in, err)
		}
	}
}

// TestClaimConcurrentSignIns: 20 users sign in twice each at once; exactly
// the seats are claimed, nobody twice, and the rest wait once each.
func TestClaimConcurrentSignIns(t *testing.T) {
	w := newClaimWorld(t, 3, 2, true)
	var wg sync.WaitGroup
	for i := range 20 {
		for j := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, _, err := w.svc.Claim(ctx, "contoso", domain.SignIn{ID: fmt.Sprintf("s%d-%d", i, j), UserID: domain.UserID(fmt.Sprintf("u%d", i)),
					App: "teams", At: now}, domain.ClaimOptions{}); err != nil {
					t.Error(err)
				}
			}()
		}
	}
	wg.Wait()
	claims, queued := map[string]int{}, map[string]int{}
	users := map[string]int{}
	for _, e := range w.store.log {
		switch d := e.Data.(type) {
		case events.LicenseClaimed:
			claims[d.ProductID]++
			users[d.UserID]++
		case events.UserQueued:
			queued[d.UserID]++
			users[d.UserID]++
		}
	}
	if claims["P"] != 3 || claims["B"] != 2 || len(queued) != 15 {
		t.Fatalf("got claims %v and %d queued, want P 3, B 2, 15 queued", claims, len(queued))
	}
	for u, n := range users {
		if n != 1 {
			t.Fatalf("user %s claimed or queued %d times", u, n)
		}
	}
}

// TestClaimSeesOtherInstancesChanges: a policy turned off by another
// process (straight into the store) stops claims here, although this
// service's cache had it on.
func TestClaimSeesOtherInstancesChanges(t *testing.T) {
	w := newClaimWorld(t, 5, 5, true)
	w.expect("s1", "u1", domain.ClaimClaimed, "P", events.TypeLicenseClaimed)
	w.store.mu.Lock()
	for _, c := range []domain.Change{
		{Agg: polAgg, Data: events.PolicyStatusChanged{PolicyID: "p1", Enabled: false}},
		{Agg: orgAgg, Data: events.AppPolicyUnbound{App: "teams", PolicyID: "p1"}},
	} {
		e := events.New(fmt.Sprintf("other-%d", len(w.store.log)), "contoso", c.Agg, now, events.Meta{CommandID: "other"}, c.Data)
		e.Position = uint64(len(w.store.log) + 1)
		w.store.log = append(w.store.log, e)
	}
	w.store.mu.Unlock()
	w.expect("s2", "u2", domain.ClaimNoPolicy, "")
}

// TestRegisterSignInUserNeverChangesAKnownUser: a sign-in registers a
// user the directory does not know, and changes nothing of one it knows,
// whatever email or name it carries (an ingest client could otherwise
// redirect an admin's mail).
func TestRegisterSignInUserNeverChangesAKnownUser(t *testing.T) {
	w := newClaimWorld(t, 1, 1, true)
	if _, _, err := w.svc.RegisterUser(ctx, "contoso", "u1", w.meta(), domain.RegisterUser{Email: "u1@example.com", DisplayName: "U One",
		Roles: []string{"global-admin"}, ByGlobalAdmin: true}); err != nil {
		t.Fatal(err)
	}
	res, err := w.svc.RegisterSignInUser(ctx, "contoso", "u1", events.Meta{CommandID: "s1"}, "attacker@evil.example", "Evil")
	if err != nil || len(res.Events) != 0 {
		t.Fatalf("sign-in of a known user: %v, %d events, want none", err, len(res.Events))
	}
	res, err = w.svc.RegisterSignInUser(ctx, "contoso", "u2", events.Meta{CommandID: "s2"}, "U2@example.com", "U Two")
	want := events.UserRegistered{UserID: "u2", Email: "u2@example.com", DisplayName: "U Two", Roles: []string{}}
	if err != nil || len(res.Events) != 1 || !reflect.DeepEqual(res.Events[0].Data, want) {
		t.Fatalf("sign-in of a new user: %v %+v, want %+v", err, res, want)
	}
	if _, err := w.svc.RegisterSignInUser(ctx, "contoso", "u3", events.Meta{CommandID: "s3"}, "not an email", "x"); !matches(err, &domain.ValidationError{}) {
		t.Fatalf("bad email: %v", err)
	}
}

// TestClaimAtMostOncePerPolicy: invariant 3. A user whose claimed license
// is taken back does not claim again on a later sign-in, while a replay of
// the sign-in that did claim still answers "claimed".
func TestClaimAtMostOncePerPolicy(t *testing.T) {
	w := newClaimWorld(t, 2, 1, true)
	w.expect("s1", "u1", domain.ClaimClaimed, "P", events.TypeLicenseClaimed, events.TypePoolLow)
	if _, _, err := w.svc.Product(ctx, "contoso", "P", w.meta(), domain.UnassignLicense{UserID: "u1"}); err != nil {
		t.Fatal(err)
	}
	w.expect("s2", "u1", domain.ClaimAlreadyClaimed, "")
	w.expect("s1", "u1", domain.ClaimClaimed, "")
	// Another user still claims the freed seat (a new crossing of the
	// low-seat threshold, so a new PoolLow).
	w.expect("s3", "u2", domain.ClaimClaimed, "P", events.TypeLicenseClaimed, events.TypePoolLow)
}

// TestClaimAfterAnotherInstancesGrant: this service caches both products
// as full; another instance buys a seat of B and grants it to the queued
// u2. When u2 signs in here again, the decision must see that u2 now holds
// B (the queue append writes only the policy, so no check would catch a
// stale product) and change nothing.
func TestClaimAfterAnotherInstancesGrant(t *testing.T) {
	w := newClaimWorld(t, 1, 1, true)
	w.signIn("s0", "u0") // takes P
	w.signIn("s1", "u1") // takes B
	w.expect("s2", "u2", domain.ClaimQueued, "", events.TypeUserQueued)

	other := newService(t, w.store)
	if _, _, err := other.Product(ctx, "contoso", "B", w.meta(), domain.PurchaseLicenses{Count: 1}); err != nil {
		t.Fatal(err)
	}
	if moved, err := other.GrantNext(ctx, "contoso", "p1", domain.ClaimOptions{LowSeats: 1}); err != nil || !moved {
		t.Fatalf("grant on the other instance: moved %v, err %v", moved, err)
	}
	w.expect("s3", "u2", domain.ClaimAlreadyLicensed, "B")
}

// TestReplayedMultiAggregateCommandAnswersItsLastPosition: a command that
// wrote to two aggregates (a policy and the org's app binding), repeated,
// answers the position of its last event every time, whichever aggregate
// the lookup meets first.
func TestReplayedMultiAggregateCommandAnswersItsLastPosition(t *testing.T) {
	w := newClaimWorld(t, 1, 1, true)
	meta := events.Meta{Actor: "ada", CommandID: "create-mail"}
	cmd := domain.CreatePolicy{Name: "Mail", App: "mail", Products: []events.PolicyProduct{pp("P")}}
	_, first, err := w.svc.Policy(ctx, "contoso", "p2", meta, cmd)
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Events) < 2 {
		t.Fatalf("create wrote %d events, want the policy and the org's binding", len(first.Events))
	}
	for range 20 {
		_, again, err := newService(t, w.store).Policy(ctx, "contoso", "p2", meta, cmd)
		if err != nil {
			t.Fatal(err)
		}
		if again.Position != first.Position {
			t.Fatalf("replay: position %d, want %d", again.Position, first.Position)
		}
	}
}

// TestDeprovisionedUsersClaimNothing: a user the identity provider
// deactivated claims nothing and joins no queue when signing in, and one
// deactivated while waiting leaves the queue when their turn comes, so the
// seat goes to the next one; reactivated, they claim again.
func TestDeprovisionedUsersClaimNothing(t *testing.T) {
	w := newClaimWorld(t, 1, 0, true)
	provision := func(user string, active bool) {
		w.svc.Observe(events.Envelope{Tenant: "contoso", Aggregate: events.Aggregate{Kind: events.KindUser, ID: user},
			Data: events.UserProvisioned{UserID: user, UserName: user, Active: active}})
	}
	provision("gone", false)
	if out, evs := w.signIn("s-gone", "gone"); out.Status != domain.ClaimUserInactive || len(evs) != 0 {
		t.Fatalf("deactivated user's sign-in: %+v %v, want user_inactive and nothing", out, evs)
	}
	// u1 takes the only seat; u2 and u3 queue; u2 is deactivated while waiting.
	w.signIn("s1", "u1")
	w.signIn("s2", "u2")
	w.signIn("s3", "u3")
	if _, _, err := w.svc.ProvisionUser(ctx, "contoso", "u2", w.meta(), domain.ProvisionUser{Email: "u2@example.com", DisplayName: "U2",
		UserName: "u2", Active: false}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.svc.Product(ctx, "contoso", "P", w.meta(), domain.PurchaseLicenses{Count: 1}); err != nil {
		t.Fatal(err)
	}
	for moved := true; moved; {
		var err error
		if moved, err = w.svc.GrantNext(ctx, "contoso", "p1", domain.ClaimOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	var types []string
	for _, e := range w.store.log {
		switch d := e.Data.(type) {
		case events.QueuedUserDropped:
			types = append(types, "dropped "+d.UserID+" "+d.Reason)
		case events.QueuedUserGranted:
			types = append(types, "granted "+d.UserID)
		}
	}
	if !slices.Equal(types, []string{"dropped u2 user_inactive", "granted u3"}) {
		t.Fatalf("queue: %v, want u2 dropped as inactive and u3 granted", types)
	}
	provision("gone", true)
	if out, _ := w.signIn("s-back", "gone"); out.Status != domain.ClaimQueued {
		t.Fatalf("reactivated user's sign-in: %+v, want queued (no seat left)", out)
	}
}
