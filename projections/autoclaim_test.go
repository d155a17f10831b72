package projections_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/projections"
)

var clock = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func feed(ps []projections.Projection, tenant string, agg events.Aggregate, evs ...events.Data) {
	for i, d := range evs {
		env := events.New(fmt.Sprint(i), tenant, agg, clock, events.Meta{CommandID: "c"}, d)
		for _, p := range ps {
			p.Apply(env)
		}
	}
}

func prodAgg(id string) events.Aggregate { return events.Aggregate{Kind: events.KindProduct, ID: id} }

var pol = events.Aggregate{Kind: events.KindPolicy, ID: "p1"}

func TestPolicyList(t *testing.T) {
	pl := projections.NewPolicyList()
	ps := []projections.Projection{pl}
	feed(ps, "contoso", prodAgg("P"), events.ProductAdded{ProductID: "P", Name: "Plan P", Licenses: 3, SelfService: "blocked"},
		events.LicenseAssigned{ProductID: "P", UserID: "x"})
	feed(ps, "contoso", prodAgg("B"), events.ProductAdded{ProductID: "B", Name: "Plan B", Licenses: 2, SelfService: "blocked"})
	feed(ps, "contoso", pol,
		events.PolicyCreated{PolicyID: "p1", Name: "Teams", App: "teams", Products: []events.PolicyProduct{{ProductID: "P", DisabledServices: []string{"chat"}}, {ProductID: "B"}}, Enabled: true},
		events.UserQueued{PolicyID: "p1", UserID: "u1"}, events.UserQueued{PolicyID: "p1", UserID: "u2"},
		events.QueuedUserGranted{PolicyID: "p1", UserID: "u1", ProductID: "P"},
		events.PolicyRenamed{PolicyID: "p1", Name: "Chat"}, events.PolicyStatusChanged{PolicyID: "p1", Enabled: false})
	feed(ps, "contoso", prodAgg("P"), events.LicenseClaimed{ProductID: "P", UserID: "u1", PolicyID: "p1"})
	got, ok := pl.Policy("contoso", "p1")
	want := projections.PolicyListItem{PolicyID: "p1", Name: "Chat", App: "teams", Enabled: false, Available: 3, Queue: []string{"u2"}, Queued: 1,
		Products: []projections.PolicyProductView{
			{ProductID: "P", Name: "Plan P", Available: 1, DisabledServices: []string{"chat"}},
			{ProductID: "B", Name: "Plan B", Available: 2, DisabledServices: []string{}},
		}}
	if !ok || !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if l := pl.Policies("contoso"); len(l) != 1 || pl.Policies("other") == nil || len(pl.Policies("other")) != 0 {
		t.Fatalf("list: %+v", l)
	}
}

func TestClaimReport(t *testing.T) {
	c := projections.NewClaims()
	ps := []projections.Projection{c}
	feed(ps, "contoso", pol, events.PolicyCreated{PolicyID: "p1", Name: "Teams", App: "teams", Enabled: true})
	feed(ps, "contoso", events.Aggregate{Kind: events.KindPolicy, ID: "p2"}, events.PolicyCreated{PolicyID: "p2", Name: "Mail", App: "mail"})
	feed(ps, "contoso", events.Aggregate{Kind: events.KindUser, ID: "u0"}, events.UserRegistered{UserID: "u0", Email: "u0@example.com"})
	// One claim 0, 3, 10, 50 and 99 days (and an hour) ago, one 100+ days ago,
	// one in the future (never counted).
	ago := []int{0, 3, 10, 50, 99, 120}
	for i, d := range ago {
		prod := "P"
		if i%2 == 1 {
			prod = "B"
		}
		feed(ps, "contoso", prodAgg(prod), events.LicenseClaimed{ProductID: prod, UserID: fmt.Sprintf("u%d", i), PolicyID: "p1",
			ClaimedAt: clock.AddDate(0, 0, -d).Add(-time.Hour)})
	}
	feed(ps, "contoso", prodAgg("P"), events.LicenseClaimed{ProductID: "P", UserID: "late", PolicyID: "p1", ClaimedAt: clock.Add(time.Hour)})
	for days, want := range map[int]int{1: 1, 7: 2, 30: 3, 90: 4} {
		r := c.Report("contoso", days, clock)
		if len(r.Policies) != 2 || r.Policies[1].PolicyID != "p1" || r.Policies[1].Total != want || r.Policies[0].Total != 0 {
			t.Fatalf("%d days: got %+v, want p1 total %d", days, r.Policies, want)
		}
		sum := 0
		for _, d := range r.Policies[1].ByDay {
			sum += d.Count
		}
		for _, p := range r.Policies[1].ByProduct {
			sum -= p.Count
		}
		if sum != 0 || !r.To.Equal(clock) || !r.From.Equal(clock.AddDate(0, 0, -days)) {
			t.Fatalf("%d days: by_day and by_product disagree or window wrong: %+v", days, r)
		}
	}
	r := c.Report("contoso", 7, clock)
	wantDays := []projections.DayCount{{Date: "2026-11-20", Count: 1}, {Date: "2026-11-23", Count: 1}}
	if !reflect.DeepEqual(r.Policies[1].ByDay, wantDays) {
		t.Fatalf("by day: got %+v, want %+v", r.Policies[1].ByDay, wantDays)
	}
	users, ok := c.PolicyClaims("contoso", "p1", clock.AddDate(0, 0, -7))
	if !ok || len(users) != 3 || users[1].Email != "u0@example.com" || users[0].UserID != "late" {
		t.Fatalf("claimed users: got %+v", users)
	}
	if _, ok := c.PolicyClaims("contoso", "nope", time.Time{}); ok {
		t.Fatal("unknown policy found")
	}
}

