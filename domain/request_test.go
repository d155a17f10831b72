package domain_test

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/events"
)

// reqWorld is a service on a plain store with a clock the test moves.
type reqWorld struct {
	t     *testing.T
	store *faultyStore
	svc   *domain.Service
	clock atomic.Pointer[time.Time]
}

func newReqWorld(t *testing.T) *reqWorld {
	t.Helper()
	w := &reqWorld{t: t, store: &faultyStore{}}
	w.clock.Store(&now)
	var n atomic.Int64
	svc, err := domain.NewService(w.store, domain.Config{
		Now:     func() time.Time { return *w.clock.Load() },
		NewID:   func() string { return fmt.Sprintf("id-%d", n.Add(1)) },
		Backoff: time.Microsecond, MaxBackoff: time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	w.svc = svc
	return w
}

func (w *reqWorld) advance(d time.Duration) {
	t := w.clock.Load().Add(d)
	w.clock.Store(&t)
}

func (w *reqWorld) meta(id string) events.Meta { return events.Meta{Actor: "ada", CommandID: id} }

// setup adds products e5 (blocked, 3 seats, services mail+chat), e3
// (blocked, 2 seats), visio (self-service allowed) and users u1..u4 with
// ada as license admin.
func (w *reqWorld) setup() {
	w.t.Helper()
	for _, p := range []struct {
		id  domain.ProductID
		cmd domain.AddProduct
	}{
		{"e5", domain.AddProduct{Name: "E5", Services: []string{"mail", "chat"}, Licenses: 3, SelfService: "blocked"}},
		{"e3", domain.AddProduct{Name: "E3", Services: []string{"mail", "chat"}, Licenses: 2, SelfService: "blocked"}},
		{"visio", domain.AddProduct{Name: "Visio", Licenses: 2, SelfService: "allowed"}},
	} {
		if _, _, err := w.svc.Product(ctx, "contoso", p.id, w.meta("add-"+string(p.id)), p.cmd); err != nil {
			w.t.Fatal(err)
		}
	}
	for _, u := range []string{"u1", "u2", "u3", "u4", "ada"} {
		var roles []string
		if u == "ada" {
			roles = []string{domain.RoleLicenseAdmin}
		}
		if _, _, err := w.svc.RegisterUser(ctx, "contoso", domain.UserID(u), w.meta("reg-"+u),
			domain.RegisterUser{Email: u + "@Example.com", DisplayName: "User " + u, Roles: roles, ByGlobalAdmin: true}); err != nil {
			w.t.Fatal(err)
		}
	}
}

// submit submits request id by u1 for users and returns its state.
func (w *reqWorld) submit(id string, users ...domain.UserID) domain.Request {
	w.t.Helper()
	_, err := w.svc.SubmitRequest(ctx, "contoso", domain.RequestID(id), w.meta("submit-"+id),
		domain.SubmitRequest{ProductID: "e5", Requester: "u1", Users: users, Justification: "project"})
	if err != nil {
		w.t.Fatal(err)
	}
	return w.state(id)
}

// state is request id's aggregate state as it stands.
func (w *reqWorld) state(id string) domain.Request {
	w.t.Helper()
	r, ok, err := w.svc.RequestState(ctx, "contoso", domain.RequestID(id))
	if err != nil || !ok {
		w.t.Fatalf("request %s: exists %v, %v", id, ok, err)
	}
	return r
}

// event is the event the store holds at index i.
func (w *reqWorld) event(i int) events.Envelope {
	w.store.mu.Lock()
	defer w.store.mu.Unlock()
	return w.store.log[i]
}

// count is how many events the store holds.
func (w *reqWorld) count() int {
	w.store.mu.Lock()
	defer w.store.mu.Unlock()
	return len(w.store.log)
}

// types lists the types of the events after position from.
func (w *reqWorld) types(from int) []string {
	w.store.mu.Lock()
	defer w.store.mu.Unlock()
	var out []string
	for _, e := range w.store.log[from:] {
		out = append(out, e.Type)
	}
	return out
}

func (w *reqWorld) wantErr(err, want error) {
	w.t.Helper()
	if !matches(err, want) {
		w.t.Fatalf("error: got %v, want %T %v", err, want, want)
	}
}

func TestSubmitRequest(t *testing.T) {
	w := newReqWorld(t)
	w.setup()
	before := w.count()
	try := func(id string, c domain.SubmitRequest) error {
		_, err := w.svc.SubmitRequest(ctx, "contoso", domain.RequestID(id), w.meta("s-"+id), c)
		return err
	}
	w.wantErr(try("r1", domain.SubmitRequest{ProductID: "visio", Requester: "u1"}), domain.ErrSelfServiceAllowed)
	w.wantErr(try("r1", domain.SubmitRequest{ProductID: "nope", Requester: "u1"}), &domain.NotFoundError{})
	w.wantErr(try("r1", domain.SubmitRequest{ProductID: "e5", Requester: "u1", Users: []domain.UserID{"stranger"}}), &domain.NotFoundError{})
	w.wantErr(try("r1", domain.SubmitRequest{ProductID: "e5", Requester: "u1", Users: []domain.UserID{"a.b"}}), &domain.ValidationError{})
	many := make([]domain.UserID, domain.MaxRequestUsers)
	for i := range many {
		many[i] = domain.UserID(fmt.Sprintf("m%d", i))
	}
	w.wantErr(try("r1", domain.SubmitRequest{ProductID: "e5", Requester: "u1", Users: many}), &domain.ValidationError{})

	// Own process: 409 with the admin's message; switching back restores.
	if _, _, err := w.svc.SetRequestProcess(ctx, "contoso", w.meta("own"), domain.RequestProcess{Mode: "own", Message: "Use the portal", Link: "https://it.example.com"}); err != nil {
		t.Fatal(err)
	}
	var own *domain.OwnProcessError
	if err := try("r1", domain.SubmitRequest{ProductID: "e5", Requester: "u1"}); !errors.As(err, &own) || own.Message != "Use the portal" || own.Link != "https://it.example.com" {
		t.Fatalf("own process: got %v", err)
	}
	if got := w.count(); got != before+1 {
		t.Fatalf("rejected submissions stored events: %d, want %d", got, before+1)
	}
	w.wantErr(func() error {
		_, _, err := w.svc.SetRequestProcess(ctx, "contoso", w.meta("bad"), domain.RequestProcess{Mode: "own"})
		return err
	}(), &domain.ValidationError{})
	if _, _, err := w.svc.SetRequestProcess(ctx, "contoso", w.meta("builtin"), domain.RequestProcess{Mode: "builtin"}); err != nil {
		t.Fatal(err)
	}
	v := w.submit("r1", "u2", "u1", "u2")
	if !slices.Equal(v.Users, []domain.UserID{"u1", "u2"}) || v.Status != domain.StatusPending || !v.ExpiresAt.Equal(now.Add(domain.DefaultPendingFor)) {
		t.Fatalf("submitted: got %+v", v)
	}
	w.wantErr(try("r1", domain.SubmitRequest{ProductID: "e5", Requester: "u1"}), domain.ErrAlreadyExists)
}

func TestDecideRequest(t *testing.T) {
	w := newReqWorld(t)
	w.setup()
	// u4 already holds e3.
	if _, _, err := w.svc.Product(ctx, "contoso", "e3", w.meta("give-u4"), domain.AssignLicense{UserID: "u4", Source: events.Source{Kind: "manual"}}); err != nil {
		t.Fatal(err)
	}
	w.submit("r1", "u2", "u3", "u4")
	decide := func(cmdID string, c domain.Decide) error {
		_, err := w.svc.DecideRequest(ctx, "contoso", "r1", w.meta(cmdID), c)
		return err
	}
	before := w.count()
	// Invalid decisions and a pool without seats for all change nothing.
	w.wantErr(decide("d0", domain.Decide{Approve: []domain.UserID{"u1"}, Reject: []domain.UserID{"u2"}}), &domain.ValidationError{})
	w.wantErr(decide("d0", domain.Decide{Approve: []domain.UserID{"u1", "u2"}, Reject: []domain.UserID{"u2", "u3", "u4"}}), &domain.ValidationError{})
	w.wantErr(decide("d0", domain.Decide{Approve: []domain.UserID{"u1", "u2", "u3"}, Reject: []domain.UserID{"u4"}, ProductID: "e3"}), domain.ErrNoLicensesAvailable)
	w.wantErr(decide("d0", domain.Decide{Approve: []domain.UserID{"u1"}, Reject: []domain.UserID{"u2", "u3", "u4"}, ProductID: "e3", DisabledServices: []string{"fax"}}), &domain.ValidationError{})
	w.wantErr(decide("d0", domain.Decide{Approve: []domain.UserID{"u1"}, Reject: []domain.UserID{"u2", "u3", "u4"}, ProductID: "gone"}), &domain.NotFoundError{})
	if got := w.count(); got != before {
		t.Fatalf("failed decisions stored %d events", got-before)
	}
	// Approve u1 and u4 from e3 with chat off, reject u2 and u3.
	if err := decide("d1", domain.Decide{Approve: []domain.UserID{"u1", "u4"}, Reject: []domain.UserID{"u2", "u3"}, ProductID: "e3",
		DisabledServices: []string{"chat"}, Message: "welcome"}); err != nil {
		t.Fatal(err)
	}
	if got, want := w.types(before), []string{"LicenseAssigned", "RequestApproved"}; !slices.Equal(got, want) {
		t.Fatalf("events: got %v, want %v", got, want)
	}
	// u4 holds e3 already: approved, nothing assigned.
	approved := w.event(before + 1)
	if d, want := approved.Data.(events.RequestApproved), (events.RequestApproved{RequestID: "r1", ProductID: "e3", Approved: []string{"u1", "u4"},
		Rejected: []string{"u2", "u3"}, AlreadyLicensed: []string{"u4"}, DisabledServices: []string{"chat"}, Message: "welcome"}); !reflect.DeepEqual(d, want) || approved.Actor != "ada" {
		t.Fatalf("decision by %s: got %+v, want %+v by ada", approved.Actor, d, want)
	}
	if got := w.state("r1").Status; got != domain.StatusPartiallyApproved {
		t.Fatalf("status: got %s, want %s", got, domain.StatusPartiallyApproved)
	}
	a := w.event(before).Data.(events.LicenseAssigned)
	if a.UserID != "u1" || a.ProductID != "e3" || a.Source != (events.Source{Kind: "request", Ref: "r1"}) || !slices.Equal(a.DisabledServices, []string{"chat"}) {
		t.Fatalf("assignment: got %+v", a)
	}
	w.wantErr(decide("d2", domain.Decide{Reject: []domain.UserID{"u1", "u2", "u3", "u4"}}), domain.ErrAlreadyDecided)
	// The same command again is a replay, not a conflict.
	if err := decide("d1", domain.Decide{Approve: []domain.UserID{"u1", "u4"}, Reject: []domain.UserID{"u2", "u3"}, ProductID: "e3"}); err != nil {
		t.Fatalf("replay: %v", err)
	}

	// Rejecting everyone denies.
	w.submit("r2", "u2")
	if _, err := w.svc.DecideRequest(ctx, "contoso", "r2", w.meta("d3"), domain.Decide{Reject: []domain.UserID{"u1", "u2"}, Message: "no budget"}); err != nil {
		t.Fatalf("deny: %v", err)
	}
	if got := w.state("r2").Status; got != domain.StatusDenied {
		t.Fatalf("deny: status %s, want %s", got, domain.StatusDenied)
	}
}

func TestConcurrentDecisionsOneWins(t *testing.T) {
	w := newReqWorld(t)
	w.setup()
	w.submit("r1", "u2")
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = w.svc.DecideRequest(ctx, "contoso", "r1", w.meta(fmt.Sprintf("d%d", i)),
				domain.Decide{Approve: []domain.UserID{"u1", "u2"}})
		})
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, domain.ErrAlreadyDecided):
			t.Fatalf("loser: got %v, want ErrAlreadyDecided", err)
		}
	}
	if won != 1 {
		t.Fatalf("winners: got %d, want 1", won)
	}
}

