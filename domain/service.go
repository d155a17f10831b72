package domain

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/seatflow/seatflow/events"
)

// Store is the event store the Service needs. infra/natsjs implements it on
// JetStream and infra/memstore in memory; both pass the same conformance
// suite (domain/storetest).
type Store interface {
	// Load returns the events of one aggregate stored after position after,
	// oldest first, each with its Position set. An aggregate with no events
	// has none; that is not an error.
	Load(ctx context.Context, tenant string, agg events.Aggregate, after uint64) ([]events.Envelope, error)

	// Append stores each write's events as the next events of its aggregate,
	// all or none, provided each aggregate's last event is still at the
	// write's Expected position (0: the aggregate has no events). It returns
	// the position of every appended event, in order. It returns an error
	// wrapping ErrConcurrency when another writer got there first; nothing is
	// stored then. Any other error leaves the outcome unknown.
	Append(ctx context.Context, writes ...Write) ([]uint64, error)
}

// LeaderStore is a Store whose replicas may answer Load from behind the
// leader (a replicated stream read with direct gets). LoadLatest answers
// from the leader's head, so a refusal (a user not registered yet, a request
// not yet submitted) is never confirmed on a replica that has not seen the
// write that would allow the command. Stores without replicas need not
// implement it.
type LeaderStore interface {
	Store
	// LoadLatest is Load as of the leader's last sequence of the subject.
	LoadLatest(ctx context.Context, tenant string, agg events.Aggregate, after uint64) ([]events.Envelope, error)
}

// Write is one aggregate's part of an append. All its events belong to the
// same aggregate of the same tenant.
type Write struct {
	Expected uint64
	Events   []events.Envelope
}

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

// Config holds what the Service needs from its surroundings.
type Config struct {
	// Now is the clock. Required.
	Now func() time.Time
	// NewID makes event IDs (ULIDs). Required.
	NewID func() string
	// MaxAttempts bounds how often one command is decided and appended when
	// other writers keep winning. Default 30.
	MaxAttempts int
	// Backoff is the base of the jittered, doubling wait between attempts.
	// Default 1ms; the wait is capped at MaxBackoff (default 100ms).
	Backoff, MaxBackoff time.Duration
	// CacheSize bounds how many aggregates' states are kept between
	// commands. Default 50,000.
	CacheSize int
}

func (c *Config) setDefaults() {
	if c.MaxAttempts == 0 {
		c.MaxAttempts = 30
	}
	if c.Backoff == 0 {
		c.Backoff = time.Millisecond
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = 100 * time.Millisecond
	}
	if c.CacheSize == 0 {
		c.CacheSize = 50_000
	}
}

// Validate reports every missing or invalid setting.
func (c Config) Validate() error {
	var errs []error
	if c.Now == nil {
		errs = append(errs, errors.New("domain: Config.Now is required"))
	}
	if c.NewID == nil {
		errs = append(errs, errors.New("domain: Config.NewID is required"))
	}
	if c.MaxAttempts < 1 {
		errs = append(errs, errors.New("domain: Config.MaxAttempts must be positive"))
	}
	return errors.Join(errs...)
}

// Service runs commands: it loads an aggregate, decides, and appends with the
// aggregate's last position as the concurrency check, retrying with jittered,
// bounded back-off when another writer got there first.
//
// Within one Service, commands on the same aggregate run one at a time (a
// single writer per aggregate per process), so a process never conflicts
// with itself; conflicts come only from other processes. The state of
// recently used aggregates is cached and caught up from the store on a
// conflict or before a rejection is reported, so a stale cache can delay a
// command but never wrongly refuse or accept it.
type Service struct {
	store Store
	cfg   Config

	mu     sync.Mutex
	cache  map[cacheKey]*entry
	groups map[cacheKey]*assignGroup // direct assignments per product (group commit)
	// inactive holds, per tenant, the users an identity provider
	// deactivated or deleted, as Observe saw them: a claim reads it
	// without loading every signing-in user's aggregate.
	inactive map[string]map[UserID]provisioned
}

// provisioned is what an identity provider did to a user, as Observe saw
// it (EvolveUser's Inactive and Deleted).
type provisioned struct{ inactive, deleted bool }

type cacheKey struct {
	tenant string
	agg    events.Aggregate
}

