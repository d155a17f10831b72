package projections_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/projections"
)

var t0 = time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)

func env(tenant string, kind events.Kind, id string, d events.Data) events.Envelope {
	return events.New("ev", tenant, events.Aggregate{Kind: kind, ID: id}, t0, events.Meta{CommandID: "c"}, d)
}

// history is a small tenant history used by the tests below.
func history() []events.Envelope {
	p := events.KindProduct
	return []events.Envelope{
		env("contoso", p, "e5", events.ProductAdded{ProductID: "e5", Name: "E5", Services: []string{"mail", "chat"}, Licenses: 3, SelfService: "blocked"}),
		env("contoso", p, "e3", events.ProductAdded{ProductID: "e3", Name: "E3", Services: []string{"mail"}, Licenses: 1, SelfService: "allowed"}),
		env("fabrikam", p, "e5", events.ProductAdded{ProductID: "e5", Name: "E5", Licenses: 9, SelfService: "allowed"}),
		env("contoso", p, "e5", events.LicenseAssigned{ProductID: "e5", UserID: "u1", DisabledServices: []string{"chat"}, Source: events.Source{Kind: "request", Ref: "r1"}}),
		env("contoso", p, "e5", events.LicenseClaimed{ProductID: "e5", UserID: "u2", PolicyID: "p1", App: "chat", DisabledServices: []string{}, ClaimedAt: t0.Add(-time.Hour)}),
		env("contoso", p, "e5", events.LicensesPurchased{ProductID: "e5", Count: 2}),
		env("contoso", p, "e5", events.LicenseUnassigned{ProductID: "e5", UserID: "u2"}),
		env("contoso", p, "e5", events.LicensesRemoved{ProductID: "e5", Count: 1}),
		env("contoso", p, "e3", events.LicenseAssigned{ProductID: "e3", UserID: "u1", DisabledServices: []string{}, Source: events.Source{Kind: "manual"}}),
		env("contoso", p, "e3", events.SelfServicePurchaseChanged{ProductID: "e3", SelfService: "blocked"}),
		env("contoso", events.KindUser, "u1", events.UserRegistered{UserID: "u1", Email: "u1@example.com"}),
	}
}

