package httpapi

import (
	"net/http"
	"net/url"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/infra/auth"
	"github.com/seatflow/seatflow/projections"
)

// ProductState is what product commands answer: the product's counts and
// settings after the command, and the stream position to read them at.
type ProductState struct {
	domain.ProductSummary
	Position uint64 `json:"position"`
}

type addProductBody struct {
	ProductID   *string  `json:"product_id"`
	Name        *string  `json:"name"`
	Services    []string `json:"services"`
	Licenses    *int     `json:"licenses"`
	SelfService *string  `json:"self_service"`
}

// POST /v1/products
func (s *Server) addProduct(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	var b addProductBody
	if err := decode(w, r, &b); err != nil {
		return err
	}
	switch {
	case b.ProductID == nil:
		return invalidField("product_id", "is required")
	case b.Name == nil:
		return invalidField("name", "is required")
	case b.Licenses == nil:
		return invalidField("licenses", "is required")
	case b.SelfService == nil:
		return invalidField("self_service", "is required")
	case !events.ValidID(*b.ProductID):
		return invalidField("product_id", idRule)
	}
	return s.runProduct(w, r, c, *b.ProductID, http.StatusCreated, "/v1/products/"+url.PathEscape(*b.ProductID), domain.AddProduct{
		Name: *b.Name, Services: b.Services, Licenses: *b.Licenses, SelfService: *b.SelfService,
	})
}

type licensesBody struct {
	Add    *int `json:"add"`
	Remove *int `json:"remove"`
}

// POST /v1/products/{id}/licenses
func (s *Server) changeLicenses(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	id, err := pathID(r, "id", "id")
	if err != nil {
		return err
	}
	var b licensesBody
	if err := decode(w, r, &b); err != nil {
		return err
	}
	var cmd domain.ProductCommand
	switch {
	case b.Add != nil && b.Remove == nil:
		cmd = domain.PurchaseLicenses{Count: *b.Add}
	case b.Remove != nil && b.Add == nil:
		cmd = domain.RemoveLicenses{Count: *b.Remove}
	default:
		return invalidField("add", "give exactly one of add or remove")
	}
	return s.runProduct(w, r, c, id, http.StatusOK, "", cmd)
}

type selfServiceBody struct {
	SelfService *string `json:"self_service"`
}

// PUT /v1/products/{id}/self-service
func (s *Server) setSelfService(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	id, err := pathID(r, "id", "id")
	if err != nil {
		return err
	}
	var b selfServiceBody
	if err := decode(w, r, &b); err != nil {
		return err
	}
	if b.SelfService == nil {
		return invalidField("self_service", "is required")
	}
	return s.runProduct(w, r, c, id, http.StatusOK, "", domain.SetSelfService{SelfService: *b.SelfService})
}

type assignBody struct {
	UserID           *string  `json:"user_id"`
	DisabledServices []string `json:"disabled_services"`
}

// POST /v1/products/{id}/assignments
func (s *Server) assign(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	id, err := pathID(r, "id", "id")
	if err != nil {
		return err
	}
	var b assignBody
	if err := decode(w, r, &b); err != nil {
		return err
	}
	if b.UserID == nil {
		return invalidField("user_id", "is required")
	}
	if !events.ValidID(*b.UserID) {
		return invalidField("user_id", idRule)
	}
	loc := "/v1/products/" + url.PathEscape(id) + "/assignments/" + url.PathEscape(*b.UserID)
	return s.runProduct(w, r, c, id, http.StatusCreated, loc, domain.AssignLicense{
		UserID: domain.UserID(*b.UserID), DisabledServices: b.DisabledServices,
		Source: events.Source{Kind: events.SourceManual},
	})
}

// DELETE /v1/products/{id}/assignments/{user}
func (s *Server) unassign(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	id, err := pathID(r, "id", "id")
	if err != nil {
		return err
	}
	user, err := pathID(r, "user", "user")
	if err != nil {
		return err
	}
	return s.runProduct(w, r, c, id, http.StatusOK, "", domain.UnassignLicense{UserID: domain.UserID(user)})
}

// runProduct runs cmd on product id in the caller's tenant and answers with
// the product's new state, status and, when not empty, a Location header. A
// replayed Idempotency-Key answers with the same status and the original
// position; the state is the product's current one.
func (s *Server) runProduct(w http.ResponseWriter, r *http.Request, c auth.Claims, id string, status int, location string,
	cmd domain.ProductCommand) error {
	meta, err := s.meta(r, c)
	if err != nil {
		return err
	}
	sum, res, err := s.cfg.Commands.Product(r.Context(), domain.TenantID(c.Tenant), domain.ProductID(id), meta, cmd)
	if err != nil {
		return err
	}
	if location != "" {
		w.Header().Set("Location", location)
	}
	if sum.Services == nil {
		sum.Services = []string{}
	}
	return writePositioned(w, status, res.Position, ProductState{ProductSummary: sum, Position: res.Position})
}

// GET /v1/products
func (s *Server) listProducts(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	at, past, err := s.asOf(r)
	if err != nil {
		return err
	}
	if err := s.waitAfter(r); err != nil {
		return err
	}
	var ps []projections.ProductCount
	if past {
		if ps, err = s.cfg.History.AsOf.ProductsAt(r.Context(), c.Tenant, at); err != nil {
			return err
		}
	} else {
		ps = s.cfg.Products.Products(c.Tenant)
	}
	if ps == nil {
		ps = []projections.ProductCount{}
	}
	return writePage(w, r, ps, func(p projections.ProductCount) string { return p.ProductID })
}

// GET /v1/products/{id}
func (s *Server) getProduct(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	id, err := pathID(r, "id", "id")
	if err != nil {
		return err
	}
	if err := s.waitAfter(r); err != nil {
		return err
	}
	p, ok := s.cfg.Products.Product(c.Tenant, id)
	if !ok {
		return &domain.NotFoundError{Kind: "product", ID: id}
	}
	return writeJSON(w, http.StatusOK, p)
}

// idRule describes events.ValidID for validation messages.
const idRule = "must be 1 to 128 letters, digits, '_', '-' or '@', starting with a letter or digit"
