package bench

import (
	"errors"
	"fmt"

	"github.com/seatflow/seatflow/events"
)

// Fold is what the invariant check learnt from the events it read.
type Fold struct {
	// Events is how many events were folded.
	Events int
	// Claims counts LicenseClaimed events per tenant.
	Claims map[string]int
	// Assigned and Purchased are each product's counts at the end, keyed
	// by tenant and product.
	Assigned, Purchased map[[2]string]int
	// Queued is how many users wait in each tenant's policies' queues.
	Queued map[string]int
}

type product struct {
	purchased int
	holders   map[string]bool
}

// Checker folds events in stream order and records every violation of
// the invariants: (1) a product never has more licenses assigned than
// purchased, at any position; (2) a user holds at most one license of a
// product; (3) a user claims at most once under a policy.
type Checker struct {
	products map[[2]string]*product
	claimed  map[[3]string]bool
	queued   map[[3]string]bool
	fold     Fold
	errs     []error
}

// NewChecker returns an empty Checker.
func NewChecker() *Checker {
	return &Checker{products: map[[2]string]*product{}, claimed: map[[3]string]bool{}, queued: map[[3]string]bool{},
		fold: Fold{Claims: map[string]int{}, Assigned: map[[2]string]int{}, Purchased: map[[2]string]int{}, Queued: map[string]int{}}}
}

func (c *Checker) product(tenant, id string) *product {
	k := [2]string{tenant, id}
	p := c.products[k]
	if p == nil {
		p = &product{holders: map[string]bool{}}
		c.products[k] = p
	}
	return p
}

func (c *Checker) violate(env events.Envelope, format string, args ...any) {
	if len(c.errs) < 20 {
		c.errs = append(c.errs, fmt.Errorf("position %d (%s %s): %s", env.Position, env.Tenant, env.Type, fmt.Sprintf(format, args...)))
	}
}

// Apply folds one event.
func (c *Checker) Apply(env events.Envelope) {
	c.fold.Events++
	t := env.Tenant
	hold := func(productID, user string) {
		p := c.product(t, productID)
		if p.holders[user] {
			c.violate(env, "user %s already holds product %s (invariant 2)", user, productID)
		}
		p.holders[user] = true
		if len(p.holders) > p.purchased {
			c.violate(env, "product %s has %d assigned of %d purchased (invariant 1)", productID, len(p.holders), p.purchased)
		}
	}
	switch e := env.Data.(type) {
	case events.ProductAdded:
		c.product(t, e.ProductID).purchased = e.Licenses
	case events.LicensesPurchased:
		c.product(t, e.ProductID).purchased += e.Count
	case events.LicensesRemoved:
		p := c.product(t, e.ProductID)
		p.purchased -= e.Count
		if len(p.holders) > p.purchased {
			c.violate(env, "product %s has %d assigned of %d purchased (invariant 1)", e.ProductID, len(p.holders), p.purchased)
		}
	case events.LicenseAssigned, events.LicensesAssigned:
		for _, a := range events.Assignments(e) {
			hold(a.ProductID, a.UserID)
		}
	case events.LicenseClaimed, events.LicensesClaimed:
		for _, e := range events.Claims(e) {
			hold(e.ProductID, e.UserID)
			k := [3]string{t, e.PolicyID, e.UserID}
			if c.claimed[k] {
				c.violate(env, "user %s claimed twice under policy %s (invariant 3)", e.UserID, e.PolicyID)
			}
			c.claimed[k] = true
			c.fold.Claims[t]++
		}
	case events.LicenseUnassigned:
		delete(c.product(t, e.ProductID).holders, e.UserID)
	case events.LicenseReclaimed:
		delete(c.product(t, e.ProductID).holders, e.UserID)
	case events.UserQueued:
		c.queued[[3]string{t, e.PolicyID, e.UserID}] = true
	case events.QueuedUserGranted:
		delete(c.queued, [3]string{t, e.PolicyID, e.UserID})
	case events.QueuedUserDropped:
		delete(c.queued, [3]string{t, e.PolicyID, e.UserID})
	}
}

// Result returns the fold and every violation found, joined.
func (c *Checker) Result() (Fold, error) {
	for k, p := range c.products {
		c.fold.Assigned[k] = len(p.holders)
		c.fold.Purchased[k] = p.purchased
	}
	clear(c.fold.Queued)
	for k := range c.queued {
		c.fold.Queued[k[0]]++
	}
	return c.fold, errors.Join(c.errs...)
}
