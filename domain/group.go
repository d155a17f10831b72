package domain

import (
	"context"
	"fmt"
	"slices"

	"github.com/seatflow/seatflow/events"
)

// The group aggregate (sf.evt.<tenant>.group.<id>): a security group, its
// members and the products it is licensed with. A group's licenses are
// assigned and taken back in the same all-or-nothing append as its change.

// Bounds of security groups.
const (
	MaxGroupMembers  = 1000
	MaxGroupProducts = 20
)

// Group is the state of one security group. Products are the products the
// group is licensed with: each member holds a license of each (source
// "group"), unless they held one already.
type Group struct {
	ID       GroupID
	Name     string
	Members  []UserID
	Products []events.PolicyProduct
	// Deleted is true once the group was deleted; its id is not reused.
	Deleted bool
}

// Exists reports whether the group has been created and not deleted.
func (g *Group) Exists() bool { return g.Name != "" && !g.Deleted }

// HasMember reports whether u is a member of g.
func (g *Group) HasMember(u UserID) bool { return slices.Contains(g.Members, u) }

// View is the group as the API shows it.
func (g *Group) View() GroupView {
	v := GroupView{GroupID: g.ID, Name: g.Name, Members: make([]UserID, len(g.Members)), Products: make([]events.PolicyProduct, len(g.Products))}
	copy(v.Members, g.Members)
	for i, p := range g.Products {
		v.Products[i] = events.PolicyProduct{ProductID: p.ProductID, DisabledServices: nonNil(p.DisabledServices)}
	}
	return v
}

// GroupView is a security group.
type GroupView struct {
	GroupID  GroupID                `json:"group_id"`
	Name     string                 `json:"name"`
	Members  []UserID               `json:"members"`
	Products []events.PolicyProduct `json:"products"`
}

// EvolveGroup folds one event into g.
func EvolveGroup(g *Group, env events.Envelope) {
	switch e := env.Data.(type) {
	case events.GroupChanged:
		g.Name, g.Products, g.Deleted = e.Name, e.Products, false
		g.Members = make([]UserID, len(e.Members))
		for i, m := range e.Members {
			g.Members[i] = UserID(m)
		}
	case events.GroupDeleted:
		g.Deleted = true
	}
}

// SetGroup is a security group's whole new state.
type SetGroup struct {
	Name     string
	Members  []UserID
	Products []events.PolicyProduct
	// Inactive lists members an identity provider deactivated: they stay
	// members but get none of the group's licenses. The Service fills it
	// from the members' own states.
	Inactive []UserID
}

func (c SetGroup) validate() error {
	if c.Name == "" || len(c.Name) > MaxNameLen {
		return invalid("name", "must be 1 to %d bytes", MaxNameLen)
	}
	if len(c.Members) > MaxGroupMembers {
		return invalid("members", "at most %d members", MaxGroupMembers)
	}
	for _, m := range c.Members {
		if err := checkID("members", string(m)); err != nil {
			return err
		}
	}
	if hasDuplicate(ids(c.Members)) {
		return invalid("members", "lists a user twice")
	}
	if len(c.Products) > MaxGroupProducts {
		return invalid("products", "at most %d products", MaxGroupProducts)
	}
	seen := map[string]bool{}
	for _, p := range c.Products {
		if err := checkID("products.product_id", p.ProductID); err != nil {
			return err
		}
		if seen[p.ProductID] {
			return invalid("products", "lists product %q twice", p.ProductID)
		}
		seen[p.ProductID] = true
	}
	return nil
}

// DecideGroup decides setting group gid to next over the states of the group
// and of every product it had or gets: the group's change, and per product
// the licenses taken from members who leave (or from a product the group no
// longer has) and granted to members who join, all or nothing. Errors:
// ErrNoLicensesAvailable, *NotFoundError (a product), *ValidationError.
func DecideGroup(state StateOf, gid GroupID, next SetGroup) ([]Emit, error) {
	gagg := groupAgg(gid)
	g := state(gagg).(*Group)
	src := events.Source{Kind: events.SourceGroup, Ref: string(gid)}
	newSpec := map[string]events.PolicyProduct{}
	for _, p := range next.Products {
		newSpec[p.ProductID] = p
	}
	var touched []string
	for _, p := range g.Products {
		touched = append(touched, p.ProductID)
	}
	for _, p := range next.Products {
		if !slices.Contains(touched, p.ProductID) {
			touched = append(touched, p.ProductID)
		}
	}
	members := map[UserID]bool{}
	for _, m := range next.Members {
		members[m] = true
	}
	var changes []Emit
	for _, pid := range touched {
		pagg := productAgg(ProductID(pid))
		p := state(pagg).(*Product)
		spec, keep := newSpec[pid]
		if keep && !p.Exists() {
			return nil, &NotFoundError{Kind: "product", ID: pid}
		}
		var evs []events.Data
		for _, u := range sortedHolders(p) {
			h, _ := p.Holding(u)
			if h.Source == src && (!keep || !members[u]) {
				evs = append(evs, events.LicenseUnassigned{ProductID: pid, UserID: string(u)})
			}
		}
		freed := len(evs)
		if keep {
			if err := p.checkDisabled(spec.DisabledServices); err != nil {
				return nil, err
			}
			active := slices.DeleteFunc(slices.Clone(next.Members), func(u UserID) bool { return slices.Contains(next.Inactive, u) })
			grants, _, err := grantAll(p, active, spec.DisabledServices, src, freed)
			if err != nil {
				return nil, err
			}
			evs = append(evs, grants...)
		}
		changes = append(changes, Emit{pagg, evs})
	}
	products := make([]events.PolicyProduct, len(next.Products))
	for i, p := range next.Products {
		products[i] = events.PolicyProduct{ProductID: p.ProductID, DisabledServices: nonNil(p.DisabledServices)}
	}
	changed := events.GroupChanged{GroupID: string(gid), Name: next.Name, Members: ids(next.Members), Products: products}
	var out []Emit
	if !g.Exists() || g.Name != changed.Name || !slices.Equal(ids(g.Members), changed.Members) || !sameProducts(g.Products, products) {
		out = append(out, Emit{gagg, []events.Data{changed}})
	}
	return append(out, changes...), nil
}

