package domain

import (
	"errors"
	"sync"
	"time"
)

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
	// AppendInParts makes ClaimBatch append a batch's events in parts
	// that each write one aggregate, where it would otherwise append them
	// all in one atomic batch: the sign-ins of each group of policies
	// sharing products on their own, in arrival order, cut where the
	// claims move to another aggregate, a low-seat alert after its claims,
	// and a capped policy's count just before them (reserving their places
	// under the cap). Set it where an atomic batch costs more than several
	// appends: nats-server stages each atomic batch of a single-replica
	// file stream in a file store of its own, with synchronous writes to
	// disk on the stream's one ingest goroutine (a replicated stream
	// stages it in memory).
	AppendInParts bool
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

// NewService returns a Service on store.
func NewService(store Store, cfg Config) (*Service, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Service{store: store, cfg: cfg, cache: map[cacheKey]*entry{}}, nil
}
