package domain

import (
	"context"
	"slices"

	"github.com/seatflow/seatflow/events"
)

// MaxUserNameLen bounds a provisioned user name and external id.
const MaxUserNameLen = 256

// ProvisionUser is an identity provider's whole view of one directory user
// (SCIM create, replace, or a patch applied to the current view). It keeps
// the user's roles, which only a global admin grants.
type ProvisionUser struct {
	Email       string
	DisplayName string
	UserName    string
	ExternalID  string
	Active      bool
	// Holds lists the products the user may hold a license of, from a
	// read model: deactivation releases those the user really holds in
	// the products' own state. A product missing from it keeps its seat.
	Holds []ProductID
	// Groups lists the groups the user may be a member of, from a read
	// model: reactivation gives back the licenses of those the user really
	// is in, where the product has a free seat.
	Groups []GroupID
}

// DeleteUser is an identity provider deleting a directory user: Holds as in
// ProvisionUser, and Groups the groups the user may be a member of (from a
// read model); the user leaves each one they really are in.
type DeleteUser struct {
	Holds  []ProductID
	Groups []GroupID
}

// DecideProvision decides provisioning user id as c over the states of the
// user and of each product in c.Holds: the UserRegistered and UserProvisioned
// the change needs (none when nothing changes) and, when c deactivates the
// user, a LicenseUnassigned with reason user_deactivated for each license
// the user holds. Errors: *ValidationError, *NotFoundError (a deleted user).
func DecideProvision(state StateOf, id UserID, c ProvisionUser) ([]Emit, error) {
	uagg := userAgg(id)
	u := state(uagg).(*User)
	if u.Deleted {
		return nil, &NotFoundError{Kind: "user", ID: string(id)}
	}
	if c.UserName == "" || len(c.UserName) > MaxUserNameLen {
		return nil, invalid("userName", "must be 1 to %d bytes", MaxUserNameLen)
	}
	if len(c.ExternalID) > MaxUserNameLen {
		return nil, invalid("externalId", "must be at most %d bytes", MaxUserNameLen)
	}
	reg, err := DecideUser(u, RegisterUser{Email: c.Email, DisplayName: c.DisplayName, KeepRoles: true})
	if err != nil {
		return nil, err
	}
	evs := reg
	fresh := u.UserName == "" && u.ExternalID == "" && !u.Inactive
	if fresh || u.UserName != c.UserName || u.ExternalID != c.ExternalID || u.Inactive == c.Active {
		evs = append(evs, events.UserProvisioned{UserID: string(id), UserName: c.UserName, ExternalID: c.ExternalID, Active: c.Active})
	}
	var out []Emit
	if len(evs) > 0 {
		out = append(out, Emit{uagg, evs})
	}
	if !c.Active {
		out = append(out, release(state, id, c.Holds, events.UnassignedUserDeactivated)...)
	}
	if c.Active && u.Inactive {
		out = append(out, regrant(state, id, c.Groups)...)
	}
	return out, nil
}

// regrant plans the licenses a reactivated user id gets back from the
// groups it is a member of: one per product it does not hold, from the
// first of its groups that licenses the product, while the product has a
// free seat. A product without one is skipped: the user is reactivated all
// the same and an admin sees the shortfall in the product's counts.
func regrant(state StateOf, id UserID, groups []GroupID) []Emit {
	var out []Emit
	granted := map[string]bool{}
	for _, gid := range dedupe(groups) {
		g := state(groupAgg(gid)).(*Group)
		if !g.Exists() || !g.HasMember(id) {
			continue
		}
		for _, spec := range g.Products {
			p := state(productAgg(ProductID(spec.ProductID))).(*Product)
			if _, holds := p.Holders[id]; holds || granted[spec.ProductID] || !p.Exists() || p.Available() < 1 {
				continue
			}
			granted[spec.ProductID] = true
			out = append(out, Emit{productAgg(ProductID(spec.ProductID)), []events.Data{events.LicenseAssigned{ProductID: spec.ProductID, UserID: string(id),
				DisabledServices: nonNil(spec.DisabledServices), Source: events.Source{Kind: events.SourceGroup, Ref: string(gid)}}}})
		}
	}
	return out
}

