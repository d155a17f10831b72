package domain

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/seatflow/seatflow/events"
)

// assignGroup gathers the direct assignments of one product that arrive
// while an append of the product is in flight (group commit).
type assignGroup struct {
	mu      sync.Mutex
	pending []*assignReq
	busy    bool
}

type assignReq struct {
	meta events.Meta
	cmd  AssignLicense
	sum  ProductSummary
	res  Result
	err  error
	done chan struct{}
}

// assign runs a direct assignment. Concurrent assignments of the same
// product are decided together on one state and stored in one append
// carrying the product's check: one LicensesAssigned event when there are
// several, a plain LicenseAssigned when there is one. Each command keeps
// its own outcome, command id (replays are recognised) and rejection.
func (s *Service) assign(ctx context.Context, tenant TenantID, id ProductID, meta events.Meta, cmd AssignLicense) (ProductSummary, Result, error) {
	meta = s.withCommandID(meta)
	if _, old := s.mayBeOld(ctx, meta.CommandID); old {
		// A repeat from longer ago than memory holds is looked up in the
		// store, alone, by the plain transaction.
		return s.transactProduct(ctx, tenant, id, meta, cmd)
	}
	key := cacheKey{string(tenant), productAgg(id)}
	s.mu.Lock()
	if s.groups == nil {
		s.groups = map[cacheKey]*assignGroup{}
	}
	g := s.groups[key]
	if g == nil {
		g = &assignGroup{}
		s.groups[key] = g
	}
	s.mu.Unlock()

	r := &assignReq{meta: meta, cmd: cmd, done: make(chan struct{})}
	g.mu.Lock()
	g.pending = append(g.pending, r)
	if g.busy {
		g.mu.Unlock()
		select {
		case <-r.done:
			return r.sum, r.res, r.err
		case <-ctx.Done():
			return ProductSummary{}, Result{}, fmt.Errorf("assign %s: %w: %w", id, ErrUnavailable, ctx.Err())
		}
	}
	g.busy = true
	for {
		batch := g.pending[:min(len(g.pending), MaxClaimBatch)]
		g.pending = slices.Clone(g.pending[len(batch):])
		g.mu.Unlock()
		// The batch answers other callers too: this caller's cancellation
		// does not cut it short.
		s.assignBatch(context.WithoutCancel(ctx), tenant, id, batch)
		for _, b := range batch {
			close(b.done)
		}
		g.mu.Lock()
		if len(g.pending) == 0 {
			g.busy = false
			g.mu.Unlock()
			return r.sum, r.res, r.err
		}
	}
}

// assignBatch decides and stores a batch of assignments of one product.
func (s *Service) assignBatch(ctx context.Context, tenant TenantID, id ProductID, reqs []*assignReq) {
	agg := productAgg(id)
	if len(reqs) == 1 {
		r := reqs[0]
		r.sum, r.res, r.err = s.transactProduct(ctx, tenant, id, r.meta, r.cmd)
		return
	}
	fail := func(err error) {
		for _, r := range reqs {
			if r.err == nil {
				r.err = err
			}
		}
	}
	e := s.entry(cacheKey{string(tenant), agg})
	e.mu.Lock()
	defer e.mu.Unlock()
	behind := s.drain(e)
	fresh := !e.loaded || behind
	if fresh {
		if err := s.catchUp(ctx, string(tenant), agg, e, false); err != nil {
			fail(err)
			return
		}
	}
	for attempt := 1; ; attempt++ {
		now := s.cfg.Now()
		var (
			pending []*assignReq
			cmds    []AssignLicense
			batch   events.LicensesAssigned
			winners []*assignReq
			refused bool
		)
		for _, r := range reqs {
			r.err, r.res = nil, Result{}
			if pos, done := e.commands[r.meta.CommandID]; done {
				r.res = Result{Position: pos, Replayed: true}
				continue
			}
			pending, cmds = append(pending, r), append(cmds, r.cmd)
		}
		for i, d := range DecideAssignments(e.state.(*Product), cmds, now) {
			r := pending[i]
			if d.Err != nil {
				refused = refused || !isValidation(d.Err)
				r.err = d.Err
				continue
			}
			la := d.Assigned
			batch.ProductID = la.ProductID
			batch.Assignments = append(batch.Assignments, events.Assignment{UserID: la.UserID, DisabledServices: la.DisabledServices,
				Source: la.Source, Actor: r.meta.Actor, CommandID: r.meta.CommandID})
			winners = append(winners, r)
		}
		if refused && !fresh {
			// Confirm refusals against the store before giving them.
			if err := s.catchUp(ctx, string(tenant), agg, e, false); err != nil {
				fail(err)
				return
			}
			fresh = true
			continue
		}
		if len(winners) == 0 {
			s.answer(reqs, e)
			return
		}
		var env events.Envelope
		if len(winners) == 1 {
			env = events.New(s.cfg.NewID(), string(tenant), agg, now, winners[0].meta, batch.Each()[0])
		} else {
			first := winners[0].meta.CommandID
			env = events.New(s.cfg.NewID(), string(tenant), agg, now,
				events.Meta{Actor: "group-commit", CommandID: "assign-" + first, CorrelationID: "assign-" + first}, batch)
		}
		positions, err := s.store.Append(ctx, Write{Expected: e.pos, Events: []events.Envelope{env}})
		if err == nil {
			env.Position = positions[0]
			e.apply(env)
			for _, r := range winners {
				r.res = Result{Position: env.Position, Events: []events.Envelope{env}}
			}
			s.answer(reqs, e)
			return
		}
		if !errors.Is(err, ErrConcurrency) {
			e.loaded = false
			for _, r := range winners {
				r.err = fmt.Errorf("append %s: %w", events.Subject(string(tenant), agg), err)
			}
			s.answer(reqs, e)
			return
		}
		if attempt >= s.cfg.MaxAttempts {
			for _, r := range winners {
				r.err = fmt.Errorf("%s after %d attempts: %w", events.Subject(string(tenant), agg), attempt, err)
			}
			s.answer(reqs, e)
			return
		}
		if err := s.sleep(ctx, attempt); err != nil {
			fail(err)
			return
		}
		if err := s.catchUp(ctx, string(tenant), agg, e, false); err != nil {
			fail(err)
			return
		}
		fresh = true
	}
}

// answer gives every request of a batch the product's summary (after the
// batch), and replayed ones the position of their events.
func (s *Service) answer(reqs []*assignReq, e *entry) {
	sum := e.state.(*Product).Summary()
	for _, r := range reqs {
		if r.err == nil {
			r.sum = sum
		}
	}
}
