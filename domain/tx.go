package domain

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/seatflow/seatflow/events"
)

// The transaction loop: every command but the batched ones (ClaimBatch,
// direct assignments) runs through Transact. It locks the aggregates the
// command reads, lets a pure decider decide on their states, appends what
// it decided with each written aggregate's concurrency check, and decides
// again on a conflict. Deciders never see the loop: they get states and
// return events.

// Result says what a command did.
type Result struct {
	// Position is the stream position of the last event the command caused,
	// or of the aggregate's last event when it caused none. A query passed
	// after=Position sees the command's effect.
	Position uint64
	// Events are the events the command appended (nil when replayed or when
	// the command changed nothing).
	Events []events.Envelope
	// Replayed is true when events carrying the command's ID already stood:
	// the command was not applied again.
	Replayed bool
}

// Tx is the view of several aggregates one command decides on. Decide
// functions read states with State and record the events their decider
// returned with Emit; nothing is stored unless the whole decision succeeds
// and every aggregate is still at the position it was read at.
type Tx struct {
	// Now is the command's time.
	Now     time.Time
	entries map[events.Aggregate]*entry
	emitted map[events.Aggregate][]events.Data
	order   []events.Aggregate // aggregates in the order of their first event

	s         *Service
	tenant    string
	aggs      []events.Aggregate // sorted: the lock order
	behind    bool               // an entry dropped what Observe saw: catch it up first
	confirmed bool               // caught up from the leader's head after a refusal
	lookedUp  bool               // the command was looked up in the store
}

// State returns the current state of one of the transaction's aggregates
// (a *Product, *Request, ...). Asking for an aggregate the transaction did
// not load is a programming error and panics. It is a StateOf.
func (tx *Tx) State(agg events.Aggregate) any {
	e, ok := tx.entries[agg]
	if !ok {
		panic(fmt.Sprintf("domain: %s/%s is not part of this transaction", agg.Kind, agg.ID))
	}
	return e.state
}

// Emit records events the command causes on agg, in order.
func (tx *Tx) Emit(agg events.Aggregate, ds ...events.Data) {
	if _, ok := tx.entries[agg]; !ok {
		panic(fmt.Sprintf("domain: %s/%s is not part of this transaction", agg.Kind, agg.ID))
	}
	if len(ds) == 0 {
		return
	}
	if _, seen := tx.emitted[agg]; !seen {
		tx.order = append(tx.order, agg)
	}
	tx.emitted[agg] = append(tx.emitted[agg], ds...)
}

// EmitAll records what a decider over several aggregates returned, in
// order.
func (tx *Tx) EmitAll(es ...Emit) {
	for _, e := range es {
		tx.Emit(e.Agg, e.Events...)
	}
}

// EmitChanges records a decider's changes, in order.
func (tx *Tx) EmitChanges(cs ...Change) {
	for _, c := range cs {
		tx.Emit(c.Agg, c.Data)
	}
}

// Transact runs one command over one or more aggregates of a tenant: it
// loads them (from cache, caught up as needed), calls decide, and appends
// every emitted event in one all-or-nothing append with each aggregate's
// last position as its concurrency check. A command over several
// aggregates first catches them all up, because those it only reads carry
// no check. On a conflict it catches up and decides again, with jittered
// back-off, at most MaxAttempts times. A rejection is confirmed against
// freshly loaded state before it is returned. If events carrying
// meta.CommandID already stand on any of the aggregates, the command is not
// applied again: Result.Replayed is set. view, if not nil, is called with
// the final states while they are locked.
func (s *Service) Transact(ctx context.Context, tenant TenantID, meta events.Meta, aggs []events.Aggregate,
	decide func(tx *Tx) error, view func(tx *Tx)) (Result, error) {
	tx, err := s.begin(tenant, aggs)
	if err != nil {
		return Result{}, err
	}
	defer tx.unlock()
	meta = s.withCommandID(meta)
	if err := tx.prepare(ctx); err != nil {
		return Result{}, err
	}
	answer := func(res Result) (Result, error) {
		if view != nil {
			view(tx)
		}
		return res, nil
	}
	for attempt := 1; ; attempt++ {
		pos, done, err := tx.replay(ctx, meta.CommandID)
		switch {
		case err != nil:
			return Result{}, err
		case done:
			return answer(Result{Position: pos, Replayed: true})
		}
		if err := tx.decide(decide, s.cfg.Now()); err != nil {
			if tx.confirmed || isValidation(err) {
				return Result{}, err
			}
			// Confirm a refusal against the latest state before giving it.
			if err := tx.catchUp(ctx, true); err != nil {
				return Result{}, err
			}
			continue
		}
		if len(tx.order) == 0 {
			return answer(Result{Position: tx.maxPos()})
		}
		res, err := tx.commit(ctx, meta)
		if err == nil {
			return answer(res)
		}
		if err := tx.retry(ctx, attempt, err); err != nil {
			return Result{}, err
		}
	}
}

