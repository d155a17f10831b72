package projections

import (
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/seatflow/seatflow/events"
)

// Read model names.
const (
	NameLicenseCounts = "license_counts"
	NameUserLicenses  = "user_licenses"
)

var (
	_ Snapshotter = (*LicenseCounts)(nil)
	_ Snapshotter = (*UserLicenses)(nil)
)

// ProductCount is one product's license counts and settings.
type ProductCount struct {
	ProductID   string   `json:"product_id"`
	Name        string   `json:"name"`
	Services    []string `json:"services"`
	Purchased   int      `json:"purchased"`
	Assigned    int      `json:"assigned"`
	Available   int      `json:"available"`
	SelfService string   `json:"self_service"`
}

// LicenseCounts is the read model of purchased, assigned and available
// licenses per product.
type LicenseCounts struct {
	mu      sync.RWMutex
	tenants map[string]map[string]*ProductCount
}

// NewLicenseCounts returns an empty LicenseCounts.
func NewLicenseCounts() *LicenseCounts {
	return &LicenseCounts{tenants: map[string]map[string]*ProductCount{}}
}

// Name implements Projection.
func (*LicenseCounts) Name() string { return NameLicenseCounts }

// Apply implements Projection.
func (lc *LicenseCounts) Apply(env events.Envelope) {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	products := lc.tenants[env.Tenant]
	if products == nil {
		products = map[string]*ProductCount{}
		lc.tenants[env.Tenant] = products
	}
	if e, ok := env.Data.(events.ProductAdded); ok {
		products[e.ProductID] = &ProductCount{ProductID: e.ProductID, Name: e.Name, Services: e.Services,
			Purchased: e.Licenses, SelfService: e.SelfService}
		return
	}
	if env.Aggregate.Kind != events.KindProduct {
		return
	}
	p := products[env.Aggregate.ID]
	if p == nil {
		return
	}
	switch e := env.Data.(type) {
	case events.LicensesPurchased:
		p.Purchased += e.Count
	case events.LicensesRemoved:
		p.Purchased -= e.Count
	case events.SelfServicePurchaseChanged:
		p.SelfService = e.SelfService
	case events.LicenseAssigned, events.LicenseClaimed:
		p.Assigned++
	case events.LicensesClaimed:
		p.Assigned += len(e.Claims)
	case events.LicensesAssigned:
		p.Assigned += len(e.Assignments)
	case events.LicenseUnassigned, events.LicenseReclaimed:
		p.Assigned--
	}
}

// Version implements Snapshotter.
func (*LicenseCounts) Version() int { return 1 }

// Snapshot implements Snapshotter.
func (lc *LicenseCounts) Snapshot() ([]byte, error) {
	return snapshotJSON(&lc.mu, lc.tenants)
}

// Restore implements Snapshotter.
func (lc *LicenseCounts) Restore(b []byte) error {
	return restoreJSON(NameLicenseCounts, &lc.mu, b, &lc.tenants)
}

// Products lists a tenant's products by name, then id.
func (lc *LicenseCounts) Products(tenant string) []ProductCount {
	lc.mu.RLock()
	defer lc.mu.RUnlock()
	out := make([]ProductCount, 0, len(lc.tenants[tenant]))
	for _, p := range lc.tenants[tenant] {
		out = append(out, p.view())
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].ProductID < out[j].ProductID
	})
	return out
}

// Tenants lists the tenants that have products, sorted.
func (lc *LicenseCounts) Tenants() []string {
	lc.mu.RLock()
	defer lc.mu.RUnlock()
	out := make([]string, 0, len(lc.tenants))
	for t, ps := range lc.tenants {
		if len(ps) > 0 {
			out = append(out, t)
		}
	}
	sort.Strings(out)
	return out
}

// Product returns one product's counts.
func (lc *LicenseCounts) Product(tenant, id string) (ProductCount, bool) {
	lc.mu.RLock()
	defer lc.mu.RUnlock()
	p, ok := lc.tenants[tenant][id]
	if !ok {
		return ProductCount{}, false
	}
	return p.view(), true
}

