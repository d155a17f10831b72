package notify

import (
	"fmt"
	"slices"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/events"
)

// KindPoolLow is the notification to global admins that a policy's product
// is low on seats or the policy has run out.
const KindPoolLow = "pool.low"

// roleGlobalAdmin is the directory role pool.low goes to.
const roleGlobalAdmin = domain.RoleGlobalAdmin

// AutoClaimRules are the auto-claim alerts: PoolLow and PolicyExhausted
// become pool.low to every global admin. Both events are recorded once per
// crossing, in the transaction of the claim that crosses, so each alert is
// sent once.
func AutoClaimRules() Rules {
	return Rules{
		events.TypePoolLow:         poolLow,
		events.TypePolicyExhausted: policyExhausted,
	}
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
