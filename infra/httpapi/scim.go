package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/elimity-com/scim"
	scimerrors "github.com/elimity-com/scim/errors"
	"github.com/elimity-com/scim/optional"
	"github.com/elimity-com/scim/schema"
	filter "github.com/scim2/filter-parser/v2"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/infra/auth"
	"github.com/seatflow/seatflow/projections"
)

// SCIMPrefix is where the SCIM 2.0 service provider is served.
const SCIMPrefix = "/scim/v2"

// SCIMContentType is the media type of every SCIM answer (RFC 7644 3.1).
const SCIMContentType = "application/scim+json"

// SCIMMaxResults bounds a page of a SCIM list.
const SCIMMaxResults = 200

// SCIMCommands runs the commands SCIM provisioning needs. Errors:
// *domain.ValidationError, *domain.NotFoundError, ErrNoLicensesAvailable,
// ErrConcurrency, or a store error.
type SCIMCommands interface {
	ProvisionUser(ctx context.Context, tenant domain.TenantID, id domain.UserID, meta events.Meta, c domain.ProvisionUser) (domain.User, domain.Result, error)
	DeleteUser(ctx context.Context, tenant domain.TenantID, id domain.UserID, meta events.Meta, c domain.DeleteUser) (domain.Result, error)
	SetGroup(ctx context.Context, tenant domain.TenantID, id domain.GroupID, meta events.Meta, c domain.SetGroup) (domain.GroupView, domain.Result, error)
	ChangeGroupMembers(ctx context.Context, tenant domain.TenantID, id domain.GroupID, meta events.Meta, c domain.ChangeMembers) (domain.GroupView, domain.Result, error)
	DeleteGroup(ctx context.Context, tenant domain.TenantID, id domain.GroupID, meta events.Meta) (domain.Result, error)
}

var _ SCIMCommands = (*domain.Service)(nil)

// SCIMDirectory answers SCIM reads from the directory read model.
type SCIMDirectory interface {
	User(tenant, id string) (projections.DirectoryUser, bool)
	UserByEmail(tenant, email string) (projections.DirectoryUser, bool)
	Users(tenant string) []projections.DirectoryUser
	Group(tenant, id string) (projections.DirectoryGroup, bool)
	Groups(tenant string) []projections.DirectoryGroup
}

var _ SCIMDirectory = (*projections.Directory)(nil)

// SCIMConfig configures the SCIM 2.0 service provider at /scim/v2.
type SCIMConfig struct {
	Commands  SCIMCommands
	Directory SCIMDirectory
}

// scimClaimsKey carries the caller's claims to the SCIM resource handlers.
type scimClaimsKey struct{}

var allowStringValues = sync.OnceFunc(func() { schema.SetAllowStringValues(true) })

// scimRoutes registers the SCIM 2.0 routes, when configured. The protocol
// (routing, schema validation, filters, PATCH paths, list and error bodies)
// is github.com/elimity-com/scim's; Seatflow supplies the resource handlers
// and the bearer-token check (role scim).
func (s *Server) scimRoutes() error {
	sc := s.cfg.SCIM
	if sc == nil {
		return nil
	}
	// Entra ID sends booleans as strings ("active": "False") in PATCH; the
	// library accepts them only with this process-wide switch, set once
	// however many servers a process builds (tests build them in parallel).
	allowStringValues()
	users := &scimUsers{s: s, cfg: sc}
	groups := &scimGroups{s: s, cfg: sc}
	srv, err := scim.NewServer(&scim.ServerArgs{
		ServiceProviderConfig: &scim.ServiceProviderConfig{
			DocumentationURI: optional.NewString("https://github.com/seatflow/seatflow#connect-entra-id--okta-scim-provisioning"),
			AuthenticationSchemes: []scim.AuthenticationScheme{{
				Type: scim.AuthenticationTypeOauthBearerToken, Name: "OAuth Bearer Token", Primary: true,
				Description: "A Seatflow bearer token with role scim (seatflow token --role scim).",
			}},
			MaxResults:       SCIMMaxResults,
			SupportFiltering: true,
			SupportPatch:     true,
		},
		ResourceTypes: []scim.ResourceType{
			{
				ID: optional.NewString("User"), Name: "User", Endpoint: "/Users",
				Description: optional.NewString("A directory user"),
				Schema:      schema.CoreUserSchema(), Handler: users,
			},
			{
				ID: optional.NewString("Group"), Name: "Group", Endpoint: "/Groups",
				Description: optional.NewString("A security group; its members get the group's licenses"),
				Schema:      schema.CoreGroupSchema(), Handler: groups,
			},
		},
	}, scim.WithBaseURL(SCIMPrefix))
	if err != nil {
		return fmt.Errorf("scim server: %w", err)
	}
	h := http.StripPrefix("/scim", s.scimAuth(srv))
	for _, p := range []string{
		"GET /scim/v2/ServiceProviderConfig",
		"GET /scim/v2/Schemas", "GET /scim/v2/Schemas/{id}",
		"GET /scim/v2/ResourceTypes", "GET /scim/v2/ResourceTypes/{id}",
		"GET /scim/v2/Users", "POST /scim/v2/Users",
		"GET /scim/v2/Users/{id}", "PUT /scim/v2/Users/{id}", "PATCH /scim/v2/Users/{id}", "DELETE /scim/v2/Users/{id}",
		"GET /scim/v2/Groups", "POST /scim/v2/Groups",
		"GET /scim/v2/Groups/{id}", "PUT /scim/v2/Groups/{id}", "PATCH /scim/v2/Groups/{id}", "DELETE /scim/v2/Groups/{id}",
	} {
		s.route(p, h)
	}
	return nil
}

