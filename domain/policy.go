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
	// queued indexes Queue by user (to the reason they wait), so asking
	// whether a user waits costs the same however long the queue is.
	queued map[UserID]string
	// Listed holds every product the policy ever listed, current or
	// removed: a user holding any of them got it under the policy (or
	// otherwise) and does not claim again.
	Listed []ProductID
	Limits PolicyLimits
	// Counts are the claims under the policy while a cap is on. They live
	// on the policy aggregate, not only on its products, so that the
	// count a cap checks is part of the state a claim decision reads and
	// is covered by the concurrency check of the append that claims (or,
	// appending in parts, of the one just before it that reserves the
	// claims' places): a claim under a capped policy always writes
	// PolicyClaimsCounted to the policy, so two instances claiming under it
	// at once conflict, and the loser reloads the count and decides again.
	Counts ClaimCounts
}

// PolicyLimits are a policy's optional claim caps and reclaim settings;
// nil is off.
type PolicyLimits struct {
	DailyCap         *int `json:"daily_cap"`
	TotalCap         *int `json:"total_cap"`
	ReclaimAfterDays *int `json:"reclaim_after_days"`
	ReclaimWarnDays  *int `json:"reclaim_warn_days"`
}

// Capped reports whether a claim cap is on.
func (l PolicyLimits) Capped() bool { return l.DailyCap != nil || l.TotalCap != nil }

// ClaimCounts are the claims under a capped policy: Today on the UTC day
// Day, and Total ever.
type ClaimCounts struct {
	Day   string
	Today int
	Total int
}

