package oidc

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/infra/auth"
)

// Defaults of Mapping's claims.
const (
	DefaultUserClaim  = "sub"
	DefaultRolesClaim = "groups"
)

// MappableRoles are the roles a claim value may grant: the admin roles and
// user. The machine roles (ingest, scim) are never granted to a person.
var MappableRoles = append(slices.Clone(auth.AdminRoles), auth.RoleUser)

// Mapping says how the claims of a verified ID token become a Seatflow
// principal.
type Mapping struct {
	// Tenant, when set, is every signed-in person's tenant.
	Tenant string
	// TenantClaim, when Tenant is not set, names the claim holding the
	// tenant id (for a provider that serves several organisations under one
	// issuer). Exactly one of Tenant and TenantClaim is set.
	TenantClaim string
	// UserClaim names the claim holding the user id. Default
	// DefaultUserClaim. A value that is an e-mail address the tenant's
	// directory knows becomes that directory user's id.
	UserClaim string
	// RolesClaim names the claim listing the person's groups or app roles
	// (a JSON array of strings, or one string). Default DefaultRolesClaim.
	RolesClaim string
	// RoleMap maps a value of RolesClaim to the Seatflow roles it grants
	// (each one of MappableRoles).
	RoleMap map[string][]string
}

// Directory finds the id of the tenant's directory user with an e-mail
// address (nil: no directory, ids are taken as they are).
type Directory func(tenant, email string) (userID string, ok bool)

// withDefaults fills in the default claim names.
func (m Mapping) withDefaults() Mapping {
	if m.UserClaim == "" {
		m.UserClaim = DefaultUserClaim
	}
	if m.RolesClaim == "" {
		m.RolesClaim = DefaultRolesClaim
	}
	return m
}

// Validate reports every invalid setting.
func (m Mapping) Validate() error {
	var errs []error
	switch {
	case m.Tenant == "" && m.TenantClaim == "":
		errs = append(errs, errors.New("the tenant is needed: a fixed tenant or the claim naming it"))
	case m.Tenant != "" && m.TenantClaim != "":
		errs = append(errs, errors.New("a fixed tenant and a tenant claim exclude each other"))
	case m.Tenant != "" && !events.ValidTenant(m.Tenant):
		errs = append(errs, fmt.Errorf("tenant %q is not valid (1-63 lower-case letters, digits and '-')", m.Tenant))
	}
	for value, roles := range m.RoleMap {
		for _, r := range roles {
			if !slices.Contains(MappableRoles, r) {
				errs = append(errs, fmt.Errorf("%q maps to role %q, which is not one of %s", value, r, strings.Join(MappableRoles, ", ")))
			}
		}
	}
	return errors.Join(errs...)
}

// ParseRoleMap reads a role table written "value=role,value=role": each
// value of the roles claim (a group name or id, an app role) and the
// Seatflow role it grants, one of MappableRoles. A value may appear more
// than once to grant several roles. A value may itself hold '=': the role
// is what follows the last one.
func ParseRoleMap(s string) (map[string][]string, error) {
	out := map[string][]string{}
	var errs []error
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		i := strings.LastIndexByte(item, '=')
		if i <= 0 || i == len(item)-1 {
			errs = append(errs, fmt.Errorf("%q is not value=role", item))
			continue
		}
		value, role := strings.TrimSpace(item[:i]), strings.TrimSpace(item[i+1:])
		if !slices.Contains(MappableRoles, role) {
			errs = append(errs, fmt.Errorf("%q: role %q is not one of %s", item, role, strings.Join(MappableRoles, ", ")))
			continue
		}
		if !slices.Contains(out[value], role) {
			out[value] = append(out[value], role)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// Principal turns the claims of a verified ID token into the principal of
// a console session: tenant, user id and roles (always user, plus those
// RoleMap grants for the values of RolesClaim, in the order of auth.Roles).
// dir, if not nil, resolves a user claim that is an e-mail address to the
// directory user's id. Every error wraps auth.ErrUnmapped and says which
// claim did not map.
func (m Mapping) Principal(claims map[string]any, dir Directory) (auth.Claims, error) {
	m = m.withDefaults()
	tenant := m.Tenant
	if tenant == "" {
		v, err := stringClaim(claims, m.TenantClaim)
		if err != nil {
			return auth.Claims{}, err
		}
		if !events.ValidTenant(v) {
			return auth.Claims{}, fmt.Errorf("%w: the tenant claim %q is %.80q, which is no tenant id (1-63 lower-case letters, digits and '-')",
				auth.ErrUnmapped, m.TenantClaim, v)
		}
		tenant = v
	}
	v, err := stringClaim(claims, m.UserClaim)
	if err != nil {
		return auth.Claims{}, err
	}
	user := ""
	if strings.Contains(v, "@") && dir != nil {
		user, _ = dir(tenant, v)
	}
	if user == "" {
		if !events.ValidID(v) {
			return auth.Claims{}, fmt.Errorf("%w: the user claim %q is %.80q, which is neither a user id (letters, digits, '_', '-', '@') nor the e-mail address of a user in the directory of %s",
				auth.ErrUnmapped, m.UserClaim, v, tenant)
		}
		user = v
	}
	values, err := listClaim(claims, m.RolesClaim)
	if err != nil {
		return auth.Claims{}, err
	}
	granted := map[string]bool{auth.RoleUser: true}
	for _, v := range values {
		for _, r := range m.RoleMap[v] {
			granted[r] = true
		}
	}
	var roles []string
	for _, r := range auth.Roles {
		if granted[r] {
			roles = append(roles, r)
		}
	}
	return auth.Claims{Tenant: tenant, Subject: user, Roles: roles}, nil
}

// claim finds a claim by its name or, when no claim has that name and it
// holds dots, by its path through nested objects (Keycloak's
// realm_access.roles). Names that are URLs (Auth0's namespaced claims) are
// found by the first rule.
func claim(claims map[string]any, name string) (any, bool) {
	if v, ok := claims[name]; ok {
		return v, true
	}
	parts := strings.Split(name, ".")
	if len(parts) < 2 {
		return nil, false
	}
	var cur any = claims
	for _, p := range parts {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = obj[p]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// stringClaim is a claim that must be a non-empty string (or a whole
// number, as some providers give user ids).
func stringClaim(claims map[string]any, name string) (string, error) {
	v, ok := claim(claims, name)
	if !ok {
		return "", fmt.Errorf("%w: the ID token has no claim %q", auth.ErrUnmapped, name)
	}
	switch x := v.(type) {
	case string:
		if x != "" {
			return x, nil
		}
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return strconv.FormatInt(int64(x), 10), nil
		}
	}
	return "", fmt.Errorf("%w: the claim %q is %T %.80v, want a non-empty string", auth.ErrUnmapped, name, v, v)
}

// listClaim is a claim that lists strings: a JSON array of strings, or one
// string. A missing claim lists nothing (a person in no mapped group).
func listClaim(claims map[string]any, name string) ([]string, error) {
	v, ok := claim(claims, name)
	if !ok || v == nil {
		return nil, nil
	}
	switch x := v.(type) {
	case string:
		return []string{x}, nil
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("%w: the claim %q holds %T %.80v, want strings", auth.ErrUnmapped, name, e, e)
			}
			out = append(out, s)
		}
		return out, nil
	case []string:
		return x, nil
	}
	return nil, fmt.Errorf("%w: the claim %q is %T, want a list of strings", auth.ErrUnmapped, name, v)
}
