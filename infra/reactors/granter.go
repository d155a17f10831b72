package reactors

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/projections"
)

// NameGranter is the granter's read-model name.
const NameGranter = "autoclaim_granter"

var _ projections.Snapshotter = (*Granter)(nil)

// Granting is what the Granter needs from the domain.
type Granting interface {
	// GrantNext grants the head of a policy's queue, reporting whether the
	// queue moved.
	GrantNext(ctx context.Context, tenant domain.TenantID, pid domain.PolicyID, opts domain.ClaimOptions) (bool, error)
}

var _ Granting = (*domain.Service)(nil)

// DefaultRolloverEvery is how often the granter looks whether the UTC day
// changed, so that queues held by a daily cap are served the new day.
const DefaultRolloverEvery = 30 * time.Second

// GranterConfig configures a Granter.
type GranterConfig struct {
	Commands Granting
	// Options are the claim options of its grants (the low-seat alert's
	// threshold).
	Options domain.ClaimOptions
	// Now is the clock the granter reads the UTC day from. Default
	// time.Now.
	Now func() time.Time
	// RolloverEvery is how often Run looks at the clock. Default
	// DefaultRolloverEvery.
	RolloverEvery time.Duration
	Logger        *slog.Logger
}

func (c *GranterConfig) setDefaults() {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.RolloverEvery <= 0 {
		c.RolloverEvery = DefaultRolloverEvery
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate reports what is missing.
func (c GranterConfig) Validate() error {
	if c.Commands == nil {
		return errors.New("granter: GranterConfig.Commands is required")
	}
	return nil
}

type policyKey struct{ tenant, policy string }

// Granter grants queued users as seats appear. It is fed by the projection
// runner like a read model: Apply only notes which policies may have a
// seat for their queue (it never blocks the runner), and Run works through
// them, granting queue heads until no more move. After a restart the runner
// replays the stream, so every policy is looked at once again and a grant
// interrupted by the stop is finished; the deterministic command ids of
// grants keep any grant from happening twice.
type Granter struct {
	cfg GranterConfig
	log *slog.Logger
	day string // the UTC day the capped policies were last looked at

	mu       sync.Mutex
	byProd   map[string]map[string]map[string]bool // tenant -> product -> policies
	policies map[string]map[string]bool            // tenant -> policies
	capped   map[string]map[string]bool            // tenant -> policies with a claim cap
	dirty    map[policyKey]bool
	wake     chan struct{}
}

// Rollover marks every capped policy when the UTC day of the granter's
// clock differs from the one it last saw, so that users a daily cap kept
// waiting are served; it reports whether the day changed. Run calls it;
// it is exported for tests that move the clock.
func (g *Granter) Rollover() bool {
	day := domain.Day(g.cfg.Now())
	g.mu.Lock()
	defer g.mu.Unlock()
	if day == g.day {
		return false
	}
	g.day = day
	for t, ps := range g.capped {
		for p := range ps {
			g.mark(t, p)
		}
	}
	return true
}

// NewGranter returns a Granter for cfg.
func NewGranter(cfg GranterConfig) (*Granter, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Granter{cfg: cfg, log: cfg.Logger.With("component", "granter"),
		byProd: map[string]map[string]map[string]bool{}, policies: map[string]map[string]bool{}, capped: map[string]map[string]bool{},
		dirty: map[policyKey]bool{}, wake: make(chan struct{}, 1)}, nil
}

// Name implements projections.Projection.
func (*Granter) Name() string { return NameGranter }

// Apply implements projections.Projection.
func (g *Granter) Apply(env events.Envelope) {
	g.mu.Lock()
	defer g.mu.Unlock()
	t := env.Tenant
	switch e := env.Data.(type) {
	case events.PolicyCreated:
		g.index(t, e.PolicyID, e.Products)
		g.mark(t, e.PolicyID)
	case events.PolicyProductsChanged:
		g.index(t, e.PolicyID, e.Products)
		g.mark(t, e.PolicyID)
	case events.PolicyStatusChanged:
		if e.Enabled {
			g.mark(t, e.PolicyID)
		}
	case events.UserQueued:
		g.mark(t, e.PolicyID)
	case events.PolicyLimitsChanged:
		if g.capped[t] == nil {
			g.capped[t] = map[string]bool{}
		}
		if e.DailyCap != nil || e.TotalCap != nil {
			g.capped[t][e.PolicyID] = true
		} else {
			delete(g.capped[t], e.PolicyID)
		}
		g.mark(t, e.PolicyID) // a cap raised or lifted may let the queue move
	case events.LicenseReclaimed:
		g.markProduct(t, e.ProductID)
	case events.QueuedUserGranted:
		g.mark(t, e.PolicyID)
	case events.QueuedUserDropped:
		g.mark(t, e.PolicyID)
	case events.AutoClaimSettingChanged:
		if e.Enabled {
			for p := range g.policies[t] {
				g.mark(t, p)
			}
		}
	case events.LicensesPurchased:
		g.markProduct(t, e.ProductID)
	case events.LicenseUnassigned:
		g.markProduct(t, e.ProductID)
	}
}

// index records which products a policy lists. A product removed from a
// policy stays indexed: a spurious look costs one read.
func (g *Granter) index(tenant, policy string, ps []events.PolicyProduct) {
	if g.policies[tenant] == nil {
		g.policies[tenant] = map[string]bool{}
		g.byProd[tenant] = map[string]map[string]bool{}
	}
	g.policies[tenant][policy] = true
	for _, pp := range ps {
		if g.byProd[tenant][pp.ProductID] == nil {
			g.byProd[tenant][pp.ProductID] = map[string]bool{}
		}
		g.byProd[tenant][pp.ProductID][policy] = true
	}
}

func (g *Granter) markProduct(tenant, product string) {
	for p := range g.byProd[tenant][product] {
		g.mark(tenant, p)
	}
}

func (g *Granter) mark(tenant, policy string) {
	g.dirty[policyKey{tenant, policy}] = true
	select {
	case g.wake <- struct{}{}:
	default:
	}
}

// Run grants until ctx ends. It also looks at the clock every
// RolloverEvery: when the UTC day changes, the capped policies' queues are
// looked at again.
func (g *Granter) Run(ctx context.Context) {
	tick := time.NewTicker(g.cfg.RolloverEvery)
	defer tick.Stop()
	g.Rollover()
	for {
		select {
		case <-ctx.Done():
			return
		case <-g.wake:
		case <-tick.C:
			if !g.Rollover() {
				continue
			}
		}
		g.mu.Lock()
		work := g.dirty
		g.dirty = map[policyKey]bool{}
		g.mu.Unlock()
		for k := range work {
			g.grant(ctx, k)
		}
	}
}

// grant moves one policy's queue as far as the seats allow. On an error it
// marks the policy again after a pause.
func (g *Granter) grant(ctx context.Context, k policyKey) {
	for range 10_000 {
		moved, err := g.cfg.Commands.GrantNext(ctx, domain.TenantID(k.tenant), domain.PolicyID(k.policy), g.cfg.Options)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			g.log.Warn("granting a queued user", "tenant", k.tenant, "policy", k.policy, "err", err)
			time.AfterFunc(time.Second, func() {
				g.mu.Lock()
				g.mark(k.tenant, k.policy)
				g.mu.Unlock()
			})
			return
		}
		if !moved {
			return
		}
	}
}

// granterState is the Granter's snapshot: which products each policy
// lists, and which policies are capped.
type granterState struct {
	ByProduct map[string]map[string]map[string]bool `json:"by_product"`
	Policies  map[string]map[string]bool            `json:"policies"`
	Capped    map[string]map[string]bool            `json:"capped"`
}

// Version is the version of the granter's snapshot shape (see
// projections.Snapshotter).
func (*Granter) Version() int { return 2 }

// Snapshot returns which products each policy lists.
func (g *Granter) Snapshot() ([]byte, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return json.Marshal(granterState{ByProduct: g.byProd, Policies: g.policies, Capped: g.capped})
}

// Restore replaces the granter's index with a snapshot and marks every
// policy, so that each is looked at once: grants that a stop interrupted,
// or that were due while nothing ran, happen now.
func (g *Granter) Restore(b []byte) error {
	var st granterState
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("restore %s: %w", NameGranter, err)
	}
	if st.ByProduct == nil {
		st.ByProduct = map[string]map[string]map[string]bool{}
	}
	if st.Policies == nil {
		st.Policies = map[string]map[string]bool{}
	}
	if st.Capped == nil {
		st.Capped = map[string]map[string]bool{}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.byProd, g.policies, g.capped = st.ByProduct, st.Policies, st.Capped
	for t, ps := range g.policies {
		for p := range ps {
			g.mark(t, p)
		}
	}
	return nil
}
