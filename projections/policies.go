package projections

import (
	"slices"
	"sort"
	"sync"

	"github.com/seatflow/seatflow/events"
)

// NamePolicyList is the policy list read model's name.
const NamePolicyList = "policy_list"

var (
	_ Snapshotter = (*PolicyList)(nil)
	_ Snapshotter = (*Claims)(nil)
)

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
	// Queue lists the first QueueHeadLen users waiting for a seat, in
	// order; Queued counts them all.
	Queue  []string `json:"queue"`
	Queued int      `json:"queued"`
	Limits
}

// Limits are a policy's claim caps and reclaim settings (null: off).
type Limits struct {
	DailyCap         *int `json:"daily_cap"`
	TotalCap         *int `json:"total_cap"`
	ReclaimAfterDays *int `json:"reclaim_after_days"`
	ReclaimWarnDays  *int `json:"reclaim_warn_days"`
}

// QueueHeadLen is how many waiting users a policy view lists.
const QueueHeadLen = 100

// The read models' internal state has exported fields so that snapshots
// are plain JSON of it.
type policyState struct {
	ID       string                 `json:"id"`
	Name     string                 `json:"name"`
	App      string                 `json:"app"`
	Products []events.PolicyProduct `json:"products,omitempty"`
	Enabled  bool                   `json:"enabled,omitempty"`
	Queue    []string               `json:"queue,omitempty"`
	Limits   Limits                 `json:"limits"`
}

type productSeats struct {
	Name      string `json:"name"`
	Purchased int    `json:"purchased"`
	Assigned  int    `json:"assigned"`
}

type policyTenant struct {
	Policies map[string]*policyState  `json:"policies"`
	Products map[string]*productSeats `json:"products"`
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
		t = &policyTenant{Policies: map[string]*policyState{}, Products: map[string]*productSeats{}}
		pl.tenants[env.Tenant] = t
	}
	if e, ok := env.Data.(events.ProductAdded); ok {
		t.Products[e.ProductID] = &productSeats{Name: e.Name, Purchased: e.Licenses}
		return
	}
	if e, ok := env.Data.(events.PolicyCreated); ok {
		t.Policies[e.PolicyID] = &policyState{ID: e.PolicyID, Name: e.Name, App: e.App, Products: e.Products, Enabled: e.Enabled}
		return
	}
	switch env.Aggregate.Kind {
	case events.KindProduct:
		p := t.Products[env.Aggregate.ID]
		if p == nil {
			return
		}
		switch e := env.Data.(type) {
		case events.LicensesPurchased:
			p.Purchased += e.Count
		case events.LicensesRemoved:
			p.Purchased -= e.Count
		case events.LicenseAssigned, events.LicenseClaimed:
			p.Assigned++
		case events.LicensesClaimed:
			p.Assigned += len(e.Claims)
		case events.LicensesAssigned:
			p.Assigned += len(e.Assignments)
		case events.LicenseUnassigned, events.LicenseReclaimed:
			p.Assigned--
		}
	case events.KindPolicy:
		p := t.Policies[env.Aggregate.ID]
		if p == nil {
			return
		}
		switch e := env.Data.(type) {
		case events.PolicyRenamed:
			p.Name = e.Name
		case events.PolicyStatusChanged:
			p.Enabled = e.Enabled
		case events.PolicyProductsChanged:
			p.Products = e.Products
		case events.UserQueued:
			p.Queue = append(p.Queue, e.UserID)
		case events.PolicyLimitsChanged:
			p.Limits = Limits{DailyCap: e.DailyCap, TotalCap: e.TotalCap, ReclaimAfterDays: e.ReclaimAfterDays, ReclaimWarnDays: e.ReclaimWarnDays}
		case events.QueuedUserGranted:
			p.dequeue(e.UserID)
		case events.QueuedUserDropped:
			p.dequeue(e.UserID)
		}
	}
}

// dequeue removes u from the queue: in constant time when u is its head,
// as when a seat is granted in order.
func (p *policyState) dequeue(u string) {
	if len(p.Queue) > 0 && p.Queue[0] == u {
		p.Queue[0] = ""
		p.Queue = p.Queue[1:]
		return
	}
	p.Queue = slices.DeleteFunc(p.Queue, func(q string) bool { return q == u })
}

// Policies lists a tenant's policies by name, then id.
func (pl *PolicyList) Policies(tenant string) []PolicyListItem {
	pl.mu.RLock()
	defer pl.mu.RUnlock()
	t := pl.tenants[tenant]
	if t == nil {
		return []PolicyListItem{}
	}
	out := make([]PolicyListItem, 0, len(t.Policies))
	for _, p := range t.Policies {
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
	if t == nil || t.Policies[id] == nil {
		return PolicyListItem{}, false
	}
	return t.view(t.Policies[id]), true
}

func (t *policyTenant) view(p *policyState) PolicyListItem {
	item := PolicyListItem{PolicyID: p.ID, Name: p.Name, App: p.App, Enabled: p.Enabled,
		Products: make([]PolicyProductView, 0, len(p.Products)), Queue: slices.Clone(p.Queue[:min(len(p.Queue), QueueHeadLen)]),
		Queued: len(p.Queue), Limits: p.Limits}
	if item.Queue == nil {
		item.Queue = []string{}
	}
	for _, pp := range p.Products {
		v := PolicyProductView{ProductID: pp.ProductID, DisabledServices: slices.Clone(pp.DisabledServices)}
		if v.DisabledServices == nil {
			v.DisabledServices = []string{}
		}
		if s := t.Products[pp.ProductID]; s != nil {
			v.Name, v.Available = s.Name, max(s.Purchased-s.Assigned, 0)
		}
		item.Available += v.Available
		item.Products = append(item.Products, v)
	}
	return item
}

// Version is the version of the policy list's logic and snapshot shape
// (see Snapshotter).
func (*PolicyList) Version() int { return 2 }

// Snapshot returns the policy list's state as JSON.
func (pl *PolicyList) Snapshot() ([]byte, error) {
	return snapshotJSON(&pl.mu, pl.tenants)
}

// Restore replaces the policy list's state with a snapshot.
func (pl *PolicyList) Restore(b []byte) error {
	return restoreJSON(NamePolicyList, &pl.mu, b, &pl.tenants)
}

// Tenants lists the tenants that have policies, sorted.
func (pl *PolicyList) Tenants() []string {
	pl.mu.RLock()
	defer pl.mu.RUnlock()
	out := make([]string, 0, len(pl.tenants))
	for t, pt := range pl.tenants {
		if len(pt.Policies) > 0 {
			out = append(out, t)
		}
	}
	sort.Strings(out)
	return out
}

// QueuedFor counts the users waiting for a seat under the enabled policies
// that list product: each takes the next seat that any of their policy's
// products frees.
func (pl *PolicyList) QueuedFor(tenant, product string) int {
	pl.mu.RLock()
	defer pl.mu.RUnlock()
	t := pl.tenants[tenant]
	if t == nil {
		return 0
	}
	n := 0
	for _, p := range t.Policies {
		if p.Enabled && slices.ContainsFunc(p.Products, func(pp events.PolicyProduct) bool { return pp.ProductID == product }) {
			n += len(p.Queue)
		}
	}
	return n
}