// DecideSetGroup decides setting group gid to c (already validated) over
// the states of the group, of every product it had or gets and of every
// member: as DecideGroup, with the members an identity provider
// deactivated or deleted (c.Inactive) read from their own states.
func DecideSetGroup(state StateOf, gid GroupID, c SetGroup) ([]Emit, error) {
	c.Inactive = inactiveMembers(state, c.Members)
	return DecideGroup(state, gid, c)
}

func sameProducts(a, b []events.PolicyProduct) bool {
	return slices.EqualFunc(a, b, func(x, y events.PolicyProduct) bool {
		return x.ProductID == y.ProductID && slices.Equal(nonNil(x.DisabledServices), nonNil(y.DisabledServices))
	})
}

func sortedHolders(p *Product) []UserID {
	out := make([]UserID, 0, p.Assigned())
	for u := range p.Holdings() {
		out = append(out, u)
	}
	slices.Sort(out)
	return out
}

// grantAll plans a license of p for each of users who does not hold one:
// LicenseAssigned events with src, and the users who held one already. It
// fails with ErrNoLicensesAvailable unless p has seats for all of them,
// counting freed seats released in the same transaction.
func grantAll(p *Product, users []UserID, disabled []string, src events.Source, freed int) ([]events.Data, []UserID, error) {
	var evs []events.Data
	held := []UserID{}
	for _, u := range users {
		if p.Holds(u) {
			held = append(held, u)
			continue
		}
		evs = append(evs, events.LicenseAssigned{ProductID: string(p.ID), UserID: string(u),
			DisabledServices: nonNil(disabled), Source: src})
	}
	if len(evs) > p.Available()+freed {
		return nil, nil, fmt.Errorf("product %q has %d free of %d, %d needed: %w", p.ID, p.Available()+freed, p.Purchased, len(evs), ErrNoLicensesAvailable)
	}
	return evs, held, nil
}

// groupProducts lists the products a group change touches: the group's
// current ones and the new ones.
func groupProducts(g *Group, next []events.PolicyProduct) []events.Aggregate {
	var out []events.Aggregate
	for _, p := range g.Products {
		out = append(out, productAgg(ProductID(p.ProductID)))
	}
	for _, p := range next {
		out = append(out, productAgg(ProductID(p.ProductID)))
	}
	return out
}

// memberAggs names the user aggregates of members, whose states say
// whether they may hold the group's licenses.
func memberAggs(members []UserID) []events.Aggregate {
	out := make([]events.Aggregate, len(members))
	for i, m := range members {
		out[i] = userAgg(m)
	}
	return out
}

// inactiveMembers lists the members an identity provider deactivated or
// deleted.
func inactiveMembers(state StateOf, members []UserID) []UserID {
	var out []UserID
	for _, m := range members {
		if u := state(userAgg(m)).(*User); u.Inactive || u.Deleted {
			out = append(out, m)
		}
	}
	return out
}

// SetGroup creates or replaces security group id: its name, members and the
// products it is licensed with, assigning and taking back the group's
// licenses in the same all-or-nothing append.
func (s *Service) SetGroup(ctx context.Context, tenant TenantID, id GroupID, meta events.Meta, c SetGroup) (GroupView, Result, error) {
	if err := checkID("group_id", string(id)); err != nil {
		return GroupView{}, Result{}, err
	}
	if err := c.validate(); err != nil {
		return GroupView{}, Result{}, err
	}
	gagg := groupAgg(id)
	var out GroupView
	res, err := s.transactPlanned(ctx, tenant, meta, []events.Aggregate{gagg},
		func(state StateOf) []events.Aggregate {
			return append(groupProducts(state(gagg).(*Group), c.Products), memberAggs(c.Members)...)
		},
		func(tx *Tx) error {
			emits, err := DecideSetGroup(tx.State, id, c)
			if err != nil {
				return err
			}
			tx.EmitAll(emits...)
			return nil
		},
		func(tx *Tx) { out = tx.State(gagg).(*Group).View() })
	return out, res, err
}