func TestGroups(t *testing.T) {
	w := newReqWorld(t)
	w.setup()
	set := func(id string, c domain.SetGroup) error {
		_, _, err := w.svc.SetGroup(ctx, "contoso", "g1", w.meta(id), c)
		return err
	}
	// u3 holds e5 manually: the group does not assign it again.
	if _, _, err := w.svc.Product(ctx, "contoso", "e5", w.meta("give-u3"), domain.AssignLicense{UserID: "u3", Source: events.Source{Kind: "manual"}}); err != nil {
		t.Fatal(err)
	}
	before := w.count()
	w.wantErr(set("g0", domain.SetGroup{Name: "Sales", Members: []domain.UserID{"u1", "u2", "u3", "u4"}, Products: []events.PolicyProduct{{ProductID: "e5"}}}), domain.ErrNoLicensesAvailable)
	w.wantErr(set("g0", domain.SetGroup{Name: "Sales", Products: []events.PolicyProduct{{ProductID: "zz"}}}), &domain.NotFoundError{})
	w.wantErr(set("g0", domain.SetGroup{Name: ""}), &domain.ValidationError{})
	if w.count() != before {
		t.Fatal("failed group changes stored events")
	}
	if err := set("g1", domain.SetGroup{Name: "Sales", Members: []domain.UserID{"u1", "u3"}, Products: []events.PolicyProduct{{ProductID: "e5", DisabledServices: []string{"chat"}}}}); err != nil {
		t.Fatal(err)
	}
	if got, want := w.types(before), []string{"GroupChanged", "LicenseAssigned"}; !slices.Equal(got, want) {
		t.Fatalf("events: got %v, want %v", got, want)
	}
	// Removing u1 takes back the license the group gave; u3's manual one stays.
	before = w.count()
	if err := set("g2", domain.SetGroup{Name: "Sales", Members: []domain.UserID{"u3"}, Products: []events.PolicyProduct{{ProductID: "e5", DisabledServices: []string{"chat"}}}}); err != nil {
		t.Fatal(err)
	}
	if got, want := w.types(before), []string{"GroupChanged", "LicenseUnassigned"}; !slices.Equal(got, want) {
		t.Fatalf("events: got %v, want %v", got, want)
	}

	// A request fulfilled through the group: approved users join it.
	w.submit("r1", "u2")
	if _, _, err := w.svc.SetGroup(ctx, "contoso", "empty", w.meta("g3"), domain.SetGroup{Name: "Nothing"}); err != nil {
		t.Fatal(err)
	}
	_, err := w.svc.DecideRequest(ctx, "contoso", "r1", w.meta("d0"), domain.Decide{Approve: []domain.UserID{"u1", "u2"}, GroupID: "empty"})
	w.wantErr(err, domain.ErrGroupNotLicensed)
	_, err = w.svc.DecideRequest(ctx, "contoso", "r1", w.meta("d0"), domain.Decide{Approve: []domain.UserID{"u1", "u2"}, GroupID: "nope"})
	w.wantErr(err, &domain.NotFoundError{})
	before = w.count()
	if _, err := w.svc.DecideRequest(ctx, "contoso", "r1", w.meta("d1"), domain.Decide{Approve: []domain.UserID{"u2"}, Reject: []domain.UserID{"u1"}, GroupID: "g1", Message: "via Sales"}); err != nil {
		t.Fatal(err)
	}
	if got, want := w.types(before), []string{"GroupChanged", "LicenseAssigned", "RequestApproved"}; !slices.Equal(got, want) {
		t.Fatalf("events: got %v, want %v", got, want)
	}
	if d := w.event(before + 2).Data.(events.RequestApproved); d.GroupID != "g1" || !slices.Equal(d.Approved, []string{"u2"}) || !slices.Equal(d.Rejected, []string{"u1"}) {
		t.Fatalf("decision: %+v", d)
	}
	if got := w.state("r1").Status; got != domain.StatusPartiallyApproved {
		t.Fatalf("status: got %s, want %s", got, domain.StatusPartiallyApproved)
	}
	g := w.event(before).Data.(events.GroupChanged)
	if !slices.Equal(g.Members, []string{"u3", "u2"}) {
		t.Fatalf("members: got %v", g.Members)
	}
}

