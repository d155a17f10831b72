package domain

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
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

	mu    sync.Mutex
	cache map[cacheKey]*entry
}

type cacheKey struct {
	tenant string
	agg    events.Aggregate
}

type entry struct {
	mu       sync.Mutex
	state    any
	pos      uint64
	loaded   bool
	commands map[string]uint64 // command ID -> position of its last event
}

// NewService returns a Service on store.
func NewService(store Store, cfg Config) (*Service, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Service{store: store, cfg: cfg, cache: map[cacheKey]*entry{}}, nil
}

// aggregate describes one aggregate kind to the generic command loop.
type aggregate[S any] struct {
	kind   events.Kind
	init   func(id string) S
	evolve func(S, events.Envelope)
}

var productAggregate = aggregate[*Product]{
	kind:   events.KindProduct,
	init:   func(id string) *Product { return &Product{ID: ProductID(id)} },
	evolve: EvolveProduct,
}

// Product runs one command on a product's license pool and answers with the
// product's counts after it.
func (s *Service) Product(ctx context.Context, tenant TenantID, id ProductID, meta events.Meta, cmd ProductCommand) (ProductSummary, Result, error) {
	if err := checkTenant(tenant); err != nil {
		return ProductSummary{}, Result{}, err
	}
	if err := checkID("product_id", string(id)); err != nil {
		return ProductSummary{}, Result{}, err
	}
	var out ProductSummary
	res, err := run(ctx, s, productAggregate, string(tenant), string(id), meta,
		func(p *Product, now time.Time) ([]events.Data, error) { return DecideProduct(p, cmd, now) },
		func(p *Product) { out = p.Summary() })
	return out, res, err
}

// run is the command loop shared by every aggregate: decide on the cached
// state, append with the concurrency check, and on conflict catch up and
// decide again. view is called with the final state while it is locked.
func run[S any](ctx context.Context, s *Service, def aggregate[S], tenant, id string, meta events.Meta,
	decide func(S, time.Time) ([]events.Data, error), view func(S)) (Result, error) {
	agg := events.Aggregate{Kind: def.kind, ID: id}
	if meta.CommandID == "" {
		meta.CommandID = s.cfg.NewID()
	}
	if meta.CorrelationID == "" {
		meta.CorrelationID = meta.CommandID
	}
	e := s.entry(cacheKey{tenant, agg})
	e.mu.Lock()
	defer e.mu.Unlock()

	refresh := func() error {
		if !e.loaded {
			e.state, e.pos, e.commands = def.init(id), 0, map[string]uint64{}
		}
		evs, err := s.store.Load(ctx, tenant, agg, e.pos)
		if err != nil {
			e.loaded = false
			return fmt.Errorf("load %s: %w", events.Subject(tenant, agg), err)
		}
		for _, ev := range evs {
			apply(e, def, ev)
		}
		e.loaded = true
		return nil
	}
	fresh := false
	if !e.loaded {
		if err := refresh(); err != nil {
			return Result{}, err
		}
		fresh = true
	}
	for attempt := 1; ; attempt++ {
		if pos, done := e.commands[meta.CommandID]; done {
			view(e.state.(S))
			return Result{Position: pos, Replayed: true}, nil
		}
		now := s.cfg.Now()
		datas, err := decide(e.state.(S), now)
		if err != nil {
			var verr *ValidationError
			if !fresh && !errors.As(err, &verr) {
				// Confirm a rejection against the store before reporting it.
				if err := refresh(); err != nil {
					return Result{}, err
				}
				fresh = true
				continue
			}
			return Result{}, err
		}
		if len(datas) == 0 {
			view(e.state.(S))
			return Result{Position: e.pos}, nil
		}
		envs := make([]events.Envelope, len(datas))
		for i, d := range datas {
			envs[i] = events.New(s.cfg.NewID(), tenant, agg, now, meta, d)
		}
		positions, err := s.store.Append(ctx, Write{Expected: e.pos, Events: envs})
		if err == nil {
			for i := range envs {
				envs[i].Position = positions[i]
				apply(e, def, envs[i])
			}
			view(e.state.(S))
			return Result{Position: e.pos, Events: envs}, nil
		}
		if !errors.Is(err, ErrConcurrency) {
			// The append may or may not have landed: forget the cached state
			// so the next command (or a retry with the same command ID)
			// reloads and finds out.
			e.loaded = false
			return Result{}, fmt.Errorf("append to %s: %w", events.Subject(tenant, agg), err)
		}
		if attempt >= s.cfg.MaxAttempts {
			return Result{}, fmt.Errorf("%s after %d attempts: %w", events.Subject(tenant, agg), attempt, err)
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

// apply folds one stored event into the entry.
func apply[S any](e *entry, def aggregate[S], ev events.Envelope) {
	def.evolve(e.state.(S), ev)
	e.pos = ev.Position
	e.commands[ev.CommandID] = ev.Position
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