// begin checks the aggregates of a command and locks their entries, each
// once, in one global order (by kind, then id), so two commands over
// overlapping aggregates never deadlock; it folds in what Observe saw.
func (s *Service) begin(tenant TenantID, aggs []events.Aggregate) (*Tx, error) {
	if err := checkTenant(tenant); err != nil {
		return nil, err
	}
	if len(aggs) == 0 {
		return nil, errors.New("domain: transaction without aggregates")
	}
	aggs = slices.Clone(aggs)
	slices.SortFunc(aggs, compareAggs)
	aggs = slices.Compact(aggs)
	for _, agg := range aggs {
		if _, ok := kinds[agg.Kind]; !ok {
			return nil, fmt.Errorf("domain: no aggregate of kind %q", agg.Kind)
		}
		if err := checkID(string(agg.Kind)+"_id", agg.ID); err != nil {
			return nil, err
		}
	}
	tx := &Tx{s: s, tenant: string(tenant), aggs: aggs, entries: make(map[events.Aggregate]*entry, len(aggs))}
	for _, agg := range aggs {
		e := s.entry(cacheKey{tx.tenant, agg})
		e.mu.Lock()
		tx.behind = s.drain(e) || tx.behind
		tx.entries[agg] = e
	}
	return tx, nil
}

func (tx *Tx) unlock() {
	for _, e := range tx.entries {
		e.mu.Unlock()
	}
}

func compareAggs(a, b events.Aggregate) int {
	return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.ID, b.ID))
}

// withCommandID gives a command without an ID a new one, and a command
// without a correlation ID its own.
func (s *Service) withCommandID(meta events.Meta) events.Meta {
	if meta.CommandID == "" {
		meta.CommandID = s.cfg.NewID()
	}
	if meta.CorrelationID == "" {
		meta.CorrelationID = meta.CommandID
	}
	return meta
}

// prepare catches the entries up before the first decision when their
// cached states may not do. A command over one aggregate may decide on its
// cached state: the append's check refuses it if that state was stale. A
// command over several may read aggregates it does not write, which no
// check protects, so all of them are caught up first (in lock order: org,
// then policy, then product).
func (tx *Tx) prepare(ctx context.Context) error {
	fresh := len(tx.aggs) > 1 || tx.behind
	for _, e := range tx.entries {
		fresh = fresh || !e.loaded
	}
	if !fresh {
		return nil
	}
	return tx.catchUp(ctx, false)
}

// catchUp catches every entry up with the store, in lock order; latest
// reads from the leader's head (a refusal is confirmed there: the states
// decided on may come from a replica behind it).
func (tx *Tx) catchUp(ctx context.Context, latest bool) error {
	for _, agg := range tx.aggs {
		if err := tx.s.catchUp(ctx, tx.tenant, agg, tx.entries[agg], latest); err != nil {
			return err
		}
	}
	if latest {
		tx.confirmed = true
	}
	return nil
}

// replay reports whether the command's events already stand, and the
// position of the last of them among the aggregates the transaction holds
// (a command over several aggregates wrote to each: the answer must not
// depend on which one is looked at first). Memory holds the last
// CommandWindow of each aggregate's commands; a repeat of an older one is
// looked up in the store, once.
func (tx *Tx) replay(ctx context.Context, commandID string) (uint64, bool, error) {
	var last uint64
	found := false
	for _, e := range tx.entries {
		if pos, ok := e.commands[commandID]; ok {
			last, found = max(last, pos), true
		}
	}
	if found || tx.lookedUp {
		return last, found, nil
	}
	tx.lookedUp = true
	return tx.s.lookUpCommand(ctx, tx.tenant, tx.entries, commandID)
}

// decide runs one decision at now on the current states.
func (tx *Tx) decide(decide func(tx *Tx) error, now time.Time) error {
	tx.Now, tx.emitted, tx.order = now, map[events.Aggregate][]events.Data{}, nil
	return decide(tx)
}

