package domain

import (
	"context"
	"fmt"
	"net/mail"
	"slices"
	"strings"

	"github.com/seatflow/seatflow/events"
)

// The roles of Seatflow, in one place: the admin roles a directory user can
// hold (users holding any of them are the tenant's admins: they are told
// when a request arrives) and the roles only a token carries.
const (
	RoleGlobalAdmin  = "global-admin"
	RoleUserAdmin    = "user-admin"
	RoleLicenseAdmin = "license-admin"
	// RoleUser is any member of the organisation.
	RoleUser = "user"
	// RoleIngest is for upstream systems that post sign-ins over HTTP.
	RoleIngest = "ingest"
	// RoleSCIM is for an identity provider that provisions the tenant's
	// users and groups through SCIM 2.0 (/scim/v2).
	RoleSCIM = "scim"
)

// DirectoryRoles lists the roles a directory user can hold: the admin roles.
var DirectoryRoles = []string{RoleGlobalAdmin, RoleUserAdmin, RoleLicenseAdmin}

// Roles lists every role a token can carry.
var Roles = []string{RoleGlobalAdmin, RoleUserAdmin, RoleLicenseAdmin, RoleUser, RoleIngest, RoleSCIM}

// Bounds of directory entries.
const (
	MaxNameLen       = 200
	MaxEmailLen      = 254
	MaxGroupMembers  = 1000
	MaxGroupProducts = 20
)

// User is the state of one directory user.
type User struct {
	ID          UserID
	Email       string
	DisplayName string
	Roles       []string
	// UserName and ExternalID are what an identity provider provisioned the
	// user with (SCIM); Inactive is true once it deactivated the user, and
	// Deleted once it deleted them.
	UserName   string
	ExternalID string
	Inactive   bool
	Deleted    bool
}

// Registered reports whether the user is in the directory.
func (u *User) Registered() bool { return u.Email != "" && !u.Deleted }

// View is the user as the API shows it.
func (u *User) View() UserView {
	return UserView{UserID: u.ID, Email: u.Email, DisplayName: u.DisplayName, Roles: nonNil(u.Roles)}
}

// UserView is a directory user.
type UserView struct {
	UserID      UserID   `json:"user_id"`
	Email       string   `json:"email"`
	DisplayName string   `json:"display_name"`
	Roles       []string `json:"roles"`
}

// EvolveUser folds one event into u.
func EvolveUser(u *User, env events.Envelope) {
	switch e := env.Data.(type) {
	case events.UserRegistered:
		u.Email, u.DisplayName, u.Roles, u.Deleted = e.Email, e.DisplayName, e.Roles, false
	case events.UserProvisioned:
		u.UserName, u.ExternalID, u.Inactive = e.UserName, e.ExternalID, !e.Active
	case events.UserDeleted:
		*u = User{ID: u.ID, Deleted: true}
	}
}

// RegisterUser registers a directory user or updates one. The email is
// kept in lower case.
type RegisterUser struct {
	Email       string
	DisplayName string
	Roles       []string
	// KeepRoles leaves the user's roles as they are (Roles is ignored).
	KeepRoles bool
	// ByGlobalAdmin says the issuer may grant and take away roles; without
	// it, a command that would change them is refused.
	ByGlobalAdmin bool
}