func (p *ProductCount) view() ProductCount {
	v := *p
	v.Services = slices.Clone(p.Services)
	if v.Services == nil {
		v.Services = []string{}
	}
	v.Available = v.Purchased - v.Assigned
	return v
}

// UserLicense is one license a user holds, with where it came from.
type UserLicense struct {
	ProductID        string        `json:"product_id"`
	DisabledServices []string      `json:"disabled_services"`
	Source           events.Source `json:"source"`
	AssignedAt       time.Time     `json:"assigned_at"`
}

// UserLicenses is the read model of the licenses each user holds. It is
// kept compact, since it grows with every licensed user: 24 bytes a
// license, whose strings that repeat across users (products, source kinds
// and refs, disabled services) are numbered in the read model's tables
// and whose time is Unix nanoseconds; a user holding one license (most
// of them) is one map entry, a user holding more a short slice.
type UserLicenses struct {
	mu      sync.RWMutex
	tenants map[string]*userLicensesTenant
	strs    strTable  // products, source kinds and refs
	lists   listTable // disabled services
	hint    Sizes     // users by tenant, from Presize
}

// userLicensesTenant holds each user's licenses in the order they got
// them: in one when they hold one, in many when they hold more.
type userLicensesTenant struct {
	one  map[string]heldLicense
	many map[string][]heldLicense
}

// held returns user's licenses.
func (t *userLicensesTenant) held(user string) []heldLicense {
	if t == nil {
		return nil
	}
	if h, ok := t.one[user]; ok {
		return []heldLicense{h}
	}
	return t.many[user]
}

// each calls f with each user and their licenses.
func (t *userLicensesTenant) each(f func(user string, held []heldLicense)) {
	if t == nil {
		return
	}
	var one [1]heldLicense
	for u, h := range t.one {
		one[0] = h
		f(u, one[:])
	}
	for u, held := range t.many {
		f(u, held)
	}
}

func (t *userLicensesTenant) len() int { return len(t.one) + len(t.many) }

// set gives user h, in place of their license of the same product.
func (t *userLicensesTenant) set(user string, h heldLicense) {
	if cur, ok := t.one[user]; ok {
		if cur.product == h.product {
			t.one[user] = h
			return
		}
		delete(t.one, user)
		t.many[user] = []heldLicense{cur, h}
		return
	}
	var held []heldLicense
	if len(t.many) > 0 {
		held = t.many[user]
	}
	if held == nil {
		t.one[user] = h
		return
	}
	for i := range held {
		if held[i].product == h.product {
			held[i] = h
			return
		}
	}
	t.many[user] = append(held, h)
}

// drop takes user's license of product back.
func (t *userLicensesTenant) drop(user string, product uint32) {
	if cur, ok := t.one[user]; ok {
		if cur.product == product {
			delete(t.one, user)
		}
		return
	}
	held := slices.DeleteFunc(t.many[user], func(h heldLicense) bool { return h.product == product })
	switch len(held) {
	case 0:
		delete(t.many, user)
	case 1:
		delete(t.many, user)
		t.one[user] = held[0]
	default:
		t.many[user] = held
	}
}

// heldLicense is UserLicense in memory.
type heldLicense struct {
	at       int64  // AssignedAt, Unix nanoseconds
	product  uint32 // in strs
	kind     uint32 // in strs
	ref      uint32 // in strs
	disabled uint32 // in lists
}

// NewUserLicenses returns an empty UserLicenses.
func NewUserLicenses() *UserLicenses {
	return &UserLicenses{tenants: map[string]*userLicensesTenant{}, strs: newStrTable(), lists: newListTable()}
}

// Name implements Projection.
func (*UserLicenses) Name() string { return NameUserLicenses }

