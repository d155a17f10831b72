package projections

import (
	"fmt"
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

// claim is one claim in memory, 32 bytes: the policy is that of the
// policyClaims holding it, the product is numbered in Claims.strs, the
// time is Unix nanoseconds (of a UTC time).
type claim struct {
	user    string
	at      nanos
	product uint32
}

type claimsTenant struct {
	claimed  map[string]*policyClaims // by policy id
	policies map[string]*policyState
	order    []string // policy ids in creation order
	emails   map[string]string
}

func newClaimsTenant() *claimsTenant {
	return &claimsTenant{claimed: map[string]*policyClaims{}, policies: map[string]*policyState{}, emails: map[string]string{}}
}

// policyClaims are one policy's claims, kept so that a report costs in
// proportion to its days and products, not to the history: per-day counts
// by product, and the claims themselves in time order for the two partial
// days at the ends of a window and for the list of claimed users.
type policyClaims struct {
	claims []claim                   // by at
	days   map[string]map[string]int // UTC date -> product -> claims
	total  int
}

// insert adds cl in time order, after the claims of the same time.
func (pc *policyClaims) insert(cl claim) {
	i := len(pc.claims)
	for i > 0 && pc.claims[i-1].at > cl.at { // almost always appended at the end
		i--
	}
	if i == len(pc.claims) {
		pc.claims = append(pc.claims, cl)
	} else {
		pc.claims = slices.Insert(pc.claims, i, cl)
	}
}

// count adds n claims of product on the UTC day of at.
func (pc *policyClaims) count(at nanos, product string, n int) {
	day := at.time().Format(time.DateOnly)
	m := pc.days[day]
	if m == nil {
		m = map[string]int{}
		pc.days[day] = m
	}
	m[product] += n
	pc.total += n
}

// sameDay reports whether a and b fall on the same UTC day (the zero
// time on a day of its own).
func sameDay(a, b nanos) bool {
	const day = nanos(24 * time.Hour)
	if (a == zeroNanos) != (b == zeroNanos) {
		return false
	}
	da, db := a/day, b/day
	if a%day < 0 {
		da--
	}
	if b%day < 0 {
		db--
	}
	return da == db
}

// between returns the claims with from < at <= to, in time order.
func (pc *policyClaims) between(from, to time.Time) []claim {
	i := sort.Search(len(pc.claims), func(i int) bool { return pc.claims[i].at.time().After(from) })
	j := sort.Search(len(pc.claims), func(i int) bool { return pc.claims[i].at.time().After(to) })
	return pc.claims[i:max(i, j)]
}

// Claims is the read model of licenses claimed under policies: the users
// who claimed and the claim report. Claims stay counted after the license
// is taken back or the policy turned off: they happened. It grows with
// every claim, so a claim is kept in 32 bytes (see claim).
type Claims struct {
	mu      sync.RWMutex
	tenants map[string]*claimsTenant
	strs    strTable // product ids
}

// NewClaims returns an empty Claims.
func NewClaims() *Claims { return &Claims{tenants: map[string]*claimsTenant{}, strs: newStrTable()} }

// Name implements Projection.
func (*Claims) Name() string { return NameClaims }

// Apply implements Projection.
func (c *Claims) Apply(env events.Envelope) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.tenants[env.Tenant]
	if t == nil {
		t = newClaimsTenant()
		c.tenants[env.Tenant] = t
	}
	switch e := env.Data.(type) {
	case events.LicenseClaimed, events.LicensesClaimed:
		b, _ := claimBatch(e)
		c.add(t, b)
	case events.PolicyCreated:
		if t.policies[e.PolicyID] == nil {
			t.order = append(t.order, e.PolicyID)
		}
		t.policies[e.PolicyID] = &policyState{ID: e.PolicyID, Name: e.Name, App: e.App}
	case events.PolicyRenamed:
		if p := t.policies[e.PolicyID]; p != nil {
			p.Name = e.Name
		}
	case events.UserRegistered:
		t.emails[e.UserID] = e.Email
	}
}