type entry struct {
	mu       sync.Mutex
	kind     kindDef
	state    any
	pos      uint64
	loaded   bool
	stale    bool              // Observe dropped events: catch up from the store (guarded by Service.mu)
	commands map[string]uint64 // command ID -> position of its last event, for CommandMemory
	// recent lists the commands in the order their events were stored, with
	// when, so those older than CommandMemory are forgotten from the head.
	recent []recentCommand
	// pending holds events Observe saw for this aggregate, folded in by
	// the next command that locks the entry (guarded by Service.mu).
	pending []events.Envelope
}

// maxPending bounds the events Observe keeps for an entry no command
// locks (the memory an idle cached aggregate costs); beyond it they are
// dropped and the entry catches up from the store, from its own position,
// when next used.
const maxPending = 64

// Observe folds an event the process learnt of from the stream (the
// projection runner feeds every event it applies) into the cached state of
// its aggregate, when that aggregate is cached: the states a command reads
// but does not write (which no concurrency check protects) are then kept
// current without a read on the command's path. It never blocks on a
// running command: the event is folded in by the next command that locks
// the aggregate, and skipped if the cache already holds it.
func (s *Service) Observe(env events.Envelope) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if env.Aggregate.Kind == events.KindUser {
		s.observeUser(env)
	}
	k := cacheKey{env.Tenant, env.Aggregate}
	e, ok := s.cache[k]
	if !ok {
		return
	}
	if settling(env) { // see settle.go
		delete(s.cache, k)
		return
	}
	if len(e.pending) >= maxPending {
		e.pending = nil
		e.stale = true
		return
	}
	e.pending = append(e.pending, env)
}

// observeUser keeps the set of deactivated and deleted users current, as
// EvolveUser does for one user.
func (s *Service) observeUser(env events.Envelope) {
	u := UserID(env.Aggregate.ID)
	p := s.inactive[env.Tenant][u]
	switch e := env.Data.(type) {
	case events.UserProvisioned:
		p.inactive = !e.Active
	case events.UserDeleted:
		p = provisioned{deleted: true}
	case events.UserRegistered:
		p.deleted = false
	default:
		return
	}
	if p == (provisioned{}) {
		delete(s.inactive[env.Tenant], u)
		return
	}
	if s.inactive == nil {
		s.inactive = map[string]map[UserID]provisioned{}
	}
	if s.inactive[env.Tenant] == nil {
		s.inactive[env.Tenant] = map[UserID]provisioned{}
	}
	s.inactive[env.Tenant][u] = p
}

// isInactive reports whether tenant's user u is deactivated or deleted, as
// far as Observe has seen.
func (s *Service) isInactive(tenant string, u UserID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.inactive[tenant][u]
	return p.inactive || p.deleted
}

// drain folds the events Observe saw into a locked entry.
func (s *Service) drain(e *entry) (behind bool) {
	s.mu.Lock()
	pending, stale := e.pending, e.stale
	e.pending, e.stale = nil, false
	s.mu.Unlock()
	if !e.loaded {
		return false
	}
	if stale {
		return true // events were dropped: the caller catches up
	}
	for _, ev := range pending {
		if ev.Position > e.pos {
			e.apply(ev)
		}
	}
	return false
}

// NewService returns a Service on store.
func NewService(store Store, cfg Config) (*Service, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Service{store: store, cfg: cfg, cache: map[cacheKey]*entry{}}, nil
}

// kindDef tells the command loop how to build and fold one aggregate kind.
type kindDef struct {
	init   func(id string) any
	evolve func(state any, env events.Envelope)
}

// kinds lists every aggregate kind the Service can load.
var kinds = map[events.Kind]kindDef{
	events.KindProduct: def(func(id string) *Product { return &Product{ID: ProductID(id)} }, EvolveProduct),
	events.KindOrg:     def(func(string) *Org { return &Org{} }, EvolveOrg),
	events.KindPolicy:  def(func(id string) *Policy { return &Policy{ID: PolicyID(id)} }, EvolvePolicy),
	events.KindUser:    def(func(id string) *User { return &User{ID: UserID(id)} }, EvolveUser),
	events.KindGroup:   def(func(id string) *Group { return &Group{ID: GroupID(id)} }, EvolveGroup),
	events.KindRequest: def(func(id string) *Request { return &Request{ID: RequestID(id)} }, EvolveRequest),
}

