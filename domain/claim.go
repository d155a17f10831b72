package domain

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/seatflow/seatflow/events"
)

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
		if err := s.refresh(ctx, tenant, policyAgg(pid)); err != nil {
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
	pagg := policyAgg(pid)
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
		out[i] = productAgg(id)
	}
	return out
}

// GrantCommandID is the command ID of granting a queued user: derived from
// the policy and the sign-in that queued them, so a grant retried after a
// restart or by a second reactor is recognised and never applied twice.
func GrantCommandID(pid PolicyID, signinID string) string {
	return "grant-" + string(pid) + "-" + signinID
}

// GrantNext grants the head of a policy's waiting queue a license of the
// first product with a free seat, appending LicenseClaimed on the product
// and QueuedUserGranted on the policy together; a head who meanwhile holds a
// product of the policy, or was deprovisioned, leaves the queue
// (QueuedUserDropped). DecideGrant holds the rules: GrantNext loads what
// it reads (the org, the policy, the head's user and every product the
// policy ever listed) and appends what it decides. It reports whether the
// queue moved, so a caller loops until it does not.
func (s *Service) GrantNext(ctx context.Context, tenant TenantID, pid PolicyID, opts ClaimOptions) (bool, error) {
	if err := checkID("policy_id", string(pid)); err != nil {
		return false, err
	}
	pagg := policyAgg(pid)
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
		p := tx.State(pagg).(*Policy)
		if len(p.Queue) == 0 || p.Queue[0].UserID != head.UserID || !productsEqual(p.Products, products) || !slices.Equal(p.Listed, listed) {
			return errStale // the transaction did not load what the grant now reads
		}
		v := GrantView{Org: tx.State(orgAgg).(*Org), Policy: p, Products: map[ProductID]*Product{}, Head: tx.State(userAgg(head.UserID)).(*User)}
		for _, id := range listed {
			v.Products[id] = tx.State(productAgg(id)).(*Product)
		}
		changes, _, err := DecideGrant(v, opts, tx.Now)
		if err != nil {
			return err
		}
		tx.EmitChanges(changes...)
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
