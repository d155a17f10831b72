package domain

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/seatflow/seatflow/events"
)

// MaxSimulatedSignIns bounds the sign-ins one simulation decides.
const MaxSimulatedSignIns = 10_000

// Simulation is where a number of first sign-ins to a policy's app would
// land: how many would claim each product of the order, and how many would
// queue.
type Simulation struct {
	Served []SimulatedProduct `json:"served"`
	Queued int                `json:"queued"`
}

// SimulatedProduct is how many simulated sign-ins claim a product.
type SimulatedProduct struct {
	ProductID ProductID `json:"product_id"`
	Count     int       `json:"count"`
}

// simulatedUser names the n-th simulated user: a valid id no directory
// user is expected to have.
func simulatedUser(n int) string { return fmt.Sprintf("sf-simulated-user-%06d", n) }

// SimulateClaims decides n first sign-ins of new users to policy pid's app
// with DecideClaims, the decider the sign-in path uses, on v as if the
// auto-claim switch and the policy were on and, when products is not nil,
// the policy listed products (checked as PUT .../products checks them) in
// that order. It appends nothing and does not modify v; users already
// queued keep their place ahead of the simulated ones. Errors:
// *NotFoundError for an unknown policy, *ValidationError for n or products.
func SimulateClaims(v ClaimView, pid PolicyID, products []events.PolicyProduct, n int, now time.Time) (Simulation, error) {
	if n < 1 || n > MaxSimulatedSignIns {
		return Simulation{}, invalid("signins", "must be a whole number from 1 to %d", MaxSimulatedSignIns)
	}
	p := v.Policies[pid]
	if p == nil || !p.Exists() {
		return Simulation{}, &NotFoundError{Kind: "policy", ID: string(pid)}
	}
	sim := *p
	sim.Enabled = true
	if products != nil {
		if err := checkPolicyProducts(products, v.Products); err != nil {
			return Simulation{}, err
		}
		sim.Products = cleanProducts(products)
		sim.Listed = slices.Clone(p.Listed)
		sim.list(sim.Products)
	}
	org := Org{AutoClaim: true, AppPolicies: map[string]PolicyID{p.App: pid}}
	view := ClaimView{Org: &org, Policies: map[PolicyID]*Policy{pid: &sim}, Products: v.Products}
	in := make([]SignIn, n)
	for i := range in {
		in[i] = SignIn{ID: fmt.Sprintf("simulated-%06d", i+1), UserID: UserID(simulatedUser(i + 1)), App: p.App, At: now}
	}
	_, decisions := DecideClaims(view, in, ClaimOptions{}, now)
	out := Simulation{Served: make([]SimulatedProduct, len(sim.Products))}
	for i, pp := range sim.Products {
		out.Served[i].ProductID = ProductID(pp.ProductID)
	}
	for _, d := range decisions {
		if d.Err != nil {
			return Simulation{}, d.Err
		}
		switch d.Outcome.Status {
		case ClaimQueued:
			out.Queued++
		case ClaimClaimed:
			i := slices.IndexFunc(out.Served, func(s SimulatedProduct) bool { return s.ProductID == d.Outcome.ProductID })
			if i < 0 {
				out.Served = append(out.Served, SimulatedProduct{ProductID: d.Outcome.ProductID})
				i = len(out.Served) - 1
			}
			out.Served[i].Count++
		}
	}
	return out, nil
}

// SimulatePolicy reads the policy, the org and every product the
// simulation may touch, and runs SimulateClaims on them while they are
// locked, so the answer is what the sign-in path would decide now. It
// appends nothing.
func (s *Service) SimulatePolicy(ctx context.Context, tenant TenantID, id PolicyID, n int, products []events.PolicyProduct) (Simulation, error) {
	if err := checkID("policy_id", string(id)); err != nil {
		return Simulation{}, err
	}
	if len(products) > MaxPolicyProducts {
		return Simulation{}, invalid("products", "must list 1 to %d products (the first is the primary)", MaxPolicyProducts)
	}
	for i, pp := range products {
		if err := checkID(fmt.Sprintf("products[%d].product_id", i), pp.ProductID); err != nil {
			return Simulation{}, err
		}
	}
	pagg := policyAgg(id)
	var listed []ProductID
	if _, err := s.read(ctx, tenant, []events.Aggregate{pagg}, func(tx *Tx) {
		listed = slices.Clone(tx.State(pagg).(*Policy).Listed)
	}); err != nil {
		return Simulation{}, err
	}
	for _, pp := range products {
		if !slices.Contains(listed, ProductID(pp.ProductID)) {
			listed = append(listed, ProductID(pp.ProductID))
		}
	}
	aggs := []events.Aggregate{orgAgg, pagg}
	for _, pid := range listed {
		aggs = append(aggs, productAgg(pid))
	}
	var (
		out    Simulation
		simErr error
	)
	now := s.cfg.Now()
	_, err := s.read(ctx, tenant, aggs, func(tx *Tx) {
		v := ClaimView{Org: tx.State(orgAgg).(*Org), Policies: map[PolicyID]*Policy{id: tx.State(pagg).(*Policy)},
			Products: map[ProductID]*Product{}}
		for _, pid := range listed {
			v.Products[pid] = tx.State(productAgg(pid)).(*Product)
		}
		out, simErr = SimulateClaims(v, id, products, n, now)
	})
	if err != nil {
		return Simulation{}, err
	}
	return out, simErr
}
