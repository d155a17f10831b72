package projections_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/projections"
)

func at(e events.Envelope, d time.Duration, actor string) events.Envelope {
	e.OccurredAt, e.Actor = e.OccurredAt.Add(d), actor
	return e
}

func requestHistory() []events.Envelope {
	r := events.KindRequest
	return []events.Envelope{
		env("contoso", events.KindProduct, "e5", events.ProductAdded{ProductID: "e5", Name: "E5", Licenses: 3, SelfService: "blocked"}),
		at(env("contoso", r, "r1", events.RequestSubmitted{RequestID: "r1", ProductID: "e5", Requester: "u1", Users: []string{"u1", "u2", "u3"}, ExpiresAt: t0.AddDate(0, 0, 30)}), 0, "u1"),
		at(env("contoso", r, "r2", events.RequestSubmitted{RequestID: "r2", ProductID: "e5", Requester: "u2", Users: []string{"u2"}, ExpiresAt: t0.AddDate(0, 0, 30)}), time.Hour, "u2"),
		at(env("contoso", r, "r3", events.RequestSubmitted{RequestID: "r3", ProductID: "e5", Requester: "u1", Users: []string{"u1"}, ExpiresAt: t0.AddDate(0, 0, 1)}), 2*time.Hour, "u1"),
		at(env("contoso", r, "r1", events.RequestShared{RequestID: "r1", Recipients: []events.ShareRecipient{{Email: "boss@x.com", UserID: "boss", ShareID: "sh1"}}, ExpiresAt: t0.AddDate(0, 0, 7)}), 3*time.Hour, "ada"),
		at(env("contoso", r, "r1", events.ShareAnswered{RequestID: "r1", ShareID: "sh1", Email: "boss@x.com", Recommendation: "approve", Comment: "yes"}), 4*time.Hour, "boss"),
		at(env("contoso", r, "r1", events.RequestApproved{RequestID: "r1", ProductID: "e3", Approved: []string{"u1"}, AlreadyLicensed: []string{"u2"}, Rejected: []string{"u3"}, DisabledServices: []string{"chat"}, Message: "ok"}), 5*time.Hour, "ada"),
		at(env("contoso", r, "r2", events.RequestDenied{RequestID: "r2", Rejected: []string{"u2"}, Message: "no"}), 5*time.Hour, "ada"),
		at(env("fabrikam", r, "r9", events.RequestSubmitted{RequestID: "r9", ProductID: "x", Requester: "f", Users: []string{"f"}, ExpiresAt: t0}), 0, "f"),
	}
}

func TestRequests(t *testing.T) {
	rq := projections.NewRequests()
	for _, e := range requestHistory() {
		rq.Apply(e)
	}
	ids := func(items []projections.RequestItem) []string {
		out := []string{}
		for _, it := range items {
			out = append(out, it.RequestID+":"+string(it.Status))
		}
		return out
	}
	if got, want := ids(rq.List("contoso", projections.RequestFilter{})), []string{"r3:pending", "r2:denied", "r1:partially_approved"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("list: got %v, want %v", got, want)
	}
	if got, want := ids(rq.List("contoso", projections.RequestFilter{Status: "completed"})), []string{"r2:denied", "r1:partially_approved"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("completed: got %v, want %v", got, want)
	}
	if got, want := ids(rq.List("contoso", projections.RequestFilter{Status: "pending", Requester: "u1"})), []string{"r3:pending"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("pending of u1: got %v, want %v", got, want)
	}
	// Retention: a year later, nothing is listed.
	if got := rq.List("contoso", projections.RequestFilter{Now: t0.AddDate(1, 0, 1)}); len(got) != 0 {
		t.Fatalf("after retention: got %v", got)
	}
	if got := rq.List("contoso", projections.RequestFilter{Now: t0.AddDate(0, 11, 0)}); len(got) != 3 {
		t.Fatalf("within retention: got %v", got)
	}
	d, ok := rq.Details("contoso", "r1")
	if !ok || d.ProductName != "E5" || d.Decision.DecidedBy != "ada" || d.Decision.ProductID != "e3" {
		t.Fatalf("details: %+v", d)
	}
	want := []projections.RequestUser{{UserID: "u1", Outcome: "approved"}, {UserID: "u2", Outcome: "already_licensed"}, {UserID: "u3", Outcome: "rejected"}}
	if !reflect.DeepEqual(d.Outcomes, want) {
		t.Fatalf("outcomes: got %v, want %v", d.Outcomes, want)
	}
	if len(d.Shares) != 1 || !d.Shares[0].Answered || d.Shares[0].Recommendation != "approve" {
		t.Fatalf("shares: %+v", d.Shares)
	}
	if _, ok := rq.Details("fabrikam", "r1"); ok {
		t.Fatal("tenant leak")
	}
	// The scheduler sees r3 (due) and r9, not the decided ones.
	due := rq.Pending(t0.AddDate(0, 0, 1), 0)
	if len(due) != 2 {
		t.Fatalf("pending due: %+v", due)
	}
	// A snapshot restores the same state.
	b, err := rq.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	again := projections.NewRequests()
	if err := again.Restore(b); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(again.List("contoso", projections.RequestFilter{}), rq.List("contoso", projections.RequestFilter{})) {
		t.Fatal("restored list differs")
	}
}