// DecideDeleteUser decides deleting user id over the states of the user, of
// each product in c.Holds and of each group in c.Groups: a LicenseUnassigned
// with reason user_deleted for each license the user holds, a GroupChanged
// without the user for each group they are in, and UserDeleted. Errors:
// *NotFoundError (no such user, or deleted already).
func DecideDeleteUser(state StateOf, id UserID, c DeleteUser) ([]Emit, error) {
	uagg := userAgg(id)
	u := state(uagg).(*User)
	if !u.Registered() {
		return nil, &NotFoundError{Kind: "user", ID: string(id)}
	}
	out := release(state, id, c.Holds, events.UnassignedUserDeleted)
	for _, gid := range dedupe(c.Groups) {
		gagg := groupAgg(gid)
		g := state(gagg).(*Group)
		if !g.HasMember(id) {
			continue
		}
		members := ids(slices.DeleteFunc(slices.Clone(g.Members), func(m UserID) bool { return m == id }))
		products := make([]events.PolicyProduct, len(g.Products))
		for i, p := range g.Products {
			products[i] = events.PolicyProduct{ProductID: p.ProductID, DisabledServices: nonNil(p.DisabledServices)}
		}
		out = append(out, Emit{gagg, []events.Data{events.GroupChanged{GroupID: string(gid), Name: g.Name, Members: members, Products: products}}})
	}
	return append(out, Emit{uagg, []events.Data{events.UserDeleted{UserID: string(id)}}}), nil
}

// release plans taking back every license user id holds among products, with
// reason.
func release(state StateOf, id UserID, products []ProductID, reason string) []Emit {
	var out []Emit
	for _, pid := range dedupe(products) {
		pagg := productAgg(pid)
		p := state(pagg).(*Product)
		if _, ok := p.Holders[id]; ok {
			out = append(out, Emit{pagg, []events.Data{events.LicenseUnassigned{ProductID: string(pid), UserID: string(id), Reason: reason}}})
		}
	}
	return out
}

func dedupe[T comparable](xs []T) []T {
	var out []T
	for _, x := range xs {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

// ProvisionUser provisions directory user id as c: registers or updates it,
// records its identity-provider attributes and, on deactivation, releases its
// licenses (on reactivation, gives back its groups' ones), all in one append.
func (s *Service) ProvisionUser(ctx context.Context, tenant TenantID, id UserID, meta events.Meta, c ProvisionUser) (User, Result, error) {
	if err := checkID("user_id", string(id)); err != nil {
		return User{}, Result{}, err
	}
	uagg := userAgg(id)
	seed := []events.Aggregate{uagg}
	for _, p := range dedupe(c.Holds) {
		seed = append(seed, productAgg(p))
	}
	for _, g := range dedupe(c.Groups) {
		seed = append(seed, groupAgg(g))
	}
	var out User
	res, err := s.transactPlanned(ctx, tenant, meta, seed, func(state StateOf) []events.Aggregate {
		var ps []events.Aggregate
		for _, g := range dedupe(c.Groups) {
			for _, p := range state(groupAgg(g)).(*Group).Products {
				if a := productAgg(ProductID(p.ProductID)); !slices.Contains(seed, a) && !slices.Contains(ps, a) {
					ps = append(ps, a)
				}
			}
		}
		return ps
	}, func(tx *Tx) error {
		emits, err := DecideProvision(tx.State, id, c)
		if err != nil {
			return err
		}
		tx.EmitAll(emits...)
		return nil
	}, func(tx *Tx) { out = *tx.State(uagg).(*User) })
	return out, res, err
}

// DeleteUser deletes directory user id: releases its licenses, takes it out
// of its groups and records UserDeleted, all in one append.
func (s *Service) DeleteUser(ctx context.Context, tenant TenantID, id UserID, meta events.Meta, c DeleteUser) (Result, error) {
	if err := checkID("user_id", string(id)); err != nil {
		return Result{}, err
	}
	aggs := []events.Aggregate{userAgg(id)}
	for _, p := range dedupe(c.Holds) {
		aggs = append(aggs, productAgg(p))
	}
	for _, g := range dedupe(c.Groups) {
		aggs = append(aggs, groupAgg(g))
	}
	return s.Transact(ctx, tenant, meta, aggs, func(tx *Tx) error {
		emits, err := DecideDeleteUser(tx.State, id, c)
		if err != nil {
			return err
		}
		tx.EmitAll(emits...)
		return nil
	}, nil)
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
