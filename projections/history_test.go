package projections_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/projections"
)

// at builds an envelope stored at position pos, by actor, with command id
// cmd.
func hat(pos uint64, kind events.Kind, id, actor, cmd string, d events.Data) events.Envelope {
	e := events.New("ev", "contoso", events.Aggregate{Kind: kind, ID: id}, t0.Add(time.Duration(pos)*time.Minute),
		events.Meta{Actor: actor, CommandID: cmd}, d)
	e.Position = pos
	return e
}

// originHistory has one license of each origin kind, an unassignment and a
// claim from a backup product after the policy's order changed.
func originHistory() []events.Envelope {
	p, pol, rq := events.KindProduct, events.KindPolicy, events.KindRequest
	pp := func(ids ...string) []events.PolicyProduct {
		out := make([]events.PolicyProduct, len(ids))
		for i, id := range ids {
			out[i] = events.PolicyProduct{ProductID: id}
		}
		return out
	}
	return []events.Envelope{
		hat(1, p, "e5", "admin", "c1", events.ProductAdded{ProductID: "e5", Name: "E5", Licenses: 9}),
		hat(2, p, "e3", "admin", "c2", events.ProductAdded{ProductID: "e3", Name: "E3", Licenses: 9}),
		hat(3, rq, "r1", "ann", "c3", events.RequestSubmitted{RequestID: "r1", ProductID: "e5", Requester: "ann", Users: []string{"ann", "bob"}}),
		hat(4, p, "e5", "lic-admin", "c4", events.LicenseAssigned{ProductID: "e5", UserID: "bob", DisabledServices: []string{"chat"},
			Source: events.Source{Kind: events.SourceRequest, Ref: "r1"}}),
		hat(5, rq, "r1", "lic-admin", "c4", events.RequestApproved{RequestID: "r1", ProductID: "e5", Approved: []string{"bob"}}),
		hat(6, pol, "pol1", "boss", "c6", events.PolicyCreated{PolicyID: "pol1", Name: "Chat", App: "chat", Products: pp("e5", "e3"), Enabled: true}),
		hat(7, pol, "pol1", "boss", "c7", events.PolicyProductsChanged{PolicyID: "pol1", Products: pp("e3", "e5")}),
		hat(8, p, "e5", "signin", "batch8", events.LicensesClaimed{ProductID: "e5", PolicyID: "pol1", App: "chat",
			Claims: []events.Claim{{UserID: "cat", SigninID: "s1", ClaimedAt: t0}}}),
		hat(9, events.KindGroup, "g1", "boss", "c9", events.GroupChanged{GroupID: "g1", Name: "Sales", Members: []string{"dan"}, Products: pp("e3")}),
		hat(10, p, "e3", "boss", "c9", events.LicensesAssigned{ProductID: "e3", Assignments: []events.Assignment{
			{UserID: "dan", Source: events.Source{Kind: events.SourceGroup, Ref: "g1"}, Actor: "boss", CommandID: "c9"}}}),
		hat(11, p, "e3", "helpdesk", "c11", events.LicenseAssigned{ProductID: "e3", UserID: "bob", Source: events.Source{Kind: events.SourceManual}}),
		hat(12, p, "e5", "helpdesk", "c12", events.LicenseUnassigned{ProductID: "e5", UserID: "cat"}),
	}
}