func def[S any](init func(id string) S, evolve func(S, events.Envelope)) kindDef {
	return kindDef{
		init:   func(id string) any { return init(id) },
		evolve: func(state any, env events.Envelope) { evolve(state.(S), env) },
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
	agg := events.Aggregate{Kind: events.KindProduct, ID: string(id)}
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

// Tx is the view of several aggregates one command decides on. Decide
// functions read states with State and record events with Emit; nothing is
// stored unless the whole decision succeeds and every aggregate is still at
// the position it was read at.
type Tx struct {
	// Now is the command's time.
	Now     time.Time
	entries map[events.Aggregate]*entry
	emitted map[events.Aggregate][]events.Data
	order   []events.Aggregate
}

// State returns the current state of one of the transaction's aggregates
// (a *Product, *Request, ...). Asking for an aggregate the transaction did
// not load is a programming error and panics.
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

// Transact runs one command over one or more aggregates of a tenant: it
// loads them (from cache, caught up as needed), calls decide, and appends
// every emitted event in one all-or-nothing append with each aggregate's
// last position as its concurrency check. A command over several
// aggregates first catches them all up, because those it only reads carry
// no check. On a conflict it catches up and decides again, with jittered
// back-off, at most MaxAttempts times. A rejection is confirmed against
// freshly loaded state before it is returned. If events carrying meta.CommandID already stand on any of the
// aggregates, the command is not applied again: Result.Replayed is set.
// view, if not nil, is called with the final states while they are locked.
func (s *Service) Transact(ctx context.Context, tenant TenantID, meta events.Meta, aggs []events.Aggregate,
	decide func(tx *Tx) error, view func(tx *Tx)) (Result, error) {
	if err := checkTenant(tenant); err != nil {
		return Result{}, err
	}
	if len(aggs) == 0 {
		return Result{}, errors.New("domain: transaction without aggregates")
	}
	if meta.CommandID == "" {
		meta.CommandID = s.cfg.NewID()
	}
	if meta.CorrelationID == "" {
		meta.CorrelationID = meta.CommandID
	}
	aggs = slices.Clone(aggs)
	slices.SortFunc(aggs, func(a, b events.Aggregate) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.ID, b.ID))
	})
	aggs = slices.Compact(aggs)
	tx := &Tx{entries: make(map[events.Aggregate]*entry, len(aggs))}
	behind := false // an entry dropped what Observe saw: catch it up first
	// Lock in one global order so two commands over overlapping aggregates
	// never deadlock.
	for _, agg := range aggs {
		if _, ok := kinds[agg.Kind]; !ok {
			return Result{}, fmt.Errorf("domain: no aggregate of kind %q", agg.Kind)
		}
		if err := checkID(string(agg.Kind)+"_id", agg.ID); err != nil {
			return Result{}, err
		}
		e := s.entry(cacheKey{string(tenant), agg})
		e.mu.Lock()
		defer e.mu.Unlock()
		behind = s.drain(e) || behind
		tx.entries[agg] = e
	}

	refresh := func() error {
		for _, agg := range aggs {
			if err := s.catchUp(ctx, string(tenant), agg, tx.entries[agg], false); err != nil {
				return err
			}
		}
		return nil
	}
	// confirm catches up from the leader's head before a refusal is
	// reported: the states decided on may come from a replica behind it.
	confirmed := false
	confirm := func() error {
		for _, agg := range aggs {
			if err := s.catchUp(ctx, string(tenant), agg, tx.entries[agg], true); err != nil {
				return err
			}
		}
		confirmed = true
		return nil
	}
	// A command over one aggregate may decide on its cached state: the
	// append's check refuses it if that state was stale. A command over
	// several may read aggregates it does not write, which no check
	// protects, so all of them are caught up before the first decision
	// (in kind order: org, then policy, then product).
	fresh := len(aggs) > 1 || behind
	for _, agg := range aggs {
		fresh = fresh || !tx.entries[agg].loaded
	}
	if fresh {
		if err := refresh(); err != nil {
			return Result{}, err
		}
	}
	lookedUp := false
	for attempt := 1; ; attempt++ {
		pos, done := tx.replayed(meta.CommandID)
		if !done && !lookedUp {
			// Memory holds the last CommandWindow of each aggregate's
			// commands; a repeat of an older one is looked up in the store.
			lookedUp = true
			var err error
			if pos, done, err = s.lookUpCommand(ctx, string(tenant), tx.entries, meta.CommandID); err != nil {
				return Result{}, err
			}
		}
		if done {
			if view != nil {
				view(tx)
			}
			return Result{Position: pos, Replayed: true}, nil
		}
		tx.Now, tx.emitted, tx.order = s.cfg.Now(), map[events.Aggregate][]events.Data{}, nil
		if err := decide(tx); err != nil {
			var verr *ValidationError
			if !confirmed && !errors.As(err, &verr) {
				// Confirm a rejection against the latest state before
				// reporting it.
				if err := confirm(); err != nil {
					return Result{}, err
				}
				fresh = true
				continue
			}
			return Result{}, err
		}
		if len(tx.order) == 0 {
			if view != nil {
				view(tx)
			}
			return Result{Position: tx.maxPos()}, nil
		}
		writes := make([]Write, 0, len(tx.order))
		var all []events.Envelope
		for _, agg := range tx.order {
			w := Write{Expected: tx.entries[agg].pos}
			for _, d := range tx.emitted[agg] {
				w.Events = append(w.Events, events.New(s.cfg.NewID(), string(tenant), agg, tx.Now, meta, d))
			}
			writes = append(writes, w)
			all = append(all, w.Events...)
		}
		positions, err := s.store.Append(ctx, writes...)
		if err == nil {
			for i := range all {
				all[i].Position = positions[i]
				tx.entries[all[i].Aggregate].apply(all[i])
			}
			if view != nil {
				view(tx)
			}
			s.forgetSettled(string(tenant), all)
			return Result{Position: positions[len(positions)-1], Events: all}, nil
		}
		if !errors.Is(err, ErrConcurrency) {
			// The append may or may not have landed: forget the cached
			// states so the next command (or a retry with the same command
			// ID) reloads and finds out.
			for _, agg := range tx.order {
				tx.entries[agg].loaded = false
			}
			return Result{}, fmt.Errorf("append %s: %w", subjects(string(tenant), tx.order), err)
		}
		if attempt >= s.cfg.MaxAttempts {
			return Result{}, fmt.Errorf("%s after %d attempts: %w", subjects(string(tenant), tx.order), attempt, err)
		}
		if err := s.sleep(ctx, attempt); err != nil {
			return Result{}, err
		}
		if err := refresh(); err != nil {
			return Result{}, err
		}
		fresh = true
	}
}

