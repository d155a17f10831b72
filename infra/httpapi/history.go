package httpapi

import (
	"fmt"
	"net/http"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/infra/auth"
	"github.com/seatflow/seatflow/projections"
)

// HistoryQueries answers from the license history read model.
type HistoryQueries interface {
	// History lists the events that touched user's license of product,
	// oldest first; false when there are none.
	History(tenant, user, product string) ([]projections.HistoryEntry, bool)
}

var _ HistoryQueries = (*projections.LicenseHistory)(nil)

// HistoryConfig is what the history routes need; Config.History holds it
// (nil: the routes are not served).
type HistoryConfig struct {
	// Licenses answers a license's history. Required.
	Licenses HistoryQueries
}

// historyRoutes registers the history routes, when configured.
func (s *Server) historyRoutes() {
	if s.cfg.History == nil {
		return
	}
	s.handle("GET /v1/users/{id}/licenses/{product_id}/history", access{
		roles: auth.AdminRoles,
		self:  "id",
		why:   "only admins or the user themself may read the history of a user's licenses",
	}, s.licenseHistory)
}

// GET /v1/users/{id}/licenses/{product_id}/history
func (s *Server) licenseHistory(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	user, err := pathID(r, "id", "id")
	if err != nil {
		return err
	}
	product, err := pathID(r, "product_id", "product_id")
	if err != nil {
		return err
	}
	if err := s.waitAfter(r); err != nil {
		return err
	}
	h, ok := s.cfg.History.Licenses.History(c.Tenant, user, product)
	if !ok {
		return &domain.NotFoundError{Kind: "license history", ID: fmt.Sprintf("%s/%s", user, product)}
	}
	return writeJSON(w, http.StatusOK, h)
}
