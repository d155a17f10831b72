package domain

import (
	"context"
	"fmt"
	"time"

	"github.com/seatflow/seatflow/events"
)

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

func (WarnReclaim) reclaimCommand()    {}
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
		h, ok := p.Holders[c.UserID]
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
		h, ok := p.Holders[c.UserID]
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