func TestDirectory(t *testing.T) {
	d := projections.NewDirectory()
	u, g := events.KindUser, events.KindGroup
	for _, e := range []events.Envelope{
		env("contoso", u, "ada", events.UserRegistered{UserID: "ada", Email: "ada@x.com", DisplayName: "Ada", Roles: []string{"license-admin"}}),
		env("contoso", u, "u1", events.UserRegistered{UserID: "u1", Email: "u1@x.com", DisplayName: "U1"}),
		env("contoso", g, "g1", events.GroupChanged{GroupID: "g1", Name: "Sales", Members: []string{"u1", "ada"}}),
		env("contoso", u, "u1", events.UserRegistered{UserID: "u1", Email: "new@x.com", DisplayName: "U1"}),
		env("contoso", g, "g1", events.GroupChanged{GroupID: "g1", Name: "Sales", Members: []string{"u1"}}),
	} {
		d.Apply(e)
	}
	if _, ok := d.UserByEmail("contoso", "u1@x.com"); ok {
		t.Fatal("old email still resolves")
	}
	x, ok := d.UserByEmail("contoso", "NEW@x.com")
	if !ok || x.UserID != "u1" || !reflect.DeepEqual(x.Groups, []string{"g1"}) {
		t.Fatalf("by email: %+v %v", x, ok)
	}
	if a := d.Admins("contoso"); len(a) != 1 || a[0].UserID != "ada" || len(a[0].Groups) != 0 {
		t.Fatalf("admins: %+v", a)
	}
	if a := d.Admins("fabrikam"); len(a) != 0 {
		t.Fatalf("tenant leak: %+v", a)
	}
}

// TestRequestsRetention: with a retention, a decided or expired request
// leaves the model once it is older than the retention in event time (its
// details too); a pending one stays however old; another tenant's events
// sweep only that tenant; a rebuild from the same events gives the same
// model.
func TestRequestsRetention(t *testing.T) {
	history := requestHistory()
	later := func(tenant, id string, d time.Duration) events.Envelope {
		return at(env(tenant, events.KindRequest, id, events.RequestSubmitted{RequestID: id, ProductID: "e5", Requester: "u4",
			Users: []string{"u4"}, ExpiresAt: t0.AddDate(0, 0, 60)}), d, "u4")
	}
	history = append(history,
		later("fabrikam", "f2", 30*24*time.Hour), // another tenant's clock moves: contoso is not swept
		later("contoso", "r4", 10*24*time.Hour),  // 10 days on: r1 and r2 (decided at 5 h) are past 7 days
	)
	build := func() *projections.Requests {
		rq := projections.NewRequestsRetaining(7 * 24 * time.Hour)
		for _, e := range history[:len(history)-1] {
			rq.Apply(e)
		}
		if _, ok := rq.Details("contoso", "r1"); !ok {
			t.Fatal("r1 dropped by another tenant's event")
		}
		rq.Apply(history[len(history)-1])
		return rq
	}
	rq := build()
	var got []string
	for _, it := range rq.List("contoso", projections.RequestFilter{}) {
		got = append(got, it.RequestID+":"+string(it.Status))
	}
	if want := []string{"r4:pending", "r3:pending"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("after 10 days with a 7-day retention: %v, want %v (the pending r3 stays)", got, want)
	}
	if _, ok := rq.Details("contoso", "r1"); ok {
		t.Fatal("details of a request past the retention are still served")
	}
	if !reflect.DeepEqual(build().List("contoso", projections.RequestFilter{}), rq.List("contoso", projections.RequestFilter{})) {
		t.Fatal("a rebuild differs")
	}
	// Without a retention nothing is dropped.
	all := projections.NewRequests()
	for _, e := range history {
		all.Apply(e)
	}
	if n := len(all.List("contoso", projections.RequestFilter{})); n != 4 {
		t.Fatalf("without a retention: %d requests, want 4", n)
	}
}