// commit appends the emitted events in one all-or-nothing append, each
// aggregate's write checked against the position its state was read at,
// and folds them into the states.
func (tx *Tx) commit(ctx context.Context, meta events.Meta) (Result, error) {
	writes := make([]Write, 0, len(tx.order))
	var all []events.Envelope
	for _, agg := range tx.order {
		w := Write{Expected: tx.entries[agg].pos}
		for _, d := range tx.emitted[agg] {
			w.Events = append(w.Events, events.New(tx.s.cfg.NewID(), tx.tenant, agg, tx.Now, meta, d))
		}
		writes = append(writes, w)
		all = append(all, w.Events...)
	}
	positions, err := tx.s.store.Append(ctx, writes...)
	if err != nil {
		return Result{}, err
	}
	for i := range all {
		all[i].Position = positions[i]
		tx.entries[all[i].Aggregate].apply(all[i])
	}
	tx.s.forgetSettled(tx.tenant, all) // see settle.go; the held entries stay usable
	return Result{Position: positions[len(positions)-1], Events: all}, nil
}

// retry handles a failed append. When another writer got there first
// (ErrConcurrency), it waits and catches up so the command is decided
// again, at most MaxAttempts times. Otherwise the append may or may not
// have landed: the states written are forgotten, so the next command (or a
// retry with the same command ID) reloads and finds out.
func (tx *Tx) retry(ctx context.Context, attempt int, err error) error {
	if !errors.Is(err, ErrConcurrency) {
		for _, agg := range tx.order {
			tx.entries[agg].loaded = false
		}
		return fmt.Errorf("append %s: %w", subjects(tx.tenant, tx.order), err)
	}
	if attempt >= tx.s.cfg.MaxAttempts {
		return fmt.Errorf("%s after %d attempts: %w", subjects(tx.tenant, tx.order), attempt, err)
	}
	if err := tx.s.sleep(ctx, attempt); err != nil {
		return err
	}
	return tx.catchUp(ctx, false)
}

func (tx *Tx) maxPos() uint64 {
	var p uint64
	for _, e := range tx.entries {
		p = max(p, e.pos)
	}
	return p
}

// has reports whether the transaction loaded agg.
func (tx *Tx) has(agg events.Aggregate) bool {
	_, ok := tx.entries[agg]
	return ok
}

func isValidation(err error) bool {
	var verr *ValidationError
	return errors.As(err, &verr)
}

func subjects(tenant string, aggs []events.Aggregate) string {
	parts := make([]string, len(aggs))
	for i, a := range aggs {
		parts[i] = events.Subject(tenant, a)
	}
	return strings.Join(parts, ", ")
}

func (s *Service) sleep(ctx context.Context, attempt int) error {
	d := s.cfg.Backoff << min(attempt, 16)
	if d > s.cfg.MaxBackoff || d <= 0 {
		d = s.cfg.MaxBackoff
	}
	t := time.NewTimer(rand.N(d) + 1)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// errReplan means the aggregates a command must decide on changed between
// planning and deciding; the command is planned again.
var errReplan = errors.New("the command's aggregates changed; plan again")

// maxReplans bounds how often a command is planned again.
const maxReplans = 10

// transactPlanned runs a command whose set of aggregates depends on state:
// plan names the aggregates beyond seed from the states of seed, and is
// asked again inside the transaction; if it then names one that was not
// loaded, the command is planned again.
func (s *Service) transactPlanned(ctx context.Context, tenant TenantID, meta events.Meta, seed []events.Aggregate,
	plan func(state StateOf) []events.Aggregate, decide func(tx *Tx) error, view func(tx *Tx)) (Result, error) {
	for range maxReplans {
		var extra []events.Aggregate
		if _, err := s.read(ctx, tenant, seed, func(tx *Tx) { extra = plan(tx.State) }); err != nil {
			return Result{}, err
		}
		aggs := append(slices.Clone(seed), extra...)
		res, err := s.Transact(ctx, tenant, meta, aggs, func(tx *Tx) error {
			for _, a := range plan(tx.State) {
				if !tx.has(a) {
					return errReplan
				}
			}
			return decide(tx)
		}, view)
		if errors.Is(err, errReplan) {
			continue
		}
		return res, err
	}
	return Result{}, fmt.Errorf("%s: planned %d times: %w", subjects(string(tenant), seed), maxReplans, ErrConcurrency)
}

// read runs view over the current states of aggs without deciding anything.
func (s *Service) read(ctx context.Context, tenant TenantID, aggs []events.Aggregate, view func(tx *Tx)) (Result, error) {
	return s.Transact(ctx, tenant, events.Meta{CommandID: "read"}, aggs, func(*Tx) error { return nil }, view)
}
