package httpapi

import (
	"net/http"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/infra/auth"
	"github.com/seatflow/seatflow/projections"
)

// GET /v1/users/{id}/licenses
func (s *Server) userLicenses(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	id, err := pathID(r, "id", "id")
	if err != nil {
		return err
	}
	at, past, err := s.asOf(r)
	if err != nil {
		return err
	}
	if err := s.waitAfter(r); err != nil {
		return err
	}
	var ls []projections.UserLicense
	if past {
		if ls, err = s.cfg.History.AsOf.LicensesAt(r.Context(), c.Tenant, id, at); err != nil {
			return err
		}
	} else {
		ls = s.cfg.Licenses.Licenses(c.Tenant, id)
	}
	if ls == nil {
		ls = []projections.UserLicense{}
	}
	return writePage(w, r, ls, func(l projections.UserLicense) string { return l.ProductID })
}

// GET /v1/products/{id}/assignments
func (s *Server) productHolders(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	id, err := pathID(r, "id", "id")
	if err != nil {
		return err
	}
	if err := s.waitAfter(r); err != nil {
		return err
	}
	if _, ok := s.cfg.Products.Product(c.Tenant, id); !ok {
		return &domain.NotFoundError{Kind: "product", ID: id}
	}
	return writePage(w, r, s.cfg.Licenses.Holders(c.Tenant, id), func(h projections.ProductHolder) string { return h.UserID })
}