func TestShareAndAnswer(t *testing.T) {
	w := newReqWorld(t)
	w.setup()
	w.submit("r1")
	share := func(id string, rc ...events.ShareRecipient) error {
		_, err := w.svc.ShareRequest(ctx, "contoso", "r1", w.meta(id), domain.ShareRequest{Recipients: rc, Subject: "Please look", Message: "?"})
		return err
	}
	w.wantErr(share("s0", events.ShareRecipient{Email: "u2@example.com", UserID: "u3", ShareID: "sh1"}), &domain.ValidationError{})
	w.wantErr(share("s0"), &domain.ValidationError{})
	if err := share("s1", events.ShareRecipient{Email: "U2@example.com", UserID: "u2", ShareID: "sh1"}); err != nil {
		t.Fatal(err)
	}
	answer := func(id, share string) error {
		_, err := w.svc.AnswerShare(ctx, "contoso", "r1", w.meta(id), domain.AnswerShare{ShareID: share, Recommendation: "approve", Comment: "ok"})
		return err
	}
	w.wantErr(answer("a0", "other"), &domain.NotFoundError{})
	if err := answer("a1", "sh1"); err != nil {
		t.Fatal(err)
	}
	w.wantErr(answer("a2", "sh1"), domain.ErrShareAnswered)
	_, err := w.svc.AnswerShare(ctx, "contoso", "r1", w.meta("a3"), domain.AnswerShare{ShareID: "sh1", Recommendation: "maybe"})
	w.wantErr(err, &domain.ValidationError{})
}