// Day is the UTC day of t, as ClaimCounts and PolicyClaimsCounted name it.
func Day(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// on returns the claims counted on day and in total.
func (c ClaimCounts) on(day string) (today, total int) {
	if c.Day != day {
		return 0, c.Total
	}
	return c.Today, c.Total
}

// CapReason returns why a claim under p on day, after extra more claims
// not yet in its counts, must wait: events.QueueTotalCap,
// events.QueueDailyCap, or "" when the caps allow it.
func (p *Policy) CapReason(day string, extra int) string {
	today, total := p.Counts.on(day)
	switch {
	case p.Limits.TotalCap != nil && total+extra >= *p.Limits.TotalCap:
		return events.QueueTotalCap
	case p.Limits.DailyCap != nil && today+extra >= *p.Limits.DailyCap:
		return events.QueueDailyCap
	}
	return ""
}

// counted is the PolicyClaimsCounted recording n more claims on day.
func (p *Policy) counted(day string, n int) events.PolicyClaimsCounted {
	today, total := p.Counts.on(day)
	return events.PolicyClaimsCounted{PolicyID: string(p.ID), Day: day, Today: today + n, Total: total + n}
}

// QueuedUser is one user waiting for a seat under a policy.
type QueuedUser struct {
	UserID     UserID    `json:"user_id"`
	SigninID   string    `json:"signin_id"`
	SignedInAt time.Time `json:"signed_in_at"`
	// Reason is why they wait: events.QueueNoSeats, QueueDailyCap or
	// QueueTotalCap.
	Reason string `json:"reason"`
}

// Exists reports whether the policy has been created.
func (p *Policy) Exists() bool { return p.Name != "" }

// Queued reports whether u waits in the policy's queue.
func (p *Policy) Queued(u UserID) bool { _, ok := p.queued[u]; return ok }

// QueueReason returns why u waits in the policy's queue ("" when not).
func (p *Policy) QueueReason(u UserID) string { return p.queued[u] }

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
		if p.Queued(UserID(e.UserID)) {
			return
		}
		if p.queued == nil {
			p.queued = map[UserID]string{}
		}
		p.queued[UserID(e.UserID)] = e.Reason
		p.Queue = append(p.Queue, QueuedUser{UserID: UserID(e.UserID), SigninID: e.SigninID, SignedInAt: e.SignedInAt, Reason: e.Reason})
	case events.PolicyLimitsChanged:
		p.Limits = PolicyLimits{DailyCap: e.DailyCap, TotalCap: e.TotalCap, ReclaimAfterDays: e.ReclaimAfterDays, ReclaimWarnDays: e.ReclaimWarnDays}
		if !p.Limits.Capped() {
			p.Counts = ClaimCounts{} // counting starts afresh when a cap is turned on again
		}
	case events.PolicyClaimsCounted:
		p.Counts = ClaimCounts{Day: e.Day, Today: e.Today, Total: e.Total}
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
	if !p.Queued(u) {
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
	PolicyLimits
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
	return PolicySummary{PolicyID: p.ID, Name: p.Name, App: p.App, Products: ps, Enabled: p.Enabled, Queue: q, Queued: len(p.Queue),
		PolicyLimits: p.Limits}
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
	Limits   PolicyLimits
}

// RenamePolicy gives a policy a new name.
type RenamePolicy struct{ Name string }

// SetPolicyEnabled turns a policy on or off. Turning it off keeps the
// licenses claimed under it.
type SetPolicyEnabled struct{ Enabled bool }

// SetPolicyProducts replaces the whole ordered product list (add, remove,
// reorder, change services). Licenses claimed from a removed product stay.
type SetPolicyProducts struct{ Products []events.PolicyProduct }

// SetPolicyLimits changes a policy's caps and reclaim settings: each Set
// field takes its value (nil: off); the others stay as they are.
type SetPolicyLimits struct {
	DailyCap, TotalCap, ReclaimAfterDays, ReclaimWarnDays OptionalInt
}

// OptionalInt is a setting a command may change: Set says whether it
// does, Value is the new value (nil: off).
type OptionalInt struct {
	Set   bool
	Value *int
}

func (o OptionalInt) or(cur *int) *int {
	if o.Set {
		return o.Value
	}
	return cur
}

func (SetPolicyLimits) policyCommand()   {}
func (CreatePolicy) policyCommand()      {}
func (RenamePolicy) policyCommand()      {}
func (SetPolicyEnabled) policyCommand()  {}
func (SetPolicyProducts) policyCommand() {}

// PolicyView is the state a policy decision reads: the org, the policy and
// the products its command names (for SetPolicyLimits, every product the
// policy ever listed; for other commands, none), and the time.
type PolicyView struct {
	Org      *Org
	Policy   *Policy
	Products map[ProductID]*Product
	Now      time.Time
}

// DecidePolicy returns the events cmd causes, each with its aggregate, or
// why it cannot happen.
func DecidePolicy(v PolicyView, cmd PolicyCommand) ([]Change, error) {
	p := v.Policy
	pagg := policyAgg(p.ID)
	if c, ok := cmd.(CreatePolicy); ok {
		if p.Exists() {
			return nil, fmt.Errorf("policy %q: %w", p.ID, ErrAlreadyExists)
		}
		if err := errors.Join(checkName(c.Name), checkApp(c.App), checkPolicyProducts(c.Products, v.Products), checkLimits(c.Limits)); err != nil {
			return nil, err
		}
		out := []Change{{pagg, events.PolicyCreated{PolicyID: string(p.ID), Name: c.Name, App: c.App,
			Products: cleanProducts(c.Products), Enabled: !c.Disabled}}}
		if c.Limits != (PolicyLimits{}) {
			out = append(out, Change{pagg, limitsChanged(p.ID, c.Limits)})
		}
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
	case SetPolicyLimits:
		l := PolicyLimits{DailyCap: c.DailyCap.or(p.Limits.DailyCap), TotalCap: c.TotalCap.or(p.Limits.TotalCap),
			ReclaimAfterDays: c.ReclaimAfterDays.or(p.Limits.ReclaimAfterDays), ReclaimWarnDays: c.ReclaimWarnDays.or(p.Limits.ReclaimWarnDays)}
		if err := checkLimits(l); err != nil {
			return nil, err
		}
		if limitsEqual(l, p.Limits) {
			return nil, nil
		}
		out := []Change{{pagg, limitsChanged(p.ID, l)}}
		if l.Capped() && !p.Limits.Capped() {
			// Counting starts now: carry over what the products
			// recorded, so a total cap counts every claim under the
			// policy and a daily cap today's.
			day := Day(v.Now)
			var today, total int
			for _, prod := range v.Products {
				total += prod.Claimants(p.ID)
				for _, h := range prod.Holdings() {
					if h.PolicyID == p.ID && Day(h.AssignedAt) == day {
						today++
					}
				}
			}
			out = append(out, Change{pagg, events.PolicyClaimsCounted{PolicyID: string(p.ID), Day: day, Today: today, Total: total}})
		}
		return out, nil
	default:
		return nil, fmt.Errorf("policy: unknown command %T", cmd)
	}
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
	pagg := policyAgg(id)
	aggs := []events.Aggregate{orgAgg, pagg}
	var named []events.PolicyProduct
	switch c := cmd.(type) {
	case CreatePolicy:
		named = c.Products
	case SetPolicyProducts:
		named = c.Products
	}
	var listed []ProductID
	if _, ok := cmd.(SetPolicyLimits); ok {
		// Turning a cap on counts the claims the products recorded.
		if err := s.refresh(ctx, tenant, pagg); err != nil {
			return PolicySummary{}, Result{}, err
		}
		var err error
		if _, _, listed, err = s.policyProducts(ctx, tenant, id); err != nil {
			return PolicySummary{}, Result{}, err
		}
		aggs = append(aggs, listedAggs(listed)...)
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
		v := PolicyView{Org: tx.State(orgAgg).(*Org), Policy: tx.State(pagg).(*Policy), Products: map[ProductID]*Product{}, Now: tx.Now}
		for _, pp := range named {
			v.Products[ProductID(pp.ProductID)] = tx.State(productAgg(ProductID(pp.ProductID))).(*Product)
		}
		for _, id := range listed {
			v.Products[id] = tx.State(productAgg(id)).(*Product)
		}
		changes, err := DecidePolicy(v, cmd)
		if err != nil {
			return err
		}
		tx.EmitChanges(changes...)
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

// Bounds of the limits a policy may set.
const (
	MaxCap         = 10_000_000
	MaxReclaimDays = 3650
	// DefaultReclaimWarnDays is how many days before reclaiming a user is
	// warned when reclaim_warn_days is off (at most reclaim_after_days-1).
	DefaultReclaimWarnDays = 7
)

func checkLimits(l PolicyLimits) error {
	var errs []error
	if l.DailyCap != nil && (*l.DailyCap < 1 || *l.DailyCap > MaxCap) {
		errs = append(errs, invalid("daily_cap", "must be 1 to %d, or null for no cap", MaxCap))
	}
	if l.TotalCap != nil && (*l.TotalCap < 1 || *l.TotalCap > MaxCap) {
		errs = append(errs, invalid("total_cap", "must be 1 to %d, or null for no cap", MaxCap))
	}
	if l.ReclaimAfterDays != nil && (*l.ReclaimAfterDays < 2 || *l.ReclaimAfterDays > MaxReclaimDays) {
		errs = append(errs, invalid("reclaim_after_days", "must be 2 to %d, or null for no reclaiming", MaxReclaimDays))
	}
	if l.ReclaimWarnDays != nil {
		switch {
		case l.ReclaimAfterDays == nil:
			errs = append(errs, invalid("reclaim_warn_days", "needs reclaim_after_days"))
		case *l.ReclaimWarnDays < 1 || *l.ReclaimWarnDays >= *l.ReclaimAfterDays:
			errs = append(errs, invalid("reclaim_warn_days", "must be 1 to reclaim_after_days-1 (%d)", *l.ReclaimAfterDays-1))
		}
	}
	return errors.Join(errs...)
}

// WarnDays is how many days before reclaiming a user is warned.
func (l PolicyLimits) WarnDays() int {
	if l.ReclaimAfterDays == nil {
		return 0
	}
	if l.ReclaimWarnDays != nil {
		return *l.ReclaimWarnDays
	}
	return min(DefaultReclaimWarnDays, *l.ReclaimAfterDays-1)
}

func limitsChanged(id PolicyID, l PolicyLimits) events.PolicyLimitsChanged {
	return events.PolicyLimitsChanged{PolicyID: string(id), DailyCap: l.DailyCap, TotalCap: l.TotalCap,
		ReclaimAfterDays: l.ReclaimAfterDays, ReclaimWarnDays: l.ReclaimWarnDays}
}

func limitsEqual(a, b PolicyLimits) bool {
	eq := func(x, y *int) bool { return (x == nil) == (y == nil) && (x == nil || *x == *y) }
	return eq(a.DailyCap, b.DailyCap) && eq(a.TotalCap, b.TotalCap) && eq(a.ReclaimAfterDays, b.ReclaimAfterDays) && eq(a.ReclaimWarnDays, b.ReclaimWarnDays)
}