// TestAutoClaimSnapshots: a read model restored from its snapshot answers
// as the original and goes on applying events the same way.
func TestAutoClaimSnapshots(t *testing.T) {
	pl, c := projections.NewPolicyList(), projections.NewClaims()
	ps := []projections.Projection{pl, c}
	feed(ps, "contoso", prodAgg("P"), events.ProductAdded{ProductID: "P", Name: "Plan P", Licenses: 3, SelfService: "blocked"})
	feed(ps, "contoso", pol, events.PolicyCreated{PolicyID: "p1", Name: "Teams", App: "teams", Products: []events.PolicyProduct{{ProductID: "P"}}, Enabled: true},
		events.UserQueued{PolicyID: "p1", UserID: "u9"})
	feed(ps, "contoso", events.Aggregate{Kind: events.KindUser, ID: "u1"}, events.UserRegistered{UserID: "u1", Email: "u1@example.com"})
	feed(ps, "contoso", prodAgg("P"), events.LicenseClaimed{ProductID: "P", UserID: "u1", PolicyID: "p1", ClaimedAt: clock.Add(-time.Hour)})
	pl2, c2 := projections.NewPolicyList(), projections.NewClaims()
	for _, pair := range [][2]interface {
		Snapshot() ([]byte, error)
		Restore([]byte) error
	}{{pl, pl2}, {c, c2}} {
		b, err := pair[0].Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		if err := pair[1].Restore(b); err != nil {
			t.Fatal(err)
		}
	}
	more := func(ps ...projections.Projection) {
		feed(ps, "contoso", prodAgg("P"), events.LicenseClaimed{ProductID: "P", UserID: "u2", PolicyID: "p1", ClaimedAt: clock})
	}
	more(pl, c)
	more(pl2, c2)
	if a, b := fmt.Sprint(pl.Policies("contoso")), fmt.Sprint(pl2.Policies("contoso")); a != b {
		t.Fatalf("policy list:\n%s\n%s", a, b)
	}
	if a, b := fmt.Sprint(c.Report("contoso", 7, clock)), fmt.Sprint(c2.Report("contoso", 7, clock)); a != b {
		t.Fatalf("report:\n%s\n%s", a, b)
	}
	u1, _ := c.PolicyClaims("contoso", "p1", time.Time{})
	u2, _ := c2.PolicyClaims("contoso", "p1", time.Time{})
	if !reflect.DeepEqual(u1, u2) || len(u2) != 2 || u2[1].Email != "u1@example.com" {
		t.Fatalf("claimed users:\n%+v\n%+v", u1, u2)
	}
	if err := pl2.Restore([]byte("{")); err == nil {
		t.Fatal("restore of a bad snapshot succeeded")
	}
}