func TestExpiry(t *testing.T) {
	w := newReqWorld(t)
	w.setup()
	w.submit("r1")
	warn := 3 * 24 * time.Hour
	run := func() []string {
		before := w.count()
		if _, err := w.svc.ExpireRequest(ctx, "contoso", "r1", events.Meta{CommandID: fmt.Sprintf("tick-%d", before)}, warn); err != nil {
			t.Fatal(err)
		}
		return w.types(before)
	}
	if got := run(); got != nil {
		t.Fatalf("fresh request: got %v", got)
	}
	w.advance(domain.DefaultPendingFor - warn)
	if got := run(); !slices.Equal(got, []string{"RequestExpiryWarned"}) {
		t.Fatalf("warning: got %v", got)
	}
	if got := run(); got != nil {
		t.Fatalf("second warning: got %v", got)
	}
	w.advance(warn)
	if got := run(); !slices.Equal(got, []string{"RequestExpired"}) {
		t.Fatalf("expiry: got %v", got)
	}
	if got := run(); got != nil {
		t.Fatalf("second expiry: got %v", got)
	}
	_, err := w.svc.DecideRequest(ctx, "contoso", "r1", w.meta("late"), domain.Decide{Approve: []domain.UserID{"u1"}})
	w.wantErr(err, domain.ErrAlreadyDecided)
}

