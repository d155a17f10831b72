package domain

import (
	"context"
	"sync"

	"github.com/seatflow/seatflow/events"
)

// The Service caches the state of recently used aggregates between
// commands. A command locks the entries it decides on (one writer per
// aggregate per process); Observe feeds them what other writers stored, as
// the projection runner reads the stream; a conflict or a refusal catches
// them up from the store. A stale entry can delay a command, never wrongly
// refuse or accept it: every append carries the concurrency check of each
// aggregate it writes.

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
