package domain

import (
	"context"
	"fmt"
	"iter"
	"math"
	"slices"
	"time"

	"github.com/seatflow/seatflow/events"
)

// MaxLicenses bounds the licenses one product can hold, so counts never
// overflow and a typo does not create a billion seats.
const MaxLicenses = 10_000_000

// Product is the state of one product's license pool.
type Product struct {
	ID          ProductID
	Name        string
	Services    []string
	Purchased   int
	SelfService string
	// ForecastWarned says a run-out forecast warning stands
	// (PoolForecastWarned with no PoolForecastCleared since).
	ForecastWarned bool
	// lowPeak is the most free seats the product had since its last
	// PoolLow (or ever): a claim leaving it at or below the low-seat
	// threshold records PoolLow while lowPeak is above it (LowAlertDue).
	lowPeak int

	// The holders and claimants, kept compact since the service caches
	// every product a command reads and a product can have hundreds of
	// thousands of users: one map entry of 16 bytes per user (no map per
	// policy), license origins and policies numbered per product, times
	// as Unix nanoseconds. Read them with Holding, Holds, Holdings,
	// ClaimedUnder and Claimants.
	users map[UserID]productUser
	held  int // users holding a license
	// warned are the reclaim warnings pending (Holding.Warned), by user.
	warned map[UserID]*ReclaimWarning
	// origins are where the licenses held came from, each once;
	// productUser.origin indexes it, 0 meaning no license.
	origins   []origin
	originIdx map[origin]uint32
	// policies are the policies users claimed under, in the order of
	// their first claim; bit i of productUser.claimed is policies[i] and
	// claimants[i] counts its claimants. Claims under a policy beyond the
	// 32nd are kept in claimedMore.
	policies    []PolicyID
	claimants   []int
	claimedMore map[PolicyID]map[UserID]struct{}
}

// productUser is one user of a product: their license, if they hold one,
// and the policies they ever claimed it under.
type productUser struct {
	at      int64  // AssignedAt (see unixNano)
	claimed uint32 // bit i: claimed under Product.policies[i]
	origin  uint32 // index in Product.origins; 0: holds no license
}

// origin is where a license came from: its source, and whether it was
// claimed (then Holding.PolicyID is the source's ref).
type origin struct {
	source  events.Source
	claimed bool
}

// maxPolicyBits is how many policies productUser.claimed has bits for.
const maxPolicyBits = 32

// ClaimedUnder reports whether u ever claimed this product under policy,
// held or not: a user claims at most once under a policy (invariant 3),
// even after the license is taken back.
func (p *Product) ClaimedUnder(policy PolicyID, u UserID) bool {
	i := p.policyIndex(policy)
	switch {
	case i < 0:
		return false
	case i < maxPolicyBits:
		return p.users[u].claimed&(1<<i) != 0
	}
	_, ok := p.claimedMore[policy][u]
	return ok
}

// Claimants is how many users ever claimed this product under policy.
func (p *Product) Claimants(policy PolicyID) int {
	if i := p.policyIndex(policy); i >= 0 {
		return p.claimants[i]
	}
	return 0
}

func (p *Product) policyIndex(policy PolicyID) int { return slices.Index(p.policies, policy) }

// Holds reports whether u holds a license of the product.
func (p *Product) Holds(u UserID) bool { return p.users[u].origin != 0 }

// Holding returns the license u holds, if any.
func (p *Product) Holding(u UserID) (Holding, bool) {
	pu := p.users[u]
	if pu.origin == 0 {
		return Holding{}, false
	}
	return p.holding(u, pu), true
}

// Holdings yields each user holding a license and the license, in no
// particular order.
func (p *Product) Holdings() iter.Seq2[UserID, Holding] {
	return func(yield func(UserID, Holding) bool) {
		for u, pu := range p.users {
			if pu.origin != 0 && !yield(u, p.holding(u, pu)) {
				return
			}
		}
	}
}

func (p *Product) holding(u UserID, pu productUser) Holding {
	o := p.origins[pu.origin]
	h := Holding{Source: o.source, AssignedAt: fromUnixNano(pu.at), Warned: p.warned[u]}
	if o.claimed {
		h.PolicyID = PolicyID(o.source.Ref)
	}
	return h
}

