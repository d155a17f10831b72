package domain_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/events"
)

func TestDecideReclaim(t *testing.T) {
	day := func(n int) time.Time { return now.AddDate(0, 0, n) }
	claimedAt := day(-20)
	// given: u1 claimed P under p1 twenty days ago; m1 got P manually.
	given := func(evs ...events.Data) *domain.Product {
		p := &domain.Product{}
		all := append([]events.Data{
			events.ProductAdded{ProductID: "P", Name: "P", Services: []string{}, Licenses: 5, SelfService: events.SelfServiceBlocked},
			events.LicenseClaimed{ProductID: "P", UserID: "u1", PolicyID: "p1", App: "teams", DisabledServices: []string{}, SigninID: "s1", ClaimedAt: claimedAt},
			events.LicenseAssigned{ProductID: "P", UserID: "m1", DisabledServices: []string{}, Source: events.Source{Kind: events.SourceManual}},
		}, evs...)
		for _, e := range all {
			domain.EvolveProduct(p, events.Envelope{Data: e})
		}
		return p
	}
	warned := events.LicenseReclaimWarned{ProductID: "P", UserID: "u1", PolicyID: "p1", App: "teams", LastSeen: claimedAt, ReclaimAt: day(-2)}
	warn := domain.WarnReclaim{UserID: "u1", PolicyID: "p1", App: "teams", LastSeen: claimedAt, ReclaimAt: day(-2)}
	reclaim := domain.ReclaimLicense{UserID: "u1", PolicyID: "p1", App: "teams", LastSeen: claimedAt}
	for _, tc := range []struct {
		name  string
		given *domain.Product
		when  domain.ReclaimCommand
		at    time.Time
		then  []events.Data
	}{
		{"an idle claimed license is warned", given(), warn, now, []events.Data{warned}},
		{"warned once for one absence", given(warned), warn, now, nil},
		{"a new absence after a sign-in is warned again", given(warned),
			domain.WarnReclaim{UserID: "u1", PolicyID: "p1", App: "teams", LastSeen: day(-1), ReclaimAt: day(9)}, now,
			[]events.Data{events.LicenseReclaimWarned{ProductID: "P", UserID: "u1", PolicyID: "p1", App: "teams", LastSeen: day(-1), ReclaimAt: day(9)}}},
		{"a manual license is never warned", given(), domain.WarnReclaim{UserID: "m1", PolicyID: "p1", LastSeen: claimedAt, ReclaimAt: day(1)}, now, nil},
		{"a license under another policy is not warned", given(), domain.WarnReclaim{UserID: "u1", PolicyID: "p2", LastSeen: claimedAt, ReclaimAt: day(1)}, now, nil},
		{"a warned license is reclaimed when due", given(warned), reclaim, now,
			[]events.Data{events.LicenseReclaimed{ProductID: "P", UserID: "u1", PolicyID: "p1", App: "teams", LastSeen: claimedAt}}},
		{"not before it is due", given(warned), reclaim, day(-3), nil},
		{"a sign-in after the warning keeps the license", given(warned),
			domain.ReclaimLicense{UserID: "u1", PolicyID: "p1", App: "teams", LastSeen: day(-3)}, now, nil},
		{"an unwarned license is not reclaimed", given(), reclaim, now, nil},
		{"a license given back meanwhile", given(warned, events.LicenseUnassigned{ProductID: "P", UserID: "u1"}), reclaim, now, nil},
		{"reclaimed once", given(warned, events.LicenseReclaimed{ProductID: "P", UserID: "u1", PolicyID: "p1", App: "teams", LastSeen: claimedAt}), reclaim, now, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			at := tc.at
			if at.IsZero() {
				at = now
			}
			got, err := domain.DecideReclaim(tc.given, tc.when, at)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.then) {
				t.Fatalf("events:\ngot  %+v\nwant %+v", got, tc.then)
			}
		})
	}
	// A reclaim frees the seat and keeps the user a claimant of the
	// policy: they do not claim it back by signing in.
	p := given(warned, events.LicenseReclaimed{ProductID: "P", UserID: "u1", PolicyID: "p1", App: "teams", LastSeen: claimedAt})
	if p.Available() != 4 || !p.ClaimedUnder("p1", "u1") {
		t.Fatalf("after the reclaim: available %d (want 4), claimed under p1 %v (want true)", p.Available(), p.ClaimedUnder("p1", "u1"))
	}
}
