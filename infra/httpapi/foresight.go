package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/infra/auth"
	"github.com/seatflow/seatflow/projections"
)

// ClaimCounts counts claims from the claims read model.
type ClaimCounts interface {
	// ProductClaims counts the licenses of product claimed after from and
	// not after to.
	ProductClaims(tenant, product string, from, to time.Time) int
}

var _ ClaimCounts = (*projections.Claims)(nil)

// QueueCounts counts waiting users from the policy list read model.
type QueueCounts interface {
	// QueuedFor counts the users waiting under the enabled policies that
	// list product.
	QueuedFor(tenant, product string) int
}

var _ QueueCounts = (*projections.PolicyList)(nil)

// Simulator decides sign-ins without appending anything.
type Simulator interface {
	// SimulatePolicy says where n first sign-ins to policy id's app would
	// land, with products (nil: the policy's own) as its order. Errors:
	// *domain.NotFoundError, *domain.ValidationError, store errors.
	SimulatePolicy(ctx context.Context, tenant domain.TenantID, id domain.PolicyID, n int, products []events.PolicyProduct) (domain.Simulation, error)
}

var _ Simulator = (*domain.Service)(nil)

// ForesightConfig is what the forecast and simulation routes need;
// HistoryConfig.Foresight holds it (nil: the routes are not served).
type ForesightConfig struct {
	Claims   ClaimCounts
	Queues   QueueCounts
	Simulate Simulator
	// Now is the forecast's clock. Default time.Now.
	Now func() time.Time
}

// foresightRoutes registers the forecast and simulation routes, when
// configured.
func (s *Server) foresightRoutes() {
	if s.cfg.History == nil || s.cfg.History.Foresight == nil {
		return
	}
	if s.cfg.History.Foresight.Now == nil {
		s.cfg.History.Foresight.Now = time.Now
	}
	s.handle("GET /v1/products/{id}/forecast", anyAdmin, s.forecast)
	s.handle("POST /v1/policies/{id}/simulate", globalAdmin, s.simulate)
}

// GET /v1/products/{id}/forecast
func (s *Server) forecast(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
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
	fs := s.cfg.History.Foresight
	now := fs.Now()
	// The forecast reactor's input, so the pool.forecast warning and this
	// answer agree.
	in := domain.NewForecastInput(fs.Claims, fs.Queues, c.Tenant, domain.ProductID(p.ProductID), p.Available, now)
	return writeJSON(w, http.StatusOK, domain.ForecastRunOut(in, now))
}

type simulateBody struct {
	SignIns  *int                `json:"signins"`
	Products []policyProductBody `json:"products"`
}

// POST /v1/policies/{id}/simulate
func (s *Server) simulate(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	id, err := pathID(r, "id", "id")
	if err != nil {
		return err
	}
	var b simulateBody
	if err := decode(w, r, &b); err != nil {
		return err
	}
	if b.SignIns == nil {
		return invalidField("signins", "is required")
	}
	var products []events.PolicyProduct
	if b.Products != nil {
		if products, err = policyProducts(b.Products); err != nil {
			return err
		}
	}
	sim, err := s.cfg.History.Foresight.Simulate.SimulatePolicy(r.Context(), domain.TenantID(c.Tenant), domain.PolicyID(id), *b.SignIns, products)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, sim)
}
