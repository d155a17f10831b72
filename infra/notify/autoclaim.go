package notify

import (
	"fmt"
	"slices"
	"time"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/events"
)

// KindPoolLow is the notification to global admins that a policy's product
// is low on seats or the policy has run out.
const KindPoolLow = "pool.low"

// Reclaim notification kinds: to the user whose unused license is about to
// be, or was, reclaimed.
const (
	KindReclaimWarning = "license.reclaim_warning"
	KindReclaimed      = "license.reclaimed"
)

// roleGlobalAdmin is the directory role pool.low goes to.
const roleGlobalAdmin = domain.RoleGlobalAdmin

// AutoClaimRules are the auto-claim alerts: PoolLow and PolicyExhausted
// become pool.low to every global admin. Both events are recorded once per
// crossing, in the transaction of the claim that crosses, so each alert is
// sent once.
func AutoClaimRules() Rules {
	return Rules{
		events.TypePoolLow:              poolLow,
		events.TypePolicyExhausted:      policyExhausted,
		events.TypeLicenseReclaimWarned: reclaimWarning,
		events.TypeLicenseReclaimed:     reclaimed,
	}
}

func reclaimWarning(l Lookup, env events.Envelope) ([]Draft, error) {
	e := env.Data.(events.LicenseReclaimWarned)
	product := l.ProductName(env.Tenant, e.ProductID)
	text := fmt.Sprintf("You have not signed in to %s since %s. Your license of %s, claimed when you first signed in to it, "+
		"will be reclaimed on %s so that someone else can use it.\nSign in to %s before then to keep it.\n",
		e.App, e.LastSeen.UTC().Format(time.DateOnly), product, e.ReclaimAt.UTC().Format(time.DateOnly), e.App)
	return []Draft{{UserID: e.UserID, Kind: KindReclaimWarning, Subject: fmt.Sprintf("Your %s license will be reclaimed on %s", product,
		e.ReclaimAt.UTC().Format(time.DateOnly)), Text: text, Refs: Refs{PolicyID: e.PolicyID, ProductID: e.ProductID}}}, nil
}

func reclaimed(l Lookup, env events.Envelope) ([]Draft, error) {
	e := env.Data.(events.LicenseReclaimed)
	product := l.ProductName(env.Tenant, e.ProductID)
	text := fmt.Sprintf("Your license of %s was reclaimed: you had not signed in to %s since %s. Ask an admin if you need it again.\n",
		product, e.App, e.LastSeen.UTC().Format(time.DateOnly))
	return []Draft{{UserID: e.UserID, Kind: KindReclaimed, Subject: "Your " + product + " license was reclaimed", Text: text,
		Refs: Refs{PolicyID: e.PolicyID, ProductID: e.ProductID}}}, nil
}

func globalAdmins(l Lookup, tenant string) []string {
	var out []string
	for _, a := range l.Admins(tenant) {
		if slices.Contains(a.Roles, roleGlobalAdmin) {
			out = append(out, a.UserID)
		}
	}
	return out
}

func poolLow(l Lookup, env events.Envelope) ([]Draft, error) {
	e := env.Data.(events.PoolLow)
	product := l.ProductName(env.Tenant, e.ProductID)
	seats := "seats are"
	if e.Available == 1 {
		seats = "seat is"
	}
	text := fmt.Sprintf("Auto-claim policy %s is running low: only %d %s left of %s (alert threshold %d).\n"+
		"Buy more licenses of %s, or add a backup product to the policy, before users signing in are queued.\n",
		e.PolicyID, e.Available, seats, product, e.Threshold, product)
	var out []Draft
	for _, u := range globalAdmins(l, env.Tenant) {
		out = append(out, Draft{UserID: u, Kind: KindPoolLow, Subject: fmt.Sprintf("Low on seats: %s (%d left)", product, e.Available),
			Text: text, Refs: Refs{PolicyID: e.PolicyID, ProductID: e.ProductID}})
	}
	return out, nil
}

func policyExhausted(l Lookup, env events.Envelope) ([]Draft, error) {
	e := env.Data.(events.PolicyExhausted)
	product := l.ProductName(env.Tenant, e.ProductID)
	text := fmt.Sprintf("Auto-claim policy %s has run out: the last free seat (of %s) was just claimed and no product of the policy has one left.\n"+
		"Users who sign in now wait in the policy's queue and are granted in order as soon as licenses are bought, unassigned, or a product is added to the policy.\n",
		e.PolicyID, product)
	var out []Draft
	for _, u := range globalAdmins(l, env.Tenant) {
		out = append(out, Draft{UserID: u, Kind: KindPoolLow, Subject: "Out of seats: auto-claim policy " + e.PolicyID,
			Text: text, Refs: Refs{PolicyID: e.PolicyID, ProductID: e.ProductID}})
	}
	return out, nil
}
