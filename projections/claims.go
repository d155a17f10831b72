package projections

import (
	"sort"
	"sync"
	"time"

	"github.com/seatflow/seatflow/events"
)

// NameClaims is the claims read model's name.
const NameClaims = "claims"

// ReportDays are the report windows a client may ask for; DefaultReportDays
// is the one given when it asks for none.
var ReportDays = []int{1, 7, 30, 90}

// DefaultReportDays is the report window when none is asked for.
const DefaultReportDays = 90

// ClaimedUser is one user who claimed a license under a policy.
type ClaimedUser struct {
	UserID    string    `json:"user_id"`
	Email     string    `json:"email"`
	ProductID string    `json:"product_id"`
	ClaimedAt time.Time `json:"claimed_at"`
}

// ProductClaimCount is how many claims one product had in a report window.
type ProductClaimCount struct {
	ProductID string `json:"product_id"`
	Count     int    `json:"count"`
}

// DayCount is how many claims one UTC day had in a report window.
type DayCount struct {
	Date  string `json:"date"`
	Count int    `json:"count"`
}

// PolicyReport is one policy's claims in a report window.
type PolicyReport struct {
	PolicyID  string              `json:"policy_id"`
	Name      string              `json:"name"`
	App       string              `json:"app"`
	Total     int                 `json:"total"`
	ByProduct []ProductClaimCount `json:"by_product"`
	ByDay     []DayCount          `json:"by_day"`
	// Cells are the counts per day and product (by date, then product),
	// for the CSV form.
	Cells []ReportCell `json:"-"`
}

// ReportCell is how many claims one product had on one UTC day.
type ReportCell struct {
	Date      string
	ProductID string
	Count     int
}

// ClaimReport is the claims of the past Days days, up to To, per policy.
// Every policy is listed, with zero counts when it had no claims. ByProduct
// and ByDay list only products and days with claims.
type ClaimReport struct {
	Days     int            `json:"days"`
	From     time.Time      `json:"from"`
	To       time.Time      `json:"to"`
	Policies []PolicyReport `json:"policies"`
}

type claim struct {
	policy, user, product string
	at                    time.Time
}

type claimsTenant struct {
	claims   []claim
	policies map[string]*policyState
	order    []string // policy ids in creation order
	emails   map[string]string
}

// Claims is the read model of licenses claimed under policies: the users
// who claimed and the claim report. Claims stay counted after the license
// is taken back or the policy turned off: they happened.
type Claims struct {
	mu      sync.RWMutex
	tenants map[string]*claimsTenant
}

// NewClaims returns an empty Claims.
func NewClaims() *Claims { return &Claims{tenants: map[string]*claimsTenant{}} }

// Name implements Projection.
func (*Claims) Name() string { return NameClaims }

// Apply implements Projection.
func (c *Claims) Apply(env events.Envelope) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.tenants[env.Tenant]
	if t == nil {
		t = &claimsTenant{policies: map[string]*policyState{}, emails: map[string]string{}}
		c.tenants[env.Tenant] = t
	}
	switch e := env.Data.(type) {
	case events.LicenseClaimed:
		t.claims = append(t.claims, claim{policy: e.PolicyID, user: e.UserID, product: e.ProductID, at: e.ClaimedAt.UTC()})
	case events.PolicyCreated:
		if t.policies[e.PolicyID] == nil {
			t.order = append(t.order, e.PolicyID)
		}
		t.policies[e.PolicyID] = &policyState{id: e.PolicyID, name: e.Name, app: e.App}
	case events.PolicyRenamed:
		if p := t.policies[e.PolicyID]; p != nil {
			p.name = e.Name
		}
	case events.UserRegistered:
		t.emails[e.UserID] = e.Email
	}
}

// PolicyClaims lists the users who claimed under policy at or after from,
// newest first, and whether the policy exists.
func (c *Claims) PolicyClaims(tenant, policy string, from time.Time) ([]ClaimedUser, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	t := c.tenants[tenant]
	if t == nil || t.policies[policy] == nil {
		return nil, false
	}
	out := []ClaimedUser{}
	for _, cl := range t.claims {
		if cl.policy == policy && !cl.at.Before(from) {
			out = append(out, ClaimedUser{UserID: cl.user, Email: t.emails[cl.user], ProductID: cl.product, ClaimedAt: cl.at})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].ClaimedAt.After(out[j].ClaimedAt) })
	return out, true
}

// Report counts the claims of the days days up to now (claimed after
// now-days*24h and not after now) per policy, product and UTC day.
func (c *Claims) Report(tenant string, days int, now time.Time) ClaimReport {
	now = now.UTC()
	from := now.Add(-time.Duration(days) * 24 * time.Hour)
	rep := ClaimReport{Days: days, From: from, To: now, Policies: []PolicyReport{}}
	c.mu.RLock()
	defer c.mu.RUnlock()
	t := c.tenants[tenant]
	if t == nil {
		return rep
	}
	type counts struct {
		total     int
		byProduct map[string]int
		byDay     map[string]int
		cells     map[[2]string]int
	}
	per := map[string]*counts{}
	for _, id := range t.order {
		per[id] = &counts{byProduct: map[string]int{}, byDay: map[string]int{}, cells: map[[2]string]int{}}
	}
	for _, cl := range t.claims {
		k := per[cl.policy]
		if k == nil || !cl.at.After(from) || cl.at.After(now) {
			continue
		}
		k.total++
		k.byProduct[cl.product]++
		k.byDay[cl.at.Format(time.DateOnly)]++
		k.cells[[2]string{cl.at.Format(time.DateOnly), cl.product}]++
	}
	for _, id := range t.order {
		p, k := t.policies[id], per[id]
		pr := PolicyReport{PolicyID: id, Name: p.name, App: p.app, Total: k.total,
			ByProduct: []ProductClaimCount{}, ByDay: []DayCount{}}
		for prod, n := range k.byProduct {
			pr.ByProduct = append(pr.ByProduct, ProductClaimCount{ProductID: prod, Count: n})
		}
		sort.Slice(pr.ByProduct, func(i, j int) bool { return pr.ByProduct[i].ProductID < pr.ByProduct[j].ProductID })
		for day, n := range k.byDay {
			pr.ByDay = append(pr.ByDay, DayCount{Date: day, Count: n})
		}
		sort.Slice(pr.ByDay, func(i, j int) bool { return pr.ByDay[i].Date < pr.ByDay[j].Date })
		for cell, n := range k.cells {
			pr.Cells = append(pr.Cells, ReportCell{Date: cell[0], ProductID: cell[1], Count: n})
		}
		sort.Slice(pr.Cells, func(i, j int) bool {
			if pr.Cells[i].Date != pr.Cells[j].Date {
				return pr.Cells[i].Date < pr.Cells[j].Date
			}
			return pr.Cells[i].ProductID < pr.Cells[j].ProductID
		})
		rep.Policies = append(rep.Policies, pr)
	}
	sort.SliceStable(rep.Policies, func(i, j int) bool { return rep.Policies[i].Name < rep.Policies[j].Name })
	return rep
}
