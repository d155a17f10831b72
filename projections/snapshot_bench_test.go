package projections_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/projections"
)

// snapshotHistory is a history of several tenants whose read models grow
// with their users, for snapshot tests and benchmarks: per tenant, the
// auto-claim switch, three products, two policies (one reclaiming after 30
// days), a group and requests; then users users claiming in batches (some
// with a service off), and among them users with a second license
// (assigned by hand, by the group or from an approved request), licenses
// unassigned, reclaim warnings, reclaims, queued users granted, policy
// changes part way through and registered users.
func snapshotHistory(tenants []string, users int) []events.Envelope {
	var out []events.Envelope
	start := time.Date(2026, 9, 1, 8, 0, 0, 0, time.UTC)
	emit := func(tenant string, kind events.Kind, id, actor string, d events.Data) {
		n := len(out)
		e := events.New(fmt.Sprintf("ev%d", n), tenant, events.Aggregate{Kind: kind, ID: id}, start.Add(time.Duration(n)*time.Second),
			events.Meta{Actor: actor, CommandID: fmt.Sprintf("cmd%d", n)}, d)
		e.Position = uint64(n + 1)
		out = append(out, e)
	}
	pp := func(ids ...string) []events.PolicyProduct {
		ps := make([]events.PolicyProduct, len(ids))
		for i, id := range ids {
			ps[i] = events.PolicyProduct{ProductID: id, DisabledServices: []string{}}
		}
		return ps
	}
	days := func(n int) *int { return &n }
	products := []string{"prod-e3", "prod-e5", "prod-visio"}
	type policy struct {
		id, app  string
		products []string
	}
	policies := []policy{{"pol-chat", "chat", []string{"prod-e5", "prod-e3"}}, {"pol-mail", "mail", []string{"prod-visio", "prod-e3"}}}
	for _, tn := range tenants {
		emit(tn, events.KindOrg, "org", "root", events.AutoClaimSettingChanged{Enabled: true})
		for _, p := range products {
			emit(tn, events.KindProduct, p, "root", events.ProductAdded{ProductID: p, Name: p, Services: []string{"mail", "chat"},
				Licenses: 1_000_000, SelfService: events.SelfServiceBlocked})
		}
		for _, p := range policies {
			emit(tn, events.KindPolicy, p.id, "root", events.PolicyCreated{PolicyID: p.id, Name: p.app, App: p.app, Products: pp(p.products...), Enabled: true})
		}
		emit(tn, events.KindPolicy, "pol-chat", "root", events.PolicyLimitsChanged{PolicyID: "pol-chat", ReclaimAfterDays: days(30), ReclaimWarnDays: days(5)})
		emit(tn, events.KindGroup, "grp-sales", "root", events.GroupChanged{GroupID: "grp-sales", Name: "Sales", Products: pp("prod-e3")})
		emit(tn, events.KindRequest, "req-1", "ann", events.RequestSubmitted{RequestID: "req-1", ProductID: "prod-visio", Requester: "ann"})
	}
	const batch = 50
	for _, tn := range tenants {
		user := func(i int) string { return fmt.Sprintf("%s-user%07d", tn, i) }
		for first := 0; first < users; first += batch {
			k := first / batch
			pol := policies[k%len(policies)]
			product := pol.products[k/len(policies)%len(pol.products)]
			at := start.Add(time.Duration(first) * 30 * 24 * time.Hour / time.Duration(users))
			e := events.LicensesClaimed{ProductID: product, PolicyID: pol.id, App: pol.app}
			for u := first; u < min(first+batch, users); u++ {
				disabled := []string{}
				if u%9 == 0 {
					disabled = []string{"chat"}
				}
				e.Claims = append(e.Claims, events.Claim{UserID: user(u), DisabledServices: disabled,
					SigninID: fmt.Sprintf("signin-%s-%d", tn, u), ClaimedAt: at.Add(time.Duration(u-first) * time.Millisecond)})
			}
			emit(tn, events.KindProduct, product, "seatflow-signin", e)
			if k == users/batch/2 {
				// Part way through: the chat policy's products are
				// reordered and it is renamed.
				emit(tn, events.KindPolicy, "pol-chat", "root", events.PolicyProductsChanged{PolicyID: "pol-chat", Products: pp("prod-e3", "prod-e5")})
				emit(tn, events.KindPolicy, "pol-chat", "root", events.PolicyRenamed{PolicyID: "pol-chat", Name: "Chat (renamed)"})
			}
		}
		var group []events.Assignment
		var approved []string
		for u := range users {
			switch {
			case u%7 == 0:
				emit(tn, events.KindProduct, "prod-visio", "helpdesk", events.LicenseAssigned{ProductID: "prod-visio", UserID: user(u),
					DisabledServices: []string{"mail"}, Source: events.Source{Kind: events.SourceManual}})
			case u%11 == 0:
				group = append(group, events.Assignment{UserID: user(u), DisabledServices: []string{}, Source: events.Source{Kind: events.SourceGroup, Ref: "grp-sales"},
					Actor: "root", CommandID: fmt.Sprintf("grp-%d", u)})
			case u%29 == 0:
				approved = append(approved, user(u))
				emit(tn, events.KindProduct, "prod-visio", "lic-admin", events.LicenseAssigned{ProductID: "prod-visio", UserID: user(u),
					DisabledServices: []string{}, Source: events.Source{Kind: events.SourceRequest, Ref: "req-1"}})
			}
		}
		emit(tn, events.KindProduct, "prod-e3", "root", events.LicensesAssigned{ProductID: "prod-e3", Assignments: group})
		emit(tn, events.KindRequest, "req-1", "lic-admin", events.RequestApproved{RequestID: "req-1", ProductID: "prod-visio", Approved: approved})
		claimed := func(u int) (product, pol string) {
			k := u / batch
			p := policies[k%len(policies)]
			return p.products[k/len(policies)%len(p.products)], p.id
		}
		for u := range users {
			product, pol := claimed(u)
			switch {
			case u%13 == 0:
				emit(tn, events.KindProduct, product, "helpdesk", events.LicenseUnassigned{ProductID: product, UserID: user(u)})
			case u%17 == 0 && pol == "pol-chat":
				warned := events.LicenseReclaimWarned{ProductID: product, UserID: user(u), PolicyID: pol, App: "chat",
					LastSeen: start.Add(time.Duration(u) * time.Second), ReclaimAt: start.Add(40 * 24 * time.Hour)}
				emit(tn, events.KindProduct, product, "seatflow-reclaim", warned)
				if u%34 == 0 {
					emit(tn, events.KindProduct, product, "seatflow-reclaim", events.LicenseReclaimed{ProductID: product, UserID: user(u),
						PolicyID: pol, App: "chat", LastSeen: warned.LastSeen})
				}
			case u%19 == 0:
				emit(tn, events.KindPolicy, "pol-mail", "seatflow-signin", events.UserQueued{PolicyID: "pol-mail", UserID: user(u)})
				emit(tn, events.KindPolicy, "pol-mail", "seatflow-signin", events.QueuedUserGranted{PolicyID: "pol-mail", UserID: user(u), ProductID: "prod-visio"})
			}
			if u%5 == 0 {
				emit(tn, events.KindUser, user(u), "scim", events.UserRegistered{UserID: user(u), Email: user(u) + "@example.com",
					DisplayName: "User " + user(u), Roles: []string{}})
			}
		}
	}
	return out
}

