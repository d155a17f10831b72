package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"time"

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

// AsOfQueries answers what the read models answered at a past instant
// (history.Reader). Errors: store errors, ctx's.
type AsOfQueries interface {
	// ProductsAt lists tenant's products as they stood at t.
	ProductsAt(ctx context.Context, tenant string, t time.Time) ([]projections.ProductCount, error)
	// PolicyAt returns a policy as it stood at t; false when it did not
	// exist then.
	PolicyAt(ctx context.Context, tenant, id string, t time.Time) (projections.PolicyListItem, bool, error)
	// LicensesAt lists the licenses user held at t.
	LicensesAt(ctx context.Context, tenant, user string, t time.Time) ([]projections.UserLicense, error)
}

// HistoryConfig is what the history routes need; Config.History holds it
// (nil: the routes are not served).
type HistoryConfig struct {
	// Licenses answers a license's history. Required.
	Licenses HistoryQueries
	// AsOf answers ?as_of= on the user's licenses, the products and a
	// policy. nil: as_of is refused with 400.
	AsOf AsOfQueries
}

// asOf reads ?as_of=, an RFC 3339 instant; false when it is absent.
func (s *Server) asOf(r *http.Request) (time.Time, bool, error) {
	vs, ok := r.URL.Query()["as_of"]
	if !ok {
		return time.Time{}, false, nil
	}
	if len(vs) != 1 {
		return time.Time{}, false, invalidField("as_of", "must be given once")
	}
	t, err := time.Parse(time.RFC3339Nano, vs[0])
	if err != nil {
		return time.Time{}, false, invalidField("as_of", fmt.Sprintf("%q is not an RFC 3339 instant (e.g. 2026-11-30T17:00:00Z)", vs[0]))
	}
	if s.cfg.History == nil || s.cfg.History.AsOf == nil {
		return time.Time{}, false, invalidField("as_of", "this server keeps no past states")
	}
	return t, true, nil
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
