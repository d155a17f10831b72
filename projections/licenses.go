package projections

import (
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
	case events.LicenseUnassigned:
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

// UserLicenses is the read model of the licenses each user holds.
type UserLicenses struct {
	mu      sync.RWMutex
	tenants map[string]map[string]map[string]UserLicense // tenant -> user -> product
}

// NewUserLicenses returns an empty UserLicenses.
func NewUserLicenses() *UserLicenses {
	return &UserLicenses{tenants: map[string]map[string]map[string]UserLicense{}}
}

// Name implements Projection.
func (*UserLicenses) Name() string { return NameUserLicenses }

// Apply implements Projection.
func (ul *UserLicenses) Apply(env events.Envelope) {
	switch e := env.Data.(type) {
	case events.LicenseAssigned:
		ul.set(env.Tenant, e.UserID, UserLicense{ProductID: e.ProductID, DisabledServices: e.DisabledServices,
			Source: e.Source, AssignedAt: env.OccurredAt})
	case events.LicenseClaimed, events.LicensesClaimed:
		for _, c := range events.Claims(e) {
			ul.set(env.Tenant, c.UserID, UserLicense{ProductID: c.ProductID, DisabledServices: c.DisabledServices,
				Source: events.Source{Kind: events.SourcePolicy, Ref: c.PolicyID}, AssignedAt: c.ClaimedAt})
		}
	case events.LicenseUnassigned:
		ul.mu.Lock()
		delete(ul.tenants[env.Tenant][e.UserID], e.ProductID)
		ul.mu.Unlock()
	}
}

func (ul *UserLicenses) set(tenant, user string, l UserLicense) {
	ul.mu.Lock()
	defer ul.mu.Unlock()
	users := ul.tenants[tenant]
	if users == nil {
		users = map[string]map[string]UserLicense{}
		ul.tenants[tenant] = users
	}
	if users[user] == nil {
		users[user] = map[string]UserLicense{}
	}
	users[user][l.ProductID] = l
}

// Version implements Snapshotter.
func (*UserLicenses) Version() int { return 1 }

// Snapshot implements Snapshotter.
func (ul *UserLicenses) Snapshot() ([]byte, error) {
	return snapshotJSON(&ul.mu, ul.tenants)
}

// Restore implements Snapshotter.
func (ul *UserLicenses) Restore(b []byte) error {
	return restoreJSON(NameUserLicenses, &ul.mu, b, &ul.tenants)
}

// Licenses lists the licenses a user holds, by product id.
func (ul *UserLicenses) Licenses(tenant, user string) []UserLicense {
	ul.mu.RLock()
	defer ul.mu.RUnlock()
	held := ul.tenants[tenant][user]
	out := make([]UserLicense, 0, len(held))
	for _, l := range held {
		l.DisabledServices = slices.Clone(l.DisabledServices)
		if l.DisabledServices == nil {
			l.DisabledServices = []string{}
		}
		out = append(out, l)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ProductID < out[j].ProductID })
	return out
}