// TestLicensesClaimedEqualsEachClaim: claims decided together (one
// LicensesClaimed) leave every read model as the same claims one by one.
func TestLicensesClaimedEqualsEachClaim(t *testing.T) {
	build := func(claims ...events.Data) [][]byte {
		return snapshotsAfter(t, []projections.Projection{projections.NewLicenseCounts(), projections.NewUserLicenses(),
			projections.NewPolicyList(), projections.NewClaims(), projections.NewReclaimCandidates(),
			projections.NewLicenseHistory()}, claims...)
	}
	// Read models fold a batch's claims together where they share
	// something: the batch covers what they may not share (disabled
	// services, days, times out of order, an empty signin id, a user who
	// already holds another product).
	midnight := clock.Truncate(24 * time.Hour)
	batch := events.LicensesClaimed{ProductID: "P", PolicyID: "p1", App: "teams", Claims: []events.Claim{
		{UserID: "u1", DisabledServices: []string{}, SigninID: "s1", ClaimedAt: midnight.Add(-time.Hour)},
		{UserID: "u2", DisabledServices: []string{"chat"}, SigninID: "s2", ClaimedAt: midnight.Add(-time.Minute)},
		{UserID: "u3", DisabledServices: []string{"chat"}, SigninID: "s3", ClaimedAt: midnight.Add(-2 * time.Hour)},
		{UserID: "x", DisabledServices: nil, SigninID: "", ClaimedAt: midnight},
		{UserID: "u4", DisabledServices: []string{"mail", "chat"}, SigninID: "s4", ClaimedAt: midnight.Add(time.Minute)},
		{UserID: "u5", DisabledServices: []string{}, SigninID: "s5", ClaimedAt: midnight.Add(-time.Nanosecond)},
		{UserID: "u6", DisabledServices: []string{}, SigninID: "s6", ClaimedAt: time.Time{}},
		{UserID: "u7", DisabledServices: []string{}, SigninID: "s7", ClaimedAt: midnight.Add(time.Hour)}}}
	var each []events.Data
	for _, c := range batch.Each() {
		each = append(each, c)
	}
	held := events.LicenseAssigned{ProductID: "Q", UserID: "x", DisabledServices: []string{}, Source: events.Source{Kind: events.SourceManual}}
	got, want := build(held, batch), build(append([]events.Data{held}, each...)...)
	for i := range want {
		// The history records the type of the event an entry comes from:
		// in its string table, each string its length then its bytes.
		lenPrefixed := func(s string) string { return string(rune(len(s))) + s }
		w := strings.ReplaceAll(string(want[i]), lenPrefixed(events.TypeLicenseClaimed), lenPrefixed(events.TypeLicensesClaimed))
		if string(got[i]) != w {
			t.Errorf("read model %d:\ngot  %s\nwant %s", i, got[i], w)
		}
	}
	if string(build()[0]) == string(want[0]) {
		t.Fatal("the claims changed nothing: the comparison proves nothing")
	}
}

// TestLicensesAssignedEqualsEachAssignment: assignments decided together
// (one LicensesAssigned) leave every read model as the same assignments
// one by one.
func TestLicensesAssignedEqualsEachAssignment(t *testing.T) {
	build := func(evs ...events.Data) [][]byte {
		return snapshotsAfter(t, []projections.Projection{projections.NewLicenseCounts(), projections.NewUserLicenses(),
			projections.NewPolicyList()}, evs...)
	}
	batch := events.LicensesAssigned{ProductID: "P", Assignments: []events.Assignment{
		{UserID: "u1", DisabledServices: []string{}, Source: events.Source{Kind: events.SourceManual}, Actor: "ada", CommandID: "c1"},
		{UserID: "u2", DisabledServices: []string{"chat"}, Source: events.Source{Kind: events.SourceManual}, Actor: "lena", CommandID: "c2"}}}
	var each []events.Data
	for _, a := range batch.Each() {
		each = append(each, a)
	}
	got, want := build(batch), build(each...)
	for i := range want {
		if string(got[i]) != string(want[i]) {
			t.Errorf("read model %d:\ngot  %s\nwant %s", i, got[i], want[i])
		}
	}
	if string(build()[0]) == string(want[0]) {
		t.Fatal("the assignments changed nothing: the comparison proves nothing")
	}
}

// snapshotsAfter feeds ps product P under policy p1 of app teams, then evs
// on P, and returns each read model's snapshot.
func snapshotsAfter(t *testing.T, ps []projections.Projection, evs ...events.Data) [][]byte {
	t.Helper()
	feed(ps, "contoso", prodAgg("P"), events.ProductAdded{ProductID: "P", Name: "Plan P", Licenses: 5, SelfService: "blocked"})
	feed(ps, "contoso", pol, events.PolicyCreated{PolicyID: "p1", Name: "Teams", App: "teams", Products: []events.PolicyProduct{{ProductID: "P"}}, Enabled: true})
	feed(ps, "contoso", prodAgg("P"), evs...)
	var out [][]byte
	for _, p := range ps {
		b, err := p.(projections.Snapshotter).Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}