// Apply implements Projection.
func (ul *UserLicenses) Apply(env events.Envelope) {
	switch e := env.Data.(type) {
	case events.LicenseAssigned, events.LicensesAssigned:
		for _, a := range events.Assignments(e) {
			ul.set(env.Tenant, a.UserID, UserLicense{ProductID: a.ProductID, DisabledServices: a.DisabledServices,
				Source: a.Source, AssignedAt: env.OccurredAt})
		}
	case events.LicenseClaimed, events.LicensesClaimed:
		b, _ := claimBatch(e)
		ul.mu.Lock()
		defer ul.mu.Unlock()
		// What the claims share is looked up once; a claim costs its
		// user's map entry.
		t := ul.tenant(env.Tenant)
		h := heldLicense{product: ul.strs.id(b.ProductID), kind: ul.strs.id(events.SourcePolicy), ref: ul.strs.id(b.PolicyID)}
		var disabled []string
		for i := range b.Claims {
			c := &b.Claims[i]
			if i == 0 || !slices.Equal(c.DisabledServices, disabled) {
				disabled, h.disabled = c.DisabledServices, ul.lists.id(c.DisabledServices, &ul.strs)
			}
			h.at = c.ClaimedAt.UnixNano()
			t.set(c.UserID, h)
		}
	case events.LicenseUnassigned, events.LicenseReclaimed:
		var user, product string
		switch e := e.(type) {
		case events.LicenseUnassigned:
			user, product = e.UserID, e.ProductID
		case events.LicenseReclaimed:
			user, product = e.UserID, e.ProductID
		}
		ul.mu.Lock()
		defer ul.mu.Unlock()
		p, ok := ul.strs.lookup(product)
		if t := ul.tenants[env.Tenant]; ok && t != nil {
			t.drop(user, p)
		}
	}
}

func (ul *UserLicenses) set(tenant, user string, l UserLicense) {
	ul.mu.Lock()
	defer ul.mu.Unlock()
	ul.setLocked(tenant, user, l)
}

// tenant returns the tenant's licenses, made on first use.
func (ul *UserLicenses) tenant(name string) *userLicensesTenant {
	t := ul.tenants[name]
	if t == nil {
		t = &userLicensesTenant{one: make(map[string]heldLicense, ul.hint.take(name)), many: map[string][]heldLicense{}}
		ul.tenants[name] = t
	}
	return t
}

func (ul *UserLicenses) setLocked(tenant, user string, l UserLicense) {
	t := ul.tenant(tenant)
	t.set(user, heldLicense{at: l.AssignedAt.UnixNano(), product: ul.strs.id(l.ProductID), kind: ul.strs.id(l.Source.Kind),
		ref: ul.strs.id(l.Source.Ref), disabled: ul.lists.id(l.DisabledServices, &ul.strs)})
}

func (ul *UserLicenses) view(h heldLicense) UserLicense {
	d := slices.Clone(ul.lists.list(h.disabled))
	if d == nil {
		d = []string{}
	}
	return UserLicense{ProductID: ul.strs.str(h.product), DisabledServices: d,
		Source: events.Source{Kind: ul.strs.str(h.kind), Ref: ul.strs.str(h.ref)}, AssignedAt: time.Unix(0, h.at).UTC()}
}

// Version implements Snapshotter: 2 since licenses are kept as a list per
// user, 3 since snapshots are binary.
func (*UserLicenses) Version() int { return 3 }

// Snapshot implements Snapshotter, in the binary form (see binsnap.go):
//
//	'U' format | strs | lists | tenants: name,
//	    one: user license | many: user, licenses    (license: at product kind ref disabled)
//
// tenants and users in key order, the users holding one license apart
// from those holding more (as they are kept), the licenses' strings as
// numbers in the tables.
func (ul *UserLicenses) Snapshot() ([]byte, error) {
	ul.mu.RLock()
	defer ul.mu.RUnlock()
	size := 64
	for _, t := range ul.tenants {
		size += 40 * t.len()
	}
	w := newSnapWriter(tagUserLicenses, size)
	w.strTable(&ul.strs)
	w.listTable(&ul.lists, &ul.strs)
	w.len(len(ul.tenants))
	for _, t := range ordered(ul.tenants) {
		w.str(t.k)
		one := ordered(t.v.one)
		w.len(len(one))
		for _, e := range one {
			w.str(e.k)
			w.heldLicense(e.v)
		}
		many := ordered(t.v.many)
		w.len(len(many))
		for _, e := range many {
			w.str(e.k)
			w.len(len(e.v))
			for _, h := range e.v {
				w.heldLicense(h)
			}
		}
	}
	return w.b, nil
}