func TestLicenseCounts(t *testing.T) {
	lc := projections.NewLicenseCounts()
	for _, e := range history() {
		lc.Apply(e)
	}
	got := lc.Products("contoso")
	want := []projections.ProductCount{
		{ProductID: "e3", Name: "E3", Services: []string{"mail"}, Purchased: 1, Assigned: 1, Available: 0, SelfService: "blocked"},
		{ProductID: "e5", Name: "E5", Services: []string{"mail", "chat"}, Purchased: 4, Assigned: 1, Available: 3, SelfService: "blocked"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
	if p, ok := lc.Product("fabrikam", "e5"); !ok || p.Purchased != 9 || p.Services == nil {
		t.Fatalf("fabrikam e5: got %+v %v, want 9 purchased and non-nil services", p, ok)
	}
	if _, ok := lc.Product("contoso", "nope"); ok {
		t.Fatal("found a product that was never added")
	}
	if got := lc.Products("nobody"); len(got) != 0 {
		t.Fatalf("unknown tenant: got %v, want none", got)
	}
}

func TestUserLicenses(t *testing.T) {
	ul := projections.NewUserLicenses()
	for _, e := range history() {
		ul.Apply(e)
	}
	got := ul.Licenses("contoso", "u1")
	want := []projections.UserLicense{
		{ProductID: "e3", DisabledServices: []string{}, Source: events.Source{Kind: "manual"}, AssignedAt: t0},
		{ProductID: "e5", DisabledServices: []string{"chat"}, Source: events.Source{Kind: "request", Ref: "r1"}, AssignedAt: t0},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
	if got := ul.Licenses("contoso", "u2"); len(got) != 0 {
		t.Fatalf("u2 was unassigned: got %+v", got)
	}
	if got := ul.Licenses("fabrikam", "u1"); len(got) != 0 {
		t.Fatalf("tenants leak: got %+v", got)
	}
}

// TestUserLicensesComeAndGo: a user's licenses as they get more, lose
// some, get one again in place of another and lose all; the holders of a
// product and a restored read model agree at each step.
func TestUserLicensesComeAndGo(t *testing.T) {
	manual := events.Source{Kind: "manual"}
	assign := func(p string, disabled ...string) events.Envelope {
		return env("contoso", events.KindProduct, p, events.LicenseAssigned{ProductID: p, UserID: "u1", DisabledServices: disabled, Source: manual})
	}
	unassign := func(p string) events.Envelope {
		return env("contoso", events.KindProduct, p, events.LicenseUnassigned{ProductID: p, UserID: "u1"})
	}
	lic := func(p string, disabled ...string) projections.UserLicense {
		if disabled == nil {
			disabled = []string{}
		}
		return projections.UserLicense{ProductID: p, DisabledServices: disabled, Source: manual, AssignedAt: t0}
	}
	ul := projections.NewUserLicenses()
	for i, step := range []struct {
		apply events.Envelope
		want  []projections.UserLicense
	}{
		{assign("e5"), []projections.UserLicense{lic("e5")}},
		{assign("e5", "chat"), []projections.UserLicense{lic("e5", "chat")}},
		{assign("e3"), []projections.UserLicense{lic("e3"), lic("e5", "chat")}},
		{assign("visio"), []projections.UserLicense{lic("e3"), lic("e5", "chat"), lic("visio")}},
		{assign("e3", "mail"), []projections.UserLicense{lic("e3", "mail"), lic("e5", "chat"), lic("visio")}},
		{unassign("e5"), []projections.UserLicense{lic("e3", "mail"), lic("visio")}},
		{unassign("nope"), []projections.UserLicense{lic("e3", "mail"), lic("visio")}},
		{unassign("e3"), []projections.UserLicense{lic("visio")}},
		{assign("e5"), []projections.UserLicense{lic("e5"), lic("visio")}},
		{unassign("visio"), []projections.UserLicense{lic("e5")}},
		{unassign("e5"), []projections.UserLicense{}},
	} {
		ul.Apply(step.apply)
		b, err := ul.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		restored := projections.NewUserLicenses()
		if err := restored.Restore(b); err != nil {
			t.Fatal(err)
		}
		for _, m := range []*projections.UserLicenses{ul, restored} {
			if got := m.Licenses("contoso", "u1"); !reflect.DeepEqual(got, step.want) {
				t.Fatalf("step %d: got  %+v\nwant %+v", i, got, step.want)
			}
			for _, p := range []string{"e3", "e5", "visio"} {
				var want []projections.ProductHolder
				for _, l := range step.want {
					if l.ProductID == p {
						want = append(want, projections.ProductHolder{UserID: "u1", UserLicense: l})
					}
				}
				if got := m.Holders("contoso", p); len(got) != len(want) || (len(want) > 0 && !reflect.DeepEqual(got, want)) {
					t.Fatalf("step %d: holders of %s: got %+v, want %+v", i, p, got, want)
				}
			}
		}
	}
}

// TestUnknownEventsAreSkipped: a read model must never fail on an event it
// does not use, including events for products it has never seen.
func TestUnknownEventsAreSkipped(t *testing.T) {
	lc, ul := projections.NewLicenseCounts(), projections.NewUserLicenses()
	odd := []events.Envelope{
		env("contoso", events.KindProduct, "ghost", events.LicenseAssigned{ProductID: "ghost", UserID: "u1"}),
		env("contoso", events.KindProduct, "ghost", events.LicenseUnassigned{ProductID: "ghost", UserID: "u9"}),
		env("contoso", events.KindPolicy, "p1", events.PolicyRenamed{PolicyID: "p1", Name: "x"}),
	}
	for _, e := range odd {
		lc.Apply(e)
		ul.Apply(e)
	}
	if got := lc.Products("contoso"); len(got) != 0 {
		t.Fatalf("got %+v, want no products", got)
	}
}

// TestSnapshotRoundTrip: a restored read model answers like the original.
func TestSnapshotRoundTrip(t *testing.T) {
	for _, pair := range [][2]projections.Snapshotter{
		{projections.NewLicenseCounts(), projections.NewLicenseCounts()},
		{projections.NewUserLicenses(), projections.NewUserLicenses()},
	} {
		orig, restored := pair[0], pair[1]
		for _, e := range history() {
			orig.Apply(e)
		}
		b, err := orig.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		if err := restored.Restore(b); err != nil {
			t.Fatal(err)
		}
		b2, _ := restored.Snapshot()
		if string(b) != string(b2) {
			t.Fatalf("%s: snapshot of the restored model differs", orig.Name())
		}
		if err := restored.Restore([]byte("{")); err == nil {
			t.Fatalf("%s: restored from a truncated snapshot", orig.Name())
		}
	}
	lc := projections.NewLicenseCounts()
	for _, e := range history() {
		lc.Apply(e)
	}
	b, _ := lc.Snapshot()
	lc2 := projections.NewLicenseCounts()
	_ = lc2.Restore(b)
	if !reflect.DeepEqual(lc.Products("contoso"), lc2.Products("contoso")) {
		t.Fatal("restored counts answer differently")
	}
}
