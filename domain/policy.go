package domain

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/seatflow/seatflow/events"
)

// MaxPolicyProducts bounds a policy's product list: one primary and up to
// four backups.
const MaxPolicyProducts = 5

// ErrAppHasPolicy means another enabled policy already serves the app. It
// is a kind of ErrAlreadyExists.
var ErrAppHasPolicy = fmt.Errorf("the app already has an enabled policy: %w", ErrAlreadyExists)

// Policy is the state of one auto-claim policy.
type Policy struct {
	ID       PolicyID
	Name     string
	App      string
	Products []events.PolicyProduct
	Enabled  bool
	// Queue holds the users waiting for a seat, in arrival order.
	Queue []QueuedUser
	// queued indexes Queue by user, so asking whether a user waits costs
	// the same however long the queue is.
	queued map[UserID]bool
	// Listed holds every product the policy ever listed, current or
	// removed: a user holding any of them got it under the policy (or
	// otherwise) and does not claim again.
	Listed []ProductID
}

// QueuedUser is one user waiting for a seat under a policy.
type QueuedUser struct {
	UserID     UserID    `json:"user_id"`
	SigninID   string    `json:"signin_id"`
	SignedInAt time.Time `json:"signed_in_at"`
}

// Exists reports whether the policy has been created.
func (p *Policy) Exists() bool { return p.Name != "" }

// Queued reports whether u waits in the policy's queue.
func (p *Policy) Queued(u UserID) bool { return p.queued[u] }

// EvolvePolicy folds one event into p. Events of other types are ignored.
func EvolvePolicy(p *Policy, env events.Envelope) {
	switch e := env.Data.(type) {
	case events.PolicyCreated:
		p.ID, p.Name, p.App, p.Products, p.Enabled = PolicyID(e.PolicyID), e.Name, e.App, e.Products, e.Enabled
		p.list(e.Products)
	case events.PolicyRenamed:
		p.Name = e.Name
	case events.PolicyStatusChanged:
		p.Enabled = e.Enabled
	case events.PolicyProductsChanged:
		p.Products = e.Products
		p.list(e.Products)
	case events.UserQueued:
		if p.queued[UserID(e.UserID)] {
			return
		}
		if p.queued == nil {
			p.queued = map[UserID]bool{}
		}
		p.queued[UserID(e.UserID)] = true
		p.Queue = append(p.Queue, QueuedUser{UserID: UserID(e.UserID), SigninID: e.SigninID, SignedInAt: e.SignedInAt})
	case events.QueuedUserGranted:
		p.dequeue(UserID(e.UserID))
	case events.QueuedUserDropped:
		p.dequeue(UserID(e.UserID))
	}
}

func (p *Policy) list(ps []events.PolicyProduct) {
	for _, pp := range ps {
		if !slices.Contains(p.Listed, ProductID(pp.ProductID)) {
			p.Listed = append(p.Listed, ProductID(pp.ProductID))
		}
	}
}

func (p *Policy) dequeue(u UserID) {
	if !p.queued[u] {
		return
	}
	delete(p.queued, u)
	if p.Queue[0].UserID == u { // the usual case: the head is granted
		p.Queue[0] = QueuedUser{}
		p.Queue = p.Queue[1:]
		return
	}
	p.Queue = slices.DeleteFunc(p.Queue, func(q QueuedUser) bool { return q.UserID == u })
}

// QueueHeadLen is how many waiting users a policy summary lists; Queued
// counts them all.
const QueueHeadLen = 100

// PolicySummary is what policy commands answer with.
type PolicySummary struct {
	PolicyID PolicyID               `json:"policy_id"`
	Name     string                 `json:"name"`
	App      string                 `json:"app"`
	Products []events.PolicyProduct `json:"products"`
	Enabled  bool                   `json:"enabled"`
	// Queue lists the first QueueHeadLen users waiting, in order; Queued
	// counts every one, so an answer stays small however long the queue.
	Queue  []QueuedUser `json:"queue"`
	Queued int          `json:"queued"`
}

// Summary returns the policy's settings and queue.
func (p *Policy) Summary() PolicySummary {
	ps := make([]events.PolicyProduct, len(p.Products))
	for i, pp := range p.Products {
		ps[i] = events.PolicyProduct{ProductID: pp.ProductID, DisabledServices: nonNil(pp.DisabledServices)}
	}
	q := slices.Clone(p.Queue[:min(len(p.Queue), QueueHeadLen)])
	if q == nil {
		q = []QueuedUser{}
	}
	return PolicySummary{PolicyID: p.ID, Name: p.Name, App: p.App, Products: ps, Enabled: p.Enabled, Queue: q, Queued: len(p.Queue)}
}