// Holding is one user's license of a product.
type Holding struct {
	Source events.Source
	// PolicyID is the policy the license was claimed under (empty: it
	// was assigned).
	PolicyID   PolicyID
	AssignedAt time.Time
	// Warned is the reclaim warning pending on a license claimed under a
	// policy with reclaiming on (nil: none).
	Warned *ReclaimWarning
}

// ReclaimWarning is a pending LicenseReclaimWarned: the last sign-in it
// was based on and when the license is reclaimed unless the user signs in.
type ReclaimWarning struct {
	LastSeen  time.Time
	ReclaimAt time.Time
}

// unixNano is t as Unix nanoseconds, with the zero time kept apart:
// fromUnixNano(unixNano(t)) is t.UTC() for the zero time and for every
// time from 1678 to 2262, which covers every time on the stream (the
// service's clock, sign-ins since SignInsSince).
func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return math.MinInt64
	}
	return t.UnixNano()
}

func fromUnixNano(n int64) time.Time {
	if n == math.MinInt64 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// Exists reports whether the product has been added.
func (p *Product) Exists() bool { return p.Name != "" }

// Assigned is how many licenses are held.
func (p *Product) Assigned() int { return p.held }

// Available is how many licenses are free.
func (p *Product) Available() int { return p.Purchased - p.held }

// Summary is the product without its holders: what commands answer with.
func (p *Product) Summary() ProductSummary {
	return ProductSummary{
		ProductID: p.ID, Name: p.Name, Services: slices.Clone(p.Services),
		Purchased: p.Purchased, Assigned: p.Assigned(), Available: p.Available(), SelfService: p.SelfService,
	}
}

// ProductSummary is a product's counts and settings.
type ProductSummary struct {
	ProductID   ProductID `json:"product_id"`
	Name        string    `json:"name"`
	Services    []string  `json:"services"`
	Purchased   int       `json:"purchased"`
	Assigned    int       `json:"assigned"`
	Available   int       `json:"available"`
	SelfService string    `json:"self_service"`
}

// EvolveProduct folds one event into p. Events of other types are ignored.
func EvolveProduct(p *Product, env events.Envelope) {
	switch e := env.Data.(type) {
	case events.ProductAdded:
		p.ID, p.Name, p.Services, p.Purchased, p.SelfService = ProductID(e.ProductID), e.Name, e.Services, e.Licenses, e.SelfService
	case events.LicensesPurchased:
		p.Purchased += e.Count
	case events.LicensesRemoved:
		p.Purchased -= e.Count
	case events.SelfServicePurchaseChanged:
		p.SelfService = e.SelfService
	case events.LicenseAssigned:
		p.hold(UserID(e.UserID), origin{source: e.Source}, env.OccurredAt)
	case events.LicensesAssigned:
		for _, a := range e.Assignments {
			p.hold(UserID(a.UserID), origin{source: a.Source}, env.OccurredAt)
		}
	case events.LicenseClaimed:
		p.claim(e)
	case events.LicensesClaimed:
		for i := range e.Claims {
			p.claim(e.Claim(i))
		}
	case events.LicenseUnassigned:
		p.release(UserID(e.UserID))
	case events.LicenseReclaimWarned:
		if p.Holds(UserID(e.UserID)) {
			if p.warned == nil {
				p.warned = map[UserID]*ReclaimWarning{}
			}
			p.warned[UserID(e.UserID)] = &ReclaimWarning{LastSeen: e.LastSeen, ReclaimAt: e.ReclaimAt}
		}
	case events.LicenseReclaimed:
		// The seat is free; the user still counts as having claimed under
		// the policy (ClaimedUnder), so they do not claim it back by
		// signing in: a user claims at most once under a policy.
		p.release(UserID(e.UserID))
	case events.PoolForecastWarned:
		p.ForecastWarned = true
	case events.PoolForecastCleared:
		p.ForecastWarned = false
	case events.PoolLow:
		p.lowPeak = p.Available()
	}
	p.lowPeak = max(p.lowPeak, p.Available())
}

// LowAlertDue reports whether a product left with available free seats
// owes a PoolLow at threshold: it is at or below the threshold and had
// more than it since its last PoolLow. A claim crossing the threshold
// records it; so does the next claim decision that finds the product
// still owing it (one whose PoolLow was not stored with its claims, or
// whose seats went below the threshold by assignments or removals).
func (p *Product) LowAlertDue(available, threshold int) bool {
	return threshold > 0 && available <= threshold && p.lowPeak > threshold
}

func (p *Product) claim(e events.LicenseClaimed) {
	u, policy := UserID(e.UserID), PolicyID(e.PolicyID)
	p.hold(u, origin{source: events.Source{Kind: events.SourcePolicy, Ref: e.PolicyID}, claimed: policy != ""}, e.ClaimedAt)
	i := p.policyIndex(policy)
	if i < 0 {
		i = len(p.policies)
		p.policies, p.claimants = append(p.policies, policy), append(p.claimants, 0)
	}
	if i >= maxPolicyBits {
		if _, ok := p.claimedMore[policy][u]; !ok {
			if p.claimedMore == nil {
				p.claimedMore = map[PolicyID]map[UserID]struct{}{}
			}
			if p.claimedMore[policy] == nil {
				p.claimedMore[policy] = map[UserID]struct{}{}
			}
			p.claimedMore[policy][u] = struct{}{}
			p.claimants[i]++
		}
		return
	}
	pu := p.users[u]
	if pu.claimed&(1<<i) == 0 {
		pu.claimed |= 1 << i
		p.claimants[i]++
		p.users[u] = pu
	}
}

// hold records u's license from o, assigned at at, in place of the
// license u held, if any.
func (p *Product) hold(u UserID, o origin, at time.Time) {
	if p.users == nil {
		p.users, p.origins, p.originIdx = map[UserID]productUser{}, []origin{{}}, map[origin]uint32{}
	}
	i, ok := p.originIdx[o]
	if !ok {
		i = uint32(len(p.origins))
		p.origins = append(p.origins, o)
		p.originIdx[o] = i
	}
	pu := p.users[u]
	if pu.origin == 0 {
		p.held++
	}
	pu.origin, pu.at = i, unixNano(at)
	p.users[u] = pu
	delete(p.warned, u)
}

// release takes u's license back, if they hold one.
func (p *Product) release(u UserID) {
	pu := p.users[u]
	if pu.origin == 0 {
		return
	}
	p.held--
	delete(p.warned, u)
	if pu.claimed == 0 {
		delete(p.users, u)
		return
	}
	pu.origin, pu.at = 0, 0
	p.users[u] = pu
}

// ProductCommand is a command on a product's license pool.
type ProductCommand interface{ productCommand() }

// AddProduct adds a product to the catalogue with its first licenses.
type AddProduct struct {
	Name        string
	Services    []string
	Licenses    int
	SelfService string
}

// PurchaseLicenses adds Count licenses to the pool.
type PurchaseLicenses struct{ Count int }

// RemoveLicenses takes Count free licenses out of the pool.
type RemoveLicenses struct{ Count int }

// SetSelfService allows or blocks self-service purchase.
type SetSelfService struct{ SelfService string }

// AssignLicense gives a user a license; the user must not hold one already.
type AssignLicense struct {
	UserID           UserID
	DisabledServices []string
	Source           events.Source
}

// ClaimLicense gives a user a license under an auto-claim policy. A user who
// already holds the product is left as they are (no event, no error).
type ClaimLicense struct {
	UserID           UserID
	PolicyID         PolicyID
	App              string
	DisabledServices []string
	SigninID         string
	// At is the sign-in time, recorded as the claim time.
	At time.Time
}

// UnassignLicense takes a user's license back.
type UnassignLicense struct{ UserID UserID }

func (AddProduct) productCommand() {}

func (PurchaseLicenses) productCommand() {}

func (RemoveLicenses) productCommand() {}

func (SetSelfService) productCommand() {}

func (AssignLicense) productCommand() {}

func (ClaimLicense) productCommand() {}

func (UnassignLicense) productCommand() {}

// DecideProduct returns the events cmd causes on p, or why it cannot happen.
func DecideProduct(p *Product, cmd ProductCommand, now time.Time) ([]events.Data, error) {
	if add, ok := cmd.(AddProduct); ok {
		if p.Exists() {
			return nil, fmt.Errorf("product %q: %w", p.ID, ErrAlreadyExists)
		}
		if err := validateNewProduct(add); err != nil {
			return nil, err
		}
		return one(events.ProductAdded{
			ProductID: string(p.ID), Name: add.Name, Services: nonNil(add.Services),
			Licenses: add.Licenses, SelfService: add.SelfService,
		}), nil
	}
	if !p.Exists() {
		return nil, &NotFoundError{Kind: "product", ID: string(p.ID)}
	}
	switch c := cmd.(type) {
	case PurchaseLicenses:
		if c.Count < 1 || c.Count > MaxLicenses-p.Purchased {
			return nil, invalid("add", "must be between 1 and %d", MaxLicenses-p.Purchased)
		}
		return one(events.LicensesPurchased{ProductID: string(p.ID), Count: c.Count}), nil
	case RemoveLicenses:
		if c.Count < 1 {
			return nil, invalid("remove", "must be at least 1")
		}
		if c.Count > p.Available() {
			return nil, fmt.Errorf("remove %d of %d purchased with %d assigned: %w", c.Count, p.Purchased, p.Assigned(), ErrBelowAssigned)
		}
		return one(events.LicensesRemoved{ProductID: string(p.ID), Count: c.Count}), nil
	case SetSelfService:
		if err := checkSelfService(c.SelfService); err != nil {
			return nil, err
		}
		if c.SelfService == p.SelfService {
			return nil, nil
		}
		return one(events.SelfServicePurchaseChanged{ProductID: string(p.ID), SelfService: c.SelfService}), nil
	case AssignLicense:
		if err := p.checkGrant(c.UserID, c.DisabledServices); err != nil {
			return nil, err
		}
		if p.Holds(c.UserID) {
			return nil, fmt.Errorf("user %q, product %q: %w", c.UserID, p.ID, ErrAlreadyAssigned)
		}
		if err := checkSource(c.Source); err != nil {
			return nil, err
		}
		if p.Available() < 1 {
			return nil, fmt.Errorf("product %q: %w", p.ID, ErrNoLicensesAvailable)
		}
		return one(events.LicenseAssigned{ProductID: string(p.ID), UserID: string(c.UserID),
			DisabledServices: nonNil(c.DisabledServices), Source: c.Source}), nil
	case ClaimLicense:
		if err := p.checkGrant(c.UserID, c.DisabledServices); err != nil {
			return nil, err
		}
		if err := checkID("policy_id", string(c.PolicyID)); err != nil {
			return nil, err
		}
		if p.Holds(c.UserID) {
			return nil, nil
		}
		if p.Available() < 1 {
			return nil, fmt.Errorf("product %q: %w", p.ID, ErrNoLicensesAvailable)
		}
		at := c.At
		if at.IsZero() {
			at = now
		}
		return one(events.LicenseClaimed{ProductID: string(p.ID), UserID: string(c.UserID), PolicyID: string(c.PolicyID),
			App: c.App, DisabledServices: nonNil(c.DisabledServices), SigninID: c.SigninID, ClaimedAt: at.UTC()}), nil
	case UnassignLicense:
		if !p.Holds(c.UserID) {
			return nil, &NotFoundError{Kind: "license", ID: string(c.UserID)}
		}
		return one(events.LicenseUnassigned{ProductID: string(p.ID), UserID: string(c.UserID)}), nil
	default:
		return nil, fmt.Errorf("product: unknown command %T", cmd)
	}
}

// AssignDecision is what one direct assignment of a batch decided: its
// LicenseAssigned, or why it is refused.
type AssignDecision struct {
	Assigned events.LicenseAssigned
	Err      error
}

// DecideAssignments decides direct assignments of p together (group
// commit), in order, as DecideProduct decides each: every one sees the
// seats and users the ones before it took, so a user gets at most one
// license (ErrAlreadyAssigned) and the batch takes at most p's free seats
// (ErrNoLicensesAvailable). It returns one decision per command.
func DecideAssignments(p *Product, cmds []AssignLicense, now time.Time) []AssignDecision {
	out := make([]AssignDecision, len(cmds))
	taken, held := 0, map[UserID]bool{}
	for i, c := range cmds {
		evs, err := DecideProduct(p, c, now)
		switch {
		case err != nil:
		case held[c.UserID]:
			err = fmt.Errorf("user %q, product %q: %w", c.UserID, p.ID, ErrAlreadyAssigned)
		case p.Available()-taken < 1:
			err = fmt.Errorf("product %q: %w", p.ID, ErrNoLicensesAvailable)
		}
		if err != nil {
			out[i].Err = err
			continue
		}
		out[i].Assigned = evs[0].(events.LicenseAssigned)
		taken++
		held[c.UserID] = true
	}
	return out
}

func (p *Product) checkGrant(u UserID, disabled []string) error {
	if err := checkID("user_id", string(u)); err != nil {
		return err
	}
	for _, s := range disabled {
		if !slices.Contains(p.Services, s) {
			return invalid("disabled_services", "%q is not a service of product %q (services: %v)", s, p.ID, p.Services)
		}
	}
	if hasDuplicate(disabled) {
		return invalid("disabled_services", "lists a service twice")
	}
	return nil
}

// checkDisabled checks that disabled names services of p, each once.
func (p *Product) checkDisabled(disabled []string) error {
	for _, s := range disabled {
		if !slices.Contains(p.Services, s) {
			return invalid("disabled_services", "%q is not a service of product %q (services: %v)", s, p.ID, p.Services)
		}
	}
	if hasDuplicate(disabled) {
		return invalid("disabled_services", "lists a service twice")
	}
	return nil
}

func validateNewProduct(c AddProduct) error {
	if c.Name == "" || len(c.Name) > 200 {
		return invalid("name", "must be 1 to 200 characters")
	}
	if c.Licenses < 0 || c.Licenses > MaxLicenses {
		return invalid("licenses", "must be between 0 and %d", MaxLicenses)
	}
	for _, s := range c.Services {
		if s == "" || len(s) > 100 {
			return invalid("services", "each service name must be 1 to 100 characters")
		}
	}
	if hasDuplicate(c.Services) {
		return invalid("services", "lists a service twice")
	}
	return checkSelfService(c.SelfService)
}

func checkSelfService(s string) error {
	if s != events.SelfServiceAllowed && s != events.SelfServiceBlocked {
		return invalid("self_service", "must be %q or %q", events.SelfServiceAllowed, events.SelfServiceBlocked)
	}
	return nil
}

func checkSource(s events.Source) error {
	switch s.Kind {
	case events.SourceManual:
		return nil
	case events.SourceRequest, events.SourcePolicy, events.SourceGroup:
		return checkID("source.ref", s.Ref)
	default:
		return invalid("source.kind", "%q is not a license source", s.Kind)
	}
}

// Product runs one command on a product's license pool and answers with the
// product's counts after it.
func (s *Service) Product(ctx context.Context, tenant TenantID, id ProductID, meta events.Meta, cmd ProductCommand) (ProductSummary, Result, error) {
	if err := checkID("product_id", string(id)); err != nil {
		return ProductSummary{}, Result{}, err
	}
	if err := checkTenant(tenant); err != nil {
		return ProductSummary{}, Result{}, err
	}
	if c, ok := cmd.(AssignLicense); ok {
		return s.assign(ctx, tenant, id, meta, c)
	}
	return s.transactProduct(ctx, tenant, id, meta, cmd)
}

// transactProduct runs one product command on its own.
func (s *Service) transactProduct(ctx context.Context, tenant TenantID, id ProductID, meta events.Meta, cmd ProductCommand) (ProductSummary, Result, error) {
	var out ProductSummary
	agg := productAgg(id)
	res, err := s.Transact(ctx, tenant, meta, []events.Aggregate{agg}, func(tx *Tx) error {
		p := tx.State(agg).(*Product)
		evs, err := DecideProduct(p, cmd, tx.Now)
		if err != nil {
			return err
		}
		tx.Emit(agg, evs...)
		return nil
	}, func(tx *Tx) { out = tx.State(agg).(*Product).Summary() })
	return out, res, err
}

// ReclaimCommand is a command of the reclaim reactor on one license of a
// product.
type ReclaimCommand interface{ reclaimCommand() }

// WarnReclaim warns a user that their license claimed under PolicyID is
// reclaimed at ReclaimAt unless they sign in to App before. LastSeen is
// their last sign-in known to the reactor (their claim, when none since).
type WarnReclaim struct {
	UserID    UserID
	PolicyID  PolicyID
	App       string
	LastSeen  time.Time
	ReclaimAt time.Time
}

// ReclaimLicense takes back a warned user's license claimed under
// PolicyID. LastSeen is their last sign-in known to the reactor now.
type ReclaimLicense struct {
	UserID   UserID
	PolicyID PolicyID
	App      string
	LastSeen time.Time
}

func (WarnReclaim) reclaimCommand() {}

func (ReclaimLicense) reclaimCommand() {}

// DecideReclaim returns the events a reclaim command causes on p. The
// reactor issues its commands again and again (on every tick, from every
// instance), so a command with nothing (left) to do causes no event and no
// error: the user no longer holds the license, got it otherwise than under
// the policy, was warned since their last sign-in already, signed in after
// the warning (they keep the license), or the reclaim is not due yet.
func DecideReclaim(p *Product, cmd ReclaimCommand, now time.Time) ([]events.Data, error) {
	if !p.Exists() {
		return nil, &NotFoundError{Kind: "product", ID: string(p.ID)}
	}
	switch c := cmd.(type) {
	case WarnReclaim:
		h, ok := p.Holding(c.UserID)
		if !ok || h.PolicyID != c.PolicyID || c.PolicyID == "" {
			return nil, nil
		}
		if h.Warned != nil && !c.LastSeen.After(h.Warned.LastSeen) {
			return nil, nil // warned since the last sign-in
		}
		if !c.ReclaimAt.After(c.LastSeen) {
			return nil, invalid("reclaim_at", "must be after last_seen")
		}
		return one(events.LicenseReclaimWarned{ProductID: string(p.ID), UserID: string(c.UserID), PolicyID: string(c.PolicyID),
			App: c.App, LastSeen: c.LastSeen.UTC(), ReclaimAt: c.ReclaimAt.UTC()}), nil
	case ReclaimLicense:
		h, ok := p.Holding(c.UserID)
		if !ok || h.PolicyID != c.PolicyID || c.PolicyID == "" || h.Warned == nil {
			return nil, nil
		}
		if c.LastSeen.After(h.Warned.LastSeen) {
			return nil, nil // signed in after the warning: keeps the license
		}
		if now.Before(h.Warned.ReclaimAt) {
			return nil, nil
		}
		return one(events.LicenseReclaimed{ProductID: string(p.ID), UserID: string(c.UserID), PolicyID: string(c.PolicyID),
			App: c.App, LastSeen: h.Warned.LastSeen}), nil
	default:
		return nil, fmt.Errorf("reclaim: unknown command %T", cmd)
	}
}

// Reclaim runs a reclaim command on one license of product and answers
// with what it stored (no events: nothing to do). The product's
// concurrency check orders it with every other change of the product.
func (s *Service) Reclaim(ctx context.Context, tenant TenantID, product ProductID, meta events.Meta, cmd ReclaimCommand) (Result, error) {
	if err := checkID("product_id", string(product)); err != nil {
		return Result{}, err
	}
	agg := productAgg(product)
	return s.Transact(ctx, tenant, meta, []events.Aggregate{agg}, func(tx *Tx) error {
		evs, err := DecideReclaim(tx.State(agg).(*Product), cmd, tx.Now)
		if err != nil {
			return err
		}
		tx.Emit(agg, evs...)
		return nil
	}, nil)
}

// ForecastRearmFactor says how far a warned product's run-out date must
// move back out before the warning re-arms: beyond this many horizons from
// now. Without the margin, a run-out date hovering at the horizon's edge (as
// claims enter and leave the 7-day window) would warn every other day.
const ForecastRearmFactor = 1.5

// ForecastWarningView is what DecideForecastWarning needs: the product's
// forecast now, whether a warning stands, and the warning horizon.
type ForecastWarningView struct {
	Forecast Forecast
	// Warned: PoolForecastWarned stands with no PoolForecastCleared since.
	Warned bool
	// Horizon is how far ahead a run-out date is warned of (0: never).
	Horizon time.Duration
}

// DecideForecastWarning warns of a product whose forecast run-out date came
// within the horizon, once: a warning stands until the run-out date moves
// back beyond ForecastRearmFactor horizons (or nobody claims or waits any
// more), which re-arms it. A product nobody claims or waits for is never
// warned of, even with no seats left: it runs out of nothing anyone wants.
func DecideForecastWarning(v ForecastWarningView, now time.Time) []events.Data {
	if v.Horizon <= 0 {
		return nil
	}
	f := v.Forecast
	demand := f.Queued > 0 || f.ClaimsPerDay7 > 0 || f.ClaimsPerDay30 > 0
	switch {
	case !v.Warned && demand && f.RunOutAt != nil && !f.RunOutAt.After(now.Add(v.Horizon)):
		return one(events.PoolForecastWarned{ProductID: string(f.ProductID), RunOutAt: f.RunOutAt.UTC(), DaysLeft: *f.DaysLeft,
			Available: f.Available, Queued: f.Queued, ClaimsPerDay7: f.ClaimsPerDay7, ClaimsPerDay30: f.ClaimsPerDay30,
			BuyToCover30Days: f.BuyToCover30Days, HorizonDays: round2(v.Horizon.Hours() / 24)})
	case v.Warned && (!demand || f.RunOutAt == nil || f.RunOutAt.After(now.Add(time.Duration(float64(v.Horizon)*ForecastRearmFactor)))):
		c := events.PoolForecastCleared{ProductID: string(f.ProductID), Available: f.Available, DaysLeft: f.DaysLeft}
		if f.RunOutAt != nil {
			at := f.RunOutAt.UTC()
			c.RunOutAt = &at
		}
		return one(c)
	}
	return nil
}

// DecideWarnForecast decides the run-out forecast warning of product p
// (see DecideForecastWarning) on p's own free seats and whether it stands
// warned, with in's queue and claim counts (in.Available and in.ProductID
// are ignored). Errors: *NotFoundError when p does not exist.
func DecideWarnForecast(p *Product, in ForecastInput, horizon time.Duration, now time.Time) ([]events.Data, error) {
	if !p.Exists() {
		return nil, &NotFoundError{Kind: "product", ID: string(p.ID)}
	}
	in.ProductID, in.Available = p.ID, p.Available()
	return DecideForecastWarning(ForecastWarningView{Forecast: ForecastRunOut(in, now), Warned: p.ForecastWarned, Horizon: horizon}, now), nil
}

// WarnForecast decides the run-out forecast warning of product (see
// DecideForecastWarning) on the product's own free seats and in's queue and
// claim counts (in.Available and in.ProductID are ignored), and stores what
// it decides: nothing, PoolForecastWarned or PoolForecastCleared. The
// product's concurrency check orders it with every other change of the
// product, so several reactors (instances, restarts) warn once.
func (s *Service) WarnForecast(ctx context.Context, tenant TenantID, product ProductID, meta events.Meta, in ForecastInput, horizon time.Duration) (Result, error) {
	if err := checkID("product_id", string(product)); err != nil {
		return Result{}, err
	}
	agg := productAgg(product)
	return s.Transact(ctx, tenant, meta, []events.Aggregate{agg}, func(tx *Tx) error {
		evs, err := DecideWarnForecast(tx.State(agg).(*Product), in, horizon, tx.Now)
		if err != nil {
			return err
		}
		tx.Emit(agg, evs...)
		return nil
	}, nil)
}
