package projections

import (
	"slices"
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
	Policy  string    `json:"policy"`
	User    string    `json:"user"`
	Product string    `json:"product"`
	At      time.Time `json:"at"`
}

type claimsTenant struct {
	Claimed  map[string]*policyClaims `json:"claimed"` // by policy id
	Policies map[string]*policyState  `json:"policies"`
	Order    []string                 `json:"order"` // policy ids in creation order
	Emails   map[string]string        `json:"emails"`
}

// policyClaims are one policy's claims, kept so that a report costs in
// proportion to its days and products, not to the history: per-day counts
// by product, and the claims themselves in time order for the two partial
// days at the ends of a window and for the list of claimed users.
type policyClaims struct {
	Claims []claim                   `json:"claims"` // by At
	Days   map[string]map[string]int `json:"days"`   // UTC date -> product -> claims
	Total  int                       `json:"total"`
}

func (pc *policyClaims) add(cl claim) {
	i := len(pc.Claims)
	for i > 0 && pc.Claims[i-1].At.After(cl.At) { // almost always appended at the end
		i--
	}
	pc.Claims = slices.Insert(pc.Claims, i, cl)
	day := cl.At.Format(time.DateOnly)
	if pc.Days[day] == nil {
		pc.Days[day] = map[string]int{}
	}
	pc.Days[day][cl.Product]++
	pc.Total++
}

// between returns the claims with from < At <= to, in time order.
func (pc *policyClaims) between(from, to time.Time) []claim {
	i := sort.Search(len(pc.Claims), func(i int) bool { return pc.Claims[i].At.After(from) })
	j := sort.Search(len(pc.Claims), func(i int) bool { return pc.Claims[i].At.After(to) })
	return pc.Claims[i:max(i, j)]
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
		t = &claimsTenant{Claimed: map[string]*policyClaims{}, Policies: map[string]*policyState{}, Emails: map[string]string{}}
		c.tenants[env.Tenant] = t
	}
	switch e := env.Data.(type) {
	case events.LicenseClaimed, events.LicensesClaimed:
		for _, c := range events.Claims(e) {
			pc := t.Claimed[c.PolicyID]
			if pc == nil {
				pc = &policyClaims{Days: map[string]map[string]int{}}
				t.Claimed[c.PolicyID] = pc
			}
			pc.add(claim{Policy: c.PolicyID, User: c.UserID, Product: c.ProductID, At: c.ClaimedAt.UTC()})
		}
	case events.PolicyCreated:
		if t.Policies[e.PolicyID] == nil {
			t.Order = append(t.Order, e.PolicyID)
		}
		t.Policies[e.PolicyID] = &policyState{ID: e.PolicyID, Name: e.Name, App: e.App}
	case events.PolicyRenamed:
		if p := t.Policies[e.PolicyID]; p != nil {
			p.Name = e.Name
		}
	case events.UserRegistered:
		t.Emails[e.UserID] = e.Email
	}
}

// PolicyClaims lists the users who claimed under policy at or after from,
// newest first, and whether the policy exists.
func (c *Claims) PolicyClaims(tenant, policy string, from time.Time) ([]ClaimedUser, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	t := c.tenants[tenant]
	if t == nil || t.Policies[policy] == nil {
		return nil, false
	}
	out := []ClaimedUser{}
	if pc := t.Claimed[policy]; pc != nil {
		window := pc.between(from.Add(-1), time.Unix(1<<62, 0)) // at or after from
		for i := len(window) - 1; i >= 0; i-- {
			cl := window[i]
			out = append(out, ClaimedUser{UserID: cl.User, Email: t.Emails[cl.User], ProductID: cl.Product, ClaimedAt: cl.At})
		}
	}
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
	for _, id := range t.Order {
		per[id] = &counts{byProduct: map[string]int{}, byDay: map[string]int{}, cells: map[[2]string]int{}}
	}
	// Whole days inside the window come from the per-day counts; the two
	// days at its ends, which it covers only in part, from their claims.
	firstDay, lastDay := from.Truncate(24*time.Hour), now.Truncate(24*time.Hour)
	for id, k := range per {
		pc := t.Claimed[id]
		if pc == nil {
			continue
		}
		count := func(day, product string, n int) {
			k.total += n
			k.byProduct[product] += n
			k.byDay[day] += n
			k.cells[[2]string{day, product}] += n
		}
		for d := firstDay.Add(24 * time.Hour); d.Before(lastDay); d = d.Add(24 * time.Hour) {
			day := d.Format(time.DateOnly)
			for product, n := range pc.Days[day] {
				count(day, product, n)
			}
		}
		ends := pc.between(from, firstDay.Add(24*time.Hour).Add(-1))
		if lastDay.After(firstDay) {
			ends = append(slices.Clone(ends), pc.between(lastDay.Add(-1), now)...)
		}
		for _, cl := range ends {
			if cl.At.After(from) && !cl.At.After(now) {
				count(cl.At.Format(time.DateOnly), cl.Product, 1)
			}
		}
	}
	for _, id := range t.Order {
		p, k := t.Policies[id], per[id]
		pr := PolicyReport{PolicyID: id, Name: p.Name, App: p.App, Total: k.total,
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

// Version is the version of the claims read model's logic and snapshot
// shape (see Snapshotter).
func (*Claims) Version() int { return 2 }

// Snapshot returns the claims read model's state as JSON.
func (c *Claims) Snapshot() ([]byte, error) {
	return snapshotJSON(&c.mu, c.tenants)
}

// Restore replaces the claims read model's state with a snapshot.
func (c *Claims) Restore(b []byte) error {
	return restoreJSON(NameClaims, &c.mu, b, &c.tenants)
}

// ClaimCounts is how many licenses were ever claimed under each policy, by
// tenant and policy, for metrics.
func (c *Claims) ClaimCounts() map[string]map[string]int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make(map[string]map[string]int, len(c.tenants))
	for t, ct := range c.tenants {
		counts := make(map[string]int, len(ct.Policies))
		for id := range ct.Policies {
			counts[id] = 0
		}
		for id, pc := range ct.Claimed {
			counts[id] += pc.Total
		}
		out[t] = counts
	}
	return out
}

// ProductClaims counts the licenses of product claimed under any policy
// after from and not after to (by sign-in time).
func (c *Claims) ProductClaims(tenant, product string, from, to time.Time) int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	t := c.tenants[tenant]
	if t == nil {
		return 0
	}
	n := 0
	for _, pc := range t.Claimed {
		for _, cl := range pc.between(from, to) {
			if cl.Product == product {
				n++
			}
		}
	}
	return n
}