// distinctProducts reports whether hs holds each product once; in time
// linear in len(hs), which a corrupt snapshot may make large.
func distinctProducts(hs []heldLicense) bool {
	if len(hs) > 16 {
		seen := make(map[uint32]bool, len(hs))
		for _, h := range hs {
			if seen[h.product] {
				return false
			}
			seen[h.product] = true
		}
		return true
	}
	for i := range hs {
		for _, o := range hs[:i] {
			if o.product == hs[i].product {
				return false
			}
		}
	}
	return true
}

func (w *snapWriter) heldLicense(h heldLicense) {
	w.varint(h.at)
	w.u32(h.product)
	w.u32(h.kind)
	w.u32(h.ref)
	w.u32(h.disabled)
}

// Restore implements Snapshotter: the tables are taken as they were, so
// nothing is interned again, and the state is swapped in only once it
// has all decoded.
func (ul *UserLicenses) Restore(b []byte) error {
	r := newSnapReader(tagUserLicenses, b)
	strs := r.strTable()
	lists := r.listTable(&strs)
	nstr, nlist := len(strs.strs), len(lists.lists)
	held := func() heldLicense {
		return heldLicense{at: r.varint(), product: r.index(nstr), kind: r.index(nstr), ref: r.index(nstr), disabled: r.index(nlist)}
	}
	n := r.count(3)
	tenants := make(map[string]*userLicensesTenant, n)
	var tc keyCursor
	for range n {
		name := r.key(&tc)
		t := &userLicensesTenant{}
		one := r.count(6)
		t.one = make(map[string]heldLicense, one)
		var c keyCursor
		for range one {
			u := r.key(&c)
			t.one[u] = held()
		}
		many := r.count(12)
		t.many = make(map[string][]heldLicense, many)
		c = keyCursor{}
		for range many {
			u := r.key(&c)
			hs := make([]heldLicense, r.count(5))
			for i := range hs {
				hs[i] = held()
			}
			if !distinctProducts(hs) {
				r.fail(fmt.Sprintf("user %q holds a product twice", u))
			}
			if _, ok := t.one[u]; ok || len(hs) < 2 {
				r.fail(fmt.Sprintf("user %q with %d licenses among those with several", u, len(hs)))
			}
			if r.err != nil {
				break
			}
			t.many[u] = hs
		}
		tenants[name] = t
	}
	if err := r.end(); err != nil {
		return fmt.Errorf("restore %s: %w", NameUserLicenses, err)
	}
	ul.mu.Lock()
	defer ul.mu.Unlock()
	ul.tenants, ul.strs, ul.lists, ul.hint = tenants, strs, lists, nil
	return nil
}

// Licenses lists the licenses a user holds, by product id.
func (ul *UserLicenses) Licenses(tenant, user string) []UserLicense {
	ul.mu.RLock()
	defer ul.mu.RUnlock()
	held := ul.tenants[tenant].held(user)
	out := make([]UserLicense, 0, len(held))
	for _, h := range held {
		out = append(out, ul.view(h))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ProductID < out[j].ProductID })
	return out
}

// ProductHolder is one user holding a license of a product.
type ProductHolder struct {
	UserID string `json:"user_id"`
	UserLicense
}

// Holders lists the users holding a license of product, by user id.
func (ul *UserLicenses) Holders(tenant, product string) []ProductHolder {
	ul.mu.RLock()
	defer ul.mu.RUnlock()
	out := []ProductHolder{}
	p, ok := ul.strs.lookup(product)
	if !ok {
		return out
	}
	ul.tenants[tenant].each(func(user string, held []heldLicense) {
		for _, h := range held {
			if h.product == p {
				out = append(out, ProductHolder{UserID: user, UserLicense: ul.view(h)})
			}
		}
	})
	sort.Slice(out, func(i, j int) bool { return out[i].UserID < out[j].UserID })
	return out
}
