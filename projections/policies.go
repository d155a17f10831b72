package projections

import (
	"slices"
	"sort"
	"sync"

	"github.com/seatflow/seatflow/events"
)

// NamePolicyList is the policy list read model's name.
const NamePolicyList = "policy_list"

// PolicyProductView is one product of a policy as the list shows it.
type PolicyProductView struct {
	ProductID        string   `json:"product_id"`
	Name             string   `json:"name"`
	Available        int      `json:"available"`
	DisabledServices []string `json:"disabled_services"`
}

// PolicyListItem is one policy: its settings, its products with their free
// seats, the seats free across them, and the users waiting for one.
type PolicyListItem struct {
	PolicyID  string              `json:"policy_id"`
	Name      string              `json:"name"`
	App       string              `json:"app"`
	Products  []PolicyProductView `json:"products"`
	Available int                 `json:"available"`
	Enabled   bool                `json:"enabled"`
	Queue     []string            `json:"queue"`
}

type policyState struct {
	id, name, app string
	products      []events.PolicyProduct
	enabled       bool
	queue         []string
}

type productSeats struct {
	name                string
	purchased, assigned int
}

type policyTenant struct {
	policies map[string]*policyState
	products map[string]*productSeats
}

// PolicyList is the read model of a tenant's auto-claim policies.
type PolicyList struct {
	mu      sync.RWMutex
	tenants map[string]*policyTenant
}

// NewPolicyList returns an empty PolicyList.
func NewPolicyList() *PolicyList { return &PolicyList{tenants: map[string]*policyTenant{}} }

// Name implements Projection.
func (*PolicyList) Name() string { return NamePolicyList }

// Apply implements Projection.
func (pl *PolicyList) Apply(env events.Envelope) {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	t := pl.tenants[env.Tenant]
	if t == nil {
		t = &policyTenant{policies: map[string]*policyState{}, products: map[string]*productSeats{}}
		pl.tenants[env.Tenant] = t
	}
	if e, ok := env.Data.(events.ProductAdded); ok {
		t.products[e.ProductID] = &productSeats{name: e.Name, purchased: e.Licenses}
		return
	}
	if e, ok := env.Data.(events.PolicyCreated); ok {
		t.policies[e.PolicyID] = &policyState{id: e.PolicyID, name: e.Name, app: e.App, products: e.Products, enabled: e.Enabled}
		return
	}
	switch env.Aggregate.Kind {
	case events.KindProduct:
		p := t.products[env.Aggregate.ID]
		if p == nil {
			return
		}
		switch e := env.Data.(type) {
		case events.LicensesPurchased:
			p.purchased += e.Count
		case events.LicensesRemoved:
			p.purchased -= e.Count
		case events.LicenseAssigned, events.LicenseClaimed:
			p.assigned++
		case events.LicenseUnassigned:
			p.assigned--
		}
	case events.KindPolicy:
		p := t.policies[env.Aggregate.ID]
		if p == nil {
			return
		}
		switch e := env.Data.(type) {
		case events.PolicyRenamed:
			p.name = e.Name
		case events.PolicyStatusChanged:
			p.enabled = e.Enabled
		case events.PolicyProductsChanged:
			p.products = e.Products
		case events.UserQueued:
			p.queue = append(p.queue, e.UserID)
		case events.QueuedUserGranted:
			p.queue = slices.DeleteFunc(p.queue, func(u string) bool { return u == e.UserID })
		case events.QueuedUserDropped:
			p.queue = slices.DeleteFunc(p.queue, func(u string) bool { return u == e.UserID })
		}
	}
}

// Policies lists a tenant's policies by name, then id.
func (pl *PolicyList) Policies(tenant string) []PolicyListItem {
	pl.mu.RLock()
	defer pl.mu.RUnlock()
	t := pl.tenants[tenant]
	if t == nil {
		return []PolicyListItem{}
	}
	out := make([]PolicyListItem, 0, len(t.policies))
	for _, p := range t.policies {
		out = append(out, t.view(p))
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].PolicyID < out[j].PolicyID
	})
	return out
}

// Policy returns one policy, or false when the tenant has none by id.
func (pl *PolicyList) Policy(tenant, id string) (PolicyListItem, bool) {
	pl.mu.RLock()
	defer pl.mu.RUnlock()
	t := pl.tenants[tenant]
	if t == nil || t.policies[id] == nil {
		return PolicyListItem{}, false
	}
	return t.view(t.policies[id]), true
}

func (t *policyTenant) view(p *policyState) PolicyListItem {
	item := PolicyListItem{PolicyID: p.id, Name: p.name, App: p.app, Enabled: p.enabled,
		Products: make([]PolicyProductView, 0, len(p.products)), Queue: slices.Clone(p.queue)}
	if item.Queue == nil {
		item.Queue = []string{}
	}
	for _, pp := range p.products {
		v := PolicyProductView{ProductID: pp.ProductID, DisabledServices: slices.Clone(pp.DisabledServices)}
		if v.DisabledServices == nil {
			v.DisabledServices = []string{}
		}
		if s := t.products[pp.ProductID]; s != nil {
			v.Name, v.Available = s.name, max(s.purchased-s.assigned, 0)
		}
		item.Available += v.Available
		item.Products = append(item.Products, v)
	}
	return item
}
