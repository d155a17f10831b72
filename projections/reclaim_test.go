package projections_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/projections"
)

// TestReclaimCandidates: which claimed licenses are due for a warning or a
// reclaim, and a restored read model answers the same and goes on the same.
func TestReclaimCandidates(t *testing.T) {
	after, warnDays := 10, 3
	claimedAt := clock.AddDate(0, 0, -20)
	rc := projections.NewReclaimCandidates()
	ps := []projections.Projection{rc}
	feed(ps, "contoso", events.Aggregate{Kind: events.KindOrg, ID: "org"}, events.AutoClaimSettingChanged{Enabled: true})
	feed(ps, "contoso", pol, events.PolicyCreated{PolicyID: "p1", Name: "Teams", App: "teams", Products: []events.PolicyProduct{{ProductID: "P"}}, Enabled: true},
		events.PolicyLimitsChanged{PolicyID: "p1", ReclaimAfterDays: &after, ReclaimWarnDays: &warnDays})
	feed(ps, "contoso", prodAgg("P"), events.LicensesClaimed{ProductID: "P", PolicyID: "p1", App: "teams", Claims: []events.Claim{
		{UserID: "u1", SigninID: "s1", ClaimedAt: claimedAt}, {UserID: "u2", SigninID: "s2", ClaimedAt: claimedAt},
		{UserID: "u3", SigninID: "s3", ClaimedAt: clock}, {UserID: "u4", SigninID: "s4", ClaimedAt: claimedAt}}},
		events.LicenseAssigned{ProductID: "P", UserID: "m1", Source: events.Source{Kind: events.SourceManual}},
		events.LicenseReclaimWarned{ProductID: "P", UserID: "u2", PolicyID: "p1", App: "teams", LastSeen: claimedAt, ReclaimAt: clock.Add(time.Hour)},
		events.LicenseUnassigned{ProductID: "P", UserID: "u4"},
		// A warning for a license not held is ignored.
		events.LicenseReclaimWarned{ProductID: "P", UserID: "u4", PolicyID: "p1", App: "teams", LastSeen: claimedAt, ReclaimAt: clock})
	want := []projections.ReclaimCandidate{
		{Tenant: "contoso", ProductID: "P", UserID: "u1", PolicyID: "p1", App: "teams", ClaimedAt: claimedAt, AfterDays: after, WarnDays: warnDays},
		{Tenant: "contoso", ProductID: "P", UserID: "u2", PolicyID: "p1", App: "teams", ClaimedAt: claimedAt, AfterDays: after, WarnDays: warnDays,
			Warned: true, WarnedLastSeen: claimedAt, ReclaimAt: clock.Add(time.Hour)},
	}
	if got := rc.Due(clock); !reflect.DeepEqual(got, want) {
		t.Fatalf("due:\ngot  %+v\nwant %+v", got, want)
	}
	b, err := rc.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	restored := projections.NewReclaimCandidates()
	if err := restored.Restore(b); err != nil {
		t.Fatal(err)
	}
	if got := restored.Due(clock); !reflect.DeepEqual(got, want) {
		t.Fatalf("due after a restore:\ngot  %+v\nwant %+v", got, want)
	}
	// Claimed again, u2's warning is gone; reclaimed, u1 is no candidate.
	more := func(m *projections.ReclaimCandidates) []projections.ReclaimCandidate {
		feed([]projections.Projection{m}, "contoso", prodAgg("P"),
			events.LicenseClaimed{ProductID: "P", UserID: "u2", PolicyID: "p1", App: "teams", SigninID: "s5", ClaimedAt: claimedAt},
			events.LicenseReclaimed{ProductID: "P", UserID: "u1", PolicyID: "p1", App: "teams", LastSeen: claimedAt})
		return m.Due(clock)
	}
	want = []projections.ReclaimCandidate{{Tenant: "contoso", ProductID: "P", UserID: "u2", PolicyID: "p1", App: "teams", ClaimedAt: claimedAt,
		AfterDays: after, WarnDays: warnDays}}
	for _, m := range []*projections.ReclaimCandidates{rc, restored} {
		if got := more(m); !reflect.DeepEqual(got, want) {
			t.Fatalf("due after more events:\ngot  %+v\nwant %+v", got, want)
		}
	}
	if err := restored.Restore([]byte("{")); err == nil {
		t.Fatal("restore of a bad snapshot succeeded")
	}
}