// PolicyCommand is a command on an auto-claim policy.
type PolicyCommand interface{ policyCommand() }

// CreatePolicy creates a policy for App with an ordered product list
// (primary first). A new policy is enabled unless Disabled is set.
type CreatePolicy struct {
	Name     string
	App      string
	Products []events.PolicyProduct
	Disabled bool
}

// RenamePolicy gives a policy a new name.
type RenamePolicy struct{ Name string }

// SetPolicyEnabled turns a policy on or off. Turning it off keeps the
// licenses claimed under it.
type SetPolicyEnabled struct{ Enabled bool }

// SetPolicyProducts replaces the whole ordered product list (add, remove,
// reorder, change services). Licenses claimed from a removed product stay.
type SetPolicyProducts struct{ Products []events.PolicyProduct }

func (CreatePolicy) policyCommand()      {}
func (RenamePolicy) policyCommand()      {}
func (SetPolicyEnabled) policyCommand()  {}
func (SetPolicyProducts) policyCommand() {}

// PolicyView is the state a policy decision reads: the org, the policy and
// the products its command names (or, for other commands, none).
type PolicyView struct {
	Org      *Org
	Policy   *Policy
	Products map[ProductID]*Product
}

// DecidePolicy returns the events cmd causes, each with its aggregate, or
// why it cannot happen.
func DecidePolicy(v PolicyView, cmd PolicyCommand) ([]Change, error) {
	p := v.Policy
	pagg := events.Aggregate{Kind: events.KindPolicy, ID: string(p.ID)}
	if c, ok := cmd.(CreatePolicy); ok {
		if p.Exists() {
			return nil, fmt.Errorf("policy %q: %w", p.ID, ErrAlreadyExists)
		}
		if err := errors.Join(checkName(c.Name), checkApp(c.App), checkPolicyProducts(c.Products, v.Products)); err != nil {
			return nil, err
		}
		out := []Change{{pagg, events.PolicyCreated{PolicyID: string(p.ID), Name: c.Name, App: c.App,
			Products: cleanProducts(c.Products), Enabled: !c.Disabled}}}
		if !c.Disabled {
			if other, taken := v.Org.AppPolicies[c.App]; taken {
				return nil, fmt.Errorf("app %q is served by policy %q: %w", c.App, other, ErrAppHasPolicy)
			}
			out = append(out, Change{orgAgg, events.AppPolicyBound{App: c.App, PolicyID: string(p.ID)}})
		}
		return out, nil
	}
	if !p.Exists() {
		return nil, &NotFoundError{Kind: "policy", ID: string(p.ID)}
	}
	switch c := cmd.(type) {
	case RenamePolicy:
		if err := checkName(c.Name); err != nil {
			return nil, err
		}
		if c.Name == p.Name {
			return nil, nil
		}
		return []Change{{pagg, events.PolicyRenamed{PolicyID: string(p.ID), Name: c.Name}}}, nil
	case SetPolicyEnabled:
		if c.Enabled == p.Enabled {
			return nil, nil
		}
		out := []Change{{pagg, events.PolicyStatusChanged{PolicyID: string(p.ID), Enabled: c.Enabled}}}
		if c.Enabled {
			if other, taken := v.Org.AppPolicies[p.App]; taken && other != p.ID {
				return nil, fmt.Errorf("app %q is served by policy %q: %w", p.App, other, ErrAppHasPolicy)
			}
			return append(out, Change{orgAgg, events.AppPolicyBound{App: p.App, PolicyID: string(p.ID)}}), nil
		}
		if v.Org.AppPolicies[p.App] == p.ID {
			out = append(out, Change{orgAgg, events.AppPolicyUnbound{App: p.App, PolicyID: string(p.ID)}})
		}
		return out, nil
	case SetPolicyProducts:
		if err := checkPolicyProducts(c.Products, v.Products); err != nil {
			return nil, err
		}
		ps := cleanProducts(c.Products)
		if productsEqual(ps, p.Products) {
			return nil, nil
		}
		return []Change{{pagg, events.PolicyProductsChanged{PolicyID: string(p.ID), Products: ps}}}, nil
	default:
		return nil, fmt.Errorf("policy: unknown command %T", cmd)
	}
}

