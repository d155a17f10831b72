package domain

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/seatflow/seatflow/events"
)

// SignIn is one user signing in to an app, as upstream systems report it.
// Its ID is the command ID of the claim it may cause, so a sign-in
// delivered twice claims once.
type SignIn struct {
	ID     string
	UserID UserID
	App    string
	At     time.Time
}

// Claim outcomes.
const (
	// ClaimOff: the org switch is off or the app's policy is turned off.
	ClaimOff = "off"
	// ClaimNoPolicy: no enabled policy serves the app.
	ClaimNoPolicy = "no_policy"
	// ClaimUserInactive: the identity provider deactivated or deleted the
	// user: a sign-in of theirs claims nothing and joins no queue.
	ClaimUserInactive = "user_inactive"
	// ClaimClaimed: the user holds a license of a product of the policy
	// (claimed now, or by an earlier delivery of the same sign-in).
	ClaimClaimed = "claimed"
	// ClaimAlreadyLicensed: the user already held a product of the policy.
	ClaimAlreadyLicensed = "already_licensed"
	// ClaimQueued: the user waits in the policy's queue: every product
	// was full, others already waited, or a cap was reached
	// (ClaimOutcome.Reason says which).
	ClaimQueued = "queued"
	// ClaimAlreadyClaimed: the user claimed under the policy before and
	// no longer holds that license (an admin took it back): a user claims
	// at most once under a policy.
	ClaimAlreadyClaimed = "already_claimed"
)

// ClaimOutcome says what a sign-in did.
type ClaimOutcome struct {
	Status    string    `json:"status"`
	PolicyID  PolicyID  `json:"policy_id,omitempty"`
	ProductID ProductID `json:"product_id,omitempty"`
	// Reason is why a queued user waits: events.QueueNoSeats,
	// QueueDailyCap or QueueTotalCap (only with ClaimQueued).
	Reason string `json:"reason,omitempty"`
}

// ClaimOptions tune claims.
type ClaimOptions struct {
	// LowSeats is the low-seat threshold: a claim that takes a product's
	// free seats from above it to it records PoolLow. 0 turns the alert
	// off; PolicyExhausted is recorded regardless.
	LowSeats int
}

// errStale means what a claim looked up before its transaction (the app's
// policy, the policy's products) changed meanwhile; the claim starts over.
var errStale = errors.New("policy changed while claiming")

// Claim handles one sign-in under the auto-claim rules: it catches up from
// the store everything the decision reads (the org, the app's policy and
// every product it ever listed: another instance may have changed them),
// then runs ClaimBatch with a batch of one (see DecideClaims for the
// rules). A user who holds a product of the policy, or already waits,
// causes no event; Result.Replayed is set when the sign-in's own events
// already stood. The sign-in edge uses ClaimBatch, whose state the stream
// keeps current (Observe) without these reads.
func (s *Service) Claim(ctx context.Context, tenant TenantID, in SignIn, opts ClaimOptions) (ClaimOutcome, Result, error) {
	if err := CheckSignIn(in, s.cfg.Now()); err != nil {
		return ClaimOutcome{}, Result{}, err
	}
	if err := s.refresh(ctx, tenant, orgAgg); err != nil {
		return ClaimOutcome{}, Result{}, err
	}
	var pid PolicyID
	if _, err := s.read(ctx, tenant, []events.Aggregate{orgAgg}, func(tx *Tx) { pid = tx.State(orgAgg).(*Org).AppPolicies[in.App] }); err != nil {
		return ClaimOutcome{}, Result{}, err
	}
	if pid != "" {
		if err := s.refresh(ctx, tenant, events.Aggregate{Kind: events.KindPolicy, ID: string(pid)}); err != nil {
			return ClaimOutcome{}, Result{}, err
		}
		_, _, listed, err := s.policyProducts(ctx, tenant, pid)
		if err != nil {
			return ClaimOutcome{}, Result{}, err
		}
		if err := s.refreshAll(ctx, tenant, listedAggs(listed)); err != nil {
			return ClaimOutcome{}, Result{}, err
		}
	}
	outs, err := s.ClaimBatch(ctx, tenant, []SignIn{in}, opts)
	if err != nil {
		return ClaimOutcome{}, Result{}, err
	}
	o := outs[0]
	if o.Err != nil {
		return ClaimOutcome{}, Result{}, o.Err
	}
	return o.ClaimOutcome, Result{Position: o.Position, Events: o.Events, Replayed: o.Status == ClaimClaimed && len(o.Events) == 0}, nil
}