// add folds a batch of claims in: each is kept, and the per-day counts
// grow once for each run of claims on one day (a batch's claims are
// mostly of one day).
func (c *Claims) add(t *claimsTenant, b events.LicensesClaimed) {
	if len(b.Claims) == 0 {
		return
	}
	pc := t.claimed[b.PolicyID]
	if pc == nil {
		pc = &policyClaims{days: map[string]map[string]int{}}
		t.claimed[b.PolicyID] = pc
	}
	p := c.strs.id(b.ProductID)
	product := c.strs.str(p)
	var day nanos // the first claim of the current run of one day
	run := 0
	for i := range b.Claims {
		cl := &b.Claims[i]
		at := nanosOf(cl.ClaimedAt)
		pc.insert(claim{user: cl.UserID, at: at, product: p})
		if run > 0 && !sameDay(day, at) {
			pc.count(day, product, run)
			run = 0
		}
		if run == 0 {
			day = at
		}
		run++
	}
	pc.count(day, product, run)
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
	if pc := t.claimed[policy]; pc != nil {
		window := pc.between(from.Add(-1), time.Unix(1<<62, 0)) // at or after from
		for i := len(window) - 1; i >= 0; i-- {
			cl := window[i]
			out = append(out, ClaimedUser{UserID: cl.user, Email: t.emails[cl.user], ProductID: c.strs.str(cl.product), ClaimedAt: cl.at.time()})
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
	for _, id := range t.order {
		per[id] = &counts{byProduct: map[string]int{}, byDay: map[string]int{}, cells: map[[2]string]int{}}
	}
	// Whole days inside the window come from the per-day counts; the two
	// days at its ends, which it covers only in part, from their claims.
	firstDay, lastDay := from.Truncate(24*time.Hour), now.Truncate(24*time.Hour)
	for id, k := range per {
		pc := t.claimed[id]
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
			for product, n := range pc.days[day] {
				count(day, product, n)
			}
		}
		ends := pc.between(from, firstDay.Add(24*time.Hour).Add(-1))
		if lastDay.After(firstDay) {
			ends = append(slices.Clone(ends), pc.between(lastDay.Add(-1), now)...)
		}
		for _, cl := range ends {
			if at := cl.at.time(); at.After(from) && !at.After(now) {
				count(at.Format(time.DateOnly), c.strs.str(cl.product), 1)
			}
		}
	}
	for _, id := range t.order {
		p, k := t.policies[id], per[id]
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
// shape (see Snapshotter): 3 since snapshots are binary.
func (*Claims) Version() int { return 3 }

// Snapshot returns the claims read model's state in the binary form (see
// binsnap.go):
//
//	'C' format | strs | tenants: name, order, policies: id name app, emails,
//	    claimed: policy, total, claims: user at product, days: date, products: product count
//
// tenants and their maps in key order; a policy's claims in their (time)
// order, each time the difference from the claim before.
func (c *Claims) Snapshot() ([]byte, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	size := 64
	for _, t := range c.tenants {
		size += 32 * len(t.emails)
		for _, pc := range t.claimed {
			size += 24*len(pc.claims) + 32*len(pc.days)
		}
	}
	w := newSnapWriter(tagClaims, size)
	w.strTable(&c.strs)
	w.len(len(c.tenants))
	for _, te := range ordered(c.tenants) {
		t := te.v
		w.str(te.k)
		w.len(len(t.order))
		for _, id := range t.order {
			w.str(id)
		}
		w.len(len(t.policies))
		for _, e := range ordered(t.policies) {
			w.str(e.k)
			w.str(e.v.Name)
			w.str(e.v.App)
		}
		w.strMap(t.emails)
		w.len(len(t.claimed))
		for _, e := range ordered(t.claimed) {
			pc := e.v
			w.str(e.k)
			w.int(pc.total)
			w.len(len(pc.claims))
			var prev nanos
			for _, cl := range pc.claims {
				w.str(cl.user)
				w.varint(int64(cl.at - prev))
				w.u32(cl.product)
				prev = cl.at
			}
			w.len(len(pc.days))
			for _, day := range ordered(pc.days) {
				w.str(day.k)
				w.len(len(day.v))
				for _, p := range ordered(day.v) {
					w.str(p.k)
					w.int(p.v)
				}
			}
		}
	}
	return w.b, nil
}

// Restore replaces the claims read model's state with a snapshot: the
// table is taken as it was, so no claim is interned again, and the state
// is swapped in only once it has all decoded.
func (c *Claims) Restore(b []byte) error {
	r := newSnapReader(tagClaims, b)
	strs := r.strTable()
	n := r.count(5)
	tenants := make(map[string]*claimsTenant, n)
	var tc keyCursor
	for range n {
		name := r.key(&tc)
		t := &claimsTenant{order: make([]string, r.count(1))}
		for j := range t.order {
			t.order[j] = r.str()
		}
		npol := r.count(3)
		t.policies = make(map[string]*policyState, npol)
		var c keyCursor
		for range npol {
			id := r.key(&c)
			t.policies[id] = &policyState{ID: id, Name: r.str(), App: r.str()}
		}
		for _, id := range t.order {
			if t.policies[id] == nil {
				r.fail(fmt.Sprintf("policy %q in the order is unknown", id))
			}
		}
		t.emails = r.strMap()
		nclaimed := r.count(4)
		t.claimed = make(map[string]*policyClaims, nclaimed)
		c = keyCursor{}
		for range nclaimed {
			id := r.key(&c)
			pc := &policyClaims{total: r.int(), claims: make([]claim, r.count(3))}
			var at nanos
			for k := range pc.claims {
				cl := claim{user: r.str(), at: at + nanos(r.varint()), product: r.index(len(strs.strs))}
				if k > 0 && cl.at < at {
					r.fail("claims out of time order")
				}
				pc.claims[k], at = cl, cl.at
			}
			ndays := r.count(2)
			pc.days = make(map[string]map[string]int, ndays)
			var dc keyCursor
			for range ndays {
				day := r.key(&dc)
				nprod := r.count(2)
				products := make(map[string]int, nprod)
				var pcur keyCursor
				for range nprod {
					p := strs.intern(r.key(&pcur)) // interned when applied
					products[p] = r.int()
				}
				pc.days[day] = products
			}
			t.claimed[id] = pc
		}
		tenants[name] = t
	}
	if err := r.end(); err != nil {
		return fmt.Errorf("restore %s: %w", NameClaims, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tenants, c.strs = tenants, strs
	return nil
}

// ClaimCounts is how many licenses were ever claimed under each policy, by
// tenant and policy, for metrics.
func (c *Claims) ClaimCounts() map[string]map[string]int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make(map[string]map[string]int, len(c.tenants))
	for t, ct := range c.tenants {
		counts := make(map[string]int, len(ct.policies))
		for id := range ct.policies {
			counts[id] = 0
		}
		for id, pc := range ct.claimed {
			counts[id] += pc.total
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
	p, ok := c.strs.lookup(product)
	if t == nil || !ok {
		return 0
	}
	n := 0
	for _, pc := range t.claimed {
		for _, cl := range pc.between(from, to) {
			if cl.product == p {
				n++
			}
		}
	}
	return n
}