// DecideUser returns the events that register or update u; none when
// nothing changes.
func DecideUser(u *User, c RegisterUser) ([]events.Data, error) {
	email, err := normalEmail("email", c.Email)
	if err != nil {
		return nil, err
	}
	if c.DisplayName == "" || len(c.DisplayName) > MaxNameLen {
		return nil, invalid("display_name", "must be 1 to %d bytes", MaxNameLen)
	}
	if c.KeepRoles {
		c.Roles = u.Roles
	}
	for _, r := range c.Roles {
		if !slices.Contains(DirectoryRoles, r) {
			return nil, invalid("roles", "%q is not a directory role (roles: %s)", r, strings.Join(DirectoryRoles, ", "))
		}
	}
	if hasDuplicate(c.Roles) {
		return nil, invalid("roles", "lists a role twice")
	}
	roles := slices.Clone(nonNil(c.Roles))
	slices.Sort(roles)
	if !c.ByGlobalAdmin && !slices.Equal(roles, nonNil(u.Roles)) {
		return nil, ErrRolesNeedGlobalAdmin
	}
	if u.Registered() && u.Email == email && u.DisplayName == c.DisplayName && slices.Equal(u.Roles, roles) {
		return nil, nil
	}
	return one(events.UserRegistered{UserID: string(u.ID), Email: email, DisplayName: c.DisplayName, Roles: roles}), nil
}

// normalEmail checks that s is one bare address and returns it in lower
// case.
func normalEmail(field, s string) (string, error) {
	if s == "" || len(s) > MaxEmailLen {
		return "", invalid(field, "must be an email address of 1 to %d bytes", MaxEmailLen)
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return "", invalid(field, "%q is not a bare email address", s)
	}
	return strings.ToLower(s), nil
}

// NormalEmail is the form directory emails are stored and compared in, or a
// validation error naming field.
func NormalEmail(field, s string) (string, error) { return normalEmail(field, s) }

// RegisterUser registers or updates directory user id.
func (s *Service) RegisterUser(ctx context.Context, tenant TenantID, id UserID, meta events.Meta, c RegisterUser) (UserView, Result, error) {
	if err := checkID("user_id", string(id)); err != nil {
		return UserView{}, Result{}, err
	}
	var out UserView
	agg := userAgg(id)
	res, err := s.Transact(ctx, tenant, meta, []events.Aggregate{agg}, func(tx *Tx) error {
		evs, err := DecideUser(tx.State(agg).(*User), c)
		if err != nil {
			return err
		}
		tx.Emit(agg, evs...)
		return nil
	}, func(tx *Tx) { out = tx.State(agg).(*User).View() })
	return out, res, err
}

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

func ids[T ~string](xs []T) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = string(x)
	}
	return out
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

// Emit is one aggregate's new events, as a decider over several aggregates
// returns them; the transaction loop appends them with every aggregate's
// concurrency check.
type Emit struct {
	Agg    events.Aggregate
	Events []events.Data
}

// StateOf gives a decider the state of an aggregate it reads (the
// transaction loop has loaded it): *Group for a group, *Product for a
// product, *Request for a request.
type StateOf func(events.Aggregate) any

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
			h := p.Holders[u]
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

func sameProducts(a, b []events.PolicyProduct) bool {
	return slices.EqualFunc(a, b, func(x, y events.PolicyProduct) bool {
		return x.ProductID == y.ProductID && slices.Equal(nonNil(x.DisabledServices), nonNil(y.DisabledServices))
	})
}

func sortedHolders(p *Product) []UserID {
	out := make([]UserID, 0, len(p.Holders))
	for u := range p.Holders {
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
		if _, ok := p.Holders[u]; ok {
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

// DecideSetGroup decides setting group gid to c (already validated) over
// the states of the group, of every product it had or gets and of every
// member: as DecideGroup, with the members an identity provider
// deactivated or deleted (c.Inactive) read from their own states.
func DecideSetGroup(state StateOf, gid GroupID, c SetGroup) ([]Emit, error) {
	c.Inactive = inactiveMembers(state, c.Members)
	return DecideGroup(state, gid, c)
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

// checkDisabled checks that disabled names services of p, each once.
func (p *Product) checkDisabled(disabled []string) error {
	for _, s := range disabled {
		if !slices.Contains(p.Services, s) {
			return invalid("disabled_services", "%q is not a service of product %q (services: %v)", s, p.ID, p.Services)
		}
	}
	if hasDuplicate(disabled) {
		return invalid("disabled_services", "lists a service twice")
	}
	return nil
}