// TestRivalServicesDecideOnce: two services (two processes) on one store
// decide the same request with stale caches; only the store's concurrency
// check stands between them.
func TestRivalServicesDecideOnce(t *testing.T) {
	w := newReqWorld(t)
	w.setup()
	w.submit("r1", "u2")
	other, err := domain.NewService(w.store, domain.Config{Now: func() time.Time { return now },
		NewID: func() string { return fmt.Sprintf("other-%d", time.Now().UnixNano()) }, Backoff: time.Microsecond, MaxBackoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	// Warm the other service's cache before the first decision lands.
	if _, _, err := other.RequestState(ctx, "contoso", "r1"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.DecideRequest(ctx, "contoso", "r1", w.meta("d1"), domain.Decide{Approve: []domain.UserID{"u1", "u2"}}); err != nil {
		t.Fatal(err)
	}
	before := w.count()
	_, err = other.DecideRequest(ctx, "contoso", "r1", events.Meta{CommandID: "d2"}, domain.Decide{Reject: []domain.UserID{"u1", "u2"}})
	w.wantErr(err, domain.ErrAlreadyDecided)
	if w.count() != before {
		t.Fatal("the stale decision was stored")
	}
}

// TestSubmitAfterAnotherInstanceSwitchesProcess: a submission reads the org
// but writes only the request. Another instance (a second service on the
// same store) switching to the organisation's own process must still stop
// it, however stale this service's cached org is.
func TestSubmitAfterAnotherInstanceSwitchesProcess(t *testing.T) {
	w := newReqWorld(t)
	w.setup()
	w.submit("r1") // this service now caches the org (built-in) and e5
	other, err := domain.NewService(w.store, domain.Config{Now: time.Now, NewID: func() string { return "other" }})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := other.SetRequestProcess(ctx, "contoso", w.meta("own"),
		domain.RequestProcess{Mode: events.ProcessOwn, Message: "Ask IT", Link: "https://it.example.com"}); err != nil {
		t.Fatal(err)
	}
	before := w.count()
	_, err = w.svc.SubmitRequest(ctx, "contoso", "r2", w.meta("submit-r2"),
		domain.SubmitRequest{ProductID: "e5", Requester: "u1", Justification: "project"})
	var own *domain.OwnProcessError
	if !errors.As(err, &own) {
		t.Fatalf("submission on a stale cache: got %v, want *OwnProcessError", err)
	}
	if got := w.count(); got != before {
		t.Fatalf("%d events stored", got-before)
	}
}

// TestASettledRequestLeavesTheCache: once decided, a request is not kept in
// the aggregate cache (the cache would otherwise grow with the request
// history); a later command on it loads it again and behaves as before: a
// repeated decision replays, a different one is refused.
func TestASettledRequestLeavesTheCache(t *testing.T) {
	w := newReqWorld(t)
	w.setup()
	w.submit("r1", "u1", "u2")
	decide := func(id string, d domain.Decide) (domain.Result, error) {
		return w.svc.DecideRequest(ctx, "contoso", "r1", w.meta(id), d)
	}
	res, err := decide("dec-r1", domain.Decide{Approve: []domain.UserID{"u1"}, Reject: []domain.UserID{"u2"}})
	if err != nil {
		t.Fatalf("decide: %v", err)
	}
	reloaded := func() bool {
		w.store.mu.Lock()
		defer w.store.mu.Unlock()
		return slices.Contains(w.store.loadLog, "request/r1@0")
	}
	w.store.mu.Lock()
	w.store.loadLog = nil
	w.store.mu.Unlock()
	res2, err := decide("dec-r1", domain.Decide{Approve: []domain.UserID{"u1"}, Reject: []domain.UserID{"u2"}})
	if err != nil || !res2.Replayed || res2.Position != res.Position {
		t.Fatalf("repeated decision: %v, %+v; want a replay at %d", err, res2, res.Position)
	}
	if !reloaded() {
		t.Fatalf("the decided request was answered from the cache (loads %v); want it loaded again", w.store.loadLog)
	}
	if got := w.state("r1").Status; got != events.RequestStatusPartiallyApproved {
		t.Fatalf("status after the replay: got %q, want %q", got, events.RequestStatusPartiallyApproved)
	}
	if _, err := decide("dec-other", domain.Decide{Approve: []domain.UserID{"u2"}}); !errors.Is(err, domain.ErrAlreadyDecided) {
		t.Fatalf("a second decision: %v, want ErrAlreadyDecided", err)
	}
}