// replayed reports whether the command's events already stand, and the
// position of the last of them among the aggregates the transaction holds
// (a command over several aggregates wrote to each: the answer must not
// depend on which one is looked at first).
func (tx *Tx) replayed(commandID string) (uint64, bool) {
	var last uint64
	found := false
	for _, e := range tx.entries {
		if pos, ok := e.commands[commandID]; ok {
			last, found = max(last, pos), true
		}
	}
	return last, found
}

func (tx *Tx) maxPos() uint64 {
	var p uint64
	for _, e := range tx.entries {
		p = max(p, e.pos)
	}
	return p
}

func subjects(tenant string, aggs []events.Aggregate) string {
	parts := make([]string, len(aggs))
	for i, a := range aggs {
		parts[i] = events.Subject(tenant, a)
	}
	return strings.Join(parts, ", ")
}

// catchUp loads the aggregate's events after the entry's position (all of
// them if the entry is not loaded) and folds them in.
func (s *Service) catchUp(ctx context.Context, tenant string, agg events.Aggregate, e *entry, latest bool) error {
	if !e.loaded {
		e.kind = kinds[agg.Kind]
		e.state, e.pos, e.commands, e.recent = e.kind.init(agg.ID), 0, map[string]uint64{}, nil
	}
	load := s.store.Load
	if ls, ok := s.store.(LeaderStore); ok && latest {
		load = ls.LoadLatest
	}
	evs, err := load(ctx, tenant, agg, e.pos)
	if err != nil {
		e.loaded = false
		return err // the store names the subject
	}
	for _, ev := range evs {
		e.apply(ev)
	}
	e.loaded = true
	return nil
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

// entry returns the cache entry of an aggregate, evicting idle entries when
// the cache is full.
func (s *Service) entry(k cacheKey) *entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.cache[k]; ok {
		return e
	}
	if len(s.cache) >= s.cfg.CacheSize {
		for key, e := range s.cache {
			if e.mu.TryLock() {
				delete(s.cache, key)
				e.mu.Unlock()
				if len(s.cache) < s.cfg.CacheSize*9/10 {
					break
				}
			}
		}
	}
	e := &entry{}
	s.cache[k] = e
	return e
}