// policyProducts reads a policy's aggregate, its current product list and
// every product it ever listed.
func (s *Service) policyProducts(ctx context.Context, tenant TenantID, pid PolicyID) (events.Aggregate, []events.PolicyProduct, []ProductID, error) {
	pagg := events.Aggregate{Kind: events.KindPolicy, ID: string(pid)}
	var (
		products []events.PolicyProduct
		listed   []ProductID
	)
	_, err := s.read(ctx, tenant, []events.Aggregate{pagg}, func(tx *Tx) {
		p := tx.State(pagg).(*Policy)
		products, listed = slices.Clone(p.Products), slices.Clone(p.Listed)
	})
	return pagg, products, listed, err
}

func listedAggs(ids []ProductID) []events.Aggregate {
	out := make([]events.Aggregate, len(ids))
	for i, id := range ids {
		out[i] = events.Aggregate{Kind: events.KindProduct, ID: string(id)}
	}
	return out
}

// heldProduct returns the first product p ever listed that u holds.
func heldProduct(tx *Tx, p *Policy, u UserID) (ProductID, bool) {
	for _, id := range p.Listed {
		prod := tx.State(events.Aggregate{Kind: events.KindProduct, ID: string(id)}).(*Product)
		if _, ok := prod.Holders[u]; ok {
			return prod.ID, true
		}
	}
	return "", false
}

// claimFirstFree claims for u from the first product of p with a free seat,
// recording PoolLow and PolicyExhausted when the claim crosses them. It
// reports false when every product is full.
func claimFirstFree(tx *Tx, p *Policy, u UserID, signinID string, at time.Time, opts ClaimOptions) (bool, error) {
	for i, pp := range p.Products {
		agg := events.Aggregate{Kind: events.KindProduct, ID: pp.ProductID}
		prod := tx.State(agg).(*Product)
		if !prod.Exists() || prod.Available() < 1 {
			continue
		}
		// A product's services may have changed since the policy named
		// them: keep only the disabled services it still has.
		disabled := slices.DeleteFunc(nonNil(pp.DisabledServices), func(s string) bool { return !slices.Contains(prod.Services, s) })
		evs, err := DecideProduct(prod, ClaimLicense{UserID: u, PolicyID: p.ID, App: p.App, DisabledServices: disabled,
			SigninID: signinID, At: at}, tx.Now)
		if err != nil {
			return false, err
		}
		if len(evs) == 0 {
			return true, nil
		}
		before, after := prod.Available(), prod.Available()-1
		if opts.LowSeats > 0 && before > opts.LowSeats && after <= opts.LowSeats {
			evs = append(evs, events.PoolLow{PolicyID: string(p.ID), ProductID: pp.ProductID, Available: after, Threshold: opts.LowSeats})
		}
		if after == 0 && !othersFree(tx, p, i) {
			evs = append(evs, events.PolicyExhausted{PolicyID: string(p.ID), ProductID: pp.ProductID})
		}
		tx.Emit(agg, evs...)
		return true, nil
	}
	return false, nil
}

func othersFree(tx *Tx, p *Policy, except int) bool {
	for i, pp := range p.Products {
		if i == except {
			continue
		}
		prod := tx.State(events.Aggregate{Kind: events.KindProduct, ID: pp.ProductID}).(*Product)
		if prod.Exists() && prod.Available() > 0 {
			return true
		}
	}
	return false
}

// GrantCommandID is the command ID of granting a queued user: derived from
// the policy and the sign-in that queued them, so a grant retried after a
// restart or by a second reactor is recognised and never applied twice.
func GrantCommandID(pid PolicyID, signinID string) string {
	return "grant-" + string(pid) + "-" + signinID
}