// Change is one event a decision causes and the aggregate it belongs to.
type Change struct {
	Agg  events.Aggregate
	Data events.Data
}

// Policy runs one command on an auto-claim policy and answers with the
// policy after it. Creating and enabling read and write the org aggregate
// too, whose concurrency check keeps one enabled policy per app; creating
// and replacing the product list read the named products to check they
// exist and that the disabled services are theirs.
func (s *Service) Policy(ctx context.Context, tenant TenantID, id PolicyID, meta events.Meta, cmd PolicyCommand) (PolicySummary, Result, error) {
	if err := checkID("policy_id", string(id)); err != nil {
		return PolicySummary{}, Result{}, err
	}
	pagg := events.Aggregate{Kind: events.KindPolicy, ID: string(id)}
	aggs := []events.Aggregate{orgAgg, pagg}
	var named []events.PolicyProduct
	switch c := cmd.(type) {
	case CreatePolicy:
		named = c.Products
	case SetPolicyProducts:
		named = c.Products
	}
	if len(named) > MaxPolicyProducts {
		return PolicySummary{}, Result{}, invalid("products", "must list 1 to %d products", MaxPolicyProducts)
	}
	for i, pp := range named {
		if err := checkID(fmt.Sprintf("products[%d].product_id", i), pp.ProductID); err != nil {
			return PolicySummary{}, Result{}, err
		}
		aggs = append(aggs, events.Aggregate{Kind: events.KindProduct, ID: pp.ProductID})
	}
	var out PolicySummary
	res, err := s.Transact(ctx, tenant, meta, aggs, func(tx *Tx) error {
		v := PolicyView{Org: tx.State(orgAgg).(*Org), Policy: tx.State(pagg).(*Policy), Products: map[ProductID]*Product{}}
		for _, pp := range named {
			v.Products[ProductID(pp.ProductID)] = tx.State(events.Aggregate{Kind: events.KindProduct, ID: pp.ProductID}).(*Product)
		}
		changes, err := DecidePolicy(v, cmd)
		if err != nil {
			return err
		}
		for _, c := range changes {
			tx.Emit(c.Agg, c.Data)
		}
		return nil
	}, func(tx *Tx) { out = tx.State(pagg).(*Policy).Summary() })
	return out, res, err
}

func checkName(name string) error {
	if name == "" || utf8.RuneCountInString(name) > 200 || !utf8.ValidString(name) {
		return invalid("name", "must be 1 to 200 characters")
	}
	return nil
}

func checkApp(app string) error {
	if app == "" || len(app) > 100 || !utf8.ValidString(app) {
		return invalid("app", "must be 1 to 100 characters")
	}
	return nil
}

// checkPolicyProducts checks an ordered product list against the products
// it names: 1 to 5 entries, no product twice, every product existing, and
// every disabled service a service of its product.
func checkPolicyProducts(ps []events.PolicyProduct, products map[ProductID]*Product) error {
	if len(ps) == 0 || len(ps) > MaxPolicyProducts {
		return invalid("products", "must list 1 to %d products (the first is the primary)", MaxPolicyProducts)
	}
	seen := map[string]bool{}
	for i, pp := range ps {
		field := fmt.Sprintf("products[%d]", i)
		if seen[pp.ProductID] {
			return invalid(field+".product_id", "product %q is listed twice", pp.ProductID)
		}
		seen[pp.ProductID] = true
		prod := products[ProductID(pp.ProductID)]
		if prod == nil || !prod.Exists() {
			return invalid(field+".product_id", "product %q does not exist", pp.ProductID)
		}
		for _, svc := range pp.DisabledServices {
			if !slices.Contains(prod.Services, svc) {
				return invalid(field+".disabled_services", "%q is not a service of product %q (services: %v)", svc, pp.ProductID, prod.Services)
			}
		}
		if hasDuplicate(pp.DisabledServices) {
			return invalid(field+".disabled_services", "lists a service twice")
		}
	}
	return nil
}

func cleanProducts(ps []events.PolicyProduct) []events.PolicyProduct {
	out := make([]events.PolicyProduct, len(ps))
	for i, pp := range ps {
		out[i] = events.PolicyProduct{ProductID: pp.ProductID, DisabledServices: nonNil(pp.DisabledServices)}
	}
	return out
}

func productsEqual(a, b []events.PolicyProduct) bool {
	return slices.EqualFunc(a, b, func(x, y events.PolicyProduct) bool {
		return x.ProductID == y.ProductID && slices.Equal(x.DisabledServices, y.DisabledServices)
	})
}
