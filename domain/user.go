package domain

import (
	"context"
	"net/mail"
	"slices"
	"strings"

	"github.com/seatflow/seatflow/events"
)

// The user aggregate (sf.evt.<tenant>.user.<id>): a directory user, as an
// admin registers it, an identity provider provisions it (SCIM) or a
// sign-in names it.

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

// Bounds of directory users.
const (
	MaxNameLen  = 200
	MaxEmailLen = 254
)

// MaxUserNameLen bounds a provisioned user name and external id.
const MaxUserNameLen = 256

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

// DecideSignInUser returns the events that register the user a sign-in
// names: none when the directory has them already, whatever the sign-in
// says their email or name is.
func DecideSignInUser(u *User, email, displayName string) ([]events.Data, error) {
	if u.Registered() {
		return nil, nil
	}
	return DecideUser(u, RegisterUser{Email: email, DisplayName: displayName})
}

// RegisterSignInUser registers the directory user a sign-in names when the
// directory does not know them yet. A sign-in never changes a user the
// directory has: anyone allowed to send sign-ins could otherwise rewrite an
// admin's email and receive their mail.
func (s *Service) RegisterSignInUser(ctx context.Context, tenant TenantID, id UserID, meta events.Meta, email, displayName string) (Result, error) {
	if err := checkID("user_id", string(id)); err != nil {
		return Result{}, err
	}
	agg := userAgg(id)
	return s.Transact(ctx, tenant, meta, []events.Aggregate{agg}, func(tx *Tx) error {
		evs, err := DecideSignInUser(tx.State(agg).(*User), email, displayName)
		if err != nil {
			return err
		}
		tx.Emit(agg, evs...)
		return nil
	}, nil)
}

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
			if p.Holds(id) || granted[spec.ProductID] || !p.Exists() || p.Available() < 1 {
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
		if p.Holds(id) {
			out = append(out, Emit{pagg, []events.Data{events.LicenseUnassigned{ProductID: string(pid), UserID: string(id), Reason: reason}}})
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