// scimAuth lets through requests bearing a token with role scim, with their
// claims and command id in the context, and answers others with a SCIM
// error: 401 without a valid token, 403 without the role.
func (s *Server) scimAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = s.withCommandID(w, r)
		c, err := s.authenticate(r)
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="seatflow-scim"`)
			writeSCIMError(w, scimerrors.ScimError{Status: http.StatusUnauthorized, Detail: err.Error()})
			return
		}
		if !c.HasRole(auth.RoleSCIM) {
			writeSCIMError(w, scimerrors.ScimError{Status: http.StatusForbidden, Detail: "SCIM provisioning needs a token with role scim"})
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), scimClaimsKey{}, c)))
	})
}

func writeSCIMError(w http.ResponseWriter, e scimerrors.ScimError) {
	b, _ := e.MarshalJSON()
	w.Header().Set("Content-Type", SCIMContentType)
	w.WriteHeader(e.Status)
	_, _ = w.Write(b)
}

func scimClaims(r *http.Request) auth.Claims {
	c, _ := r.Context().Value(scimClaimsKey{}).(auth.Claims)
	return c
}

// scimError turns a command's error into the SCIM error the library
// writes: the statuses RFC 7644 3.12 gives, with a scimType where one fits.
func (s *Server) scimError(r *http.Request, err error) error {
	var ve *domain.ValidationError
	var nf *domain.NotFoundError
	var se scimerrors.ScimError
	switch {
	case errors.As(err, &se):
		return se
	case errors.As(err, &ve):
		return scimerrors.ScimError{Status: http.StatusBadRequest, ScimType: scimerrors.ScimTypeInvalidValue, Detail: ve.Error()}
	case errors.As(err, &nf):
		return scimerrors.ScimError{Status: http.StatusNotFound, Detail: nf.Error()}
	case errors.Is(err, domain.ErrNoLicensesAvailable), errors.Is(err, domain.ErrAlreadyExists):
		return scimerrors.ScimError{Status: http.StatusConflict, Detail: err.Error()}
	}
	s.log.LogAttrs(r.Context(), slog.LevelError, "scim command failed", slog.String("path", logPath(r)), slog.Any("error", err))
	return scimerrors.ScimError{Status: http.StatusInternalServerError, Detail: "the change could not be stored; retry"}
}

// page cuts a list to the SCIM page params asks for.
func page[T any](xs []T, params scim.ListRequestParams) []T {
	start := max(params.StartIndex, 1) - 1
	if start >= len(xs) {
		return nil
	}
	end := len(xs)
	if params.Count >= 0 && start+params.Count < end {
		end = start + params.Count
	}
	return xs[start:end]
}

// ---- Users ----

type scimUsers struct {
	s   *Server
	cfg *SCIMConfig
}

var _ scim.ResourceHandler = (*scimUsers)(nil)

// userResource is a directory user as SCIM shows it. Seatflow keeps one
// email (the work one), one display name (also name.formatted), the
// provider's userName and externalId, and active.
func userResource(id, email, display, userName, externalID string, active bool) scim.Resource {
	res := scim.Resource{ID: id, Attributes: scim.ResourceAttributes{
		"userName":    userName,
		"displayName": display,
		"name":        map[string]any{"formatted": display},
		"emails":      []any{map[string]any{"value": email, "type": "work", "primary": true}},
		"active":      active,
	}}
	if externalID != "" {
		res.ExternalID = optional.NewString(externalID)
	}
	return res
}

func dirUserResource(u projections.DirectoryUser) scim.Resource {
	userName := u.UserName
	if userName == "" {
		userName = u.Email // registered through /v1/users: the email is its login
	}
	return userResource(u.UserID, u.Email, u.DisplayName, userName, u.ExternalID, !u.Inactive)
}

// filterable is a resource as the filter validator reads it (with id and
// externalId, which the library keeps beside the attributes).
func filterable(res scim.Resource) map[string]any {
	m := map[string]any{"id": res.ID}
	for k, v := range res.Attributes {
		m[k] = v
	}
	if res.ExternalID.Present() {
		m["externalId"] = res.ExternalID.Value()
	}
	return m
}

// provisioned is the identity provider's view of a user: the attributes
// Seatflow maps.
type provisioned struct {
	userName, externalID, email, displayName string
	active                                   bool
	givenName, familyName, formatted         string
}

// fromAttributes reads a SCIM user body (create or replace).
func fromAttributes(a scim.ResourceAttributes) provisioned {
	p := provisioned{active: true}
	p.userName, _ = a["userName"].(string)
	p.externalID, _ = a["externalId"].(string)
	p.displayName, _ = a["displayName"].(string)
	if v, ok := a["active"]; ok {
		p.active = boolValue(v, true)
	}
	if n, ok := a["name"].(map[string]any); ok {
		p.givenName, _ = n["givenName"].(string)
		p.familyName, _ = n["familyName"].(string)
		p.formatted, _ = n["formatted"].(string)
	}
	p.email = primaryEmail(a["emails"])
	return p
}

// primaryEmail picks the primary email of a SCIM emails list, else the
// work one, else the first.
func primaryEmail(v any) string {
	list, _ := v.([]any)
	var first, work string
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			continue
		}
		val, _ := m["value"].(string)
		if val == "" {
			continue
		}
		if boolValue(m["primary"], false) {
			return val
		}
		if t, _ := m["type"].(string); t == "work" && work == "" {
			work = val
		}
		if first == "" {
			first = val
		}
	}
	return cmpOr(work, first)
}

func cmpOr(xs ...string) string {
	for _, x := range xs {
		if x != "" {
			return x
		}
	}
	return ""
}

// boolValue reads a SCIM boolean, also in Entra ID's string form ("False").
func boolValue(v any, def bool) bool {
	switch b := v.(type) {
	case bool:
		return b
	case string:
		switch strings.ToLower(b) {
		case "true":
			return true
		case "false":
			return false
		}
	}
	return def
}

// command turns the provider's view into the domain's: the email falls back
// to a userName that is an address, the display name to the name parts, then
// the userName.
func (p provisioned) command() domain.ProvisionUser {
	email := p.email
	if email == "" && strings.Contains(p.userName, "@") {
		email = p.userName
	}
	display := cmpOr(p.displayName, p.formatted, strings.TrimSpace(p.givenName+" "+p.familyName), p.userName)
	return domain.ProvisionUser{Email: email, DisplayName: display, UserName: p.userName, ExternalID: p.externalID, Active: p.active}
}

// conflicts reports a userName or email that another user of the tenant
// has already (SCIM uniqueness, 409).
func (h *scimUsers) conflicts(tenant, id string, c domain.ProvisionUser) error {
	for _, u := range h.cfg.Directory.Users(tenant) {
		if u.UserID != id && u.UserName != "" && strings.EqualFold(u.UserName, c.UserName) {
			return scimerrors.ScimError{Status: http.StatusConflict, ScimType: scimerrors.ScimTypeUniqueness,
				Detail: fmt.Sprintf("userName %q is already provisioned", c.UserName)}
		}
	}
	if u, ok := h.cfg.Directory.UserByEmail(tenant, c.Email); ok && u.UserID != id {
		return scimerrors.ScimError{Status: http.StatusConflict, ScimType: scimerrors.ScimTypeUniqueness,
			Detail: fmt.Sprintf("email %q belongs to another directory user", c.Email)}
	}
	return nil
}

func (h *scimUsers) provision(r *http.Request, id string, p provisioned, created bool) (scim.Resource, error) {
	c := scimClaims(r)
	cmd := p.command()
	if err := h.conflicts(c.Tenant, id, cmd); err != nil {
		return scim.Resource{}, err
	}
	if !cmd.Active {
		for _, l := range h.s.cfg.Licenses.Licenses(c.Tenant, id) {
			cmd.Holds = append(cmd.Holds, domain.ProductID(l.ProductID))
		}
	} else if u, ok := h.cfg.Directory.User(c.Tenant, id); ok && u.Inactive {
		for _, g := range u.Groups {
			cmd.Groups = append(cmd.Groups, domain.GroupID(g))
		}
	}
	meta, err := h.s.meta(r, c)
	if err != nil {
		return scim.Resource{}, scimerrors.ScimErrorBadRequest(err.Error())
	}
	u, res, err := h.cfg.Commands.ProvisionUser(r.Context(), domain.TenantID(c.Tenant), domain.UserID(id), meta, cmd)
	if err != nil {
		return scim.Resource{}, h.s.scimError(r, err)
	}
	_ = h.s.settle(r.Context(), res.Position) // a slow read model only delays visibility
	out := userResource(string(u.ID), u.Email, u.DisplayName, u.UserName, u.ExternalID, !u.Inactive)
	now := h.s.cfg.Now()
	if created {
		out.Meta.Created = &now
	}
	out.Meta.LastModified = &now
	return out, nil
}

// Create implements scim.ResourceHandler: POST /Users.
func (h *scimUsers) Create(r *http.Request, a scim.ResourceAttributes) (scim.Resource, error) {
	return h.provision(r, h.s.cfg.NewID(), fromAttributes(a), true)
}

// Get implements scim.ResourceHandler: GET /Users/{id}.
func (h *scimUsers) Get(r *http.Request, id string) (scim.Resource, error) {
	u, ok := h.cfg.Directory.User(scimClaims(r).Tenant, id)
	if !ok {
		return scim.Resource{}, scimerrors.ScimErrorResourceNotFound(id)
	}
	return dirUserResource(u), nil
}

// GetAll implements scim.ResourceHandler: GET /Users?filter=&startIndex=&count=.
func (h *scimUsers) GetAll(r *http.Request, params scim.ListRequestParams) (scim.Page, error) {
	var all []scim.Resource
	for _, u := range h.cfg.Directory.Users(scimClaims(r).Tenant) {
		res := dirUserResource(u)
		if params.FilterValidator != nil && params.FilterValidator.PassesFilter(filterable(res)) != nil {
			continue
		}
		all = append(all, res)
	}
	return scim.Page{TotalResults: len(all), Resources: nonNilResources(page(all, params))}, nil
}

func nonNilResources(xs []scim.Resource) []scim.Resource {
	if xs == nil {
		return []scim.Resource{}
	}
	return xs
}

// Replace implements scim.ResourceHandler: PUT /Users/{id}.
func (h *scimUsers) Replace(r *http.Request, id string, a scim.ResourceAttributes) (scim.Resource, error) {
	if _, ok := h.cfg.Directory.User(scimClaims(r).Tenant, id); !ok {
		return scim.Resource{}, scimerrors.ScimErrorResourceNotFound(id)
	}
	return h.provision(r, id, fromAttributes(a), false)
}

// Delete implements scim.ResourceHandler: DELETE /Users/{id}.
func (h *scimUsers) Delete(r *http.Request, id string) error {
	c := scimClaims(r)
	u, ok := h.cfg.Directory.User(c.Tenant, id)
	if !ok {
		return scimerrors.ScimErrorResourceNotFound(id)
	}
	var cmd domain.DeleteUser
	for _, l := range h.s.cfg.Licenses.Licenses(c.Tenant, id) {
		cmd.Holds = append(cmd.Holds, domain.ProductID(l.ProductID))
	}
	for _, g := range u.Groups {
		cmd.Groups = append(cmd.Groups, domain.GroupID(g))
	}
	meta, err := h.s.meta(r, c)
	if err != nil {
		return scimerrors.ScimErrorBadRequest(err.Error())
	}
	res, err := h.cfg.Commands.DeleteUser(r.Context(), domain.TenantID(c.Tenant), domain.UserID(id), meta, cmd)
	if err != nil {
		return h.s.scimError(r, err)
	}
	_ = h.s.settle(r.Context(), res.Position) // a slow read model only delays visibility
	return nil
}

// Patch implements scim.ResourceHandler: PATCH /Users/{id}, applied to the
// user as the directory holds it. Attributes Seatflow does not keep are
// accepted and ignored, as providers send many.
func (h *scimUsers) Patch(r *http.Request, id string, ops []scim.PatchOperation) (scim.Resource, error) {
	u, ok := h.cfg.Directory.User(scimClaims(r).Tenant, id)
	if !ok {
		return scim.Resource{}, scimerrors.ScimErrorResourceNotFound(id)
	}
	p := provisioned{userName: cmpOr(u.UserName, u.Email), externalID: u.ExternalID, email: u.Email, displayName: u.DisplayName, active: !u.Inactive}
	for _, op := range ops {
		if op.Path == nil {
			m, ok := op.Value.(map[string]any)
			if !ok {
				return scim.Resource{}, scimerrors.ScimErrorInvalidValue
			}
			for k, v := range m {
				if err := p.set(op.Op, k, nil, v); err != nil {
					return scim.Resource{}, err
				}
			}
			continue
		}
		if err := p.set(op.Op, op.Path.AttributePath.AttributeName, op.Path, op.Value); err != nil {
			return scim.Resource{}, err
		}
	}
	return h.provision(r, id, p, false)
}

// set applies one PATCH operation on attribute name (path, if not nil, is
// the whole path: a sub-attribute or a value filter).
func (p *provisioned) set(op, name string, path *filter.Path, v any) error {
	sub := ""
	if path != nil {
		sub = path.SubAttributeName()
	}
	remove := op == scim.PatchOperationRemove
	str := func() string { s, _ := v.(string); return s }
	switch strings.ToLower(name) {
	case "username":
		if remove {
			return scimerrors.ScimErrorMutability
		}
		p.userName = str()
	case "externalid":
		if remove {
			p.externalID = ""
		} else {
			p.externalID = str()
		}
	case "displayname":
		if !remove {
			p.displayName = str()
		}
	case "active":
		if remove {
			return scimerrors.ScimErrorMutability
		}
		p.active = boolValue(v, p.active)
	case "emails":
		if remove {
			return nil // Seatflow keeps the one email it has
		}
		if sub == "value" || (path != nil && path.ValueExpression != nil && str() != "") {
			p.email = str()
		} else if e := primaryEmail(v); e != "" {
			p.email = e
		} else if m, ok := v.(map[string]any); ok {
			p.email = primaryEmail([]any{m})
		}
	case "name":
		if remove {
			return nil
		}
		switch strings.ToLower(sub) {
		case "formatted":
			p.displayName = str()
		case "":
			if m, ok := v.(map[string]any); ok {
				if f, _ := m["formatted"].(string); f != "" {
					p.displayName = f
				}
			}
		}
	}
	return nil
}

// ---- Groups ----

type scimGroups struct {
	s   *Server
	cfg *SCIMConfig
}

var _ scim.ResourceHandler = (*scimGroups)(nil)

func groupResource(id, name string, members []string, display func(string) string) scim.Resource {
	ms := make([]any, len(members))
	for i, m := range members {
		e := map[string]any{"value": m, "$ref": SCIMPrefix + "/Users/" + m, "type": "User"}
		if d := display(m); d != "" {
			e["display"] = d
		}
		ms[i] = e
	}
	return scim.Resource{ID: id, Attributes: scim.ResourceAttributes{"displayName": name, "members": ms}}
}

func (h *scimGroups) display(tenant string) func(string) string {
	return func(id string) string {
		if u, ok := h.cfg.Directory.User(tenant, id); ok {
			return u.DisplayName
		}
		return ""
	}
}

// members reads a SCIM members list: the user ids in "value".
func members(v any) ([]domain.UserID, error) {
	list, _ := v.([]any)
	out := []domain.UserID{}
	for _, e := range list {
		m, _ := e.(map[string]any)
		id, _ := m["value"].(string)
		if !events.ValidID(id) {
			return nil, scimerrors.ScimError{Status: http.StatusBadRequest, ScimType: scimerrors.ScimTypeInvalidValue,
				Detail: fmt.Sprintf("member %q is not a user id", id)}
		}
		out = append(out, domain.UserID(id))
	}
	return out, nil
}

func (h *scimGroups) answer(r *http.Request, g domain.GroupView, res domain.Result) scim.Resource {
	_ = h.s.settle(r.Context(), res.Position) // a slow read model only delays visibility
	out := groupResource(string(g.GroupID), g.Name, userIDStrings(g.Members), h.display(scimClaims(r).Tenant))
	now := h.s.cfg.Now()
	out.Meta.LastModified = &now
	return out
}

func userIDStrings(us []domain.UserID) []string {
	out := make([]string, len(us))
	for i, u := range us {
		out[i] = string(u)
	}
	return out
}

// set replaces group id's name and members, keeping its products.
func (h *scimGroups) set(r *http.Request, id string, a scim.ResourceAttributes, products []events.PolicyProduct) (scim.Resource, error) {
	c := scimClaims(r)
	name, _ := a["displayName"].(string)
	ms, err := members(a["members"])
	if err != nil {
		return scim.Resource{}, err
	}
	for _, g := range h.cfg.Directory.Groups(c.Tenant) {
		if g.GroupID != id && strings.EqualFold(g.Name, name) {
			return scim.Resource{}, scimerrors.ScimError{Status: http.StatusConflict, ScimType: scimerrors.ScimTypeUniqueness,
				Detail: fmt.Sprintf("a group named %q exists", name)}
		}
	}
	meta, err := h.s.meta(r, c)
	if err != nil {
		return scim.Resource{}, scimerrors.ScimErrorBadRequest(err.Error())
	}
	g, res, err := h.cfg.Commands.SetGroup(r.Context(), domain.TenantID(c.Tenant), domain.GroupID(id), meta,
		domain.SetGroup{Name: name, Members: dedupeIDs(ms), Products: products})
	if err != nil {
		return scim.Resource{}, h.s.scimError(r, err)
	}
	return h.answer(r, g, res), nil
}

func dedupeIDs(xs []domain.UserID) []domain.UserID {
	out := []domain.UserID{}
	for _, x := range xs {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

// Create implements scim.ResourceHandler: POST /Groups. A new group has no
// products; an admin licenses it with PUT /v1/groups/{id}.
func (h *scimGroups) Create(r *http.Request, a scim.ResourceAttributes) (scim.Resource, error) {
	res, err := h.set(r, h.s.cfg.NewID(), a, []events.PolicyProduct{})
	if err == nil {
		now := h.s.cfg.Now()
		res.Meta.Created = &now
	}
	return res, err
}

// Get implements scim.ResourceHandler: GET /Groups/{id}.
func (h *scimGroups) Get(r *http.Request, id string) (scim.Resource, error) {
	t := scimClaims(r).Tenant
	g, ok := h.cfg.Directory.Group(t, id)
	if !ok {
		return scim.Resource{}, scimerrors.ScimErrorResourceNotFound(id)
	}
	return groupResource(g.GroupID, g.Name, g.Members, h.display(t)), nil
}

// GetAll implements scim.ResourceHandler: GET /Groups?filter=&startIndex=&count=.
func (h *scimGroups) GetAll(r *http.Request, params scim.ListRequestParams) (scim.Page, error) {
	t := scimClaims(r).Tenant
	var all []scim.Resource
	for _, g := range h.cfg.Directory.Groups(t) {
		res := groupResource(g.GroupID, g.Name, g.Members, h.display(t))
		if params.FilterValidator != nil && params.FilterValidator.PassesFilter(filterable(res)) != nil {
			continue
		}
		all = append(all, res)
	}
	return scim.Page{TotalResults: len(all), Resources: nonNilResources(page(all, params))}, nil
}

// Replace implements scim.ResourceHandler: PUT /Groups/{id}; the group's
// products stay.
func (h *scimGroups) Replace(r *http.Request, id string, a scim.ResourceAttributes) (scim.Resource, error) {
	g, ok := h.cfg.Directory.Group(scimClaims(r).Tenant, id)
	if !ok {
		return scim.Resource{}, scimerrors.ScimErrorResourceNotFound(id)
	}
	return h.set(r, id, a, g.Products)
}

// Delete implements scim.ResourceHandler: DELETE /Groups/{id}.
func (h *scimGroups) Delete(r *http.Request, id string) error {
	c := scimClaims(r)
	meta, err := h.s.meta(r, c)
	if err != nil {
		return scimerrors.ScimErrorBadRequest(err.Error())
	}
	res, err := h.cfg.Commands.DeleteGroup(r.Context(), domain.TenantID(c.Tenant), domain.GroupID(id), meta)
	if err != nil {
		return h.s.scimError(r, err)
	}
	_ = h.s.settle(r.Context(), res.Position) // a slow read model only delays visibility
	return nil
}

// Patch implements scim.ResourceHandler: PATCH /Groups/{id}, in both
// dialects: Entra ID's add/remove of "members" with a value list and
// Okta's remove of members[value eq "id"], replace of the member list, and
// a displayName by path or in a value object. The change is decided on the
// group's current state, so concurrent patches never lose a member.
func (h *scimGroups) Patch(r *http.Request, id string, ops []scim.PatchOperation) (scim.Resource, error) {
	c := scimClaims(r)
	var ch domain.ChangeMembers
	apply := func(op, name string, path *filter.Path, v any) error {
		switch strings.ToLower(name) {
		case "displayname":
			if op == scim.PatchOperationRemove {
				return scimerrors.ScimErrorMutability
			}
			s, _ := v.(string)
			ch.Name = &s
		case "members":
			var ms []domain.UserID
			if path != nil && path.ValueExpression != nil {
				id, err := memberFilterID(path.ValueExpression)
				if err != nil {
					return err
				}
				ms = []domain.UserID{id}
			} else if v != nil {
				var err error
				if ms, err = members(v); err != nil {
					return err
				}
			}
			switch op {
			case scim.PatchOperationAdd:
				ch.Add = append(ch.Add, ms...)
				ch.Remove = slices.DeleteFunc(ch.Remove, func(u domain.UserID) bool { return slices.Contains(ms, u) })
			case scim.PatchOperationRemove:
				if v == nil && (path == nil || path.ValueExpression == nil) {
					empty := []domain.UserID{}
					ch.Replace, ch.Add, ch.Remove = &empty, nil, nil // remove all members
					return nil
				}
				ch.Remove = append(ch.Remove, ms...)
				ch.Add = slices.DeleteFunc(ch.Add, func(u domain.UserID) bool { return slices.Contains(ms, u) })
			case scim.PatchOperationReplace:
				ch.Replace, ch.Add, ch.Remove = &ms, nil, nil
			}
		}
		return nil // externalId and other attributes Seatflow does not keep
	}
	for _, op := range ops {
		if op.Path == nil {
			m, ok := op.Value.(map[string]any)
			if !ok {
				return scim.Resource{}, scimerrors.ScimErrorInvalidValue
			}
			for k, v := range m {
				if err := apply(op.Op, k, nil, v); err != nil {
					return scim.Resource{}, err
				}
			}
			continue
		}
		if err := apply(op.Op, op.Path.AttributePath.AttributeName, op.Path, op.Value); err != nil {
			return scim.Resource{}, err
		}
	}
	meta, err := h.s.meta(r, c)
	if err != nil {
		return scim.Resource{}, scimerrors.ScimErrorBadRequest(err.Error())
	}
	g, res, err := h.cfg.Commands.ChangeGroupMembers(r.Context(), domain.TenantID(c.Tenant), domain.GroupID(id), meta, ch)
	if err != nil {
		return scim.Resource{}, h.s.scimError(r, err)
	}
	return h.answer(r, g, res), nil
}

// memberFilterID reads the user id of a members[value eq "id"] path.
func memberFilterID(e filter.Expression) (domain.UserID, error) {
	ae, ok := e.(*filter.AttributeExpression)
	if !ok || !strings.EqualFold(ae.AttributePath.AttributeName, "value") || ae.Operator != filter.EQ {
		return "", scimerrors.ScimError{Status: http.StatusBadRequest, ScimType: scimerrors.ScimTypeInvalidFilter,
			Detail: `a members path filter must be members[value eq "<user id>"]`}
	}
	id, _ := ae.CompareValue.(string)
	if !events.ValidID(id) {
		return "", scimerrors.ScimError{Status: http.StatusBadRequest, ScimType: scimerrors.ScimTypeInvalidValue,
			Detail: fmt.Sprintf("member %q is not a user id", id)}
	}
	return domain.UserID(id), nil
}