// snapshotBenchUsers is how many users BenchmarkSnapshotRestore's read
// models hold, over snapshotBenchTenants.
const snapshotBenchUsers = 100_000

var snapshotBenchTenants = []string{"contoso", "fabrikam", "northwind", "tailspin"}

// BenchmarkSnapshotRestore measures a checkpoint's cost for each read
// model that grows with its users: Snapshot and Restore of its state
// after snapshotHistory of snapshotBenchUsers users, and the snapshot's
// size (bytes/snapshot).
//
//	go test ./projections -run '^$' -bench SnapshotRestore -benchtime 3x
func BenchmarkSnapshotRestore(b *testing.B) {
	evs := snapshotHistory(snapshotBenchTenants, snapshotBenchUsers/len(snapshotBenchTenants))
	models := []func() projections.Snapshotter{
		func() projections.Snapshotter { return projections.NewUserLicenses() },
		func() projections.Snapshotter { return projections.NewLicenseHistory() },
		func() projections.Snapshotter { return projections.NewReclaimCandidates() },
		func() projections.Snapshotter { return projections.NewClaims() },
	}
	for _, mk := range models {
		m := mk()
		for _, e := range evs {
			m.Apply(e)
		}
		snap, err := m.Snapshot()
		if err != nil {
			b.Fatal(err)
		}
		b.Run(m.Name(), func(b *testing.B) {
			b.Run("snapshot", func(b *testing.B) {
				for range b.N {
					if _, err := m.Snapshot(); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(len(snap)), "bytes/snapshot")
			})
			b.Run("restore", func(b *testing.B) {
				r := mk()
				for range b.N {
					if err := r.Restore(snap); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(len(snap)), "bytes/snapshot")
			})
		})
	}
}