// ChangeMembers changes a security group's name and members as an identity
// provider's PATCH does, against the group's current state: Name, if not
// nil, renames it; Replace, if not nil, is the whole new member list;
// then Add joins and Remove leaves (absent members and members already in
// are ignored). The group's products stay.
type ChangeMembers struct {
	Name    *string
	Replace *[]UserID
	Add     []UserID
	Remove  []UserID
}

// Apply returns g's new state under c.
func (c ChangeMembers) Apply(g *Group) SetGroup {
	next := SetGroup{Name: g.Name, Members: slices.Clone(g.Members), Products: slices.Clone(g.Products)}
	if c.Name != nil {
		next.Name = *c.Name
	}
	if c.Replace != nil {
		next.Members = dedupe(*c.Replace)
	}
	for _, m := range c.Add {
		if !slices.Contains(next.Members, m) {
			next.Members = append(next.Members, m)
		}
	}
	next.Members = slices.DeleteFunc(next.Members, func(m UserID) bool { return slices.Contains(c.Remove, m) })
	if next.Members == nil {
		next.Members = []UserID{}
	}
	return next
}

// DecideChangeMembers decides changing existing group id by c over the
// states of the group, of its products and of every member it will have:
// c applied to the group's current state, then decided as DecideSetGroup.
// Errors: as DecideGroup, and *NotFoundError for a group that does not
// exist.
func DecideChangeMembers(state StateOf, id GroupID, c ChangeMembers) ([]Emit, error) {
	g := state(groupAgg(id)).(*Group)
	if !g.Exists() {
		return nil, &NotFoundError{Kind: "group", ID: string(id)}
	}
	next := c.Apply(g)
	if err := next.validate(); err != nil {
		return nil, err
	}
	return DecideSetGroup(state, id, next)
}

// ChangeGroupMembers applies c to existing group id as one SetGroup decided
// on the group's current state, so concurrent membership changes never
// overwrite each other. Errors: as SetGroup, and *NotFoundError for a group
// that does not exist.
func (s *Service) ChangeGroupMembers(ctx context.Context, tenant TenantID, id GroupID, meta events.Meta, c ChangeMembers) (GroupView, Result, error) {
	if err := checkID("group_id", string(id)); err != nil {
		return GroupView{}, Result{}, err
	}
	gagg := groupAgg(id)
	var out GroupView
	res, err := s.transactPlanned(ctx, tenant, meta, []events.Aggregate{gagg},
		func(state StateOf) []events.Aggregate {
			g := state(gagg).(*Group)
			return append(groupProducts(g, g.Products), memberAggs(c.Apply(g).Members)...)
		},
		func(tx *Tx) error {
			emits, err := DecideChangeMembers(tx.State, id, c)
			if err != nil {
				return err
			}
			tx.EmitAll(emits...)
			return nil
		},
		func(tx *Tx) { out = tx.State(gagg).(*Group).View() })
	return out, res, err
}

// DecideDeleteGroup decides deleting group id over the states of the group
// and of its products: the group emptied of members and products (its
// licenses taken back, as a group change does) and GroupDeleted. Errors:
// *NotFoundError.
func DecideDeleteGroup(state StateOf, id GroupID) ([]Emit, error) {
	gagg := groupAgg(id)
	g := state(gagg).(*Group)
	if !g.Exists() {
		return nil, &NotFoundError{Kind: "group", ID: string(id)}
	}
	out, err := DecideGroup(state, id, SetGroup{Name: g.Name, Members: []UserID{}, Products: []events.PolicyProduct{}})
	if err != nil {
		return nil, err
	}
	return append(out, Emit{gagg, []events.Data{events.GroupDeleted{GroupID: string(id)}}}), nil
}

// DeleteGroup deletes group id, taking back the licenses it gave, in one
// append.
func (s *Service) DeleteGroup(ctx context.Context, tenant TenantID, id GroupID, meta events.Meta) (Result, error) {
	if err := checkID("group_id", string(id)); err != nil {
		return Result{}, err
	}
	gagg := groupAgg(id)
	return s.transactPlanned(ctx, tenant, meta, []events.Aggregate{gagg},
		func(state StateOf) []events.Aggregate { return groupProducts(state(gagg).(*Group), nil) },
		func(tx *Tx) error {
			emits, err := DecideDeleteGroup(tx.State, id)
			if err != nil {
				return err
			}
			tx.EmitAll(emits...)
			return nil
		}, nil)
}
