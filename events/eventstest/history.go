// Package eventstest generates event histories for property tests: the
// as-of reads (projections, infra/history) are checked against folds of
// the same generated streams.
package eventstest

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/seatflow/seatflow/events"
)

// Start is the time of a generated history's first event; each next event
// is a second later.
var Start = time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)

// Tenants, Products and Users are what a generated history is about.
var (
	Tenants  = []string{"contoso", "fabrikam"}
	Products = []string{"e3", "e5", "visio"}
)

// Users is how many users ("u0".."u39") a generated history names.
const Users = 40

// History makes n events (positions 1..n, a second apart from Start) of
// Tenants, with the same seed the same ones: products added, bought,
// removed, assigned, claimed, unassigned; a policy "pol" of app "chat"
// created, renamed, reordered, queueing and granting; users registered.
func History(seed uint64, n int) []events.Envelope {
	r := rand.New(rand.NewPCG(seed, 1))
	held := map[string]bool{}
	out := make([]events.Envelope, 0, n)
	emit := func(tenant string, kind events.Kind, id string, d events.Data) {
		e := events.New(fmt.Sprintf("ev%d", len(out)+1), tenant, events.Aggregate{Kind: kind, ID: id},
			Start.Add(time.Duration(len(out))*time.Second), events.Meta{Actor: "a", CommandID: fmt.Sprintf("c%d", len(out))}, d)
		e.Position = uint64(len(out) + 1)
		out = append(out, e)
	}
	for _, tn := range Tenants {
		for _, p := range Products {
			emit(tn, events.KindProduct, p, events.ProductAdded{ProductID: p, Name: p, Services: []string{"mail"}, Licenses: 5, SelfService: "blocked"})
		}
		emit(tn, events.KindPolicy, "pol", events.PolicyCreated{PolicyID: "pol", Name: "P", App: "chat",
			Products: []events.PolicyProduct{{ProductID: "e5"}, {ProductID: "e3"}}, Enabled: true})
	}
	for len(out) < n {
		tn := Tenants[r.IntN(len(Tenants))]
		p := Products[r.IntN(len(Products))]
		u := fmt.Sprintf("u%d", r.IntN(Users))
		k := tn + "/" + u + "/" + p
		switch r.IntN(11) {
		case 0:
			emit(tn, events.KindProduct, p, events.LicensesPurchased{ProductID: p, Count: 1 + r.IntN(3)})
		case 1:
			emit(tn, events.KindProduct, p, events.LicensesRemoved{ProductID: p, Count: 1})
		case 2, 3:
			if held[k] {
				emit(tn, events.KindProduct, p, events.LicenseUnassigned{ProductID: p, UserID: u})
				held[k] = false
			}
		case 4:
			if !held[k] {
				emit(tn, events.KindProduct, p, events.LicenseAssigned{ProductID: p, UserID: u, DisabledServices: []string{"mail"},
					Source: events.Source{Kind: events.SourceManual}})
				held[k] = true
			}
		case 5:
			if !held[k] {
				emit(tn, events.KindProduct, p, events.LicensesClaimed{ProductID: p, PolicyID: "pol", App: "chat",
					Claims: []events.Claim{{UserID: u, SigninID: "s", ClaimedAt: Start}}})
				held[k] = true
			}
		case 6:
			emit(tn, events.KindPolicy, "pol", events.UserQueued{PolicyID: "pol", UserID: u})
		case 7:
			emit(tn, events.KindPolicy, "pol", events.QueuedUserGranted{PolicyID: "pol", UserID: u, ProductID: p})
		case 8:
			ps := []events.PolicyProduct{{ProductID: Products[r.IntN(3)]}, {ProductID: Products[r.IntN(3)], DisabledServices: []string{"mail"}}}
			emit(tn, events.KindPolicy, "pol", events.PolicyProductsChanged{PolicyID: "pol", Products: ps})
		case 9:
			emit(tn, events.KindPolicy, "pol", events.PolicyRenamed{PolicyID: "pol", Name: fmt.Sprintf("P%d", r.IntN(9))})
		case 10:
			emit(tn, events.KindUser, u, events.UserRegistered{UserID: u, Email: u + "@example.com"})
		}
	}
	return out
}