func TestLicenseHistoryOrigins(t *testing.T) {
	h := projections.NewLicenseHistory()
	for _, e := range originHistory() {
		h.Apply(e)
	}
	tm := func(pos int) time.Time { return t0.Add(time.Duration(pos) * time.Minute) }
	tests := []struct {
		name, user, product string
		want                []projections.HistoryEntry
	}{
		{"request: assignment and the decision", "bob", "e5", []projections.HistoryEntry{
			{Position: 4, At: tm(4), Type: "LicenseAssigned", Actor: "lic-admin", CommandID: "c4", Origin: projections.Origin{
				Kind: "request", Ref: "r1", Requester: "ann", DecidedBy: "lic-admin", DecisionPosition: 5,
				Detail: "request r1 by ann, approved by lic-admin (position 5)"}},
			{Position: 5, At: tm(5), Type: "RequestApproved", Actor: "lic-admin", CommandID: "c4", Origin: projections.Origin{
				Kind: "request", Ref: "r1", Requester: "ann", DecidedBy: "lic-admin", DecisionPosition: 5,
				Detail: "request r1 by ann, approved by lic-admin (position 5)"}},
		}},
		{"policy: backup 1 of the reordered list, then unassigned", "cat", "e5", []projections.HistoryEntry{
			{Position: 8, At: tm(8), Type: "LicensesClaimed", Actor: "signin", CommandID: "s1", Origin: projections.Origin{
				Kind: "policy", Ref: "pol1", PolicyVersion: 7, Place: "backup 1",
				Detail: "claimed under policy pol1 (version 7), backup 1 product"}},
			{Position: 12, At: tm(12), Type: "LicenseUnassigned", Actor: "helpdesk", CommandID: "c12", Origin: projections.Origin{
				Kind: "policy", Ref: "pol1", PolicyVersion: 7, Place: "backup 1",
				Detail: "license claimed under policy pol1 (version 7), backup 1 product, unassigned by helpdesk"}},
		}},
		{"group", "dan", "e3", []projections.HistoryEntry{
			{Position: 10, At: tm(10), Type: "LicensesAssigned", Actor: "boss", CommandID: "c9", Origin: projections.Origin{
				Kind: "group", Ref: "g1", GroupName: "Sales", Detail: "member of group g1 (Sales), assigned by boss"}},
		}},
		{"manual", "bob", "e3", []projections.HistoryEntry{
			{Position: 11, At: tm(11), Type: "LicenseAssigned", Actor: "helpdesk", CommandID: "c11", Origin: projections.Origin{
				Kind: "manual", Detail: "manually assigned by helpdesk"}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := h.History("contoso", tt.user, tt.product)
			if !ok || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got  %+v (%v)\nwant %+v", got, ok, tt.want)
			}
		})
	}
	if _, ok := h.History("contoso", "ann", "e5"); ok {
		t.Error("ann was never licensed, got a history")
	}
	if _, ok := h.History("fabrikam", "bob", "e5"); ok {
		t.Error("another tenant's history answered")
	}

	// A snapshot restores to the same answers.
	b, err := h.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	r := projections.NewLicenseHistory()
	if err := r.Restore(b); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		got, _ := r.History("contoso", tt.user, tt.product)
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s after restore: got %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

// TestLicenseHistoryLicensesAt: at every position the history answers a
// user's licenses as UserLicenses folded up to that position does.
func TestLicenseHistoryLicensesAt(t *testing.T) {
	evs := originHistory()
	h := projections.NewLicenseHistory()
	for _, e := range evs {
		h.Apply(e)
	}
	for n := 0; n <= len(evs); n++ {
		ul := projections.NewUserLicenses()
		for _, e := range evs[:n] {
			ul.Apply(e)
		}
		for _, u := range []string{"ann", "bob", "cat", "dan"} {
			want := ul.Licenses("contoso", u)
			got := h.LicensesAt("contoso", u, uint64(n))
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s at %d: got %+v, want %+v", u, n, got, want)
			}
		}
	}
}

// TestLicenseHistoryAfterAReclaim: a license reclaimed for disuse ends its
// history with the reclaim, naming the policy it was claimed under, and is
// no longer held.
func TestLicenseHistoryAfterAReclaim(t *testing.T) {
	h := projections.NewLicenseHistory()
	at := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	apply := func(pos uint64, agg events.Aggregate, d events.Data) {
		h.Apply(events.Envelope{Tenant: "t", Aggregate: agg, Position: pos, OccurredAt: at.Add(time.Duration(pos) * time.Hour), Type: d.EventType(), Data: d})
	}
	pol, prod := events.Aggregate{Kind: events.KindPolicy, ID: "p1"}, events.Aggregate{Kind: events.KindProduct, ID: "e5"}
	apply(1, pol, events.PolicyCreated{PolicyID: "p1", Name: "Teams", App: "teams", Products: []events.PolicyProduct{{ProductID: "e5"}}, Enabled: true})
	apply(2, prod, events.LicenseClaimed{ProductID: "e5", UserID: "u1", PolicyID: "p1", App: "teams", ClaimedAt: at})
	apply(3, prod, events.LicenseReclaimed{ProductID: "e5", UserID: "u1", PolicyID: "p1", App: "teams", LastSeen: at})
	got, ok := h.History("t", "u1", "e5")
	if !ok || len(got) != 2 {
		t.Fatalf("history: %+v (%v), want the claim and the reclaim", got, ok)
	}
	if got[1].Type != "LicenseReclaimed" || got[1].Origin.Kind != events.SourcePolicy || got[1].Origin.Ref != "p1" {
		t.Fatalf("reclaim entry: %+v, want LicenseReclaimed of policy p1", got[1])
	}
	if held := h.LicensesAt("t", "u1", 3); len(held) != 0 {
		t.Fatalf("licenses after the reclaim: %+v, want none", held)
	}
}
