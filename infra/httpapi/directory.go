package httpapi

import (
	"fmt"
	"net/http"
	"slices"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/infra/auth"
)

type userBody struct {
	Email       *string   `json:"email"`
	DisplayName *string   `json:"display_name"`
	Roles       *[]string `json:"roles"` // absent: keep the user's roles
}

// UserState is what PUT /v1/users/{id} answers.
type UserState struct {
	domain.UserView
	Position uint64 `json:"position"`
}

// PUT /v1/users/{id}
func (s *Server) putUser(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	id, err := pathID(r, "id", "id")
	if err != nil {
		return err
	}
	var b userBody
	if err := decode(w, r, &b); err != nil {
		return err
	}
	switch {
	case b.Email == nil:
		return invalidField("email", "is required")
	case b.DisplayName == nil:
		return invalidField("display_name", "is required")
	}
	meta, err := s.meta(r, c)
	if err != nil {
		return err
	}
	u, res, err := s.cfg.Requests.Commands.RegisterUser(r.Context(), domain.TenantID(c.Tenant), domain.UserID(id), meta,
		domain.RegisterUser{Email: *b.Email, DisplayName: *b.DisplayName, Roles: rolesOf(b.Roles), KeepRoles: b.Roles == nil,
			ByGlobalAdmin: slices.Contains(c.Roles, auth.RoleGlobalAdmin)})
	if err != nil {
		return err
	}
	return writePositioned(w, http.StatusOK, res.Position, UserState{UserView: u, Position: res.Position})
}

type groupProductBody struct {
	ProductID        *string  `json:"product_id"`
	DisabledServices []string `json:"disabled_services"`
}

type groupBody struct {
	Name     *string            `json:"name"`
	Members  []string           `json:"members"`
	Products []groupProductBody `json:"products"`
}

// GroupState is what PUT /v1/groups/{id} answers.
type GroupState struct {
	domain.GroupView
	Position uint64 `json:"position"`
}

// PUT /v1/groups/{id}
func (s *Server) putGroup(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	id, err := pathID(r, "id", "id")
	if err != nil {
		return err
	}
	var b groupBody
	if err := decode(w, r, &b); err != nil {
		return err
	}
	if b.Name == nil {
		return invalidField("name", "is required")
	}
	members, err := userIDs("members", b.Members)
	if err != nil {
		return err
	}
	products := make([]events.PolicyProduct, len(b.Products))
	for i, p := range b.Products {
		if p.ProductID == nil || !events.ValidID(*p.ProductID) {
			return invalidField("products", fmt.Sprintf("entry %d: product_id is required and %s", i, idRule))
		}
		products[i] = events.PolicyProduct{ProductID: *p.ProductID, DisabledServices: p.DisabledServices}
	}
	meta, err := s.meta(r, c)
	if err != nil {
		return err
	}
	g, res, err := s.cfg.Requests.Commands.SetGroup(r.Context(), domain.TenantID(c.Tenant), domain.GroupID(id), meta,
		domain.SetGroup{Name: *b.Name, Members: members, Products: products})
	if err != nil {
		return err
	}
	return writePositioned(w, http.StatusOK, res.Position, GroupState{GroupView: g, Position: res.Position})
}

func rolesOf(p *[]string) []string {
	if p == nil {
		return nil
	}
	return *p
}