// GrantNext grants the head of a policy's waiting queue a license of the
// first product with a free seat, appending LicenseClaimed on the product
// and QueuedUserGranted on the policy together. A head who meanwhile holds a
// product of the policy leaves the queue (QueuedUserDropped). It reports
// whether the queue moved, so a caller loops until it does not. Nothing is
// granted while the org switch or the policy is off.
func (s *Service) GrantNext(ctx context.Context, tenant TenantID, pid PolicyID, opts ClaimOptions) (bool, error) {
	if err := checkID("policy_id", string(pid)); err != nil {
		return false, err
	}
	pagg := events.Aggregate{Kind: events.KindPolicy, ID: string(pid)}
	var (
		head     QueuedUser
		products []events.PolicyProduct
		listed   []ProductID
	)
	// Catch up the org and the policy before reading the queue's head;
	// Transact then catches up every aggregate it reads, products after
	// the policy, so a grant the policy shows (written with its product
	// claim in one batch) is seen as held.
	if err := s.refreshAll(ctx, tenant, []events.Aggregate{orgAgg, pagg}); err != nil {
		return false, err
	}
	_, err := s.read(ctx, tenant, []events.Aggregate{pagg}, func(tx *Tx) {
		p := tx.State(pagg).(*Policy)
		if len(p.Queue) > 0 {
			head = p.Queue[0]
		}
		products, listed = slices.Clone(p.Products), slices.Clone(p.Listed)
	})
	if err != nil || head.UserID == "" {
		return false, err
	}
	meta := events.Meta{Actor: "auto-claim", CommandID: GrantCommandID(pid, head.SigninID), CausationID: head.SigninID}
	aggs := append([]events.Aggregate{orgAgg, pagg, userAgg(head.UserID)}, listedAggs(listed)...)
	res, err := s.Transact(ctx, tenant, meta, aggs, func(tx *Tx) error {
		o, p := tx.State(orgAgg).(*Org), tx.State(pagg).(*Policy)
		if len(p.Queue) == 0 || p.Queue[0].UserID != head.UserID || !productsEqual(p.Products, products) || !slices.Equal(p.Listed, listed) {
			return errStale
		}
		if !o.AutoClaim || !p.Enabled {
			return nil
		}
		if _, held := heldProduct(tx, p, head.UserID); held {
			tx.Emit(pagg, events.QueuedUserDropped{PolicyID: string(pid), UserID: string(head.UserID), Reason: events.DropAlreadyLicensed})
			return nil
		}
		if u := tx.State(userAgg(head.UserID)).(*User); u.Inactive || u.Deleted {
			// Deprovisioned while waiting: the seat goes to the next one.
			tx.Emit(pagg, events.QueuedUserDropped{PolicyID: string(pid), UserID: string(head.UserID), Reason: events.DropUserInactive})
			return nil
		}
		// A cap keeps the whole queue waiting (first come, first served);
		// the granter looks again when the UTC day rolls over or the caps
		// change. The grant's count is written to the policy with its
		// check, as a sign-in's claim is.
		day := Day(tx.Now)
		if p.CapReason(day, 0) != "" {
			return nil
		}
		claimed, err := claimFirstFree(tx, p, head.UserID, head.SigninID, tx.Now, opts)
		if err != nil || !claimed {
			return err
		}
		var product string
		for agg, ds := range tx.emitted {
			if agg.Kind == events.KindProduct && len(ds) > 0 {
				product = agg.ID
			}
		}
		tx.Emit(pagg, events.QueuedUserGranted{PolicyID: string(pid), UserID: string(head.UserID), ProductID: product})
		if p.Limits.Capped() {
			tx.Emit(pagg, p.counted(day, 1))
		}
		return nil
	}, nil)
	if errors.Is(err, errStale) {
		return true, nil // someone else moved the queue: look again
	}
	if err != nil {
		return false, fmt.Errorf("grant %s in policy %s: %w", head.UserID, pid, err)
	}
	return res.Replayed || len(res.Events) > 0, nil
}

// RegisterSignInUser registers the directory user a sign-in names when the
// directory does not know them yet. A sign-in never changes a user the
// directory has: anyone allowed to send sign-ins could otherwise rewrite an
// admin's email and receive their mail.
func (s *Service) RegisterSignInUser(ctx context.Context, tenant TenantID, id UserID, meta events.Meta, email, displayName string) (Result, error) {
	if err := checkID("user_id", string(id)); err != nil {
		return Result{}, err
	}
	agg := userAgg(id)
	return s.Transact(ctx, tenant, meta, []events.Aggregate{agg}, func(tx *Tx) error {
		evs, err := DecideSignInUser(tx.State(agg).(*User), email, displayName)
		if err != nil {
			return err
		}
		tx.Emit(agg, evs...)
		return nil
	}, nil)
}

// DecideSignInUser returns the events that register the user a sign-in
// names: none when the directory has them already, whatever the sign-in
// says their email or name is.
func DecideSignInUser(u *User, email, displayName string) ([]events.Data, error) {
	if u.Registered() {
		return nil, nil
	}
	return DecideUser(u, RegisterUser{Email: email, DisplayName: displayName})
}

// refresh catches a cached aggregate up with the store (one read of what
// was appended after the cached position; usually nothing). An aggregate
// not in the cache is loaded in full by the next transaction anyway.
// refreshAll catches up each cached aggregate, in order.
func (s *Service) refreshAll(ctx context.Context, tenant TenantID, aggs []events.Aggregate) error {
	for _, agg := range aggs {
		if err := s.refresh(ctx, tenant, agg); err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) refresh(ctx context.Context, tenant TenantID, agg events.Aggregate) error {
	if err := checkTenant(tenant); err != nil {
		return err
	}
	e := s.entry(cacheKey{string(tenant), agg})
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.loaded {
		return nil
	}
	return s.catchUp(ctx, string(tenant), agg, e, false)
}
